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

/// <summary>Why an order cannot be prepared: a conflict (409) or an order past its time (410), with the response text.</summary>
public enum PrepareRefusalKind
{
    Conflict,
    Gone,
}

/// <summary>What <c>prepare</c> is to do with an order, decided by <see cref="OrderLifecycle.DecidePrepare"/>.</summary>
public abstract record PrepareDecision
{
    private PrepareDecision()
    {
    }

    /// <summary>Refuse with this status and text; nothing is written.</summary>
    public sealed record Refuse(PrepareRefusalKind Kind, string Detail) : PrepareDecision;

    /// <summary>Hand out the current attempt again: it is still valid for this payer.</summary>
    public sealed record Reuse(AttemptEntity Attempt, string PayId) : PrepareDecision;

    /// <summary>Too many attempts too fast: the next one may be prepared after <paramref name="Wait"/>.</summary>
    public sealed record TooSoon(TimeSpan Wait) : PrepareDecision;

    /// <summary>Claim attempt <paramref name="Number"/>, valid until <paramref name="ExpiresAt"/>.</summary>
    public sealed record NewAttempt(int Number, DateTimeOffset ExpiresAt) : PrepareDecision;
}

/// <summary>
/// Every rule of an order's life in one place, all pure (no clock, no I/O: the time is an argument), so the same
/// rows and input always give the same answer:
/// <list type="bullet">
/// <item>expiry: <see cref="EffectiveStatus"/>;</item>
/// <item>prepare: whether an order can be prepared, whether the current attempt is reused, the attempt cap and the
/// spacing of attempts (<see cref="DecidePrepare"/>), and Created/Failed → Pending once a pay_id is stored
/// (<see cref="MarkPrepared"/>);</item>
/// <item>the P云 results (<see cref="Apply"/>): applies one trade result to the freshly read order and attempt
/// rows by changing them in place, and returns what it did; the caller writes the changed rows back in one
/// conditional batch. It only ever moves forward: a late "paying" or "failed" never undoes a payment, a wrong
/// amount is never Paid, and money we cannot keep (a second payment, a wrong amount, a payment after close) is
/// flagged for refund.</item>
/// </list>
/// </summary>
public static class OrderLifecycle
{
    /// <summary>An attempt closer than this to its expiry is not handed out again: the user needs time to pay.</summary>
    public static readonly TimeSpan ReuseMargin = TimeSpan.FromSeconds(60);

    /// <summary>An order closer than this to its expiry is not worth a new attempt.</summary>
    public static readonly TimeSpan MinimumAttempt = TimeSpan.FromSeconds(30);

    /// <summary>New attempts that need no spacing: enough for a user who cancels, fails or switches account a few times.</summary>
    public const int FreeAttempts = 10;

    /// <summary>
    /// An unpaid order past its expiry reads as Expired, also in the moments before its final check stores it so
    /// (<see cref="Expire"/>).
    /// </summary>
    public static OrderStatus EffectiveStatus(OrderEntity order, DateTimeOffset now) =>
        order.StatusValue is OrderStatus.Created or OrderStatus.Pending or OrderStatus.Failed && now >= order.ExpiresAt
            ? OrderStatus.Expired
            : order.StatusValue;

    /// <summary>
    /// The refusals that need only the order row (so the attempt row is read only when they pass): paid orders
    /// cannot be paid again, and an expired order (or one about to expire) gets no new payment. Null: go on.
    /// </summary>
    public static PrepareDecision.Refuse? RefusePrepare(OrderEntity order, DateTimeOffset now)
    {
        var status = EffectiveStatus(order, now);
        if (status is OrderStatus.Paid or OrderStatus.PaidAfterClose or OrderStatus.AmountMismatch)
        {
            return new(PrepareRefusalKind.Conflict, $"The order is {status}; it cannot be paid again.");
        }

        return status == OrderStatus.Expired || order.ExpiresAt - now < MinimumAttempt
            ? new(PrepareRefusalKind.Gone, "The order has expired; create a new one.")
            : null;
    }

    /// <summary>
    /// What prepare does with the order and its current attempt (null when it has none): refuse, reuse the current
    /// attempt (still valid, for the same payer or any when none is named), wait, or claim the next attempt.
    /// An attempt still being prepared blocks a new one for <paramref name="preparingTimeout"/>, after which it is
    /// taken to have died with its caller.
    /// </summary>
    public static PrepareDecision DecidePrepare(OrderEntity order, AttemptEntity? current, string? payer, DateTimeOffset now,
        TimeSpan preparingTimeout, TimeSpan attemptLifetime)
    {
        if (RefusePrepare(order, now) is { } refusal)
        {
            return refusal;
        }

        if (current is { PayId: { } payId } && current.State is AttemptStates.Prepared or AttemptStates.Paying &&
            current.ExpiresAt - now >= ReuseMargin && (payer is null || payer == current.Payer))
        {
            return new PrepareDecision.Reuse(current, payId);
        }

        if (current is { State: AttemptStates.Preparing } && now - current.CreatedAt < preparingTimeout)
        {
            return new PrepareDecision.Refuse(PrepareRefusalKind.Conflict, "A payment for this order is being prepared; retry in a moment.");
        }

        if (order.AttemptCount >= PayOrderNumber.MaxAttempts)
        {
            return new PrepareDecision.Refuse(PrepareRefusalKind.Conflict, "The order has run out of payment attempts; create a new one.");
        }

        if (current is not null && NextAttemptAllowedAt(order, current.CreatedAt) is { } allowed && allowed > now)
        {
            return new PrepareDecision.TooSoon(allowed - now);
        }

        var expires = now + attemptLifetime;
        return new PrepareDecision.NewAttempt(order.AttemptCount + 1, expires < order.ExpiresAt ? expires : order.ExpiresAt);
    }

    /// <summary>
    /// Anyone holding an order id can ask for a new attempt (a different payer forces one), and the attempt numbers
    /// are finite. Past the free ones, attempts are spaced so that the numbers left last until the order expires:
    /// no caller can use them up and leave the order unpayable. Null: no spacing needed.
    /// </summary>
    public static DateTimeOffset? NextAttemptAllowedAt(OrderEntity order, DateTimeOffset lastAttemptAt)
    {
        if (order.AttemptCount < FreeAttempts)
        {
            return null;
        }

        var left = PayOrderNumber.MaxAttempts - order.AttemptCount;
        var remaining = order.ExpiresAt - lastAttemptAt;
        return left <= 0 || remaining <= TimeSpan.Zero ? null : lastAttemptAt + remaining / left;
    }

    /// <summary>
    /// Claims attempt <paramref name="decision"/>.Number on the order row (which the caller writes with its ETag, so
    /// two concurrent prepares pick different numbers) and returns the new attempt row, Preparing.
    /// </summary>
    public static AttemptEntity BeginAttempt(OrderEntity order, PrepareDecision.NewAttempt decision, string client, string? payer, DateTimeOffset now)
    {
        order.AttemptCount = decision.Number;
        order.UpdatedAt = now;
        return new AttemptEntity
        {
            PartitionKey = order.PartitionKey,
            RowKey = OrderRows.Attempt(decision.Number),
            Number = decision.Number,
            PayOrder = PayOrderNumber.Format(order.PartitionKey, decision.Number),
            Client = client,
            Payer = payer,
            CreatedAt = now,
            ExpiresAt = decision.ExpiresAt,
            State = AttemptStates.Preparing,
        };
    }

    /// <summary>P云 refused to prepare the attempt: it can never be paid.</summary>
    public static void PrepareFailed(AttemptEntity attempt) => attempt.State = AttemptStates.PrepareFailed;

    /// <summary>
    /// P云 gave the attempt its pay_id. A Created or Failed order whose current attempt this is now waits for the
    /// payment (Pending); any other order keeps its state (a result may have arrived first). True when the order
    /// row changed and must be written (with its ETag) together with the attempt.
    /// </summary>
    public static bool MarkPrepared(OrderEntity order, AttemptEntity attempt, string payId, DateTimeOffset now)
    {
        attempt.PayId = payId;
        attempt.State = AttemptStates.Prepared;
        if (order.StatusValue is OrderStatus.Created or OrderStatus.Failed && order.AttemptCount == attempt.Number)
        {
            order.StatusValue = OrderStatus.Pending;
            order.UpdatedAt = now;
            return true;
        }

        return false;
    }

    /// <summary>
    /// Whether a status poll asks P云's trade query: the order is pending on an attempt, has been quiet for
    /// <paramref name="queryAfter"/>, and nobody asked within <paramref name="queryInterval"/>.
    /// </summary>
    public static bool ShouldQuery(OrderEntity order, DateTimeOffset now, TimeSpan queryAfter, TimeSpan queryInterval) =>
        order.StatusValue == OrderStatus.Pending && order.AttemptCount > 0 && now - order.UpdatedAt >= queryAfter &&
        (order.LastQueryAt is not { } last || now - last >= queryInterval);

    /// <summary>
    /// The longest a scheduled check may wait: a queue message can be invisible for 7 days at most, and lives 7 days by
    /// default; a day of margin keeps it well inside both.
    /// </summary>
    public static readonly TimeSpan MaxCheckDelay = TimeSpan.FromDays(6);

    /// <summary>
    /// Whether a scheduled check of attempt <paramref name="number"/> still has anything to learn: not when the order is
    /// gone or final (Paid, PaidAfterClose, AmountMismatch), nor when a P云 result already decided the attempt (paid or
    /// failed), nor for an attempt the order does not have. A Pending order, a Failed one (another attempt failed) or an
    /// attempt P云 last called "paying" is checked.
    /// </summary>
    public static bool NeedsCheck(OrderEntity? order, int number) =>
        order is not null && number >= 1 && number <= order.AttemptCount &&
        order.StatusValue is not (OrderStatus.Paid or OrderStatus.PaidAfterClose or OrderStatus.AmountMismatch) &&
        order.AttemptResult(number) is not (AttemptStates.Paid or AttemptStates.Failed);

    /// <summary>The first check of an attempt: <paramref name="grace"/> after its pay_id expires (never negative, never past <see cref="MaxCheckDelay"/>).</summary>
    public static TimeSpan FirstCheckDelay(DateTimeOffset attemptExpiresAt, DateTimeOffset now, TimeSpan grace) =>
        Clamp(attemptExpiresAt - now + grace);

    /// <summary>
    /// After check <paramref name="round"/> (1-based) found the attempt undecided (P云 says paying, or has no record):
    /// the delay before the next check, <paramref name="backoff"/> × 2^round, or null once <paramref name="maxRounds"/>
    /// checks were made. A decided answer (paid, failed) needs no next check: pass <paramref name="undecided"/> false.
    /// </summary>
    public static TimeSpan? NextCheckDelay(bool undecided, int round, int maxRounds, TimeSpan backoff)
    {
        if (!undecided || round >= maxRounds || round < 1)
        {
            return null;
        }

        // 2^round overflows nothing up to MaxCheckRounds; the clamp caps the result at the queue's limit.
        var factor = Math.Pow(2, Math.Min(round, 30));
        var ticks = backoff.Ticks * factor;
        return ticks >= MaxCheckDelay.Ticks ? MaxCheckDelay : Clamp(TimeSpan.FromTicks((long)ticks));
    }

    private static TimeSpan Clamp(TimeSpan delay) =>
        delay < TimeSpan.Zero ? TimeSpan.Zero : delay > MaxCheckDelay ? MaxCheckDelay : delay;

    /// <summary>Unpaid states: the ones an order leaves for Expired when its time is up.</summary>
    public static bool IsUnpaid(OrderEntity order) => order.StatusValue is OrderStatus.Created or OrderStatus.Pending or OrderStatus.Failed;

    /// <summary>
    /// How long the final check of an order waits from <paramref name="now"/>: until <paramref name="grace"/> after the
    /// order expires, at most <see cref="MaxCheckDelay"/> at a time (a longer wait is chained: the check that wakes
    /// early schedules itself again). Null when the order is no longer unpaid, or the final check is due now.
    /// </summary>
    public static TimeSpan? ExpiryCheckWait(OrderEntity order, DateTimeOffset now, TimeSpan grace) =>
        IsUnpaid(order) && order.ExpiresAt + grace - now is var wait && wait > TimeSpan.Zero ? Clamp(wait) : null;

    /// <summary>
    /// The attempts the final check asks P云 about: those no P云 result has decided (paid or failed), newest first,
    /// at most <paramref name="limit"/>; older ones are settled by their own scheduled checks.
    /// </summary>
    public static IEnumerable<int> UndecidedAttempts(OrderEntity order, int limit) =>
        Enumerable.Range(1, order.AttemptCount).Reverse()
            .Where(n => order.AttemptResult(n) is not (AttemptStates.Paid or AttemptStates.Failed))
            .Take(limit);

    /// <summary>
    /// The final check found no payment: an unpaid order past its expiry is stored Expired, so everything reading the
    /// row sees the state GET shows. A payment heard of later still counts by its trade time (<see cref="Apply"/>):
    /// made in time, the order is Paid; made late, PaidAfterClose. Null when the order is not (or no longer) to expire.
    /// </summary>
    public static Transition? Expire(OrderEntity order, DateTimeOffset now)
    {
        if (!IsUnpaid(order) || now < order.ExpiresAt)
        {
            return null;
        }

        var from = order.StatusValue;
        order.StatusValue = OrderStatus.Expired;
        order.UpdatedAt = now;
        return new(from, OrderStatus.Expired, false, "expired: no payment by expiresAt");
    }

    /// <summary>Applies one P云 trade result to the order and attempt rows (see the class summary).</summary>
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

        // From Created, Pending, Failed, Expired (a payment made in time that we heard of after the final check), or
        // AmountMismatch (whose wrong payment stays flagged for refund).
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
