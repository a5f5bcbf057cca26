using Azure;
using Azure.Data.Tables;

namespace PaymentFunctions.Orders;

/// <summary>Where a refund stands for the caller. It only ever moves forward: Pending → Succeeded or Failed.</summary>
public enum RefundStatus
{
    Pending,
    Succeeded,
    Failed,
}

/// <summary>How far the sending of a Pending refund got: New (stored, not sent), Sending (a handler claimed it and may have sent it), Sent (P云 accepted it).</summary>
public static class RefundStages
{
    public const string New = "New";
    public const string Sending = "Sending";
    public const string Sent = "Sent";
}

public static class RefundOrigins
{
    public const string Manual = "manual";
    public const string Automatic = "automatic";
}

/// <summary>
/// Row <c>refund-{refundNo}</c> in its order's partition. Added in the same transaction that reserves its amount on
/// the order and attempt rows; changed after that only forward (see <see cref="RefundLifecycle"/>).
/// </summary>
public sealed class RefundEntity : ITableEntity
{
    public string PartitionKey { get; set; } = "";
    public string RowKey { get; set; } = "";
    public DateTimeOffset? Timestamp { get; set; }
    public ETag ETag { get; set; }

    public string RefundNo { get; set; } = "";
    public long Amount { get; set; }
    public string? Reason { get; set; }
    /// <summary><see cref="RefundOrigins"/>.</summary>
    public string Origin { get; set; } = RefundOrigins.Manual;
    /// <summary>The attempt whose payment this refunds, its pay_order and P云's pay_serial of it.</summary>
    public int AttemptNumber { get; set; }
    public string PayOrder { get; set; } = "";
    public string PaySerial { get; set; } = "";
    /// <summary>The refund number P云 knows (<c>order</c>): unique across orders, and the same for every send of this refund.</summary>
    public string PyunOrder { get; set; } = "";
    /// <summary>What a repeat of the request must match (amount and reason) to be the same refund.</summary>
    public string Fingerprint { get; set; } = "";
    public string Status { get; set; } = nameof(RefundStatus.Pending);
    /// <summary><see cref="RefundStages"/>.</summary>
    public string Stage { get; set; } = RefundStages.New;
    public DateTimeOffset? SendStartedAt { get; set; }
    /// <summary>Rounds claimed so far (a send or a query each); a message of an earlier round is stale.</summary>
    public int Rounds { get; set; }
    public string? FailureReason { get; set; }
    public string? RefundSerial { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? CompletedAt { get; set; }

    public RefundStatus StatusValue
    {
        get => Enum.Parse<RefundStatus>(Status);
        set => Status = value.ToString();
    }

    public bool IsFinal => StatusValue != RefundStatus.Pending;
}

/// <summary>The refund as the API shows it.</summary>
public sealed record RefundView(
    string RefundNo,
    long Amount,
    string? Reason,
    string Status,
    string Origin,
    string? FailureReason,
    DateTimeOffset CreatedAt,
    DateTimeOffset? CompletedAt,
    string? RefundSerial,
    string PayOrder)
{
    public static RefundView From(RefundEntity e) =>
        new(e.RefundNo, e.Amount, e.Reason, e.Status, e.Origin, e.FailureReason, e.CreatedAt, e.CompletedAt, e.RefundSerial, e.PayOrder);
}

/// <summary><c>GET /api/orders/{orderId}/refunds</c>: every refund of the order, oldest first.</summary>
public sealed record RefundListView(string OrderId, long RefundedAmount, long RefundingAmount, IReadOnlyList<RefundView> Refunds);
