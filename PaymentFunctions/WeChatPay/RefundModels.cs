using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization;

using PaymentFunctions.Http;

namespace PaymentFunctions.WeChatPay;

/// <summary>Refund statuses (refund object <c>status</c>, callback <c>refund_status</c>); see the shared wechatpay-refund notes §3.3.</summary>
public static class RefundStates
{
    public const string Processing = "PROCESSING";
    public const string Success = "SUCCESS";
    public const string Closed = "CLOSED";
    public const string Abnormal = "ABNORMAL";

    public const string SuccessEvent = "REFUND.SUCCESS";
    public const string AbnormalEvent = "REFUND.ABNORMAL";
    public const string ClosedEvent = "REFUND.CLOSED";

    /// <summary>The resource <c>original_type</c> of refund callbacks.</summary>
    public const string ResourceType = "refund";

    /// <summary>One of the four states, with the spelling <c>CLOSE</c> (seen in one SDK's comments) read as CLOSED; null for anything else.</summary>
    public static string? Normalize(string? status) => status switch
    {
        Processing or Success or Closed or Abnormal => status,
        "CLOSE" => Closed,
        _ => null,
    };

    /// <summary>Whether a callback carries a refund: its event is REFUND.* or its resource says <c>original_type: refund</c>.</summary>
    public static bool IsRefundEvent(string? eventType, string? originalType) =>
        eventType?.StartsWith("REFUND.", StringComparison.Ordinal) == true || originalType == ResourceType;
}

/// <summary>
/// <c>POST /v3/refund/domestic/refunds</c> as we call it for a Pay Score deduction: always by <c>transaction_id</c>.
/// The client fills <c>sub_mchid</c> (partner mode) and <c>notify_url</c>.
/// </summary>
public sealed record CreateRefundRequest(string OutRefundNo, string TransactionId, long Refund, long Total, string? Reason);

public sealed record RefundAmount
{
    public long Total { get; init; }
    public long Refund { get; init; }
    public long? PayerTotal { get; init; }
    public long? PayerRefund { get; init; }
    public string? Currency { get; init; }
}

/// <summary>The refund object of create and query answers (unknown members are ignored).</summary>
public sealed record WeChatRefund
{
    public string? RefundId { get; init; }
    public string? OutRefundNo { get; init; }
    public string? TransactionId { get; init; }
    public string? OutTradeNo { get; init; }
    public string? Channel { get; init; }
    public string? UserReceivedAccount { get; init; }
    public string? SuccessTime { get; init; }
    public string? CreateTime { get; init; }

    /// <summary>PROCESSING, SUCCESS, CLOSED or ABNORMAL.</summary>
    public string? Status { get; init; }

    public RefundAmount? Amount { get; init; }
}

/// <summary>The decrypted resource of a REFUND.* callback.</summary>
public sealed record WeChatRefundNotice
{
    [JsonPropertyName("mchid")]
    public string? MchId { get; init; }

    [JsonPropertyName("sp_mchid")]
    public string? SpMchId { get; init; }

    [JsonPropertyName("sub_mchid")]
    public string? SubMchId { get; init; }

    public string? OutTradeNo { get; init; }
    public string? TransactionId { get; init; }
    public string? OutRefundNo { get; init; }
    public string? RefundId { get; init; }

    /// <summary>SUCCESS, CLOSED (some write CLOSE) or ABNORMAL.</summary>
    public string? RefundStatus { get; init; }

    public string? SuccessTime { get; init; }
    public string? UserReceivedAccount { get; init; }
    public RefundAmount? Amount { get; init; }

    /// <summary>
    /// Reads a decrypted REFUND.* resource. Unknown members are ignored; <c>refund_status</c> comes back normalized (<c>CLOSE</c> → CLOSED).
    /// False, with <paramref name="error"/> naming the problem, when it is not a JSON object, lacks <c>out_refund_no</c>, or carries a
    /// status other than SUCCESS, CLOSED or ABNORMAL (the raw value is quoted, clipped). Never throws.
    /// </summary>
    public static bool TryParse(string? json, out WeChatRefundNotice? notice, out string? error)
    {
        notice = null;
        WeChatRefundNotice? parsed;
        try
        {
            parsed = json is null ? null : JsonSerializer.Deserialize<WeChatRefundNotice>(json, WeChatPayJson.Options);
        }
        catch (JsonException)
        {
            parsed = null;
        }

        if (parsed is null)
        {
            error = "the refund resource is not a JSON object";
            return false;
        }

        if (string.IsNullOrEmpty(parsed.OutRefundNo))
        {
            error = "the refund resource has no out_refund_no";
            return false;
        }

        // PROCESSING never comes as a callback: a callback reports a settled (or stuck) refund.
        var status = RefundStates.Normalize(parsed.RefundStatus);
        if (status is null or RefundStates.Processing)
        {
            error = $"the refund resource has an unknown refund_status '{LogValue.Safe(parsed.RefundStatus, 32)}'";
            return false;
        }

        notice = parsed with { RefundStatus = status };
        error = null;
        return true;
    }
}

public sealed partial class WeChatPayClient
{
    public const string RefundPath = "/v3/refund/domestic/refunds";

    /// <summary>
    /// Refund create. Throws <see cref="WeChatPayException"/> on a refusal (its <c>Code</c>, e.g. NOT_ENOUGH,
    /// INVALID_REQUEST; <see cref="WeChatPayException.IsFinalRefusal"/>) or failure (<see cref="WeChatPayException.IsTransient"/>: the refund
    /// may exist, so query before resending the identical request).
    /// </summary>
    public async Task<WeChatRefund> CreateRefundAsync(CreateRefundRequest request, CancellationToken cancellationToken)
    {
        var body = SerializeRefundBody(request);
        var refund = await SendRefundAsync(HttpMethod.Post, RefundPath, body, "refund create", cancellationToken);
        return CheckRefund(refund, request.OutRefundNo, "refund create");
    }

    /// <summary>Refund query by our <c>out_refund_no</c> (partner: with <c>sub_mchid</c>); 404 RESOURCE_NOT_EXISTS throws (<see cref="WeChatPayException.IsNotFound"/>).</summary>
    public async Task<WeChatRefund> QueryRefundAsync(string outRefundNo, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(outRefundNo);
        var refund = await SendRefundAsync(HttpMethod.Get, RefundQueryPathAndQuery(outRefundNo), null, "refund query", cancellationToken);
        return CheckRefund(refund, outRefundNo, "refund query");
    }

    /// <summary>The query URL (path and query) exactly as sent and signed.</summary>
    public string RefundQueryPathAndQuery(string outRefundNo) =>
        $"{RefundPath}/{Uri.EscapeDataString(outRefundNo)}" + (_options.IsPartner ? "?sub_mchid=" + Uri.EscapeDataString(_options.SubMchId) : "");

    /// <summary>
    /// The create body, exactly the bytes signed and sent (shared wechatpay-refund notes §3.1): partner <c>sub_mchid</c> first, then
    /// <c>transaction_id</c>, <c>out_refund_no</c>, <c>reason</c> (only when given), <c>notify_url</c>, <c>amount</c>. Never mchid, appid or
    /// sp_mchid (WeChat refuses unknown fields), never a null.
    /// </summary>
    public byte[] SerializeRefundBody(CreateRefundRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentException.ThrowIfNullOrEmpty(request.OutRefundNo);
        ArgumentException.ThrowIfNullOrEmpty(request.TransactionId);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(request.Refund);
        ArgumentOutOfRangeException.ThrowIfLessThan(request.Total, request.Refund);
        var body = new CreateRefundBody(
            _options.IsPartner ? _options.SubMchId : null,
            request.TransactionId,
            request.OutRefundNo,
            string.IsNullOrEmpty(request.Reason) ? null : request.Reason,
            _options.EffectiveRefundNotifyUrl,
            new CreateRefundAmount(request.Refund, request.Total, "CNY"));
        return Serialize(body);
    }

    private async Task<WeChatRefund?> SendRefundAsync(HttpMethod method, string pathAndQuery, byte[]? body, string operation,
        CancellationToken cancellationToken)
    {
        try
        {
            return await SendAsync<WeChatRefund>(method, pathAndQuery, body, operation, cancellationToken);
        }
        catch (WeChatPayException ex) when (ex.StatusCode is { } status && (int)status is >= 200 and < 300)
        {
            // A 2xx we cannot trust or read: WeChat may have accepted the refund. Unknown, not refused: the caller queries later.
            throw new WeChatPayException(ex.Message, ex.StatusCode, ex.Code, ex.WeChatMessage, ex.RequestId, ex.SignatureRejection, ex,
                outcomeUnknown: true);
        }
    }

    /// <summary>
    /// The answer must be the refund we asked about, in one of the four states. Otherwise it is outcome-unknown (IsTransient): it came after
    /// WeChat may have acted, so the caller must query, not conclude.
    /// </summary>
    private WeChatRefund CheckRefund(WeChatRefund? refund, string outRefundNo, string operation)
    {
        string? problem = refund is null ? "no refund"
            : refund.OutRefundNo != outRefundNo ? "another out_refund_no"
            : RefundStates.Normalize(refund.Status) is null ? $"an unknown status '{LogValue.Safe(refund.Status)}'"
            : null;
        if (problem is null)
        {
            return refund! with { Status = RefundStates.Normalize(refund.Status) };
        }

        logger.LogWarning("WeChat Pay {Operation} for {OutRefundNo} answered {Problem}", operation, LogValue.Safe(outRefundNo), problem);
        throw new WeChatPayException($"WeChat Pay {operation} answered {problem}.", HttpStatusCode.OK, outcomeUnknown: true);
    }

    private sealed record CreateRefundBody(
        [property: JsonPropertyName("sub_mchid")] string? SubMchId,
        string TransactionId,
        string OutRefundNo,
        string? Reason,
        string NotifyUrl,
        CreateRefundAmount Amount);

    private sealed record CreateRefundAmount(long Refund, long Total, string Currency);
}
