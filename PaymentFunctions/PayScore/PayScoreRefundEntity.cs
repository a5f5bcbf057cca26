using System.Text.Json.Serialization;
using Azure;
using Azure.Data.Tables;

namespace PaymentFunctions.PayScore;

/// <summary>What our API says of a refund: Pending until WeChat Pay settles it, then Succeeded or Failed (final).</summary>
public static class RefundStatuses
{
    public const string Pending = "Pending";
    public const string Succeeded = "Succeeded";
    public const string Failed = "Failed";
}

/// <summary>
/// How far the create call got: New (stored, not sent), Sending (claimed by one sender; the call may or may not have
/// reached WeChat), Sent (WeChat answered the create, or a query found the refund).
/// </summary>
public static class RefundStages
{
    public const string New = "New";
    public const string Sending = "Sending";
    public const string Sent = "Sent";
}

/// <summary>
/// A refund of a Pay Score deduction, row <c>refund-{outRefundNo}</c> in its order's partition of <c>PayScoreOrders</c>;
/// written only together with the order row (its refund budget) and a timeline row, in one transaction.
/// </summary>
public sealed class PayScoreRefundEntity : ITableEntity
{
    public const string RowPrefix = "refund-";

    public string PartitionKey { get; set; } = "";
    public string RowKey { get; set; } = "";
    public DateTimeOffset? Timestamp { get; set; }
    public ETag ETag { get; set; }

    public string OutRefundNo { get; set; } = "";
    public long Amount { get; set; }
    /// <summary>The deducted amount of <see cref="TransactionId"/> (<c>amount.total</c>), fixed at acceptance so every send is identical.</summary>
    public long Total { get; set; }
    public string TransactionId { get; set; } = "";
    public string? Reason { get; set; }
    public string Fingerprint { get; set; } = "";
    public string Status { get; set; } = RefundStatuses.Pending;
    /// <summary>WeChat's last word: PROCESSING, SUCCESS, CLOSED, ABNORMAL, or the refusing error code.</summary>
    public string? WeChatStatus { get; set; }
    public string Stage { get; set; } = RefundStages.New;
    public DateTimeOffset? SendStartedAt { get; set; }
    /// <summary>The follow-up round scheduled last; a queued round below it is superseded.</summary>
    public int Rounds { get; set; }
    /// <summary>Every write adds one: it names the write's timeline row.</summary>
    public int Version { get; set; }
    public string? FailureReason { get; set; }
    public string? RefundId { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? CompletedAt { get; set; }

    public static string Row(string outRefundNo) => RowPrefix + outRefundNo;
}

/// <summary>
/// <c>out_refund_no → out_order_no</c>, one partition per number (<c>!refund-{outRefundNo}</c>: no out_order_no holds a
/// '!'), so a callback (which names no order) finds its refund, and a number is used once per merchant, as WeChat requires.
/// </summary>
public sealed class PayScoreRefundIndexEntity : ITableEntity
{
    public const string Row = "index";

    public string PartitionKey { get; set; } = "";
    public string RowKey { get; set; } = Row;
    public DateTimeOffset? Timestamp { get; set; }
    public ETag ETag { get; set; }

    public string OutOrderNo { get; set; } = "";
    public string Fingerprint { get; set; } = "";
    public DateTimeOffset CreatedAt { get; set; }

    public static string Partition(string outRefundNo) => "!refund-" + outRefundNo;
}

/// <summary>A refund as our API shows it.</summary>
public sealed record PayScoreRefundView(
    string OutRefundNo,
    long Amount,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Reason,
    string Status,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? FailureReason,
    DateTimeOffset CreatedAt,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] DateTimeOffset? CompletedAt,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? RefundId,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? WeChatStatus)
{
    public static PayScoreRefundView From(PayScoreRefundEntity e) =>
        new(e.OutRefundNo, e.Amount, e.Reason, e.Status, e.FailureReason, e.CreatedAt, e.CompletedAt, e.RefundId, e.WeChatStatus);
}
