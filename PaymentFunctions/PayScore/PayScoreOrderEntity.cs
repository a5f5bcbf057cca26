using System.Text.Json.Serialization;
using Azure;
using Azure.Data.Tables;
using PaymentFunctions.WeChatPay;

namespace PaymentFunctions.PayScore;

/// <summary>
/// A Pay Score service order, one partition per <c>out_order_no</c> in table <c>PayScoreOrders</c>: the order row
/// (<c>order</c>) and its timeline (<c>evt-…</c>), written together in one conditional transaction.
/// </summary>
public sealed class PayScoreOrderEntity : ITableEntity
{
    public string PartitionKey { get; set; } = "";
    public string RowKey { get; set; } = Orders.OrderRows.Order;
    public DateTimeOffset? Timestamp { get; set; }
    public ETag ETag { get; set; }

    /// <summary>SHA-256 of the canonical create request: the same request may be repeated, a different one may not.</summary>
    public string Fingerprint { get; set; } = "";
    /// <summary>The create request as sent to WeChat (snake_case JSON), so a repeat re-sends exactly it.</summary>
    public string CreateRequest { get; set; } = "";
    /// <summary>Empty until WeChat accepted the create; then CREATED, DOING, DONE, REVOKED or EXPIRED.</summary>
    public string State { get; set; } = "";
    public string? StateDescription { get; set; }
    public string? CollectionState { get; set; }
    public string? Package { get; set; }
    public string? WeChatOrderId { get; set; }
    public long? TotalAmount { get; set; }
    public long? PaidAmount { get; set; }
    public string? TransactionId { get; set; }
    /// <summary>The amount deducted under <see cref="TransactionId"/> by 支付分 (paid_type NEWTON): the refunds' <c>amount.total</c> and ceiling.</summary>
    public long? TransactionAmount { get; set; }
    /// <summary>That deduction's <c>paid_time</c>: refunds are possible for 365 days after it.</summary>
    public DateTimeOffset? PaidTime { get; set; }
    /// <summary>Refunds WeChat confirmed, and refunds accepted and not final yet: together with a new one at most <see cref="TransactionAmount"/>.</summary>
    public long RefundedAmount { get; set; }
    public long RefundingAmount { get; set; }
    /// <summary>Refunds accepted for this order (WeChat allows 50 per transaction) and when the last one was accepted (1 minute apart).</summary>
    public int RefundCount { get; set; }
    public DateTimeOffset? LastRefundAt { get; set; }
    /// <summary>When a refund of this order was last sent to WeChat, and which: a retried or recovered send keeps WeChat's minute too.</summary>
    public DateTimeOffset? LastRefundSentAt { get; set; }
    public string? LastRefundSentNo { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
    /// <summary>When a query by <c>outOrderNo</c> last asked WeChat; claimed with the row's ETag, so one caller asks per interval.</summary>
    public DateTimeOffset? LastQueryAt { get; set; }
    /// <summary>
    /// The order's events so far: the next event's sequence is this plus one, taken in the same ETag-conditional
    /// transaction that writes the event row (docs/events.md). Missing on rows older than events: 0.
    /// </summary>
    public long EventCount { get; set; }

    public bool IsCreated => PayScoreLifecycle.IsCreated(this);
}

/// <summary>
/// The Pay Score order as our API shows it, in camelCase mirroring WeChat's names. <c>openBusinessView</c> is
/// only in create answers; the others leave it out rather than send null.
/// </summary>
public sealed record PayScoreOrderView(
    string OutOrderNo,
    string State,
    string? StateDescription,
    string? CollectionState,
    bool Confirmed,
    bool Paid,
    long? TotalAmount,
    long? PaidAmount,
    string? TransactionId,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] PayScoreMiniProgramLaunch? OpenBusinessView,
    long RefundedAmount = 0,
    long RefundingAmount = 0)
{
    public static PayScoreOrderView From(PayScoreOrderEntity e, bool withLaunch = false) => new(
        e.PartitionKey, e.State, NullIfEmpty(e.StateDescription), NullIfEmpty(e.CollectionState), PayScoreLifecycle.IsConfirmed(e),
        PayScoreLifecycle.IsPaid(e),
        e.TotalAmount, e.PaidAmount, e.TransactionId,
        withLaunch && e.Package is { Length: > 0 } package ? PayScoreMiniProgramLaunch.FromPackage(package) : null,
        e.RefundedAmount, e.RefundingAmount);

    private static string? NullIfEmpty(string? s) => string.IsNullOrEmpty(s) ? null : s;
}
