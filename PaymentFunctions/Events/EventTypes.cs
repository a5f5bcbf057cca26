namespace PaymentFunctions.Events;

/// <summary>The event types (docs/events.md describes when each is sent).</summary>
public static class EventTypes
{
    public const string OrderPaid = "order.paid";
    public const string OrderFailed = "order.failed";
    public const string OrderExpired = "order.expired";
    public const string OrderAmountMismatch = "order.amount_mismatch";
    public const string OrderPaidAfterClose = "order.paid_after_close";
    public const string OrderRefundSucceeded = "order.refund.succeeded";
    public const string OrderRefundFailed = "order.refund.failed";
    public const string PayScoreConfirmed = "payscore.confirmed";
    public const string PayScoreCompleted = "payscore.completed";
    public const string PayScorePaid = "payscore.paid";
    public const string PayScoreCancelled = "payscore.cancelled";
    public const string PayScoreExpired = "payscore.expired";
    public const string PayScoreRefundSucceeded = "payscore.refund.succeeded";
    public const string PayScoreRefundFailed = "payscore.refund.failed";

    public static IReadOnlySet<string> All { get; } = new HashSet<string>(StringComparer.Ordinal)
    {
        OrderPaid, OrderFailed, OrderExpired, OrderAmountMismatch, OrderPaidAfterClose, OrderRefundSucceeded, OrderRefundFailed,
        PayScoreConfirmed, PayScoreCompleted, PayScorePaid, PayScoreCancelled, PayScoreExpired, PayScoreRefundSucceeded, PayScoreRefundFailed,
    };
}
