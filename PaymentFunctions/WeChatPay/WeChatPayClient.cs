using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.Extensions.Options;

using PaymentFunctions.Http;

namespace PaymentFunctions.WeChatPay;

/// <summary>
/// WeChat Pay refused, failed, or answered something we cannot trust. <see cref="StatusCode"/>, <see cref="Code"/>,
/// <see cref="WeChatMessage"/> and <see cref="RequestId"/> are WeChat's, for logs and support; no secret is ever included.
/// </summary>
public sealed class WeChatPayException(string message, HttpStatusCode? statusCode = null, string? code = null, string? weChatMessage = null,
    string? requestId = null, WeChatPayRejection signatureRejection = WeChatPayRejection.None, Exception? inner = null, bool outcomeUnknown = false)
    : Exception(message, inner)
{
    public HttpStatusCode? StatusCode { get; } = statusCode;

    /// <summary>WeChat's error <c>code</c>, e.g. PARAM_ERROR, SIGN_ERROR, ORDER_NOT_EXIST, RATELIMIT_EXCEEDED, SYSTEM_ERROR.</summary>
    public string? Code { get; } = code;

    public string? WeChatMessage { get; } = weChatMessage;

    /// <summary>The <c>Request-ID</c> response header.</summary>
    public string? RequestId { get; } = requestId;

    /// <summary>Set when a 2xx answer failed signature verification.</summary>
    public WeChatPayRejection SignatureRejection { get; } = signatureRejection;

    /// <summary>
    /// WeChat may have acted on the request, but its answer could not be trusted or read (a 2xx that failed verification, did not parse, or
    /// named another refund). Set only where acting twice would matter (refund create and query); it makes <see cref="IsTransient"/> true.
    /// </summary>
    public bool OutcomeUnknown { get; } = outcomeUnknown;

    /// <summary>
    /// Worth retrying later with the same parameters (for a refund: query first, the refund may exist). See <see cref="WeChatPayErrors.Classify"/>:
    /// keyed on WeChat's <c>code</c>, with the HTTP status as fallback (no answer, 429, 5xx).
    /// </summary>
    public bool IsTransient => OutcomeUnknown || WeChatPayErrors.Classify(StatusCode, Code, SignatureRejection) == WeChatPayErrorKind.Retryable;

    /// <summary>WeChat answered a definite refusal: resending the same request cannot succeed, and nothing was done (e.g. NOT_ENOUGH, INVALID_REQUEST).</summary>
    public bool IsFinalRefusal => !OutcomeUnknown && WeChatPayErrors.Classify(StatusCode, Code, SignatureRejection) == WeChatPayErrorKind.Final;

    /// <summary>404 RESOURCE_NOT_EXISTS (refunds) or ORDER_NOT_EXIST (Pay Score); a bare 404 without WeChat's JSON counts too.</summary>
    public bool IsNotFound => Code is WeChatPayErrors.ResourceNotExists or WeChatPayErrors.OrderNotExist
        || (Code is null && StatusCode == HttpStatusCode.NotFound);
}

/// <summary>
/// The Pay Score service-order calls (WeChat Pay API v3, 支付分 服务订单: 创建/查询/取消/完结) for direct merchants and service providers. Each request body is
/// serialized once; those exact bytes are signed and sent. Every 2xx answer's signature is verified over the raw
/// bytes before anything in it is read.
/// </summary>
public sealed partial class WeChatPayClient(HttpClient http, IOptions<WeChatPayOptions> options, WeChatPayRequestSigner signer,
    WeChatPaySignatureVerifier verifier, ILogger<WeChatPayClient> logger)
{
    public const string UserAgent = "PaymentFunctions-WeChatPay/1.0 (.NET)";
    private const string DirectPath = "/v3/payscore/serviceorder";
    private const string PartnerPath = "/v3/payscore/partner/serviceorder";

    private readonly WeChatPayOptions _options = options.Value;

    private string BasePath => _options.IsPartner ? PartnerPath : DirectPath;

    /// <summary>Creates the order (需确认 by default). The answer carries <c>package</c> for the mini program.</summary>
    public async Task<PayScoreServiceOrder> CreateServiceOrderAsync(CreateServiceOrderRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var partner = _options.IsPartner;
        var body = request with
        {
            AppId = _options.AppId,
            SubMchId = partner ? _options.SubMchId : null,
            SubAppId = partner && !string.IsNullOrEmpty(_options.SubAppId) ? _options.SubAppId : null,
            ServiceId = _options.ServiceId,
            NotifyUrl = _options.NotifyUrl,
        };
        return await SendAsync<PayScoreServiceOrder>(HttpMethod.Post, BasePath, Serialize(body), "create", cancellationToken)
            ?? throw new WeChatPayException("WeChat Pay answered create without an order.");
    }

    public Task<PayScoreServiceOrder> QueryByOutOrderNoAsync(string outOrderNo, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(outOrderNo);
        return QueryAsync("out_order_no", outOrderNo, cancellationToken);
    }

    /// <summary>By the <c>query_id</c> the Pay Score mini program hands back; it does not by itself mean "confirmed".</summary>
    public Task<PayScoreServiceOrder> QueryByQueryIdAsync(string queryId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(queryId);
        return QueryAsync("query_id", queryId, cancellationToken);
    }

    /// <summary>The query URL (path and query) exactly as sent and signed.</summary>
    public string QueryPathAndQuery(string keyName, string keyValue)
    {
        var parameters = new List<KeyValuePair<string, string>> { new("service_id", _options.ServiceId) };
        parameters.Add(_options.IsPartner ? new("sub_mchid", _options.SubMchId) : new("appid", _options.AppId));
        parameters.Add(new(keyName, keyValue));
        return BasePath + "?" + string.Join('&', parameters.Select(p => $"{p.Key}={Uri.EscapeDataString(p.Value)}"));
    }

    /// <summary>Completes with the final amount; afterwards DOING/MCH_COMPLETE until the deduction succeeds.</summary>
    public async Task<PayScoreServiceOrder> CompleteServiceOrderAsync(string outOrderNo, CompleteServiceOrderRequest request,
        CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(outOrderNo);
        ArgumentNullException.ThrowIfNull(request);
        var partner = _options.IsPartner;
        var body = request with
        {
            AppId = partner ? null : _options.AppId,
            SubMchId = partner ? _options.SubMchId : null,
            ServiceId = _options.ServiceId,
        };
        return await SendAsync<PayScoreServiceOrder>(HttpMethod.Post, OrderPath(outOrderNo, "complete"), Serialize(body), "complete", cancellationToken)
            ?? new PayScoreServiceOrder { OutOrderNo = outOrderNo };
    }

    /// <summary>Cancels (→ REVOKED). <paramref name="reason"/> (≤50 chars) is shown to the user; a retry must repeat it exactly.</summary>
    public async Task<PayScoreServiceOrder> CancelServiceOrderAsync(string outOrderNo, string reason, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(outOrderNo);
        ArgumentException.ThrowIfNullOrEmpty(reason);
        var partner = _options.IsPartner;
        var body = new CancelServiceOrderBody
        {
            AppId = partner ? null : _options.AppId,
            SubMchId = partner ? _options.SubMchId : null,
            ServiceId = _options.ServiceId,
            Reason = reason,
        };
        // 204 is a success without a body.
        return await SendAsync<PayScoreServiceOrder>(HttpMethod.Post, OrderPath(outOrderNo, "cancel"), Serialize(body), "cancel", cancellationToken)
            ?? new PayScoreServiceOrder { OutOrderNo = outOrderNo };
    }

    private async Task<PayScoreServiceOrder> QueryAsync(string keyName, string keyValue, CancellationToken cancellationToken) =>
        await SendAsync<PayScoreServiceOrder>(HttpMethod.Get, QueryPathAndQuery(keyName, keyValue), null, "query", cancellationToken)
        ?? throw new WeChatPayException("WeChat Pay answered query without an order.");

    private string OrderPath(string outOrderNo, string action) => $"{BasePath}/{Uri.EscapeDataString(outOrderNo)}/{action}";

    private static byte[] Serialize<T>(T body) => JsonSerializer.SerializeToUtf8Bytes(body, WeChatPayJson.Options);

    private async Task<T?> SendAsync<T>(HttpMethod method, string pathAndQuery, byte[]? body, string operation, CancellationToken cancellationToken)
        where T : class
    {
        var uri = new Uri(new Uri(_options.BaseUrl), pathAndQuery);
        using var request = new HttpRequestMessage(method, uri);
        // Sign exactly what goes on the wire: the escaped path and query of the final URI, and these body bytes.
        request.Headers.TryAddWithoutValidation("Authorization", signer.CreateAuthorization(method.Method, uri.PathAndQuery, body ?? []));
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        request.Headers.TryAddWithoutValidation("User-Agent", UserAgent);
        if (_options.PublicKeys.Count > 0)
        {
            // Asks WeChat Pay to sign the answer with its public key rather than a platform certificate (migration aid).
            request.Headers.TryAddWithoutValidation(WeChatPaySignatureHeaders.SerialHeader, _options.PublicKeys.Keys.Order(StringComparer.Ordinal).First());
        }
        if (body is not null)
        {
            request.Content = new ByteArrayContent(body);
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        }

        using var answer = await Http.OutboundHttp.SendAsync(http, request, _options.RequestTimeout,
            failure => new WeChatPayException($"WeChat Pay {operation} {failure.Problem}.", failure.Status,
                requestId: failure.Headers?.TryGetValues("Request-ID", out var failedIds) == true ? failedIds.FirstOrDefault() : null, inner: failure.Inner),
            cancellationToken);
        var response = answer.Response;
        var requestId = response.Headers.TryGetValues("Request-ID", out var ids) ? ids.FirstOrDefault() : null;
        var raw = answer.Body;
        if (!response.IsSuccessStatusCode)
        {
            throw Refused(operation, response.StatusCode, raw, requestId);
        }

        var verification = verifier.Verify(WeChatPaySignatureHeaders.From(response.Headers), raw);
        if (!verification.IsValid)
        {
            logger.LogWarning("WeChat Pay {Operation} answer rejected ({Rejection}: {Reason}), Request-ID {RequestId}",
                operation, verification.Rejection, LogValue.Safe(verification.Message, 256), LogValue.Safe(requestId));
            throw new WeChatPayException($"WeChat Pay {operation} answer failed signature verification: {verification.Message}.",
                response.StatusCode, requestId: requestId, signatureRejection: verification.Rejection);
        }

        if (raw.Length == 0)
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize<T>(raw, WeChatPayJson.Options);
        }
        catch (JsonException ex)
        {
            throw new WeChatPayException($"WeChat Pay {operation} answered JSON we cannot read.", response.StatusCode, requestId: requestId, inner: ex);
        }
    }

    private WeChatPayException Refused(string operation, HttpStatusCode status, byte[] raw, string? requestId)
    {
        string? code = null;
        string? message = null;
        try
        {
            using var json = JsonDocument.Parse(raw);
            if (json.RootElement.ValueKind == JsonValueKind.Object)
            {
                code = Text(json.RootElement, "code");
                message = Text(json.RootElement, "message");
            }
        }
        catch (JsonException)
        {
            // A gateway page rather than WeChat's JSON: the status alone has to do.
        }

        logger.LogWarning("WeChat Pay {Operation} refused: HTTP {Status}, code {Code}, message {Message}, Request-ID {RequestId}",
            operation, (int)status, LogValue.Safe(code), LogValue.Safe(message, 256), LogValue.Safe(requestId));
        return new WeChatPayException(
            $"WeChat Pay {operation} answered HTTP {(int)status}{(code is null ? "" : $" {code}")}{(message is null ? "" : $": {message}")}.",
            status, code, message, requestId);
    }

    private static string? Text(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
