using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using PaymentFunctions.WeChatPay;
using static PaymentFunctions.Tests.WeChatPay.WeChatPayTestData;

namespace PaymentFunctions.Tests.WeChatPay;

/// <summary>
/// The refund golden vectors (TestData/wechatpay/refund_vectors.json, from the refund notes §9.2): the client's create and partner query
/// requests are byte-identical to the vectors, and the REFUND.SUCCESS callback verifies and decrypts to the exact plaintext. Also the
/// create body in both modes, the answer checks, and every way a refund callback is refused or read tolerantly.
/// </summary>
public sealed class RefundVectorTests : IDisposable
{
    private const string Create = "refund_post_create";
    private const string Query = "refund_get_query_partner";
    private const string Callback = "callback_refund_success";
    private const string PartnerSubMchId = "1900000109";

    private static readonly Lazy<JsonDocument> Vectors = new(() =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "TestData", "wechatpay", "refund_vectors.json"))));

    private static readonly long CallbackTime = long.Parse(Header("Wechatpay-Timestamp"), System.Globalization.CultureInfo.InvariantCulture);

    private readonly List<IDisposable> _disposables = [];

    public void Dispose()
    {
        foreach (var d in _disposables)
        {
            d.Dispose();
        }
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string V(string name, string property) => Vectors.Value.RootElement.GetProperty(name).GetProperty(property).GetString()!;

    private static string Header(string name) => Vectors.Value.RootElement.GetProperty(Callback).GetProperty("headers").GetProperty(name).GetString()!;

    private static WeChatPaySignatureHeaders CallbackHeaders =>
        new(Header("Wechatpay-Timestamp"), Header("Wechatpay-Nonce"), Header("Wechatpay-Signature"), Header("Wechatpay-Serial"));

    private static CreateRefundRequest VectorRequest => new("RF20250102000001", "4200001188202501013853641530", 100, 300, "服务未完成");

    private const string CreateAnswer = """{"refund_id":"50300002272025010212345678901","out_refund_no":"RF20250102000001","transaction_id":"4200001188202501013853641530","out_trade_no":"1217752501201407033233368018","channel":"ORIGINAL","user_received_account":"支付用户零钱","create_time":"2025-01-02T12:00:00+08:00","status":"PROCESSING","funds_account":"UNSETTLED","amount":{"total":300,"refund":100,"payer_total":300,"payer_refund":100,"settlement_total":300,"settlement_refund":100,"discount_refund":0,"currency":"CNY"},"promotion_detail":[]}""";

    [Fact]
    public async Task Create_sends_the_vector_body_and_signature_byte_for_byte()
    {
        var (client, handler) = Client(long.Parse(V(Create, "timestamp"), System.Globalization.CultureInfo.InvariantCulture), V(Create, "nonce_str"),
            o => o.RefundNotifyUrl = V(Create, "notify_url"), CreateAnswer);

        var refund = await client.CreateRefundAsync(VectorRequest, Ct);

        var sent = Assert.Single(handler.Requests);
        Assert.Equal("POST", sent.Method);
        Assert.Equal(V(Create, "canonical_url"), sent.PathAndQuery);
        Assert.Equal(V(Create, "body_utf8"), Encoding.UTF8.GetString(sent.Body));
        var message = WeChatPaySignature.RequestMessage("POST", sent.PathAndQuery, V(Create, "timestamp"), V(Create, "nonce_str"), sent.Body);
        Assert.Equal(V(Create, "message_sha256_hex"), Convert.ToHexStringLower(SHA256.HashData(message)));
        Assert.True(WeChatPaySignature.TryParseAuthorization(sent.Authorization, out var fields));
        Assert.Equal(V(Create, "signature"), fields["signature"]);
        Assert.Equal(RefundStates.Processing, refund.Status);
        Assert.Equal("50300002272025010212345678901", refund.RefundId);
        Assert.Equal(100, refund.Amount!.PayerRefund);
    }

    [Fact]
    public async Task Partner_query_sends_the_vector_target_and_signature()
    {
        var answer = CreateAnswer.Replace("\"status\":\"PROCESSING\"", "\"status\":\"SUCCESS\",\"success_time\":\"2025-01-02T12:01:30+08:00\",\"refund_fee\":0",
            StringComparison.Ordinal);
        var (client, handler) = Client(long.Parse(V(Query, "timestamp"), System.Globalization.CultureInfo.InvariantCulture), V(Query, "nonce_str"), o =>
        {
            o.Mode = "Partner";
            o.SubMchId = PartnerSubMchId;
        }, answer);

        var refund = await client.QueryRefundAsync(V(Query, "out_refund_no"), Ct);

        var sent = Assert.Single(handler.Requests);
        Assert.Equal("GET", sent.Method);
        Assert.Equal(V(Query, "canonical_url"), sent.PathAndQuery);
        Assert.Empty(sent.Body);
        Assert.Equal(V(Query, "message"), Encoding.UTF8.GetString(
            WeChatPaySignature.RequestMessage("GET", sent.PathAndQuery, V(Query, "timestamp"), V(Query, "nonce_str"), [])));
        Assert.True(WeChatPaySignature.TryParseAuthorization(sent.Authorization, out var fields));
        Assert.Equal(V(Query, "signature"), fields["signature"]);
        Assert.Equal(RefundStates.Success, refund.Status);
        Assert.Equal("2025-01-02T12:01:30+08:00", refund.SuccessTime);
    }

    [Fact]
    public void Direct_body_has_no_sub_mchid_mchid_or_appid_and_currency_CNY()
    {
        var (client, _) = Client(1, "n", null, "");

        var body = JsonNode.Parse(client.SerializeRefundBody(VectorRequest))!.AsObject();

        Assert.Equal(["transaction_id", "out_refund_no", "reason", "notify_url", "amount"], body.Select(p => p.Key));
        Assert.Equal(NotifyUrl, body["notify_url"]!.GetValue<string>());
        Assert.Equal("""{"refund":100,"total":300,"currency":"CNY"}""", body["amount"]!.ToJsonString());
    }

    [Fact]
    public void Partner_body_starts_with_sub_mchid_and_omits_an_empty_reason()
    {
        var (client, _) = Client(1, "n", o =>
        {
            o.Mode = "Partner";
            o.SubMchId = PartnerSubMchId;
            o.RefundNotifyUrl = "https://example.com/refund/notify";
        }, "");

        var text = Encoding.UTF8.GetString(client.SerializeRefundBody(VectorRequest with { Reason = "" }));

        Assert.Equal("""{"sub_mchid":"1900000109","transaction_id":"4200001188202501013853641530","out_refund_no":"RF20250102000001","notify_url":"https://example.com/refund/notify","amount":{"refund":100,"total":300,"currency":"CNY"}}""", text);
        Assert.DoesNotContain("null", text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0, 300)]
    [InlineData(-1, 300)]
    [InlineData(301, 300)]
    public void A_refund_outside_one_fen_to_total_is_refused_before_sending(long refund, long total)
    {
        var (client, handler) = Client(1, "n", null, "");

        Assert.ThrowsAny<ArgumentException>(() => client.SerializeRefundBody(VectorRequest with { Refund = refund, Total = total }));
        Assert.Empty(handler.Requests);
    }

    [Theory]
    [InlineData("\"out_refund_no\":\"RF20250102000001\"", "\"out_refund_no\":\"RF-OTHER\"")]
    [InlineData("\"status\":\"PROCESSING\"", "\"status\":\"PENDING\"")]
    [InlineData("\"status\":\"PROCESSING\",", "")]
    public async Task An_answer_about_another_refund_or_in_an_unknown_state_is_outcome_unknown(string from, string to)
    {
        var (client, _) = Client(1735790400, "n", null, CreateAnswer.Replace(from, to, StringComparison.Ordinal));

        var ex = await Assert.ThrowsAsync<WeChatPayException>(() => client.CreateRefundAsync(VectorRequest, Ct));

        Assert.True(ex.OutcomeUnknown);
        Assert.True(ex.IsTransient);
        Assert.False(ex.IsFinalRefusal);
    }

    [Fact]
    public async Task An_unreadable_2xx_answer_is_outcome_unknown()
    {
        var (client, _) = Client(1735790400, "n", null, "not json");

        var ex = await Assert.ThrowsAsync<WeChatPayException>(() => client.CreateRefundAsync(VectorRequest, Ct));

        Assert.True(ex.OutcomeUnknown);
        Assert.True(ex.IsTransient);
    }

    [Fact]
    public async Task An_answer_with_a_bad_signature_is_outcome_unknown_for_a_refund()
    {
        var (client, handler) = Client(1735790400, "n", null, CreateAnswer);
        handler.CorruptSignature = true;

        var ex = await Assert.ThrowsAsync<WeChatPayException>(() => client.CreateRefundAsync(VectorRequest, Ct));

        Assert.Equal(WeChatPayRejection.BadSignature, ex.SignatureRejection);
        Assert.True(ex.OutcomeUnknown);
        Assert.True(ex.IsTransient);
    }

    [Fact]
    public void The_refund_success_callback_verifies_and_decrypts_to_the_exact_plaintext()
    {
        var result = Verifier(CallbackTime).Verify(CallbackHeaders, Utf8(V(Callback, "body_utf8")));

        Assert.True(result.IsValid, result.Message);
        Assert.Equal(V(Callback, "expected_resource_plaintext"), result.ResourceJson);
        Assert.Equal(V(Callback, "expected_resource_plaintext_sha256_hex"), Convert.ToHexStringLower(SHA256.HashData(Utf8(result.ResourceJson!))));
        Assert.True(result.IsRefund);
        Assert.Null(result.ServiceOrder);
        Assert.Equal(RefundStates.SuccessEvent, result.Notification!.EventType);
        var notice = result.RefundNotice!;
        Assert.Equal(MchId, notice.MchId);
        Assert.Equal("RF20250102000001", notice.OutRefundNo);
        Assert.Equal("4200001188202501013853641530", notice.TransactionId);
        Assert.Equal("50300002272025010212345678901", notice.RefundId);
        Assert.Equal(RefundStates.Success, notice.RefundStatus);
        Assert.Equal("2025-01-02T12:01:30+08:00", notice.SuccessTime);
        Assert.Equal(100, notice.Amount!.Refund);
        Assert.Equal(300, notice.Amount.Total);
    }

    [Fact]
    public void A_flipped_byte_in_the_refund_callback_is_refused()
    {
        var body = Utf8(V(Callback, "body_utf8"));
        var at = Encoding.UTF8.GetString(body).IndexOf("退款成功", StringComparison.Ordinal) - 3;
        body[at] ^= 1;

        var result = Verifier(CallbackTime).Verify(CallbackHeaders, body);

        Assert.Equal(WeChatPayRejection.BadSignature, result.Rejection);
        Assert.Null(result.RefundNotice);
    }

    [Theory]
    [InlineData(301)]
    [InlineData(-301)]
    public void A_stale_refund_callback_is_refused(long offset)
    {
        var result = Verifier(CallbackTime + offset).Verify(CallbackHeaders, Utf8(V(Callback, "body_utf8")));

        Assert.Equal(WeChatPayRejection.StaleTimestamp, result.Rejection);
        Assert.Null(result.RefundNotice);
    }

    [Theory]
    [InlineData("")]
    [InlineData("payscore")]
    public void A_refund_callback_with_other_associated_data_than_it_was_encrypted_with_does_not_decrypt(string associatedData)
    {
        // Re-signed by "WeChat", so only the AAD is wrong.
        var envelope = JsonNode.Parse(V(Callback, "body_utf8"))!.AsObject();
        envelope["resource"]!["associated_data"] = associatedData;
        var body = Utf8(envelope.ToJsonString(FakeJson));

        var result = Verifier(CallbackTime).Verify(Sign(body, WeChatPayPrivatePem, PublicKeyId, CallbackTime), body);

        Assert.Equal(WeChatPayRejection.DecryptionFailed, result.Rejection);
        Assert.Null(result.RefundNotice);
    }

    [Fact]
    public void A_refund_callback_encrypted_with_empty_associated_data_is_accepted()
    {
        var result = Verify(RefundCallback(PlainWith(n => { }), associatedData: ""));

        Assert.True(result.IsValid, result.Message);
        Assert.True(result.IsRefund);
        Assert.Equal(RefundStates.Success, result.RefundNotice!.RefundStatus);
    }

    [Fact]
    public void Refund_status_CLOSE_is_read_as_CLOSED_and_unknown_fields_are_ignored()
    {
        var plaintext = PlainWith(n =>
        {
            n["refund_status"] = "CLOSE";
            n.Remove("success_time");
            n["channel"] = "ORIGINAL";
            n["promotion_detail"] = new JsonArray(new JsonObject { ["promotion_id"] = "1" });
            n["something_new"] = new JsonObject { ["x"] = 1 };
        });

        var result = Verify(RefundCallback(plaintext, eventType: RefundStates.ClosedEvent));

        Assert.True(result.IsValid, result.Message);
        Assert.Equal(RefundStates.Closed, result.RefundNotice!.RefundStatus);
        Assert.Equal(plaintext, result.ResourceJson);
    }

    [Theory]
    [InlineData("PROCESSING")]
    [InlineData("REFUNDED")]
    [InlineData(null)]
    public void A_refund_callback_with_an_unknown_status_is_refused_clearly(string? status)
    {
        var result = Verify(RefundCallback(PlainWith(n => n["refund_status"] = status)));

        Assert.Equal(WeChatPayRejection.MalformedResource, result.Rejection);
        Assert.Contains("refund_status", result.Message, StringComparison.Ordinal);
        Assert.Null(result.RefundNotice);
    }

    [Fact]
    public void A_refund_callback_without_out_refund_no_is_refused()
    {
        var result = Verify(RefundCallback(PlainWith(n => n.Remove("out_refund_no"))));

        Assert.Equal(WeChatPayRejection.MalformedResource, result.Rejection);
        Assert.Contains("out_refund_no", result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_resource_typed_refund_is_read_as_a_refund_whatever_the_event()
    {
        var result = Verify(RefundCallback(PlainWith(n => { }), eventType: "REFUND.SOMETHING_NEW"));

        Assert.True(result.IsValid, result.Message);
        Assert.True(result.IsRefund);
        Assert.Null(result.ServiceOrder);
    }

    [Fact]
    public void WeChatRefundNotice_TryParse_refuses_what_is_not_an_object()
    {
        Assert.False(WeChatRefundNotice.TryParse("[1]", out var notice, out var error));
        Assert.Null(notice);
        Assert.Contains("not a JSON object", error, StringComparison.Ordinal);
        Assert.False(WeChatRefundNotice.TryParse(null, out _, out _));
    }

    private static readonly JsonSerializerOptions FakeJson = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static string PlainWith(Action<JsonObject> change)
    {
        var node = JsonNode.Parse(V(Callback, "expected_resource_plaintext"))!.AsObject();
        change(node);
        return node.ToJsonString(FakeJson);
    }

    private static (WeChatPaySignatureHeaders Headers, byte[] Body) RefundCallback(string plaintext, string eventType = RefundStates.SuccessEvent,
        string associatedData = "refund")
    {
        const string nonce = "r3fund0nce12";
        var envelope = new JsonObject
        {
            ["id"] = "EV-1",
            ["create_time"] = "2025-01-02T12:01:31+08:00",
            ["resource_type"] = "encrypt-resource",
            ["event_type"] = eventType,
            ["summary"] = "退款",
            ["resource"] = new JsonObject
            {
                ["original_type"] = "refund",
                ["algorithm"] = WeChatPayAesGcm.Algorithm,
                ["ciphertext"] = WeChatPayAesGcm.Encrypt(Utf8(ApiV3Key), nonce, associatedData, Utf8(plaintext)),
                ["associated_data"] = associatedData,
                ["nonce"] = nonce,
            },
        };
        var body = Utf8(envelope.ToJsonString(FakeJson));
        return (Sign(body, WeChatPayPrivatePem, PublicKeyId, CallbackTime), body);
    }

    private WeChatPayCallbackResult Verify((WeChatPaySignatureHeaders Headers, byte[] Body) callback) =>
        Verifier(CallbackTime).Verify(callback.Headers, callback.Body);

    private WeChatPayCallbackVerifier Verifier(long now)
    {
        var keys = new WeChatPayKeyRing(Options());
        _disposables.Add(keys);
        return new WeChatPayCallbackVerifier(new WeChatPaySignatureVerifier(keys, new FixedClock(now)), keys);
    }

    private (WeChatPayClient Client, StubHandler Handler) Client(long now, string nonce, Action<WeChatPayOptions>? configure, string answer)
    {
        var options = Options(o =>
        {
            o.BaseUrl = "https://api.mch.weixin.qq.com";
            configure?.Invoke(o);
        });
        var keys = new WeChatPayKeyRing(options);
        _disposables.Add(keys);
        var clock = new FixedClock(now);
        var handler = new StubHandler(answer, now);
        var http = new HttpClient(handler);
        _disposables.Add(http);
        var signer = new WeChatPayRequestSigner(Microsoft.Extensions.Options.Options.Create(options), keys, clock, new FixedNonce(nonce));
        return (new WeChatPayClient(http, Microsoft.Extensions.Options.Options.Create(options), signer, new WeChatPaySignatureVerifier(keys, clock),
            NullLogger<WeChatPayClient>.Instance), handler);
    }

    private sealed record SentRequest(string Method, string PathAndQuery, string? Authorization, byte[] Body);

    /// <summary>Plays WeChat without a socket: records each request and answers 200 with <c>answer</c>, signed with the test WeChat Pay key.</summary>
    private sealed class StubHandler(string answer, long now) : HttpMessageHandler
    {
        public List<SentRequest> Requests { get; } = [];

        public bool CorruptSignature { get; set; }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var body = request.Content is null ? [] : await request.Content.ReadAsByteArrayAsync(cancellationToken);
            Requests.Add(new SentRequest(request.Method.Method, request.RequestUri!.PathAndQuery,
                request.Headers.TryGetValues("Authorization", out var values) ? values.Single() : null, body));
            var bytes = Utf8(answer);
            var headers = Sign(CorruptSignature ? [.. bytes, (byte)' '] : bytes, WeChatPayPrivatePem, PublicKeyId, now);
            var response = new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent(bytes), RequestMessage = request };
            response.Headers.Add(WeChatPaySignatureHeaders.TimestampHeader, headers.Timestamp);
            response.Headers.Add(WeChatPaySignatureHeaders.NonceHeader, headers.Nonce);
            response.Headers.Add(WeChatPaySignatureHeaders.SignatureHeader, headers.Signature);
            response.Headers.Add(WeChatPaySignatureHeaders.SerialHeader, headers.Serial);
            return response;
        }
    }
}
