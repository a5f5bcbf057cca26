using PaymentFunctions.Pyun;

namespace PaymentFunctions.Orders;

/// <summary>What applying one P云 result did. The caller writes the rows it changed and the timeline row together.</summary>
public sealed record Transition(OrderStatus From, OrderStatus To, bool AttemptChanged, string Outcome);

/// <summary>
/// The order state machine of the design (§4), as a pure function over the freshly read rows. It only
/// ever moves forward: a late "paying" or "failed" never undoes a payment, a wrong amount is never Paid,
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

        if (from is OrderStatus.Paid or OrderStatus.PaidAfterClose)
        {
            FlagRefund(order, attempt, "a second payment for an order that was already paid");
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

        var paidAt = result.TradeTime ?? now;
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
