using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using PaymentFunctions.Fakes.WeChatPay;
using PaymentFunctions.WeChatPay;
using static PaymentFunctions.Tests.WeChatPay.WeChatPayTestData;

namespace PaymentFunctions.Tests.WeChatPay;

/// <summary>
/// <see cref="WeChatPayClient"/> against the fake WeChat Pay on a real loopback Kestrel port, in both modes: the fake
/// verifies every Authorization over the raw target and body, and signs every answer; callbacks go to a notify
/// endpoint that runs <see cref="WeChatPayCallbackVerifier"/>.
/// </summary>
public sealed class WeChatPayClientTests : IAsyncDisposable
{
    private const string SubMchId = "1230000109";
    private const string SubAppId = "wx8888888888888888";

    private readonly FakeWeChatPayState _fake;
    private readonly ConcurrentQueue<WeChatPayCallbackResult> _callbacks = new();
    private readonly List<IDisposable> _disposables = [];
    private WebApplication? _app;
    private Uri _baseUri = null!;

    public WeChatPayClientTests()
    {
        _fake = new FakeWeChatPayState(MchId, MerchantSerial, MerchantPublicPem, ApiV3Key);
        _fake.AddSigningKey(PublicKeyId, WeChatPayPrivatePem);
        _fake.AddSigningKey(PlatformCertificate.Serial, PlatformCertificate.PrivateKeyPem);
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.DisposeAsync();
        }

        foreach (var d in _disposables)
        {
            d.Dispose();
        }

        _fake.Dispose();
    }

    [Fact]
    public async Task Direct_mode_runs_the_whole_confirm_complete_paid_flow()
    {
        var client = await StartAsync();

        var created = await client.CreateServiceOrderAsync(NewOrder("P20250101000001"), Ct);

        Assert.Equal(PayScoreStates.Created, created.State);
        Assert.StartsWith("fake-package-", created.Package, StringComparison.Ordinal);
        Assert.False(string.IsNullOrEmpty(created.OrderId));
        Assert.Equal(AppId, created.AppId);
        Assert.Equal(MchId, created.MchId);
        Assert.Equal(created.Package, PayScoreMiniProgramLaunch.FromOrder(created).ExtraData.Package);
        var createBody = JsonNode.Parse(LastRequest("POST").Body)!.AsObject();
        Assert.Equal(AppId, createBody["appid"]!.GetValue<string>());
        Assert.Equal(ServiceId, createBody["service_id"]!.GetValue<string>());
        Assert.Equal(NotifyUrl, createBody["notify_url"]!.GetValue<string>());
        Assert.True(createBody["need_user_confirm"]!.GetValue<bool>());
        Assert.False(createBody.ContainsKey("sub_mchid"));

        var pending = await client.QueryByOutOrderNoAsync("P20250101000001", Ct);
        Assert.Equal(PayScoreStates.Created, pending.State);
        Assert.Null(pending.Package);
        Assert.Equal($"/v3/payscore/serviceorder?service_id={ServiceId}&appid={AppId}&out_order_no=P20250101000001", LastRequest("GET").Target);

        Assert.Equal(HttpStatusCode.NoContent, await SendCallbackAsync("P20250101000001", PayScoreStates.UserConfirmEvent));
        var confirm = Assert.Single(_callbacks);
        Assert.True(confirm.IsValid, confirm.Message);
        Assert.Equal(PayScoreStates.UserConfirmEvent, confirm.Notification!.EventType);
        Assert.True(confirm.ServiceOrder!.IsConfirmed);
        Assert.Equal("P20250101000001", confirm.ServiceOrder!.OutOrderNo);
        Assert.False(string.IsNullOrEmpty(confirm.ServiceOrder.OpenId));

        // The query_id carries + / =, so this also proves the escaped URL we sign is the one that arrives.
        var queryId = _fake.GetQueryId("P20250101000001");
        var confirmed = await client.QueryByQueryIdAsync(queryId, Ct);
        Assert.True(confirmed.IsConfirmed);
        Assert.EndsWith("&query_id=" + Uri.EscapeDataString(queryId), LastRequest("GET").Target, StringComparison.Ordinal);

        var completed = await client.CompleteServiceOrderAsync("P20250101000001", new CompleteServiceOrderRequest
        {
            PostPayments = [new PostPayment { Name = "停车费", Amount = 1200, Description = "3小时", Count = 1 }],
            PostDiscounts = [new PostDiscount { Name = "会员优惠", Amount = 200 }],
            TotalAmount = 1000,
        }, Ct);
        Assert.Equal(PayScoreStates.Doing, completed.State);
        Assert.Equal(PayScoreStates.MchComplete, completed.StateDescription);
        Assert.Equal(PayScoreStates.UserPaying, completed.Collection!.State);
        Assert.Equal(1000, completed.TotalAmount);
        var completeBody = JsonNode.Parse(LastRequest("POST").Body)!.AsObject();
        Assert.Equal(AppId, completeBody["appid"]!.GetValue<string>());
        Assert.False(completeBody.ContainsKey("sub_mchid"));

        Assert.Equal(HttpStatusCode.NoContent, await SendCallbackAsync("P20250101000001", PayScoreStates.UserPaidEvent));
        var paid = _callbacks.Last();
        Assert.True(paid.IsValid, paid.Message);
        Assert.True(paid.ServiceOrder!.IsPaid);
        Assert.Equal(1000, paid.ServiceOrder!.Collection!.PaidAmount);
        Assert.StartsWith("42000000", paid.ServiceOrder.Collection.Details![0].TransactionId, StringComparison.Ordinal);

        var done = await client.QueryByOutOrderNoAsync("P20250101000001", Ct);
        Assert.True(done.IsPaid);
        Assert.Null(done.StateDescription);
    }

    [Fact]
    public async Task Partner_mode_sends_sub_mchid_and_sub_appid_and_no_appid_where_the_partner_api_has_none()
    {
        var client = await StartAsync(o =>
        {
            o.Mode = "Partner";
            o.SubMchId = SubMchId;
            o.SubAppId = SubAppId;
        });

        var created = await client.CreateServiceOrderAsync(NewOrder("PT-1|a*b"), Ct);

        Assert.Equal(PayScoreStates.Created, created.State);
        Assert.Equal(SubMchId, created.SubMchId);
        Assert.Equal(SubAppId, created.SubAppId);
        var create = LastRequest("POST");
        Assert.Equal("/v3/payscore/partner/serviceorder", create.Target);
        var createBody = JsonNode.Parse(create.Body)!.AsObject();
        Assert.Equal(AppId, createBody["appid"]!.GetValue<string>());
        Assert.Equal(SubMchId, createBody["sub_mchid"]!.GetValue<string>());
        Assert.Equal(SubAppId, createBody["sub_appid"]!.GetValue<string>());

        var queried = await client.QueryByOutOrderNoAsync("PT-1|a*b", Ct);
        Assert.Equal(created.OrderId, queried.OrderId);
        var query = LastRequest("GET").Target;
        Assert.StartsWith($"/v3/payscore/partner/serviceorder?service_id={ServiceId}&sub_mchid={SubMchId}&out_order_no=PT-1%7Ca", query, StringComparison.Ordinal);
        Assert.DoesNotContain("appid=", query, StringComparison.Ordinal);

        Assert.Equal(HttpStatusCode.NoContent, await SendCallbackAsync("PT-1|a*b", PayScoreStates.UserConfirmEvent));
        Assert.True(_callbacks.Single().ServiceOrder!.IsConfirmed);
        Assert.False(string.IsNullOrEmpty(_callbacks.Single().ServiceOrder!.SubOpenId));
        Assert.True((await client.QueryByQueryIdAsync(_fake.GetQueryId("PT-1|a*b"), Ct)).IsConfirmed);

        // An order number with | and * in the path: the escaped form is what is signed and what the fake verifies.
        var completed = await client.CompleteServiceOrderAsync("PT-1|a*b", new CompleteServiceOrderRequest
        {
            PostPayments = [new PostPayment { Name = "停车费", Amount = 300 }],
            TotalAmount = 300,
        }, Ct);
        Assert.Equal(PayScoreStates.MchComplete, completed.StateDescription);
        var complete = LastRequest("POST");
        Assert.StartsWith("/v3/payscore/partner/serviceorder/PT-1%7Ca", complete.Target, StringComparison.Ordinal);
        Assert.EndsWith("/complete", complete.Target, StringComparison.Ordinal);
        var completeBody = JsonNode.Parse(complete.Body)!.AsObject();
        Assert.Equal(SubMchId, completeBody["sub_mchid"]!.GetValue<string>());
        Assert.False(completeBody.ContainsKey("appid"));

        Assert.Equal(HttpStatusCode.NoContent, await SendCallbackAsync("PT-1|a*b", PayScoreStates.UserPaidEvent));
        Assert.True((await client.QueryByOutOrderNoAsync("PT-1|a*b", Ct)).IsPaid);
    }

    [Fact]
    public async Task Partner_mode_cancel_and_its_refusal_once_revoked()
    {
        var client = await StartAsync(o =>
        {
            o.Mode = "Partner";
            o.SubMchId = SubMchId;
        });
        await client.CreateServiceOrderAsync(NewOrder("PC1"), Ct);
        Assert.False(JsonNode.Parse(LastRequest("POST").Body)!.AsObject().ContainsKey("sub_appid"));

        var cancelled = await client.CancelServiceOrderAsync("PC1", "用户取消", Ct);

        Assert.Equal("PC1", cancelled.OutOrderNo);
        Assert.Equal(SubMchId, cancelled.SubMchId);
        var body = JsonNode.Parse(LastRequest("POST").Body)!.AsObject();
        Assert.Equal("用户取消", body["reason"]!.GetValue<string>());
        Assert.False(body.ContainsKey("appid"));
        Assert.Equal(PayScoreStates.Revoked, (await client.QueryByOutOrderNoAsync("PC1", Ct)).State);

        var ex = await Assert.ThrowsAsync<WeChatPayException>(() => client.CancelServiceOrderAsync("PC1", "用户取消", Ct));
        Assert.Equal(HttpStatusCode.BadRequest, ex.StatusCode);
        Assert.Equal("INVALID_ORDER_STATE", ex.Code);
        Assert.False(ex.IsTransient);
    }

    [Fact]
    public async Task Direct_mode_cancel_sends_appid_and_service_id()
    {
        var client = await StartAsync();
        await client.CreateServiceOrderAsync(NewOrder("DC1"), Ct);

        var cancelled = await client.CancelServiceOrderAsync("DC1", "超时未确认", Ct);

        Assert.Equal(AppId, cancelled.AppId);
        Assert.False(string.IsNullOrEmpty(cancelled.OrderId));
        var body = JsonNode.Parse(LastRequest("POST").Body)!.AsObject();
        Assert.Equal(AppId, body["appid"]!.GetValue<string>());
        Assert.Equal(ServiceId, body["service_id"]!.GetValue<string>());
        Assert.Equal(PayScoreStates.Revoked, (await client.QueryByOutOrderNoAsync("DC1", Ct)).State);
    }

    [Fact]
    public async Task Create_with_identical_parameters_is_idempotent_and_with_different_ones_is_refused()
    {
        var client = await StartAsync();
        var first = await client.CreateServiceOrderAsync(NewOrder("IDEM1"), Ct);

        var again = await client.CreateServiceOrderAsync(NewOrder("IDEM1"), Ct);
        var ex = await Assert.ThrowsAsync<WeChatPayException>(() =>
            client.CreateServiceOrderAsync(NewOrder("IDEM1") with { ServiceIntroduction = "另一个服务" }, Ct));

        Assert.Equal(first.OrderId, again.OrderId);
        Assert.Equal(first.Package, again.Package);
        Assert.Equal("INVALID_REQUEST", ex.Code);
    }

    [Fact]
    public async Task A_400_with_a_code_becomes_an_exception_with_status_code_message_and_request_id()
    {
        var client = await StartAsync();
        _fake.FailNext(HttpStatusCode.BadRequest, "PARAM_ERROR", "参数错误：time_range.end_time格式错误");

        var ex = await Assert.ThrowsAsync<WeChatPayException>(() => client.CreateServiceOrderAsync(NewOrder("E400"), Ct));

        Assert.Equal(HttpStatusCode.BadRequest, ex.StatusCode);
        Assert.Equal("PARAM_ERROR", ex.Code);
        Assert.Equal("参数错误：time_range.end_time格式错误", ex.WeChatMessage);
        Assert.StartsWith("08", ex.RequestId, StringComparison.Ordinal);
        Assert.Contains("HTTP 400 PARAM_ERROR", ex.Message, StringComparison.Ordinal);
        Assert.False(ex.IsTransient);
        AssertNoSecrets(ex);
        Assert.False(_fake.HasOrder("E400"));
    }

    [Fact]
    public async Task A_429_is_a_transient_rate_limit_and_the_next_call_succeeds()
    {
        var client = await StartAsync();
        _fake.FailNextWithRateLimit();

        var ex = await Assert.ThrowsAsync<WeChatPayException>(() => client.CreateServiceOrderAsync(NewOrder("E429"), Ct));

        Assert.Equal(HttpStatusCode.TooManyRequests, ex.StatusCode);
        Assert.Equal("RATELIMIT_EXCEEDED", ex.Code);
        Assert.True(ex.IsTransient);
        Assert.Equal(PayScoreStates.Created, (await client.CreateServiceOrderAsync(NewOrder("E429"), Ct)).State);
    }

    [Fact]
    public async Task A_500_is_a_transient_system_error()
    {
        var client = await StartAsync();
        _fake.FailNextWithSystemError();

        var ex = await Assert.ThrowsAsync<WeChatPayException>(() => client.QueryByOutOrderNoAsync("E500", Ct));

        Assert.Equal(HttpStatusCode.InternalServerError, ex.StatusCode);
        Assert.Equal("SYSTEM_ERROR", ex.Code);
        Assert.True(ex.IsTransient);
        AssertNoSecrets(ex);
    }

    [Fact]
    public async Task An_unknown_order_is_a_404_order_not_exist()
    {
        var client = await StartAsync();

        var ex = await Assert.ThrowsAsync<WeChatPayException>(() => client.QueryByOutOrderNoAsync("NOPE", Ct));

        Assert.Equal(HttpStatusCode.NotFound, ex.StatusCode);
        Assert.Equal("ORDER_NOT_EXIST", ex.Code);
    }

    [Fact]
    public async Task A_2xx_answer_with_a_bad_signature_is_not_trusted()
    {
        var client = await StartAsync();
        _fake.CorruptNextResponseSignature();

        var ex = await Assert.ThrowsAsync<WeChatPayException>(() => client.CreateServiceOrderAsync(NewOrder("BADSIG"), Ct));

        Assert.Equal(WeChatPayRejection.BadSignature, ex.SignatureRejection);
        Assert.Equal(HttpStatusCode.OK, ex.StatusCode);
        Assert.Null(ex.Code);
        Assert.False(ex.IsTransient);
        Assert.True(_fake.HasOrder("BADSIG")); // WeChat did create it; we just refuse to believe an unverified answer
        Assert.Equal(PayScoreStates.Created, (await client.QueryByOutOrderNoAsync("BADSIG", Ct)).State);
    }

    [Fact]
    public async Task Answers_signed_with_a_platform_certificate_verify_when_both_key_kinds_are_configured()
    {
        var client = await StartAsync(o => o.PlatformCertificates[PlatformCertificate.Serial] = PlatformCertificate.CertificatePem);

        _fake.ResponseSerial = PlatformCertificate.Serial;
        var created = await client.CreateServiceOrderAsync(NewOrder("CERT1"), Ct);
        Assert.Equal(HttpStatusCode.NoContent, await SendCallbackAsync("CERT1", PayScoreStates.UserConfirmEvent));
        _fake.ResponseSerial = PublicKeyId;
        var queried = await client.QueryByOutOrderNoAsync("CERT1", Ct);

        Assert.Equal(PayScoreStates.Created, created.State);
        Assert.True(_callbacks.Single().IsValid);
        Assert.True(queried.IsConfirmed);
        Assert.Equal(PublicKeyId, LastRequest("GET").WechatpaySerial);
    }

    [Fact]
    public async Task Answers_signed_by_an_unconfigured_key_kind_are_refused()
    {
        var client = await StartAsync();
        _fake.ResponseSerial = PlatformCertificate.Serial;

        var ex = await Assert.ThrowsAsync<WeChatPayException>(() => client.CreateServiceOrderAsync(NewOrder("NOCERT"), Ct));
        Assert.Equal(HttpStatusCode.Unauthorized, await SendCallbackAsync("NOCERT", PayScoreStates.UserConfirmEvent));

        Assert.Equal(WeChatPayRejection.UnknownSerial, ex.SignatureRejection);
        Assert.Equal(WeChatPayRejection.UnknownSerial, _callbacks.Single().Rejection);
    }

    [Fact]
    public async Task A_request_signed_with_the_wrong_merchant_key_gets_sign_error()
    {
        using var otherKey = RSA.Create(2048);
        var client = await StartAsync(o => o.MerchantPrivateKey = otherKey.ExportPkcs8PrivateKeyPem());

        var ex = await Assert.ThrowsAsync<WeChatPayException>(() => client.QueryByOutOrderNoAsync("ANY", Ct));

        Assert.Equal(HttpStatusCode.Unauthorized, ex.StatusCode);
        Assert.Equal("SIGN_ERROR", ex.Code);
        Assert.False(ex.IsTransient);
    }

    [Fact]
    public async Task A_request_with_a_wrong_certificate_serial_gets_sign_error()
    {
        var client = await StartAsync(o => o.MerchantCertificateSerial = "0000");
        var ex = await Assert.ThrowsAsync<WeChatPayException>(() => client.QueryByOutOrderNoAsync("ANY", Ct));
        Assert.Equal("SIGN_ERROR", ex.Code);
    }

    [Fact]
    public async Task The_fake_refuses_missing_and_tampered_authorization()
    {
        await StartAsync();
        using var http = new HttpClient { BaseAddress = _baseUri };
        using var unsigned = new HttpRequestMessage(HttpMethod.Get, $"/v3/payscore/serviceorder?service_id={ServiceId}&appid={AppId}&out_order_no=X");
        unsigned.Headers.Accept.ParseAdd("application/json");
        unsigned.Headers.UserAgent.ParseAdd("test/1.0");

        using var response = await http.SendAsync(unsigned, Ct);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!;
        Assert.Equal("SIGN_ERROR", error["code"]!.GetValue<string>());
        Assert.False(string.IsNullOrEmpty(error["message"]!.GetValue<string>()));
    }

    [Fact]
    public async Task An_unreachable_platform_is_a_transient_failure_without_status()
    {
        // A port that was free a moment ago: nothing answers there.
        var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var client = await StartAsync(o => o.BaseUrl = $"http://127.0.0.1:{port}", timeout: TimeSpan.FromSeconds(2));

        var ex = await Assert.ThrowsAsync<WeChatPayException>(() => client.QueryByOutOrderNoAsync("X", Ct));

        Assert.Null(ex.StatusCode);
        Assert.True(ex.IsTransient);
    }

    private static CreateServiceOrderRequest NewOrder(string outOrderNo) => new()
    {
        OutOrderNo = outOrderNo,
        ServiceIntroduction = "停车服务",
        PostPayments = [new PostPayment { Name = "停车费", Amount = 500, Description = "按小时计费", Count = 1 }],
        TimeRange = new PayScoreTimeRange { StartTime = "OnAccept" },
        RiskFund = new PayScoreRiskFund { Name = "ESTIMATE_ORDER_COST", Amount = 10000, Description = "预估停车费" },
        Attach = "lot%3D7",
    };

    private async Task<WeChatPayClient> StartAsync(Action<WeChatPayOptions>? configure = null, TimeSpan? timeout = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        _app = builder.Build();
        _app.MapFakeWeChatPay(_fake);

        WeChatPayCallbackVerifier? callbackVerifier = null;
        _app.MapPost("/notify", async (HttpContext context) =>
        {
            using var buffer = new MemoryStream();
            await context.Request.Body.CopyToAsync(buffer, context.RequestAborted);
            var result = callbackVerifier!.Verify(WeChatPaySignatureHeaders.From(context.Request.Headers), buffer.ToArray());
            _callbacks.Enqueue(result);
            return result.IsValid
                ? Results.NoContent()
                : Results.Json(new { code = "FAIL", message = result.Message }, statusCode: StatusCodes.Status401Unauthorized);
        });
        await _app.StartAsync(Ct);
        _baseUri = new Uri(_app.Urls.Single());

        var options = Options(o =>
        {
            o.BaseUrl = _baseUri.ToString();
            o.RequestTimeout = timeout ?? TimeSpan.FromSeconds(10);
            configure?.Invoke(o);
        });
        var keys = new WeChatPayKeyRing(options);
        _disposables.Add(keys);
        var verifier = new WeChatPaySignatureVerifier(keys, TimeProvider.System);
        callbackVerifier = new WeChatPayCallbackVerifier(verifier, keys);
        var signer = new WeChatPayRequestSigner(Microsoft.Extensions.Options.Options.Create(options), keys, TimeProvider.System, new RandomWeChatPayNonceSource());
        var http = new HttpClient();
        _disposables.Add(http);
        return new WeChatPayClient(http, Microsoft.Extensions.Options.Options.Create(options), signer, verifier, NullLogger<WeChatPayClient>.Instance);
    }

    private async Task<HttpStatusCode> SendCallbackAsync(string outOrderNo, string eventType)
    {
        using var http = new HttpClient();
        return await _fake.SendCallbackAsync(outOrderNo, eventType, new Uri(_baseUri, "/notify"), http, Ct);
    }

    private FakeWeChatPayRequest LastRequest(string method) => _fake.Requests.Last(r => r.Method == method);

    private static void AssertNoSecrets(WeChatPayException ex)
    {
        var text = ex.ToString();
        Assert.DoesNotContain(ApiV3Key, text, StringComparison.Ordinal);
        Assert.DoesNotContain("PRIVATE KEY", text, StringComparison.Ordinal);
        Assert.DoesNotContain("Authorization", text, StringComparison.Ordinal);
    }
}
