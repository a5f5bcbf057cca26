using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Options;
using PaymentFunctions.Http;

namespace PaymentFunctions.Pyun;

/// <summary>P云 refused or failed a call. <see cref="Code"/> and <see cref="SeqNo"/> are P云's, for support.</summary>
public sealed class PyunException(string message, string? code = null, string? seqNo = null, Exception? inner = null)
    : Exception(message, inner)
{
    public string? Code { get; } = code;
    public string? SeqNo { get; } = seqNo;
}

public sealed record PyunPrepareRequest(
    string PayOrder,
    string Subject,
    long Value,
    string? Body,
    string? Payer,
    DateTimeOffset ExpireTime,
    string TradeScene,
    string Extra);

/// <summary>Trade query answer: found with a result, or P云 has no record of the pay_order (yet).</summary>
public sealed record PyunQueryAnswer(PyunTradeResult? Result, string Code);

/// <summary>The merchant-side P云 OpenAPI calls we make: trade prepare (form POST) and trade query (GET).</summary>
public sealed partial class PyunClient(HttpClient http, IOptions<PyunOptions> options, ILogger<PyunClient> logger)
{
    public const string PreparePath = "/gate/1.0/payment/trade/prepare";
    public const string QueryPath = "/gate/1.0/payment/trade/query";

    private readonly PyunOptions _options = options.Value;

    public async Task<string> PrepareAsync(PyunPrepareRequest request, CancellationToken cancellationToken)
    {
        var parameters = new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["app_id"] = _options.AppId,
            ["merchant"] = _options.Merchant,
            ["pay_order"] = request.PayOrder,
            ["subject"] = request.Subject,
            ["value"] = request.Value.ToString(CultureInfo.InvariantCulture),
            ["notify_url"] = _options.NotifyUrl,
            ["expire_time"] = request.ExpireTime.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture),
            ["trade_scene"] = request.TradeScene,
            ["extra"] = request.Extra,
        };
        // Optional parameters we do not use are left out, so the empty-versus-null question never arises.
        if (!string.IsNullOrEmpty(request.Body))
        {
            parameters["body"] = request.Body;
        }

        if (!string.IsNullOrEmpty(request.Payer))
        {
            parameters["payer"] = request.Payer;
        }

        parameters["sign"] = SignOrRefuse(parameters, "trade prepare");
        using var content = new FormUrlEncodedContent(parameters!);
        using var json = await SendAsync(new HttpRequestMessage(HttpMethod.Post, PreparePath) { Content = content }, "trade prepare", cancellationToken);
        var root = json.RootElement;
        var code = ReadString(root, "code");
        var payId = ReadString(root, "pay_id");
        if (code != "1001" || string.IsNullOrEmpty(payId))
        {
            var seqNo = ReadString(root, "seqno");
            logger.LogWarning("P云 trade prepare for {PayOrder} refused: code {Code}, message {Message}, seqno {SeqNo}",
                request.PayOrder, LogValue.Safe(code), LogValue.Safe(ReadString(root, "message")), LogValue.Safe(seqNo));
            throw new PyunException($"P云 refused trade prepare (code {code ?? "none"}).", code, seqNo);
        }

        return payId;
    }

    public async Task<PyunQueryAnswer> QueryAsync(string payOrder, CancellationToken cancellationToken)
    {
        var parameters = new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["app_id"] = _options.AppId,
            ["merchant"] = _options.Merchant,
            ["pay_order"] = payOrder,
        };
        parameters["sign"] = SignOrRefuse(parameters, "trade query");
        var query = string.Join('&', parameters.Select(p => $"{p.Key}={Uri.EscapeDataString(p.Value!)}"));
        using var json = await SendAsync(new HttpRequestMessage(HttpMethod.Get, $"{QueryPath}?{query}"), "trade query", cancellationToken);
        var root = json.RootElement;
        var code = ReadString(root, "code") ?? "";
        if (code != "1001")
        {
            logger.LogInformation("P云 trade query for {PayOrder}: code {Code}, message {Message}, seqno {SeqNo}",
                payOrder, LogValue.Safe(code), LogValue.Safe(ReadString(root, "message")), LogValue.Safe(ReadString(root, "seqno")));
            return new PyunQueryAnswer(null, code);
        }

        // Two layouts are in use: flat (documented) and inside "payload" (newer). Numbers may be strings.
        // Nothing is assumed: every field a decision rests on must be there, readable, and about what we asked.
        var data = root.TryGetProperty("payload", out var payload) && payload.ValueKind == JsonValueKind.Object ? payload : root;
        var seqNo = ReadString(root, "seqno");
        PyunException Unreadable(string why)
        {
            logger.LogWarning("P云 trade query for {PayOrder} answered something we cannot read: {Reason} (seqno {SeqNo})", payOrder, LogValue.Safe(why, 256), LogValue.Safe(seqNo));
            return new PyunException($"P云 trade query answered something we cannot read: {why}", code, seqNo);
        }

        var returnedPayOrder = ReadString(data, "pay_order");
        if (string.IsNullOrEmpty(returnedPayOrder))
        {
            throw Unreadable("pay_order is missing.");
        }

        if (returnedPayOrder != payOrder)
        {
            throw Unreadable("pay_order is not the one we asked about.");
        }

        if (ReadString(data, "merchant") is { } merchant && merchant != _options.Merchant)
        {
            throw Unreadable("merchant is not ours.");
        }

        if (!PyunTradeResult.TryStatus(ReadString(data, "status"), out var status))
        {
            throw Unreadable("status is missing or not 1, 0 or -1.");
        }

        if (!PyunTradeResult.TryFen(ReadString(data, "value"), out var value))
        {
            throw Unreadable("value is missing or not a whole number of fen.");
        }

        DateTimeOffset? tradeTime = null;
        if (ReadString(data, "trade_time") is { Length: > 0 } timeText)
        {
            // The query documents ISO-8601 UTC; the notification's epoch milliseconds are not documented here.
            if (!PyunTradeResult.TryIsoTime(timeText, out var t))
            {
                throw Unreadable("trade_time is not an ISO-8601 time with an offset.");
            }

            tradeTime = t;
        }

        var result = new PyunTradeResult(payOrder, status, value, Blank(ReadString(data, "pay_serial")), Blank(ReadString(data, "channel")),
            Blank(ReadString(data, "trade_no")), tradeTime, null, Blank(ReadString(data, "payer")));
        if (status == PyunTradeResult.Success && result.PaySerial is null)
        {
            throw Unreadable("a payment without pay_serial.");
        }

        if (status == PyunTradeResult.Success && tradeTime is null)
        {
            // Dating it "now" could misjudge a late payment either way.
            throw Unreadable("a payment without trade_time.");
        }

        return new PyunQueryAnswer(result, code);
    }

    /// <summary>
    /// Signs our own request, refusing (before anything is sent) a parameter the sign string cannot carry
    /// unambiguously. Order fields are validated when the order is created, so this is the last line only.
    /// </summary>
    private string SignOrRefuse(Dictionary<string, string?> parameters, string what)
    {
        if (PyunSignature.FirstUnsignable(parameters) is { } name)
        {
            logger.LogError("P云 {What} not sent: parameter {Parameter} contains '&' or '='", what, name);
            throw new PyunException($"P云 {what} was not sent: parameter '{name}' contains '&' or '=', which P云's sign string cannot carry.");
        }

        return PyunSignature.Sign(parameters, _options.AppSecret);
    }

    private async Task<JsonDocument> SendAsync(HttpRequestMessage request, string what, CancellationToken cancellationToken)
    {
        using var _ = request;
        using var answer = await OutboundHttp.SendAsync(http, request, _options.RequestTimeout,
            failure => new PyunException($"P云 {what} {failure.Problem}.", inner: failure.Inner), cancellationToken);
        if (!answer.Response.IsSuccessStatusCode)
        {
            throw new PyunException($"P云 {what} answered HTTP {(int)answer.Response.StatusCode}.");
        }

        try
        {
            return JsonDocument.Parse(answer.Body);
        }
        catch (JsonException ex)
        {
            throw new PyunException($"P云 {what} answered something that is not JSON.", inner: ex);
        }
    }

    private static string? ReadString(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value)
            ? value.ValueKind switch
            {
                JsonValueKind.String => value.GetString(),
                JsonValueKind.Number => value.GetRawText(),
                _ => null,
            }
            : null;

    private static string? Blank(string? s) => string.IsNullOrEmpty(s) ? null : s;
}
