using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using PaymentFunctions.WeChatPay;

namespace PaymentFunctions.Fakes.WeChatPay;

/// <summary>A request the fake received, as it arrived (target = raw path and query).</summary>
public sealed record FakeWeChatPayRequest(string Method, string Target, string Body, string? Authorization, string? WechatpaySerial);

/// <summary>A callback as the fake sends it: the headers and the exact body bytes that were signed.</summary>
public sealed record FakeWeChatPayCallback(IReadOnlyDictionary<string, string> Headers, byte[] Body, string ResourcePlaintext);

/// <summary>
/// The in-memory WeChat Pay platform behind <see cref="FakeWeChatPayEndpoints.MapFakeWeChatPay"/>: service orders,
/// the keys it verifies our Authorization with and signs its answers with, injected failures, and callbacks.
/// Thread-safe; one instance per test (or per local run).
/// </summary>
public sealed partial class FakeWeChatPayState : IDisposable
{
    public const string PayScoreMiniProgramAppId = "wxd8f3793ea3b935b8";

    internal static readonly JsonSerializerOptions Json = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly Lock _gate = new();
    private readonly Dictionary<string, FakeOrder> _orders = new(StringComparer.Ordinal);
    private readonly Dictionary<string, RSA> _signingKeys = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentQueue<(HttpStatusCode Status, string Code, string Message)> _failures = new();
    private readonly ConcurrentQueue<TimeSpan> _delays = new();
    private readonly byte[] _apiV3Key;
    private long _sequence = 1_000;
    private int _corruptSignatures;
    private int _padNextAnswer;

    /// <param name="mchId">The merchant number our Authorization must carry (the service provider's in partner mode).</param>
    /// <param name="merchantCertificateSerial">The <c>serial_no</c> our Authorization must carry.</param>
    /// <param name="merchantPublicKeyPem">Verifies our request signatures.</param>
    /// <param name="apiV3Key">Encrypts callback resources.</param>
    public FakeWeChatPayState(string mchId, string merchantCertificateSerial, string merchantPublicKeyPem, string apiV3Key, TimeProvider? clock = null)
    {
        MchId = mchId;
        MerchantCertificateSerial = merchantCertificateSerial;
        MerchantPublicKey = RSA.Create();
        MerchantPublicKey.ImportFromPem(merchantPublicKeyPem);
        _apiV3Key = Encoding.UTF8.GetBytes(apiV3Key);
        Clock = clock ?? TimeProvider.System;
    }

    public string MchId { get; }
    public string MerchantCertificateSerial { get; }
    public RSA MerchantPublicKey { get; }
    public TimeProvider Clock { get; }

    /// <summary>Which signing key (by serial: <c>PUB_KEY_ID_…</c> or a platform-certificate serial) signs answers and callbacks.</summary>
    public string ResponseSerial { get; set; } = "";

    /// <summary>Every request that reached an endpoint, in order.</summary>
    public ConcurrentQueue<FakeWeChatPayRequest> Requests { get; } = new();

    /// <summary>Adds a key WeChat Pay signs with; the first one added becomes <see cref="ResponseSerial"/>.</summary>
    public void AddSigningKey(string serial, string privateKeyPem)
    {
        var rsa = RSA.Create();
        rsa.ImportFromPem(privateKeyPem);
        lock (_gate)
        {
            _signingKeys[serial] = rsa;
            if (ResponseSerial.Length == 0)
            {
                ResponseSerial = serial;
            }
        }
    }

    /// <summary>The next API call (after its signature is checked) answers this error instead; calls queue up in order.</summary>
    public void FailNext(HttpStatusCode status, string code, string message) => _failures.Enqueue((status, code, message));

    /// <summary>The next API call (after its signature is checked) is held this long before it is handled, like a slow WeChat.</summary>
    public void DelayNext(TimeSpan delay) => _delays.Enqueue(delay);

    public void FailNextWithRateLimit() => FailNext(HttpStatusCode.TooManyRequests, "RATELIMIT_EXCEEDED", "请求超过频率限制");

    public void FailNextWithSystemError() => FailNext(HttpStatusCode.InternalServerError, "SYSTEM_ERROR", "系统错误");

    /// <summary>The next answer (signed as usual, sent without a Content-Length) carries a "padding" field of this many characters.</summary>
    public void PadNextAnswer(int characters) => Volatile.Write(ref _padNextAnswer, characters);

    internal int TakePadding() => Interlocked.Exchange(ref _padNextAnswer, 0);

    /// <summary>The next answer carries a signature that does not match its body.</summary>
    public void CorruptNextResponseSignature()
    {
        lock (_gate)
        {
            _corruptSignatures++;
        }
    }

    /// <summary>The <c>query_id</c> the Pay Score mini program would hand back for this order.</summary>
    public string GetQueryId(string outOrderNo)
    {
        lock (_gate)
        {
            return Find(outOrderNo).QueryId;
        }
    }

    /// <summary>A copy of the order as the fake holds it (the body a query answers).</summary>
    public JsonObject GetOrder(string outOrderNo)
    {
        lock (_gate)
        {
            return (JsonObject)Find(outOrderNo).Data.DeepClone();
        }
    }

    public bool HasOrder(string outOrderNo)
    {
        lock (_gate)
        {
            return _orders.ContainsKey(outOrderNo);
        }
    }

    /// <summary>
    /// Moves the order as the user's action would and builds the signed callback: <c>PAYSCORE.USER_CONFIRM</c>
    /// (CREATED → DOING/USER_CONFIRM) or <c>PAYSCORE.USER_PAID</c> (DOING/MCH_COMPLETE + USER_PAYING → DONE + USER_PAID).
    /// </summary>
    public FakeWeChatPayCallback BuildCallback(string outOrderNo, string eventType)
    {
        string plaintext;
        lock (_gate)
        {
            var order = Find(outOrderNo);
            var data = order.Data;
            switch (eventType)
            {
                case PayScoreStates.UserConfirmEvent:
                    if (Text(data, "state") != PayScoreStates.Created)
                    {
                        throw new InvalidOperationException($"Order {outOrderNo} is {Text(data, "state")}; only a CREATED order can be confirmed.");
                    }

                    data["state"] = PayScoreStates.Doing;
                    data["state_description"] = PayScoreStates.UserConfirm;
                    data[order.Partner && data.ContainsKey("sub_appid") ? "sub_openid" : "openid"] = "oFake" + Next();
                    break;

                case PayScoreStates.UserPaidEvent:
                    if (Text(data, "state_description") != PayScoreStates.MchComplete
                        || Text(data["collection"]?.AsObject(), "state") != PayScoreStates.UserPaying)
                    {
                        throw new InvalidOperationException($"Order {outOrderNo} is not completed and awaiting payment.");
                    }

                    var total = data["total_amount"]!.GetValue<long>();
                    data["state"] = PayScoreStates.Done;
                    data.Remove("state_description");
                    data["collection"] = new JsonObject
                    {
                        ["state"] = PayScoreStates.UserPaid,
                        ["total_amount"] = total,
                        ["paying_amount"] = 0,
                        ["paid_amount"] = total,
                        ["details"] = new JsonArray(new JsonObject
                        {
                            ["seq"] = 1,
                            ["amount"] = total,
                            ["paid_type"] = "NEWTON",
                            ["paid_time"] = ChinaTime(Clock.GetUtcNow()).ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture),
                            ["transaction_id"] = "42000000" + Next(),
                        }),
                    };
                    break;

                default:
                    throw new ArgumentException("Expected PAYSCORE.USER_CONFIRM or PAYSCORE.USER_PAID.", nameof(eventType));
            }

            var resource = (JsonObject)data.DeepClone();
            resource.Remove("notify_url");
            plaintext = resource.ToJsonString(Json);
        }

        return BuildEnvelope(eventType, eventType == PayScoreStates.UserConfirmEvent ? "确认订单" : "支付成功", "payscore", plaintext);
    }

    /// <summary>A signed callback whose resource is <paramref name="plaintext"/> encrypted with the APIv3 key (AAD = <paramref name="originalType"/>).</summary>
    private FakeWeChatPayCallback BuildEnvelope(string eventType, string summary, string originalType, string plaintext)
    {
        var nonce = RandomNumberGenerator.GetString("abcdefghijklmnopqrstuvwxyz0123456789", WeChatPayAesGcm.NonceSize);
        var envelope = new JsonObject
        {
            ["id"] = "EV-" + Next(),
            ["create_time"] = ChinaTime(Clock.GetUtcNow()).ToString("yyyy-MM-dd'T'HH:mm:ss'+08:00'", CultureInfo.InvariantCulture),
            ["resource_type"] = "encrypt-resource",
            ["event_type"] = eventType,
            ["summary"] = summary,
            ["resource"] = new JsonObject
            {
                ["algorithm"] = WeChatPayAesGcm.Algorithm,
                ["ciphertext"] = WeChatPayAesGcm.Encrypt(_apiV3Key, nonce, originalType, Encoding.UTF8.GetBytes(plaintext)),
                ["nonce"] = nonce,
                ["associated_data"] = originalType,
                ["original_type"] = originalType,
            },
        };
        var body = Encoding.UTF8.GetBytes(envelope.ToJsonString(Json));
        var headers = SignatureHeaders(body);
        headers[WeChatPaySignatureHeaders.SignatureTypeHeader] = WeChatPaySignature.Scheme;
        return new FakeWeChatPayCallback(headers, body, plaintext);
    }

    /// <summary>The user's action happens at WeChat, but its callback never reaches the merchant: only a query can tell.</summary>
    public void MoveWithoutCallback(string outOrderNo, string eventType) => _ = BuildCallback(outOrderNo, eventType);

    /// <summary>WeChat ends an order left CREATED for 30 days as EXPIRED; it sends no callback for that.</summary>
    public void Expire(string outOrderNo)
    {
        lock (_gate)
        {
            var data = Find(outOrderNo).Data;
            if (Text(data, "state") != PayScoreStates.Created)
            {
                throw new InvalidOperationException($"Order {outOrderNo} is {Text(data, "state")}; only a CREATED order expires.");
            }

            data["state"] = PayScoreStates.Expired;
        }
    }

    /// <summary>Builds the callback (moving the order) and POSTs it to <paramref name="notifyUrl"/>; returns our endpoint's status.</summary>
    public async Task<HttpStatusCode> SendCallbackAsync(string outOrderNo, string eventType, Uri notifyUrl, HttpClient http,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(http);
        return await PostAsync(BuildCallback(outOrderNo, eventType), notifyUrl, http, cancellationToken);
    }

    private static async Task<HttpStatusCode> PostAsync(FakeWeChatPayCallback callback, Uri notifyUrl, HttpClient http, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, notifyUrl) { Content = new ByteArrayContent(callback.Body) };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        foreach (var (name, value) in callback.Headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        using var response = await http.SendAsync(request, cancellationToken);
        return response.StatusCode;
    }

    public void Dispose()
    {
        DisposeRefundTimers();
        MerchantPublicKey.Dispose();
        lock (_gate)
        {
            foreach (var key in _signingKeys.Values)
            {
                key.Dispose();
            }

            _signingKeys.Clear();
        }
    }

    /// <summary>Wechatpay-Timestamp/Nonce/Signature/Serial over <paramref name="body"/> with the <see cref="ResponseSerial"/> key.</summary>
    internal Dictionary<string, string> SignatureHeaders(byte[] body)
    {
        var timestamp = WeChatPaySignature.UnixSeconds(Clock.GetUtcNow());
        var nonce = RandomNumberGenerator.GetHexString(32);
        string serial;
        string signature;
        lock (_gate)
        {
            serial = ResponseSerial;
            if (!_signingKeys.TryGetValue(serial, out var key))
            {
                throw new InvalidOperationException("The fake has no signing key for ResponseSerial; call AddSigningKey first.");
            }

            // A corrupted signature is a valid signature over a different body.
            var corrupt = _corruptSignatures > 0;
            if (corrupt)
            {
                _corruptSignatures--;
            }

            byte[] signed = corrupt ? [.. body, (byte)' '] : body;
            signature = WeChatPaySignature.Sign(key, WeChatPaySignature.ResponseMessage(timestamp, nonce, signed));
        }

        return new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [WeChatPaySignatureHeaders.TimestampHeader] = timestamp,
            [WeChatPaySignatureHeaders.NonceHeader] = nonce,
            [WeChatPaySignatureHeaders.SignatureHeader] = signature,
            [WeChatPaySignatureHeaders.SerialHeader] = serial,
        };
    }

    internal bool TryTakeDelay(out TimeSpan delay) => _delays.TryDequeue(out delay);

    internal bool TryTakeFailure(out (HttpStatusCode Status, string Code, string Message) failure) => _failures.TryDequeue(out failure);

    internal string Next() => Interlocked.Increment(ref _sequence).ToString(CultureInfo.InvariantCulture);

    internal T WithOrders<T>(Func<Dictionary<string, FakeOrder>, T> action)
    {
        lock (_gate)
        {
            return action(_orders);
        }
    }

    internal static string? Text(JsonObject? node, string name) =>
        node is not null && node.TryGetPropertyValue(name, out var value) && value is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    internal static DateTimeOffset ChinaTime(DateTimeOffset utc) => utc.ToOffset(TimeSpan.FromHours(8));

    private FakeOrder Find(string outOrderNo) =>
        _orders.TryGetValue(outOrderNo, out var order) ? order : throw new KeyNotFoundException($"The fake has no order {outOrderNo}.");
}

/// <summary>One service order: what WeChat Pay would answer a query with, plus what only create answers or the mini program sees.</summary>
internal sealed class FakeOrder(JsonObject data, string createBody, bool partner, string package, string queryId)
{
    public JsonObject Data { get; } = data;

    /// <summary>The create body, for "原参重入": identical parameters succeed again, different ones are refused.</summary>
    public string CreateBody { get; } = createBody;

    public bool Partner { get; } = partner;
    public string Package { get; } = package;
    public string QueryId { get; } = queryId;
}
