using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using PaymentFunctions.WeChatPay;
using static PaymentFunctions.Tests.WeChatPay.WeChatPayTestData;

namespace PaymentFunctions.Tests.WeChatPay;

/// <summary>Known-answer tests over vectors.json: the message, its signature and the Authorization header are byte-exact.</summary>
public sealed class RequestSigningTests
{
    [Theory]
    [InlineData("request_post_create")]
    [InlineData("request_get_query")]
    public void Message_and_signature_match_the_vector(string name)
    {
        var message = WeChatPaySignature.RequestMessage(VectorText(name, "method"), VectorText(name, "canonical_url"),
            VectorText(name, "timestamp"), VectorText(name, "nonce_str"), Utf8(VectorText(name, "body_utf8")));

        Assert.Equal(VectorText(name, "message"), Encoding.UTF8.GetString(message));
        using var key = RSA.Create();
        key.ImportFromPem(MerchantPrivatePem);
        Assert.Equal(VectorText(name, "signature"), WeChatPaySignature.Sign(key, message));
    }

    [Fact]
    public void Post_message_hash_matches_the_vector()
    {
        var v = "request_post_create";
        var message = WeChatPaySignature.RequestMessage("POST", VectorText(v, "canonical_url"), VectorText(v, "timestamp"),
            VectorText(v, "nonce_str"), Utf8(VectorText(v, "body_utf8")));

        Assert.Equal(VectorText(v, "message_sha256_hex"), Convert.ToHexStringLower(SHA256.HashData(message)));
    }

    [Fact]
    public void Get_message_ends_with_an_empty_body_line()
    {
        var message = WeChatPaySignature.RequestMessage("GET", "/v3/x?a=1", "1", "n", []);

        Assert.Equal("GET\n/v3/x?a=1\n1\nn\n\n", Encoding.UTF8.GetString(message));
    }

    [Fact]
    public void Signer_with_pinned_clock_and_nonce_produces_the_vector_authorization()
    {
        var v = "request_post_create";
        var options = Options();
        using var keys = new WeChatPayKeyRing(options);
        var signer = new WeChatPayRequestSigner(Microsoft.Extensions.Options.Options.Create(options), keys,
            new FixedClock(long.Parse(VectorText(v, "timestamp"), System.Globalization.CultureInfo.InvariantCulture)),
            new FixedNonce(VectorText(v, "nonce_str")));

        var authorization = signer.CreateAuthorization("POST", VectorText(v, "canonical_url"), Utf8(VectorText(v, "body_utf8")));

        Assert.Equal(VectorText(v, "authorization"), authorization);
    }

    [Fact]
    public void Authorization_parses_back_into_its_five_fields()
    {
        Assert.True(WeChatPaySignature.TryParseAuthorization(VectorText("request_post_create", "authorization"), out var fields));

        Assert.Equal(MchId, fields["mchid"]);
        Assert.Equal("593BEC0C930BF1AFEB40B4A08C8FB242", fields["nonce_str"]);
        Assert.Equal("1554208460", fields["timestamp"]);
        Assert.Equal(MerchantSerial, fields["serial_no"]);
        Assert.Equal(VectorText("request_post_create", "signature"), fields["signature"]);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("Bearer abc")]
    [InlineData("WECHATPAY2-SHA256-RSA2048 mchid=\"1\",nonce_str=\"n\",timestamp=\"1\",serial_no=\"s\"")]
    [InlineData("WECHATPAY2-SHA256-RSA2048 mchid=1,nonce_str=\"n\",signature=\"s\",timestamp=\"1\",serial_no=\"s\"")]
    public void Malformed_authorization_does_not_parse(string? value)
    {
        Assert.False(WeChatPaySignature.TryParseAuthorization(value, out _));
    }

    [Fact]
    public async Task Client_sends_the_vector_body_and_authorization_for_create()
    {
        var v = "request_post_create";
        var (client, handler) = ClientFor(v);

        await Assert.ThrowsAsync<WeChatPayException>(() => client.CreateServiceOrderAsync(new CreateServiceOrderRequest
        {
            OutOrderNo = "T20250101000001",
            ServiceIntroduction = "测试服务",
            PostPayments = [new PostPayment { Name = "服务费", Amount = 100, Description = "按次计费", Count = 1 }],
            TimeRange = new PayScoreTimeRange { StartTime = "OnAccept" },
            RiskFund = new PayScoreRiskFund { Name = "ESTIMATE_ORDER_COST", Amount = 10000, Description = "预估费用" },
        }, TestContext.Current.CancellationToken));

        var sent = Assert.Single(handler.Requests);
        Assert.Equal("POST", sent.Method);
        Assert.Equal(VectorText(v, "canonical_url"), sent.PathAndQuery);
        Assert.Equal(VectorText(v, "body_utf8"), sent.Body);
        Assert.Equal(VectorText(v, "authorization"), sent.Authorization);
        Assert.Equal("application/json", sent.ContentType);
        Assert.Contains("application/json", sent.Accept, StringComparison.Ordinal);
        Assert.False(string.IsNullOrEmpty(sent.UserAgent));
    }

    [Fact]
    public async Task Client_sends_the_vector_url_and_signature_for_query_by_query_id()
    {
        var v = "request_get_query";
        var (client, handler) = ClientFor(v);

        await Assert.ThrowsAsync<WeChatPayException>(() =>
            client.QueryByQueryIdAsync("15646546545165651651", TestContext.Current.CancellationToken));

        var sent = Assert.Single(handler.Requests);
        Assert.Equal("GET", sent.Method);
        Assert.Equal(VectorText(v, "canonical_url"), sent.PathAndQuery);
        Assert.Null(sent.Body);
        Assert.Null(sent.ContentType);
        Assert.Equal(WeChatPaySignature.Authorization(MchId, VectorText(v, "nonce_str"), VectorText(v, "signature"), VectorText(v, "timestamp"),
            MerchantSerial), sent.Authorization);
    }

    [Fact]
    public void Query_urls_carry_exactly_one_key_and_escape_it()
    {
        var direct = ClientFor("request_get_query").Client;
        var partner = ClientFor("request_get_query", o =>
        {
            o.Mode = "Partner";
            o.SubMchId = "1230000109";
        }).Client;

        Assert.Equal($"/v3/payscore/serviceorder?service_id={ServiceId}&appid={AppId}&out_order_no=T1", direct.QueryPathAndQuery("out_order_no", "T1"));
        Assert.Equal($"/v3/payscore/serviceorder?service_id={ServiceId}&appid={AppId}&query_id=a%2Bb%2Fc%3D", direct.QueryPathAndQuery("query_id", "a+b/c="));
        Assert.Equal($"/v3/payscore/partner/serviceorder?service_id={ServiceId}&sub_mchid=1230000109&query_id=q1", partner.QueryPathAndQuery("query_id", "q1"));
    }

    private static (WeChatPayClient Client, CapturingHandler Handler) ClientFor(string vector, Action<WeChatPayOptions>? configure = null)
    {
        var options = Options(configure);
        var keys = new WeChatPayKeyRing(options);
        var clock = new FixedClock(long.Parse(VectorText(vector, "timestamp"), System.Globalization.CultureInfo.InvariantCulture));
        var signer = new WeChatPayRequestSigner(Microsoft.Extensions.Options.Options.Create(options), keys, clock, new FixedNonce(VectorText(vector, "nonce_str")));
        var handler = new CapturingHandler();
        var client = new WeChatPayClient(new HttpClient(handler), Microsoft.Extensions.Options.Options.Create(options), signer,
            new WeChatPaySignatureVerifier(keys, clock), NullLogger<WeChatPayClient>.Instance);
        return (client, handler);
    }

    internal sealed record SentRequest(string Method, string PathAndQuery, string? Body, string? Authorization, string? ContentType, string Accept, string UserAgent);

    /// <summary>Records what the client put on the wire and answers 500, so nothing past the request matters.</summary>
    internal sealed class CapturingHandler : HttpMessageHandler
    {
        public List<SentRequest> Requests { get; } = [];

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var body = request.Content is null ? null : Encoding.UTF8.GetString(await request.Content.ReadAsByteArrayAsync(cancellationToken));
            Requests.Add(new SentRequest(request.Method.Method, request.RequestUri!.PathAndQuery, body,
                request.Headers.TryGetValues("Authorization", out var a) ? a.Single() : null,
                request.Content?.Headers.ContentType?.ToString(), request.Headers.Accept.ToString(), request.Headers.UserAgent.ToString()));
            return new HttpResponseMessage(HttpStatusCode.InternalServerError);
        }
    }
}
