using System.Diagnostics.CodeAnalysis;
using PaymentFunctions.Orders;
using PaymentFunctions.WeChatPay;

namespace PaymentFunctions.PayScore;

/// <summary>
/// Every Pay Score state rule, in one place and pure (no storage, no clock of its own): the order states can
/// happen in (WeChat Pay API v3, 支付分 查询支付分订单: state, state_description), what an observation does to the
/// stored row, and which orders may be queried, completed or cancelled. An observation only ever moves an order
/// forward, so a late USER_CONFIRM never undoes USER_PAID and nothing leaves REVOKED, EXPIRED or DONE.
/// </summary>
public static class PayScoreLifecycle
{
    /// <summary>How far along the order is; 0 for a state we do not know (which then changes nothing).</summary>
    public static int Rank(string? state, string? description) => (state, description) switch
    {
        (PayScoreStates.Created, _) => 1,
        (PayScoreStates.Doing, PayScoreStates.MchComplete) => 3,
        (PayScoreStates.Doing, _) => 2, // USER_CONFIRM
        (PayScoreStates.Done, _) => 4,
        (PayScoreStates.Revoked, _) or (PayScoreStates.Expired, _) => 4,
        _ => 0,
    };

    public static int Rank(PayScoreOrderEntity e) => Rank(e.State, e.StateDescription);

    public static int Rank(PayScoreServiceOrder o) => Rank(o.State, o.StateDescription);

    /// <summary>WeChat accepted the create; before that the row is only our claim on the number.</summary>
    public static bool IsCreated(PayScoreOrderEntity e) => e.State.Length > 0;

    /// <summary>Confirmed means the user accepted: DOING (USER_CONFIRM or MCH_COMPLETE) or DONE, never just CREATED.</summary>
    public static bool IsConfirmed(PayScoreOrderEntity e) => e.State is PayScoreStates.Doing or PayScoreStates.Done;

    /// <summary>Paid means DONE with the collection USER_PAID.</summary>
    public static bool IsPaid(PayScoreOrderEntity e) => e.State == PayScoreStates.Done && e.CollectionState == PayScoreStates.UserPaid;

    public static bool IsFinal(PayScoreOrderEntity e) => e.State is PayScoreStates.Done or PayScoreStates.Revoked or PayScoreStates.Expired;

    /// <summary>A poll by our own number may ask WeChat: the order is not final and nobody asked within the interval.</summary>
    public static bool MayQuery(PayScoreOrderEntity e, DateTimeOffset now, TimeSpan interval) =>
        !IsFinal(e) && !(e.LastQueryAt is { } last && now - last < interval);

    /// <summary>
    /// What a scheduled check of the order waits for (<see cref="PayScoreCheckStage"/>): CREATED ends by the user's
    /// confirmation or by WeChat expiring it, DOING/MCH_COMPLETE by the deduction. Null for the states nothing ends by
    /// itself (DOING/USER_CONFIRM waits for the merchant's complete or cancel) and for final ones.
    /// </summary>
    public static PayScoreCheckStage? CheckStage(PayScoreOrderEntity e) => (e.State, e.StateDescription) switch
    {
        (PayScoreStates.Created, _) => PayScoreCheckStage.Unconfirmed,
        (PayScoreStates.Doing, PayScoreStates.MchComplete) => PayScoreCheckStage.Collecting,
        _ => null,
    };

    /// <summary>A check scheduled for <paramref name="stage"/> still has anything to learn: the order exists and is still in that stage.</summary>
    public static bool NeedsCheck([NotNullWhen(true)] PayScoreOrderEntity? e, PayScoreCheckStage stage) => e is { IsCreated: true } && CheckStage(e) == stage;

    /// <summary>
    /// When the first check of <paramref name="stage"/> runs: an unconfirmed order when WeChat would expire it
    /// (<paramref name="unconfirmedLifetime"/> after it was created), a completed one <paramref name="backoff"/> after
    /// the complete. Never negative, never past <see cref="OrderLifecycle.MaxCheckDelay"/>: a longer wait is chained
    /// (<see cref="WaitBeforeCheck"/>).
    /// </summary>
    public static TimeSpan FirstCheckDelay(PayScoreCheckStage stage, DateTimeOffset createdAt, DateTimeOffset now, TimeSpan unconfirmedLifetime, TimeSpan backoff) =>
        Clamp(stage == PayScoreCheckStage.Unconfirmed ? createdAt + unconfirmedLifetime - now : backoff);

    /// <summary>
    /// A check that shows up before its stage is due waits again instead of asking WeChat: the rest of an unconfirmed
    /// order's lifetime, at most <see cref="OrderLifecycle.MaxCheckDelay"/> per hop (a queue message is invisible for
    /// 7 days at most). Null when the check is due (a collecting order always is).
    /// </summary>
    public static TimeSpan? WaitBeforeCheck(PayScoreOrderEntity e, PayScoreCheckStage stage, DateTimeOffset now, TimeSpan unconfirmedLifetime) =>
        stage == PayScoreCheckStage.Unconfirmed && e.CreatedAt + unconfirmedLifetime - now is var left && left > TimeSpan.Zero ? Clamp(left) : null;

    /// <summary>
    /// After check <paramref name="round"/> (1-based) left the order still in its stage: the delay before the next,
    /// <paramref name="backoff"/> × 2^round (capped at <see cref="OrderLifecycle.MaxCheckDelay"/>), or null once
    /// <paramref name="maxRounds"/> checks were made or the order left the stage (<paramref name="stillNeeded"/> false).
    /// </summary>
    public static TimeSpan? NextCheckDelay(bool stillNeeded, int round, int maxRounds, TimeSpan backoff) =>
        OrderLifecycle.NextCheckDelay(stillNeeded, round, maxRounds, backoff);

    private static TimeSpan Clamp(TimeSpan delay) =>
        delay < TimeSpan.Zero ? TimeSpan.Zero : delay > OrderLifecycle.MaxCheckDelay ? OrderLifecycle.MaxCheckDelay : delay;

    /// <summary>Only a confirmed order that is not yet completed (DOING/USER_CONFIRM) can be completed.</summary>
    public static bool CanComplete(PayScoreOrderEntity e, [NotNullWhen(false)] out string? problem)
    {
        if (e.State == PayScoreStates.Doing && e.StateDescription == PayScoreStates.UserConfirm)
        {
            problem = null;
            return true;
        }

        problem = e.State == PayScoreStates.Created
            ? "The user has not confirmed this order yet; it cannot be completed."
            : $"The order is {e.State}/{e.StateDescription}; only a confirmed order (DOING/USER_CONFIRM) can be completed.";
        return false;
    }

    /// <summary>
    /// WeChat cancels CREATED, DOING/USER_CONFIRM and DOING/MCH_COMPLETE while the collection is USER_PAYING
    /// (WeChat Pay API v3, 支付分 取消支付分订单); a final order cannot be cancelled: DONE was paid (refund it
    /// instead), REVOKED/EXPIRED are over.
    /// </summary>
    public static bool CanCancel(PayScoreOrderEntity e, [NotNullWhen(false)] out string? problem)
    {
        if (!IsFinal(e))
        {
            problem = null;
            return true;
        }

        problem = e.State == PayScoreStates.Done
            ? "The order is DONE (paid); WeChat Pay cancels only CREATED or DOING orders, so refund it instead."
            : $"The order is {e.State}; WeChat Pay cancels only CREATED or DOING orders.";
        return false;
    }

    /// <summary>Moves the row forward to what was observed, if that is further along; returns what happened.</summary>
    public static string Decide(PayScoreOrderEntity order, PayScoreServiceOrder observed)
    {
        var current = Rank(order);
        var next = Rank(observed);
        if (next == 0)
        {
            return $"ignored: unknown state {observed.State}";
        }

        if (next <= current)
        {
            if (order.State == PayScoreStates.Done && observed.State == PayScoreStates.Done && observed.Collection is { } reported)
            {
                PayScoreRefundLifecycle.RecordDeduction(order, reported, replace: false); // a deduction first reported by a later DONE
            }

            return next == current ? "unchanged" : $"ignored: {observed.State}/{observed.StateDescription} arrived after {Describe(order)}";
        }

        // A merge skips null properties, so a cleared field is written as "" (DONE has no state_description).
        order.State = observed.State!;
        order.StateDescription = observed.StateDescription ?? "";
        order.CollectionState = observed.Collection?.State ?? "";
        order.TotalAmount = observed.TotalAmount ?? observed.Collection?.TotalAmount ?? order.TotalAmount;
        if (observed.Collection is { } collection)
        {
            order.PaidAmount = collection.PaidAmount ?? order.PaidAmount;
            order.TransactionId = collection.Details?.LastOrDefault(d => d.TransactionId is not null)?.TransactionId ?? order.TransactionId;
            PayScoreRefundLifecycle.RecordDeduction(order, collection, replace: true);
        }

        return order.State switch
        {
            PayScoreStates.Doing when order.StateDescription == PayScoreStates.UserConfirm => "confirmed",
            PayScoreStates.Doing => "completed, collecting",
            PayScoreStates.Done => "paid",
            _ => order.State.ToLowerInvariant(),
        };
    }

    /// <summary>
    /// The milestones a row has reached, each the cause of one event: confirmed from DOING/USER_CONFIRM on (DOING or
    /// DONE), completed from DOING/MCH_COMPLETE on (DONE too: WeChat ends an order DONE only after the complete),
    /// paid at DONE/USER_PAID, cancelled at REVOKED, expired at EXPIRED.
    /// </summary>
    public static PayScoreMilestones Milestones(string? state, string? description, string? collection)
    {
        var reached = PayScoreMilestones.None;
        if (state is PayScoreStates.Doing or PayScoreStates.Done)
        {
            reached |= PayScoreMilestones.Confirmed;
        }

        if (state == PayScoreStates.Done || (state == PayScoreStates.Doing && description == PayScoreStates.MchComplete))
        {
            reached |= PayScoreMilestones.Completed;
        }

        if (state == PayScoreStates.Done && collection == PayScoreStates.UserPaid)
        {
            reached |= PayScoreMilestones.Paid;
        }

        return reached | state switch
        {
            PayScoreStates.Revoked => PayScoreMilestones.Cancelled,
            PayScoreStates.Expired => PayScoreMilestones.Expired,
            _ => PayScoreMilestones.None,
        };
    }

    public static PayScoreMilestones Milestones(PayScoreOrderEntity e) => Milestones(e.State, e.StateDescription, e.CollectionState);

    /// <summary>
    /// The events a change from <paramref name="before"/> to <paramref name="after"/> causes: one per milestone reached
    /// now and not before, in lifecycle order (WeChat can skip states: CREATED straight to DONE/USER_PAID is confirmed,
    /// completed, paid). A milestone left behind (REVOKED after DOING) is no event of its own.
    /// </summary>
    public static IReadOnlyList<string> EventsBetween(PayScoreMilestones before, PayScoreMilestones after)
    {
        var events = new List<string>();
        foreach (var (milestone, type) in MilestoneEvents)
        {
            if (after.HasFlag(milestone) && !before.HasFlag(milestone))
            {
                events.Add(type);
            }
        }

        return events;
    }

    private static readonly (PayScoreMilestones Milestone, string Type)[] MilestoneEvents =
    [
        (PayScoreMilestones.Confirmed, Events.EventTypes.PayScoreConfirmed),
        (PayScoreMilestones.Completed, Events.EventTypes.PayScoreCompleted),
        (PayScoreMilestones.Paid, Events.EventTypes.PayScorePaid),
        (PayScoreMilestones.Cancelled, Events.EventTypes.PayScoreCancelled),
        (PayScoreMilestones.Expired, Events.EventTypes.PayScoreExpired),
    ];

    /// <summary>The row's state as the timeline shows it, e.g. <c>DOING/MCH_COMPLETE/USER_PAYING</c>.</summary>
    public static string Describe(PayScoreOrderEntity e) =>
        string.Join('/', new[] { e.State, e.StateDescription, e.CollectionState }.Where(s => !string.IsNullOrEmpty(s)));
}

/// <summary>What a scheduled check of a Pay Score order waits for; each stage has its own chain of checks.</summary>
public enum PayScoreCheckStage
{
    /// <summary>CREATED: the user confirms, or WeChat expires the order (EXPIRED after its lifetime unconfirmed).</summary>
    Unconfirmed,

    /// <summary>DOING/MCH_COMPLETE, collection USER_PAYING: the deduction succeeds (DONE/USER_PAID).</summary>
    Collecting,
}

/// <summary>What a Pay Score order has reached; each milestone is announced by one event (<see cref="PayScoreLifecycle.EventsBetween"/>).</summary>
[Flags]
public enum PayScoreMilestones
{
    None = 0,
    Confirmed = 1,
    Completed = 2,
    Paid = 4,
    Cancelled = 8,
    Expired = 16,
}
