using System.Collections.Concurrent;
using System.Net;
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
/// Refund create and query against the fake WeChat Pay on a real loopback port, over a deduction the fake itself made (a Pay Score order
/// created, confirmed, completed and paid); settled refunds call back to a notify endpoint that runs <see cref="WeChatPayCallbackVerifier"/>.
/// </summary>
public sealed class RefundClientTests : IAsyncDisposable
{
    private const string SubMchId = "1230000109";

    private readonly FakeWeChatPayState _fake;
    private readonly ConcurrentQueue<WeChatPayCallbackResult> _callbacks = new();
    private readonly List<IDisposable> _disposables = [];
    private readonly HttpClient _callbackHttp = new();
    private WebApplication? _app;

    public RefundClientTests()
    {
        _fake = new FakeWeChatPayState(MchId, MerchantSerial, MerchantPublicPem, ApiV3Key);
        _fake.AddSigningKey(PublicKeyId, WeChatPayPrivatePem);
        _fake.CallbackHttp = () => _callbackHttp;
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask DisposeAsync()
    {
        await _fake.WhenRefundCallbacksSentAsync();
        if (_app is not null)
        {
            await _app.DisposeAsync();
        }

        foreach (var d in _disposables)
        {
            d.Dispose();
        }

        _callbackHttp.Dispose();
        _fake.Dispose();
    }

    [Fact]
    public async Task Direct_refund_is_processing_then_settles_on_query_and_calls_back_REFUND_SUCCESS()
    {
        var client = await StartAsync();
        var transactionId = await PaidTransactionAsync(client, "PS-D1", 1000);

        var created = await client.CreateRefundAsync(new CreateRefundRequest("RF-D1", transactionId, 400, 1000, "服务未完成"), Ct);

        Assert.Equal(RefundStates.Processing, created.Status);
        Assert.Equal("RF-D1", created.OutRefundNo);
        Assert.Equal(transactionId, created.TransactionId);
        Assert.False(string.IsNullOrEmpty(created.RefundId));
        var create = LastRequest("POST");
        Assert.Equal("/v3/refund/domestic/refunds", create.Target);
        var body = JsonNode.Parse(create.Body)!.AsObject();
        Assert.Equal(["transaction_id", "out_refund_no", "reason", "notify_url", "amount"], body.Select(p => p.Key));
        Assert.Equal(new Uri(BaseUri, "/notify").ToString(), body["notify_url"]!.GetValue<string>());

        var settled = await client.QueryRefundAsync("RF-D1", Ct);

        Assert.Equal("/v3/refund/domestic/refunds/RF-D1", LastRequest("GET").Target);
        Assert.Equal(RefundStates.Success, settled.Status);
        Assert.False(string.IsNullOrEmpty(settled.SuccessTime));
        Assert.Equal(created.RefundId, settled.RefundId);
        await _fake.WhenRefundCallbacksSentAsync();
        var sent = Assert.Single(_fake.RefundCallbacks);
        Assert.Equal(HttpStatusCode.NoContent, sent.Status);
        var callback = Assert.Single(_callbacks, c => c.IsRefund);
        Assert.True(callback.IsValid, callback.Message);
        Assert.Equal(RefundStates.SuccessEvent, callback.Notification!.EventType);
        Assert.Equal("RF-D1", callback.RefundNotice!.OutRefundNo);
        Assert.Equal(MchId, callback.RefundNotice.MchId);
        Assert.Null(callback.RefundNotice.SubMchId);
        Assert.Equal(RefundStates.Success, callback.RefundNotice.RefundStatus);
        Assert.Equal(400, callback.RefundNotice.Amount!.Refund);
        Assert.Equal(1000, callback.RefundNotice.Amount.Total);
    }

    [Fact]
    public async Task Partner_refund_sends_sub_mchid_in_body_and_query_and_the_callback_names_both_merchants()
    {
        var client = await StartAsync(o =>
        {
            o.Mode = "Partner";
            o.SubMchId = SubMchId;
        });
        var transactionId = await PaidTransactionAsync(client, "PS-P1", 500);

        await client.CreateRefundAsync(new CreateRefundRequest("RF-P1", transactionId, 500, 500, null), Ct);
        var settled = await client.QueryRefundAsync("RF-P1", Ct);

        var body = JsonNode.Parse(LastRequest("POST").Body)!.AsObject();
        Assert.Equal(["sub_mchid", "transaction_id", "out_refund_no", "notify_url", "amount"], body.Select(p => p.Key));
        Assert.Equal(SubMchId, body["sub_mchid"]!.GetValue<string>());
        Assert.Equal($"/v3/refund/domestic/refunds/RF-P1?sub_mchid={SubMchId}", LastRequest("GET").Target);
        Assert.Equal(RefundStates.Success, settled.Status);
        await _fake.WhenRefundCallbacksSentAsync();
        var notice = Assert.Single(_callbacks, c => c.IsRefund).RefundNotice!;
        Assert.Equal(MchId, notice.SpMchId);
        Assert.Equal(SubMchId, notice.SubMchId);
        Assert.Null(notice.MchId);
    }

    [Fact]
    public async Task The_same_out_refund_no_with_the_same_body_is_the_same_refund_and_another_body_is_refused_finally()
    {
        var client = await StartAsync();
        var transactionId = await PaidTransactionAsync(client, "PS-I1", 1000);
        var request = new CreateRefundRequest("RF-I1", transactionId, 300, 1000, "重复");

        var first = await client.CreateRefundAsync(request, Ct);
        var again = await client.CreateRefundAsync(request, Ct);
        var other = await Assert.ThrowsAsync<WeChatPayException>(() => client.CreateRefundAsync(request with { Refund = 301 }, Ct));

        Assert.Equal(first.RefundId, again.RefundId);
        Assert.Equal(3, _fake.RefundCreateCount("RF-I1"));
        Assert.Equal(HttpStatusCode.BadRequest, other.StatusCode);
        Assert.Equal(WeChatPayErrors.InvalidRequest, other.Code);
        Assert.True(other.IsFinalRefusal);
        Assert.False(other.IsTransient);
        Assert.Equal(300, _fake.GetRefund("RF-I1")["amount"]!["refund"]!.GetValue<long>());
    }

    [Fact]
    public async Task Refunds_beyond_the_deducted_amount_or_with_another_total_are_refused_and_create_nothing()
    {
        var client = await StartAsync();
        var transactionId = await PaidTransactionAsync(client, "PS-A1", 1000);
        await client.CreateRefundAsync(new CreateRefundRequest("RF-A1", transactionId, 700, 1000, null), Ct);

        var over = await Assert.ThrowsAsync<WeChatPayException>(() =>
            client.CreateRefundAsync(new CreateRefundRequest("RF-A2", transactionId, 301, 1000, null), Ct));
        var wrongTotal = await Assert.ThrowsAsync<WeChatPayException>(() =>
            client.CreateRefundAsync(new CreateRefundRequest("RF-A3", transactionId, 100, 999, null), Ct));
        var rest = await client.CreateRefundAsync(new CreateRefundRequest("RF-A4", transactionId, 300, 1000, null), Ct);

        Assert.Equal(WeChatPayErrors.InvalidRequest, over.Code);
        Assert.True(over.IsFinalRefusal);
        Assert.Equal(WeChatPayErrors.InvalidRequest, wrongTotal.Code);
        Assert.False(_fake.HasRefund("RF-A2"));
        Assert.False(_fake.HasRefund("RF-A3"));
        Assert.Equal(RefundStates.Processing, rest.Status);
    }

    [Fact]
    public async Task A_refund_of_an_unknown_transaction_is_a_final_not_found()
    {
        var client = await StartAsync();

        var ex = await Assert.ThrowsAsync<WeChatPayException>(() =>
            client.CreateRefundAsync(new CreateRefundRequest("RF-N1", "4200000000000000000000000000", 100, 100, null), Ct));

        Assert.Equal(HttpStatusCode.NotFound, ex.StatusCode);
        Assert.Equal(WeChatPayErrors.ResourceNotExists, ex.Code);
        Assert.True(ex.IsNotFound);
        Assert.True(ex.IsFinalRefusal);
    }

    [Fact]
    public async Task Querying_an_unknown_refund_is_RESOURCE_NOT_EXISTS()
    {
        var client = await StartAsync();

        var ex = await Assert.ThrowsAsync<WeChatPayException>(() => client.QueryRefundAsync("RF-NONE", Ct));

        Assert.Equal(WeChatPayErrors.ResourceNotExists, ex.Code);
        Assert.True(ex.IsNotFound);
        Assert.False(ex.IsTransient);
    }

    [Theory]
    [InlineData(FakeRefundFailure.NotEnough, 403, "NOT_ENOUGH", true)]
    [InlineData(FakeRefundFailure.InvalidRequest, 400, "INVALID_REQUEST", true)]
    [InlineData(FakeRefundFailure.ResourceNotExists, 404, "RESOURCE_NOT_EXISTS", true)]
    [InlineData(FakeRefundFailure.FrequencyLimited, 429, "FREQUENCY_LIMITED", false)]
    [InlineData(FakeRefundFailure.SystemErrorAfterCreate, 500, "SYSTEM_ERROR", false)]
    public async Task Each_refusal_is_classified_final_or_retryable(FakeRefundFailure failure, int status, string code, bool final)
    {
        var client = await StartAsync();
        var transactionId = await PaidTransactionAsync(client, "PS-E1", 800);
        _fake.FailNextRefundCreate(failure);
        var request = new CreateRefundRequest("RF-E1", transactionId, 800, 800, null);

        var ex = await Assert.ThrowsAsync<WeChatPayException>(() => client.CreateRefundAsync(request, Ct));

        Assert.Equal((HttpStatusCode)status, ex.StatusCode);
        Assert.Equal(code, ex.Code);
        Assert.Equal(final, ex.IsFinalRefusal);
        Assert.Equal(!final, ex.IsTransient);
        Assert.Equal(failure == FakeRefundFailure.SystemErrorAfterCreate, _fake.HasRefund("RF-E1"));
        if (!final)
        {
            // The retry discipline: query first; a retried identical create is answered with the one refund.
            var retried = await client.CreateRefundAsync(request, Ct);
            Assert.Equal(RefundStates.Processing, retried.Status);
            Assert.Equal(2, _fake.RefundCreateCount("RF-E1"));
        }
    }

    [Fact]
    public async Task A_hanging_create_is_transient_without_status_and_the_refund_is_found_by_query()
    {
        var client = await StartAsync(timeout: TimeSpan.FromSeconds(1));
        var transactionId = await PaidTransactionAsync(client, "PS-H1", 600);
        _fake.FailNextRefundCreate(FakeRefundFailure.Hang);

        var ex = await Assert.ThrowsAsync<WeChatPayException>(() =>
            client.CreateRefundAsync(new CreateRefundRequest("RF-H1", transactionId, 600, 600, null), Ct));
        var found = await client.QueryRefundAsync("RF-H1", Ct);

        Assert.Null(ex.StatusCode);
        Assert.True(ex.IsTransient);
        Assert.False(ex.IsFinalRefusal);
        Assert.Equal("RF-H1", found.OutRefundNo);
        Assert.Equal(1, _fake.RefundCreateCount("RF-H1"));
    }

    [Theory]
    [InlineData(RefundStates.Closed, RefundStates.ClosedEvent)]
    [InlineData(RefundStates.Abnormal, RefundStates.AbnormalEvent)]
    public async Task A_refund_settling_closed_or_abnormal_calls_back_with_that_event(string outcome, string eventType)
    {
        var client = await StartAsync();
        var transactionId = await PaidTransactionAsync(client, "PS-C1", 900);
        _fake.RefundOutcome = outcome;
        _fake.RefundSettleAfterQueries = 2;

        await client.CreateRefundAsync(new CreateRefundRequest("RF-C1", transactionId, 900, 900, null), Ct);
        var first = await client.QueryRefundAsync("RF-C1", Ct);
        var second = await client.QueryRefundAsync("RF-C1", Ct);

        Assert.Equal(RefundStates.Processing, first.Status);
        Assert.Equal(outcome, second.Status);
        Assert.Null(second.SuccessTime);
        await _fake.WhenRefundCallbacksSentAsync();
        var callback = Assert.Single(_callbacks, c => c.IsRefund);
        Assert.True(callback.IsValid, callback.Message);
        Assert.Equal(eventType, callback.Notification!.EventType);
        Assert.Equal(outcome, callback.RefundNotice!.RefundStatus);
    }

    [Fact]
    public async Task A_refund_settles_after_the_configured_delay_without_any_query()
    {
        var client = await StartAsync();
        var transactionId = await PaidTransactionAsync(client, "PS-T1", 700);
        _fake.RefundSettleAfterQueries = 0;
        _fake.RefundSettleDelay = TimeSpan.FromMilliseconds(200);

        await client.CreateRefundAsync(new CreateRefundRequest("RF-T1", transactionId, 700, 700, null), Ct);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (_fake.RefundCallbacks.IsEmpty && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20, Ct);
        }

        var sent = Assert.Single(_fake.RefundCallbacks);
        Assert.Equal(("RF-T1", RefundStates.SuccessEvent, HttpStatusCode.NoContent), (sent.OutRefundNo, sent.EventType, sent.Status));
        Assert.Equal(RefundStates.Success, (await client.QueryRefundAsync("RF-T1", Ct)).Status);
        Assert.Single(_callbacks, c => c.IsRefund);
    }

    [Fact]
    public async Task A_closed_refund_frees_its_amount_and_suppressed_callbacks_send_nothing()
    {
        var client = await StartAsync();
        var transactionId = await PaidTransactionAsync(client, "PS-S1", 500);
        _fake.SuppressRefundCallbacks = true;
        await client.CreateRefundAsync(new CreateRefundRequest("RF-S1", transactionId, 500, 500, null), Ct);

        Assert.Null(await _fake.SettleRefundAsync("RF-S1", RefundStates.Closed, Ct));
        var again = await client.CreateRefundAsync(new CreateRefundRequest("RF-S2", transactionId, 500, 500, null), Ct);

        Assert.Equal(RefundStates.Processing, again.Status);
        await _fake.WhenRefundCallbacksSentAsync();
        Assert.Empty(_fake.RefundCallbacks);
        Assert.DoesNotContain(_callbacks, c => c.IsRefund);
    }

    [Fact]
    public async Task The_control_routes_inject_a_failure_show_the_create_count_and_settle()
    {
        var client = await StartAsync();
        var transactionId = await PaidTransactionAsync(client, "PS-K1", 200);
        using var http = new HttpClient { BaseAddress = BaseUri };

        using (var bad = await http.PostAsync(new Uri("/fake/wechatpay/refunds/fail-next/Nope", UriKind.Relative), null, Ct))
        {
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        }

        (await http.PostAsync(new Uri("/fake/wechatpay/refunds/fail-next/notenough", UriKind.Relative), null, Ct)).Dispose();
        var request = new CreateRefundRequest("RF-K1", transactionId, 200, 200, null);
        var refused = await Assert.ThrowsAsync<WeChatPayException>(() => client.CreateRefundAsync(request, Ct));
        await client.CreateRefundAsync(request, Ct);
        var shown = JsonNode.Parse(await http.GetStringAsync(new Uri("/fake/wechatpay/refunds/RF-K1", UriKind.Relative), Ct))!;
        using var settle = await http.PostAsync(new Uri("/fake/wechatpay/refunds/RF-K1/settle?outcome=CLOSED", UriKind.Relative), null, Ct);
        var settled = JsonNode.Parse(await settle.Content.ReadAsStringAsync(Ct))!;
        using var again = await http.PostAsync(new Uri("/fake/wechatpay/refunds/RF-K1/settle", UriKind.Relative), null, Ct);

        Assert.Equal(WeChatPayErrors.NotEnough, refused.Code);
        Assert.Equal(2, shown["creates"]!.GetValue<int>());
        Assert.Equal(RefundStates.Processing, shown["refund"]!["status"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.OK, settle.StatusCode);
        Assert.Equal(RefundStates.Closed, settled["refund"]!["status"]!.GetValue<string>());
        Assert.Equal(204, settled["callbackStatus"]!.GetValue<int>());
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        Assert.Equal(RefundStates.Closed, Assert.Single(_callbacks, c => c.IsRefund).RefundNotice!.RefundStatus);
    }

    [Fact]
    public async Task The_fake_refuses_a_body_with_mchid_or_appid_like_WeChat()
    {
        var client = await StartAsync();
        var transactionId = await PaidTransactionAsync(client, "PS-F1", 100);
        using var http = new HttpClient();
        var options = Options(o => o.BaseUrl = BaseUri.ToString());
        using var keys = new WeChatPayKeyRing(options);
        var signer = new WeChatPayRequestSigner(Microsoft.Extensions.Options.Options.Create(options), keys, TimeProvider.System, new RandomWeChatPayNonceSource());
        var body = Utf8($$$"""{"appid":"{{{AppId}}}","mchid":"{{{MchId}}}","transaction_id":"{{{transactionId}}}","out_refund_no":"RF-F1","amount":{"refund":100,"total":100,"currency":"CNY"}}""");
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(BaseUri, "/v3/refund/domestic/refunds")) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        request.Headers.TryAddWithoutValidation("Authorization", signer.CreateAuthorization("POST", "/v3/refund/domestic/refunds", body));
        request.Headers.Accept.ParseAdd("application/json");
        request.Headers.UserAgent.ParseAdd("test/1.0");

        using var response = await http.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!;
        Assert.Equal("PARAM_ERROR", error["code"]!.GetValue<string>());
        Assert.Equal("""["/body/appid","/body/mchid"]""", error["detail"]!["value"]!.ToJsonString());
        Assert.False(_fake.HasRefund("RF-F1"));
    }

    private Uri BaseUri => new(_app!.Urls.Single());

    /// <summary>A Pay Score order through to USER_PAID in the fake; its NEWTON deduction's transaction_id.</summary>
    private async Task<string> PaidTransactionAsync(WeChatPayClient client, string outOrderNo, long amount)
    {
        await client.CreateServiceOrderAsync(new CreateServiceOrderRequest
        {
            OutOrderNo = outOrderNo,
            ServiceIntroduction = "停车服务",
            PostPayments = [new PostPayment { Name = "停车费", Amount = amount, Description = "按小时计费", Count = 1 }],
            TimeRange = new PayScoreTimeRange { StartTime = "OnAccept" },
            RiskFund = new PayScoreRiskFund { Name = "ESTIMATE_ORDER_COST", Amount = 10000, Description = "预估停车费" },
        }, Ct);
        _fake.BuildCallback(outOrderNo, PayScoreStates.UserConfirmEvent);
        await client.CompleteServiceOrderAsync(outOrderNo, new CompleteServiceOrderRequest
        {
            PostPayments = [new PostPayment { Name = "停车费", Amount = amount, Description = "1小时", Count = 1 }],
            TotalAmount = amount,
        }, Ct);
        _fake.BuildCallback(outOrderNo, PayScoreStates.UserPaidEvent);
        return _fake.GetOrder(outOrderNo)["collection"]!["details"]![0]!["transaction_id"]!.GetValue<string>();
    }

    private async Task<WeChatPayClient> StartAsync(Action<WeChatPayOptions>? configure = null, TimeSpan? timeout = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        _app = builder.Build();
        _app.MapFakeWeChatPay(_fake);
        _app.MapFakeWeChatPayControl(_fake, new Uri("http://127.0.0.1:1/unused"), () => _callbackHttp);
        _app.MapPost("/notify", async (HttpContext context) =>
        {
            using var buffer = new MemoryStream();
            await context.Request.Body.CopyToAsync(buffer, context.RequestAborted);
            var result = CallbackVerifier().Verify(WeChatPaySignatureHeaders.From(context.Request.Headers), buffer.ToArray());
            _callbacks.Enqueue(result);
            return result.IsValid
                ? Results.NoContent()
                : Results.Json(new { code = "FAIL", message = result.Message }, statusCode: StatusCodes.Status401Unauthorized);
        });
        await _app.StartAsync(Ct);
        return NewClient(configure, timeout);
    }

    private WeChatPayCallbackVerifier CallbackVerifier()
    {
        var keys = new WeChatPayKeyRing(Options());
        lock (_disposables)
        {
            _disposables.Add(keys);
        }

        return new WeChatPayCallbackVerifier(new WeChatPaySignatureVerifier(keys, TimeProvider.System), keys);
    }

    private WeChatPayClient NewClient(Action<WeChatPayOptions>? configure, TimeSpan? timeout)
    {
        var options = Options(o =>
        {
            o.BaseUrl = BaseUri.ToString();
            o.NotifyUrl = new Uri(BaseUri, "/notify").ToString();
            o.RequestTimeout = timeout ?? TimeSpan.FromSeconds(10);
            configure?.Invoke(o);
        });
        var keys = new WeChatPayKeyRing(options);
        var http = new HttpClient();
        lock (_disposables)
        {
            _disposables.Add(keys);
            _disposables.Add(http);
        }

        var verifier = new WeChatPaySignatureVerifier(keys, TimeProvider.System);
        var signer = new WeChatPayRequestSigner(Microsoft.Extensions.Options.Options.Create(options), keys, TimeProvider.System, new RandomWeChatPayNonceSource());
        return new WeChatPayClient(http, Microsoft.Extensions.Options.Options.Create(options), signer, verifier, NullLogger<WeChatPayClient>.Instance);
    }

    private FakeWeChatPayRequest LastRequest(string method) => _fake.Requests.Last(r => r.Method == method);
}
