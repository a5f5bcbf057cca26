using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using PaymentFunctions.Http;

namespace PaymentFunctions.Pyun;

/// <summary>
/// A P云 refund create (spec §8.1): <paramref name="Order"/> is our refund number (P云's refund query finds a refund only
/// by it), <paramref name="PaySerial"/> the payment it refunds, <paramref name="Value"/> the amount in fen.
/// </summary>
public sealed record PyunRefundRequest(string Order, string PaySerial, long Value, string? Reason);

/// <summary>What P云 says of a refund: still refunding, done, or failed for good.</summary>
public enum PyunRefundProcess
{
    Refunding,
    Succeeded,
    Failed,
}

/// <summary>How P云 answered a refund create or query.</summary>
public enum PyunRefundAnswerKind
{
    /// <summary>Create: code 1001, P云 took the refund. Its outcome comes from refund query.</summary>
    Accepted,

    /// <summary>Query: code 1001, <see cref="PyunRefundAnswer.Process"/> says where it stands.</summary>
    Found,

    /// <summary>Query: code 1002, P云 has no refund with this number (so a create never reached it).</summary>
    NotFound,

    /// <summary>
    /// A definite refusal that the same request will always get (create: 400, 1403, 1003, 1405; query: 1400, 1403):
    /// the refund is Failed with <see cref="PyunRefundAnswer.Code"/> and <see cref="PyunRefundAnswer.Message"/>.
    /// </summary>
    Refused,
}

/// <summary>
/// P云's answer about one refund. Network failures, non-2xx, unreadable answers and codes we do not know throw
/// <see cref="PyunException"/> instead: the caller cannot tell whether P云 acted, so it asks again later.
/// </summary>
public sealed record PyunRefundAnswer(
    PyunRefundAnswerKind Kind,
    string Code,
    string? Message,
    PyunRefundProcess? Process = null,
    string? RefundOrder = null,
    string? RefundSerial = null,
    DateTimeOffset? RefundTime = null,
    long? Value = null,
    string? PaySerial = null);

public sealed partial class PyunClient
{
    /// <summary>Create codes that refuse the refund for good (spec §8.1): parameter error, no permission, balance, refund failed.</summary>
    private static readonly string[] CreateRefusals = ["400", "1400", "1403", "1003", "1405"];

    /// <summary>Query codes that refuse the question for good (spec §8.2): parameter error, app not authorized.</summary>
    private static readonly string[] QueryRefusals = ["1400", "1403"];

    /// <summary>P云's message as kept in an answer: clipped and safe to log or store.</summary>
    public const int MaxMessageLength = 200;

    private static readonly JsonWriterOptions RefundJson = new()
    {
        // Chinese (a reason) goes out as itself, as P云's own Java/fastjson samples sign it.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>
    /// Refund create: JSON body signed per spec §3.2, signature in the <c>Authorization</c> header. Answers
    /// <see cref="PyunRefundAnswerKind.Accepted"/> (1001) or <see cref="PyunRefundAnswerKind.Refused"/> (400, 1400, 1403,
    /// 1003, 1405); anything else throws <see cref="PyunException"/>: P云 may or may not have taken the refund, so ask
    /// refund query (or create again with the same <see cref="PyunRefundRequest.Order"/>).
    /// </summary>
    /// <exception cref="ArgumentException">
    /// An empty order or pay_serial, an order holding '&amp;' or '=' (refund query could not sign it), or a value that is
    /// not positive: nothing is sent.
    /// </exception>
    public async Task<PyunRefundAnswer> CreateRefundAsync(PyunRefundRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentException.ThrowIfNullOrEmpty(request.Order);
        ArgumentException.ThrowIfNullOrEmpty(request.PaySerial);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(request.Value);
        if (!PyunSignature.IsSignable(request.Order))
        {
            // Refund query signs it form-style, where '&' and '=' cannot be carried: such a refund could never be looked up.
            throw new ArgumentException("The refund order must not contain '&' or '='.", nameof(request));
        }

        // Serialized once: these bytes are signed and these bytes are sent.
        var body = RefundBody(request);
        var sign = PyunSignature.SignJson(body, _options.AppSecret);
        var message = new HttpRequestMessage(HttpMethod.Post, _options.RefundPath) { Content = new ByteArrayContent(body) };
        message.Content.Headers.TryAddWithoutValidation("Content-Type", "application/json;charset=utf-8");
        message.Headers.TryAddWithoutValidation("Authorization", sign);

        using var json = await SendLoggedAsync(message, "refund create", request.Order, cancellationToken);
        var root = json.RootElement;
        var code = ReadString(root, "code") ?? "";
        var seqNo = ReadString(root, "seqno");
        var text = Clip(ReadString(root, "message"));
        if (code == "1001")
        {
            var data = Data(root);
            var paySerial = Blank(ReadString(data, "pay_serial"));
            string? problem = null;
            DateTimeOffset? refundTime = null;
            if (paySerial is not null && paySerial != request.PaySerial)
            {
                problem = "pay_serial is not the payment we refund.";
            }
            else if (!TryOptionalIsoTime(ReadString(data, "refund_time"), out refundTime))
            {
                problem = "refund_time is not an ISO-8601 time with an offset.";
            }

            if (problem is not null)
            {
                throw Unreadable("refund create", request.Order, problem, code, seqNo);
            }

            var answer = new PyunRefundAnswer(PyunRefundAnswerKind.Accepted, code, text, RefundOrder: Blank(ReadString(data, "refund_order")),
                RefundSerial: Blank(ReadString(data, "refund_serial")), RefundTime: refundTime, Value: request.Value, PaySerial: request.PaySerial);
            logger.LogInformation("P云 refund create {Order} of {Value} fen from {PaySerial}: accepted, refund_order {RefundOrder}, refund_serial {RefundSerial}, seqno {SeqNo}",
                request.Order, request.Value, request.PaySerial, LogValue.Safe(answer.RefundOrder), LogValue.Safe(answer.RefundSerial), LogValue.Safe(seqNo));
            return answer;
        }

        if (CreateRefusals.Contains(code))
        {
            logger.LogWarning("P云 refund create {Order} of {Value} fen from {PaySerial}: refused, code {Code}, message {Message}, seqno {SeqNo}",
                request.Order, request.Value, request.PaySerial, code, LogValue.Safe(text), LogValue.Safe(seqNo));
            return new PyunRefundAnswer(PyunRefundAnswerKind.Refused, code, text);
        }

        throw UnknownCode("refund create", request.Order, code, text, seqNo);
    }

    /// <summary>
    /// Refund query by our refund number (spec §8.2): <see cref="PyunRefundAnswerKind.Found"/> (1001, with
    /// <see cref="PyunRefundAnswer.Process"/>), <see cref="PyunRefundAnswerKind.NotFound"/> (1002) or
    /// <see cref="PyunRefundAnswerKind.Refused"/> (1400, 1403). Anything else, or a 1001 that is not about this refund
    /// or has no readable <c>process</c>, throws <see cref="PyunException"/>.
    /// </summary>
    public async Task<PyunRefundAnswer> QueryRefundAsync(string order, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(order);
        var parameters = new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["app_id"] = _options.AppId,
            ["merchant"] = _options.Merchant,
            ["order"] = order,
        };
        parameters["sign"] = SignOrRefuse(parameters, "refund query");
        var query = string.Join('&', parameters.Select(p => $"{p.Key}={Uri.EscapeDataString(p.Value!)}"));
        using var json = await SendLoggedAsync(new HttpRequestMessage(HttpMethod.Get, $"{_options.RefundPath}?{query}"), "refund query", order, cancellationToken);
        var root = json.RootElement;
        var code = ReadString(root, "code") ?? "";
        var seqNo = ReadString(root, "seqno");
        var text = Clip(ReadString(root, "message"));
        switch (code)
        {
            case "1001":
                var answer = ReadFound(Data(root), order, code, text, seqNo);
                logger.LogInformation("P云 refund query {Order}: process {Process}, value {Value}, refund_serial {RefundSerial}, seqno {SeqNo}",
                    order, answer.Process, answer.Value, LogValue.Safe(answer.RefundSerial), LogValue.Safe(seqNo));
                return answer;
            case "1002":
                logger.LogInformation("P云 refund query {Order}: not found, seqno {SeqNo}", order, LogValue.Safe(seqNo));
                return new PyunRefundAnswer(PyunRefundAnswerKind.NotFound, code, text);
            default:
                if (QueryRefusals.Contains(code))
                {
                    logger.LogWarning("P云 refund query {Order}: refused, code {Code}, message {Message}, seqno {SeqNo}", order, code, LogValue.Safe(text), LogValue.Safe(seqNo));
                    return new PyunRefundAnswer(PyunRefundAnswerKind.Refused, code, text);
                }

                throw UnknownCode("refund query", order, code, text, seqNo);
        }
    }

    private PyunRefundAnswer ReadFound(JsonElement data, string order, string code, string? text, string? seqNo)
    {
        string? problem = null;
        var returnedOrder = ReadString(data, "order");
        long? value = null;
        DateTimeOffset? refundTime = null;
        var process = ReadString(data, "process") switch
        {
            "0" => PyunRefundProcess.Refunding,
            "1" => PyunRefundProcess.Succeeded,
            "-1" => PyunRefundProcess.Failed,
            _ => (PyunRefundProcess?)null,
        };
        if (string.IsNullOrEmpty(returnedOrder))
        {
            problem = "order is missing.";
        }
        else if (returnedOrder != order)
        {
            problem = "order is not the refund we asked about.";
        }
        else if (ReadString(data, "merchant") is { Length: > 0 } merchant && merchant != _options.Merchant)
        {
            problem = "merchant is not ours.";
        }
        else if (process is null)
        {
            problem = "process is missing or not 0, 1 or -1.";
        }
        else if (ReadString(data, "value") is { } valueText)
        {
            if (PyunTradeResult.TryFen(valueText, out var fen))
            {
                value = fen;
            }
            else
            {
                problem = "value is not a whole number of fen.";
            }
        }

        if (problem is null && !TryOptionalIsoTime(ReadString(data, "refund_time"), out refundTime))
        {
            problem = "refund_time is not an ISO-8601 time with an offset.";
        }

        if (problem is not null)
        {
            throw Unreadable("refund query", order, problem, code, seqNo);
        }

        return new PyunRefundAnswer(PyunRefundAnswerKind.Found, code, text, process, Blank(ReadString(data, "refund_order")),
            Blank(ReadString(data, "refund_serial")), refundTime, value, Blank(ReadString(data, "pay_serial")));
    }

    /// <summary>
    /// The body as one UTF-8 JSON text: app_id, order, pay_serial, value (a string of fen, as documented) and the
    /// reason when there is one. No merchant: the refund page documents none.
    /// </summary>
    private byte[] RefundBody(PyunRefundRequest request)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, RefundJson))
        {
            writer.WriteStartObject();
            writer.WriteString("app_id", _options.AppId);
            writer.WriteString("order", request.Order);
            writer.WriteString("pay_serial", request.PaySerial);
            writer.WriteString("value", request.Value.ToString(CultureInfo.InvariantCulture));
            if (!string.IsNullOrEmpty(request.Reason))
            {
                writer.WriteString("reason", request.Reason);
            }

            writer.WriteEndObject();
        }

        return buffer.ToArray();
    }

    /// <summary><see cref="SendAsync"/>, logging the one line a call that got no answer gets (the message is ours, no secret in it).</summary>
    private async Task<JsonDocument> SendLoggedAsync(HttpRequestMessage request, string what, string order, CancellationToken cancellationToken)
    {
        JsonDocument json;
        try
        {
            json = await SendAsync(request, what, cancellationToken);
        }
        catch (PyunException ex)
        {
            logger.LogWarning("P云 {What} {Order}: no usable answer: {Problem}", what, order, ex.Message);
            throw;
        }

        if (json.RootElement.ValueKind != JsonValueKind.Object)
        {
            json.Dispose();
            logger.LogWarning("P云 {What} {Order}: the answer is not a JSON object", what, order);
            throw new PyunException($"P云 {what} answered something we cannot read: not a JSON object.");
        }

        return json;
    }

    private PyunException Unreadable(string what, string order, string why, string code, string? seqNo)
    {
        logger.LogWarning("P云 {What} {Order} answered something we cannot read: {Reason} (seqno {SeqNo})", what, order, why, LogValue.Safe(seqNo));
        return new PyunException($"P云 {what} answered something we cannot read: {why}", code, seqNo);
    }

    private PyunException UnknownCode(string what, string order, string code, string? text, string? seqNo)
    {
        logger.LogWarning("P云 {What} {Order}: unexpected code {Code}, message {Message}, seqno {SeqNo}", what, order, LogValue.Safe(code, 16), LogValue.Safe(text), LogValue.Safe(seqNo));
        return new PyunException($"P云 {what} answered code {LogValue.Safe(code, 16)}, which does not say whether the refund was taken.", code, seqNo);
    }

    /// <summary>The refund answers carry their fields in <c>payload</c>; a flat answer is read too, as for trade query.</summary>
    private static JsonElement Data(JsonElement root) =>
        root.TryGetProperty("payload", out var payload) && payload.ValueKind == JsonValueKind.Object ? payload : root;

    /// <summary>Absent or empty is fine (null); present means ISO-8601 with an offset.</summary>
    private static bool TryOptionalIsoTime(string? text, out DateTimeOffset? time)
    {
        time = null;
        if (string.IsNullOrEmpty(text))
        {
            return true;
        }

        if (!PyunTradeResult.TryIsoTime(text, out var parsed))
        {
            return false;
        }

        time = parsed;
        return true;
    }

    private static string? Clip(string? message) => Blank(LogValue.Safe(message, MaxMessageLength));
}
