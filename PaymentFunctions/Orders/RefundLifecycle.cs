using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using PaymentFunctions.Pyun;

namespace PaymentFunctions.Orders;

/// <summary>A refund the processor is to add with a P云 result: the whole rest of one attempt's payment.</summary>
public sealed record AutomaticRefund(int AttemptNumber, string PayOrder, string PaySerial, long Amount, string Reason)
{
    public string RefundNo => RefundLifecycle.AutomaticRefundNo(AttemptNumber);
}

/// <summary>What one P云 answer does to a Pending refund, decided by <see cref="RefundLifecycle.Next"/>.</summary>
public enum RefundStep
{
    /// <summary>P云 has it and is refunding (create accepted, or query says refunding): Stage Sent, query again later.</summary>
    Sent,

    /// <summary>Done: Succeeded, the amount moves from refunding to refunded.</summary>
    Succeeded,

    /// <summary>Failed for good with P云's reason: the amount is released.</summary>
    Failed,

    /// <summary>Query: P云 never got the create (a crash or a lost request): send the identical request again.</summary>
    Resend,

    /// <summary>Nothing learnt (or nothing safe to conclude): ask again in the next round.</summary>
    Retry,

    /// <summary>P云 describes a refund that is not the one we asked for: recorded and alerted, never applied.</summary>
    Foreign,
}

/// <summary>
/// Every refund rule, pure (the time is an argument), beside <see cref="OrderLifecycle"/>: which orders may be
/// refunded and how much, the rows a new refund writes, what P云's answers do to it, which payments are refunded
/// automatically and under which number, and when the next round runs. Refund writes all carry the order row with its
/// ETag, so the amounts on the order and attempt rows are always decided on the current state.
/// </summary>
public static class RefundLifecycle
{
    /// <summary>Refund numbers of automatic refunds start with this; a manual refund may not use it.</summary>
    public const string AutomaticPrefix = "auto-";

    public const string RowPrefix = "refund-";

    public const int MaxRefundNoLength = 32;
    public const int MaxReasonLength = 80;

    /// <summary>
    /// A round after a send waits at least this much more than P云's request timeout, so that a query-first round
    /// never runs while the send it follows may still be in flight.
    /// </summary>
    public static readonly TimeSpan SendMargin = TimeSpan.FromSeconds(2);

    public static string Row(string refundNo) => RowPrefix + refundNo;

    /// <summary>The deterministic number of the automatic refund of attempt <paramref name="attemptNumber"/>'s payment: a replay finds it.</summary>
    public static string AutomaticRefundNo(int attemptNumber) => $"{AutomaticPrefix}{attemptNumber}";

    /// <summary>The refund number P云 gets: the order id (unique) and the refund's ordinal in the order, at most 29 characters.</summary>
    public static string PyunOrder(string orderId, int ordinal) => $"{orderId}-r{ordinal}";

    /// <summary>Whether the order took money that can be refunded: it has a recorded payment.</summary>
    public static bool TookMoney(OrderEntity order) =>
        order.StatusValue is OrderStatus.Paid or OrderStatus.AmountMismatch or OrderStatus.PaidAfterClose &&
        order.PaidPayOrder is not null && order.PaySerial is not null;

    /// <summary>What is left to refund of an attempt's payment.</summary>
    public static long Remaining(AttemptEntity attempt) =>
        attempt.State == AttemptStates.Paid ? (attempt.PaidAmount ?? 0) - attempt.RefundedAmount - attempt.RefundingAmount : 0;

    /// <summary>Equal requests (amount, reason), equal text.</summary>
    public static string Fingerprint(long amount, string? reason) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new object?[] { amount, reason }))));

    /// <summary>
    /// Why a manual refund of <paramref name="amount"/> cannot be made (a 409 text), or null: it refunds the order's
    /// recorded payment (<paramref name="paid"/>, its attempt row), within what is left of it.
    /// </summary>
    public static string? RefuseManual(OrderEntity order, AttemptEntity? paid, long amount)
    {
        if (!TookMoney(order) || paid is null || paid.State != AttemptStates.Paid)
        {
            return $"The order is {order.Status}: it took no money to refund.";
        }

        var remaining = Remaining(paid);
        return amount > remaining
            ? $"'amount' {amount} exceeds what is left to refund of the payment: {remaining} fen (paid {paid.PaidAmount}, refunded {paid.RefundedAmount}, refunding {paid.RefundingAmount})."
            : null;
    }

    /// <summary>
    /// Reserves <paramref name="amount"/> of <paramref name="attempt"/>'s payment on the attempt and order rows (changed
    /// in place; the caller writes both, the order with its ETag) and returns the new Pending refund row.
    /// </summary>
    public static RefundEntity Begin(OrderEntity order, AttemptEntity attempt, string refundNo, long amount, string? reason, string origin,
        DateTimeOffset now)
    {
        if (amount <= 0 || amount > Remaining(attempt))
        {
            throw new InvalidOperationException($"Refund {refundNo} of {amount} fen does not fit the payment's remaining {Remaining(attempt)} fen.");
        }

        order.RefundCount++;
        order.RefundingAmount += amount;
        order.UpdatedAt = now;
        attempt.RefundingAmount += amount;
        return new RefundEntity
        {
            PartitionKey = order.PartitionKey,
            RowKey = Row(refundNo),
            RefundNo = refundNo,
            Amount = amount,
            Reason = reason,
            Origin = origin,
            AttemptNumber = attempt.Number,
            PayOrder = attempt.PayOrder,
            PaySerial = attempt.PaySerial ?? throw new InvalidOperationException("A paid attempt without pay_serial."),
            PyunOrder = PyunOrder(order.PartitionKey, order.RefundCount),
            Fingerprint = Fingerprint(amount, reason),
            CreatedAt = now,
        };
    }

    /// <summary>
    /// The payments a P云 result made refundable that go back on their own: the attempt just paid when the result
    /// flagged it (a second payment, a wrong amount, a payment after close), and the displaced attempt (an earlier
    /// payment took its place) for what is left of it. <paramref name="displaced"/> is that attempt's row, read.
    /// </summary>
    public static IReadOnlyList<AutomaticRefund> AutomaticRefunds(Transition transition, AttemptEntity attempt, AttemptEntity? displaced)
    {
        var refunds = new List<AutomaticRefund>(2);
        if (transition.AttemptChanged && attempt.State == AttemptStates.Paid && attempt.RefundRequired &&
            attempt.PaySerial is { } serial && attempt.PaidAmount is > 0 and var paid)
        {
            refunds.Add(new(attempt.Number, attempt.PayOrder, serial, paid, attempt.RefundReason ?? "refund required"));
        }

        if (transition.DisplacedAttempt is { } number && displaced is { Number: var n, PaySerial: { } displacedSerial } && n == number && Remaining(displaced) > 0)
        {
            refunds.Add(new(number, displaced.PayOrder, displacedSerial, Remaining(displaced), Transition.DisplacedReason));
        }

        return refunds;
    }

    /// <summary>Whether a round must ask P云's refund query before it sends: any earlier send may have reached P云.</summary>
    public static bool QueryFirst(RefundEntity refund) => refund.Stage != RefundStages.New;

    /// <summary>
    /// Claims round <paramref name="round"/> of a Pending refund (the caller writes the row with its ETag, so two
    /// handlers never both run one round). False: the message is stale (another round ran or runs) or the refund is final.
    /// </summary>
    public static bool TryClaimRound(RefundEntity refund, int round, DateTimeOffset now)
    {
        if (refund.IsFinal || round != refund.Rounds)
        {
            return false;
        }

        refund.Rounds = round + 1;
        if (refund.Stage == RefundStages.New)
        {
            refund.Stage = RefundStages.Sending;
            refund.SendStartedAt = now;
        }

        return true;
    }

    /// <summary>Marks a (re)send about to go out: Sending from now.</summary>
    public static void MarkSending(RefundEntity refund, DateTimeOffset now)
    {
        refund.Stage = RefundStages.Sending;
        refund.SendStartedAt = now;
    }

    /// <summary>
    /// What P云's answer does to the refund. <paramref name="toCreate"/>: the answer is to a create, else to a query.
    /// Only a definite answer about this very refund (our pay_serial and amount) is applied.
    /// </summary>
    public static RefundStep Next(RefundEntity refund, PyunRefundAnswer answer, bool toCreate)
    {
        switch (answer.Kind)
        {
            case PyunRefundAnswerKind.Accepted:
                return RefundStep.Sent;
            case PyunRefundAnswerKind.Refused:
                // A query refusal after P云 accepted the create says nothing of the money: keep asking, an operator is alerted at the end.
                return toCreate || refund.Stage != RefundStages.Sent ? RefundStep.Failed : RefundStep.Retry;
            case PyunRefundAnswerKind.NotFound:
                // Never a resend of a refund P云 accepted: that could pay twice if P云's lookup merely lags.
                return refund.Stage == RefundStages.Sent ? RefundStep.Retry : RefundStep.Resend;
            case PyunRefundAnswerKind.Found:
                if ((answer.PaySerial is { } serial && serial != refund.PaySerial) || (answer.Value is { } value && value != refund.Amount))
                {
                    return RefundStep.Foreign;
                }

                return answer.Process switch
                {
                    PyunRefundProcess.Succeeded => RefundStep.Succeeded,
                    PyunRefundProcess.Failed => RefundStep.Failed,
                    _ => RefundStep.Sent,
                };
            default:
                return RefundStep.Retry;
        }
    }

    /// <summary>P云's reason for a failed refund, as the API shows it.</summary>
    public static string FailureReason(PyunRefundAnswer answer) =>
        answer.Message is { Length: > 0 } message ? $"P云 {answer.Code}: {message}" : $"P云 {answer.Code}: the refund failed";

    /// <summary>
    /// Ends a Pending refund (Succeeded or Failed) and moves its amount on the order and attempt rows: out of
    /// refunding, and into refunded when it succeeded. False (nothing changed) when it was already final.
    /// </summary>
    public static bool Complete(OrderEntity order, AttemptEntity attempt, RefundEntity refund, RefundStatus status, string? failureReason,
        string? refundSerial, DateTimeOffset now)
    {
        if (refund.IsFinal || status == RefundStatus.Pending)
        {
            return false;
        }

        refund.StatusValue = status;
        refund.CompletedAt = now;
        refund.FailureReason = failureReason;
        refund.RefundSerial = refundSerial ?? refund.RefundSerial;
        order.RefundingAmount -= refund.Amount;
        attempt.RefundingAmount -= refund.Amount;
        if (status == RefundStatus.Succeeded)
        {
            order.RefundedAmount += refund.Amount;
            attempt.RefundedAmount += refund.Amount;
        }

        order.UpdatedAt = now;
        return true;
    }

    /// <summary>
    /// The delay before round <paramref name="nextRound"/> (1-based: the rounds after the first send), or null past
    /// <paramref name="maxRounds"/>: <paramref name="backoff"/> × 2^(nextRound−1), never shorter than
    /// <paramref name="minimum"/> (a send's timeout and margin), never past the queue's limit.
    /// </summary>
    public static TimeSpan? NextRoundDelay(int nextRound, int maxRounds, TimeSpan backoff, TimeSpan minimum)
    {
        if (nextRound < 1 || nextRound > maxRounds)
        {
            return null;
        }

        var ticks = backoff.Ticks * Math.Pow(2, Math.Min(nextRound - 1, 30));
        var delay = ticks >= OrderLifecycle.MaxCheckDelay.Ticks ? OrderLifecycle.MaxCheckDelay : TimeSpan.FromTicks((long)ticks);
        return delay < minimum ? minimum : delay;
    }
}
