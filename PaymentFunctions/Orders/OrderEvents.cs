using PaymentFunctions.Events;

namespace PaymentFunctions.Orders;

/// <summary>
/// A P云 order's events through the outbox (product <see cref="EventProducts.Order"/>, partition = orderId). Staged in
/// the transaction of the change with the order row's ETag, dispatched after it commits; a cause that is processed
/// again and finds its change applied (a duplicate result, a check that is no longer needed, a refund round that finds
/// its refund final) calls <see cref="EnsureOrderDispatchedAsync"/> so a crash between the commit and the dispatch loses
/// nothing. See docs/events.md for when each type is sent.
/// </summary>
public static class OrderEvents
{
    /// <summary>
    /// The event of a status change by a P云 result, or null: each change INTO Paid, Failed, AmountMismatch or
    /// PaidAfterClose is one event (so Failed → Pending by a new attempt → Failed again is a second order.failed).
    /// A result that leaves the status as it was (a late or repeated answer, a second payment flagged for refund)
    /// sends none; what it changes on the money side shows in the refund events that follow.
    /// </summary>
    public static string? ForStatusChange(OrderStatus from, OrderStatus to) => from == to ? null : to switch
    {
        OrderStatus.Paid => EventTypes.OrderPaid,
        OrderStatus.Failed => EventTypes.OrderFailed,
        OrderStatus.AmountMismatch => EventTypes.OrderAmountMismatch,
        OrderStatus.PaidAfterClose => EventTypes.OrderPaidAfterClose,
        OrderStatus.Expired => EventTypes.OrderExpired,
        _ => null,
    };

    /// <summary>
    /// Takes the order's next sequence (on <paramref name="order"/>, which the caller writes with its ETag in the same
    /// transaction as the returned row) and stages the event with the order as GET shows it at <paramref name="now"/>.
    /// </summary>
    public static StagedEvent StageOrderEvent(this EventOutbox outbox, OrderEntity order, string type, DateTimeOffset now)
    {
        order.EventCount++;
        return outbox.Stage(EventProducts.Order, order.PartitionKey, order.EventCount, type, OrderView.From(order, now));
    }

    /// <summary>
    /// Queues what a crash left undispatched for the order (a single-partition query), unless nothing can be waiting:
    /// <paramref name="stored"/> (the order row as read after the change, when the caller has it) counts no events, or no
    /// endpoint receives order events (<see cref="EventOutbox.EnsureDispatchedAsync(string, string, long?, CancellationToken)"/>).
    /// </summary>
    public static Task EnsureOrderDispatchedAsync(this EventOutbox outbox, string orderId, OrderEntity? stored, CancellationToken cancellationToken) =>
        outbox.EnsureDispatchedAsync(EventProducts.Order, orderId, stored?.EventCount, cancellationToken);
}

/// <summary>
/// A P云 result was applied and committed but its events could not be queued. A queued cause lets this fail its
/// message (the replay finds the result applied and queues them); a status poll answers with the committed state.
/// </summary>
public sealed class OrderEventsNotDispatchedException(ProcessResult result, Exception inner)
    : Exception($"Order {result.OrderId}: {result.Outcome} was committed, but its events could not be queued.", inner)
{
    public ProcessResult Result { get; } = result;
}
