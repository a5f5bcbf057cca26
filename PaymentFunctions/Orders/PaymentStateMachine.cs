using PaymentFunctions.Pyun;

namespace PaymentFunctions.Orders;

/// <summary>What applying one P云 result did. The caller writes the rows it changed and the timeline row together.</summary>
/// <param name="DisplacedAttempt">
/// Another attempt whose payment was the order's until this one, paid earlier, took its place: it must now be
/// flagged for refund too (its row gets <see cref="DisplacedReason"/>), in the same transaction.
/// </param>
public sealed record Transition(OrderStatus From, OrderStatus To, bool AttemptChanged, string Outcome, int? DisplacedAttempt = null)
{
    public const string DisplacedReason = "a second payment for an order that was already paid";
}

/// <summary>
/// The order state machine: applies one P云 trade result to the freshly read order and attempt rows by changing
/// them in place, and returns what it did; the caller writes the changed rows back in one conditional batch. It
/// reads nothing but its arguments (no clock, no I/O), so the same rows and result always give the same change.
/// It only ever moves forward: a late "paying" or "failed" never undoes a payment, a wrong amount is never Paid,
/// and money we cannot keep (a second payment, a wrong amount, a payment after close) is flagged for refund.
/// </summary>
public static class PaymentStateMachine
{
    public static Transition Apply(OrderEntity order, AttemptEntity attempt, PyunTradeResult result, DateTimeOffset now)
    {
        var from = order.StatusValue;
        var isCurrentAttempt = attempt.Number == order.AttemptCount;

        if (attempt.State == AttemptStates.Paid)
        {
            // This attempt's payment is already recorded; anything said about it now is a replay or arrives late.
            return new(from, from, false, result.Status == PyunTradeResult.Success
                ? "ignored: this attempt's payment is already recorded"
                : "ignored: arrived after this attempt was paid");
        }

        switch (result.Status)
        {
            case PyunTradeResult.Paying:
            {
                var attemptChanged = attempt.State is AttemptStates.Prepared or AttemptStates.Preparing;
                if (attemptChanged)
                {
                    attempt.State = AttemptStates.Paying;
                }

                if (from == OrderStatus.Created)
                {
                    order.StatusValue = OrderStatus.Pending;
                    return new(from, OrderStatus.Pending, attemptChanged, "paying");
                }

                return new(from, from, attemptChanged, from == OrderStatus.Pending ? "paying" : $"ignored: order is {from}");
            }

            case PyunTradeResult.Failure:
            {
                var attemptChanged = attempt.State != AttemptStates.Failed;
                attempt.State = AttemptStates.Failed;
                if (isCurrentAttempt && from is OrderStatus.Created or OrderStatus.Pending)
                {
                    order.StatusValue = OrderStatus.Failed;
                    return new(from, OrderStatus.Failed, attemptChanged, "payment failed");
                }

                return new(from, from, attemptChanged, isCurrentAttempt ? $"ignored: order is {from}" : "recorded: a superseded attempt failed");
            }

            default:
                return ApplySuccess(order, attempt, result, now, from);
        }
    }

    private static Transition ApplySuccess(OrderEntity order, AttemptEntity attempt, PyunTradeResult result, DateTimeOffset now, OrderStatus from)
    {
        attempt.State = AttemptStates.Paid;
        attempt.PaidAmount = result.Value;
        attempt.PaySerial = result.PaySerial;

        var paidAt = result.TradeTime ?? now;
        if (from == OrderStatus.PaidAfterClose && result.Value == order.Amount && paidAt <= order.ExpiresAt)
        {
            // The user did pay in time, on another attempt, and we merely heard of the late payment first: the order
            // is paid, and the late payment stays flagged for refund, as it would have been in the other order.
            order.StatusValue = OrderStatus.Paid;
            RecordPayment(order, result, now);
            return new(from, OrderStatus.Paid, true, "paid (the payment after close stays flagged for refund)");
        }

        if (from == OrderStatus.Paid && result.Value == order.Amount && paidAt <= order.ExpiresAt && IsEarlierThanRecorded(order, result, now) &&
            PayOrderNumber.TryParse(order.PaidPayOrder, out _, out var displaced) && displaced != attempt.Number)
        {
            // Two right payments in time: the earlier one is the order's, whichever we heard of first, so the end
            // does not depend on arrival order. The one it displaces is refunded instead.
            RecordPayment(order, result, now);
            order.RefundRequired = true;
            return new(from, OrderStatus.Paid, true, "paid earlier than the recorded payment, which is flagged for refund", displaced);
        }

        if (from is OrderStatus.Paid or OrderStatus.PaidAfterClose)
        {
            FlagRefund(order, attempt, Transition.DisplacedReason);
            // Of several late payments, all refunded, the order row shows the earliest, whichever was heard of first.
            if (from == OrderStatus.PaidAfterClose && result.Value == order.Amount && IsEarlierThanRecorded(order, result, now))
            {
                RecordPayment(order, result, now);
            }

            return new(from, from, true, "extra payment flagged for refund");
        }

        if (result.Value != order.Amount)
        {
            FlagRefund(order, attempt, $"paid {result.Value} fen for an order of {order.Amount} fen");
            order.StatusValue = OrderStatus.AmountMismatch;
            // Every wrong payment is flagged; the order row shows the earliest, so it does not depend on which
            // notification happened to be processed first.
            if (from != OrderStatus.AmountMismatch || IsEarlierThanRecorded(order, result, now))
            {
                RecordPayment(order, result, now);
            }

            return new(from, OrderStatus.AmountMismatch, true, "amount mismatch");
        }

        if (paidAt > order.ExpiresAt)
        {
            FlagRefund(order, attempt, "paid after the order closed");
            order.StatusValue = OrderStatus.PaidAfterClose;
            RecordPayment(order, result, now);
            return new(from, OrderStatus.PaidAfterClose, true, "paid after close");
        }

        // From Created, Pending, Failed, or AmountMismatch (whose wrong payment stays flagged for refund).
        order.StatusValue = OrderStatus.Paid;
        RecordPayment(order, result, now);
        return new(from, OrderStatus.Paid, true, "paid");
    }

    private static bool IsEarlierThanRecorded(OrderEntity order, PyunTradeResult result, DateTimeOffset now)
    {
        var paidAt = result.TradeTime ?? now;
        return order.PaidAt is not { } recorded || paidAt < recorded ||
               (paidAt == recorded && string.CompareOrdinal(result.PayOrder, order.PaidPayOrder) < 0);
    }

    private static void RecordPayment(OrderEntity order, PyunTradeResult result, DateTimeOffset now)
    {
        order.PaidAt = result.TradeTime ?? now;
        order.PaidAmount = result.Value;
        order.PaidPayOrder = result.PayOrder;
        order.PaySerial = result.PaySerial;
        order.Channel = result.Channel;
        order.TradeNo = result.TradeNo;
        order.Fee = result.Fee;
        order.Payer = result.Payer ?? order.Payer;
    }

    private static void FlagRefund(OrderEntity order, AttemptEntity attempt, string reason)
    {
        attempt.RefundRequired = true;
        attempt.RefundReason = reason;
        order.RefundRequired = true;
    }
}
