using PaymentFunctions.Events;
using PaymentFunctions.PayScore;
using PaymentFunctions.WeChatPay;

namespace PaymentFunctions.Tests.Events;

/// <summary>
/// Which events a Pay Score change causes, as tables: the milestones of every state, the events of every forward
/// move (skipped states included, in lifecycle order), and the refund events.
/// </summary>
public sealed class PayScoreEventRulesTests
{
    private const string Confirmed = EventTypes.PayScoreConfirmed, Completed = EventTypes.PayScoreCompleted, Paid = EventTypes.PayScorePaid,
        Cancelled = EventTypes.PayScoreCancelled, Expired = EventTypes.PayScoreExpired;

    /// <summary>The states a row can be in, by how the timeline describes them.</summary>
    private static PayScoreMilestones Of(string name) => name switch
    {
        "" => PayScoreLifecycle.Milestones("", null, null), // claimed, not created at WeChat yet
        "CREATED" => PayScoreLifecycle.Milestones(PayScoreStates.Created, null, null),
        "DOING/USER_CONFIRM" => PayScoreLifecycle.Milestones(PayScoreStates.Doing, PayScoreStates.UserConfirm, null),
        "DOING/MCH_COMPLETE/USER_PAYING" => PayScoreLifecycle.Milestones(PayScoreStates.Doing, PayScoreStates.MchComplete, PayScoreStates.UserPaying),
        "DONE/USER_PAID" => PayScoreLifecycle.Milestones(PayScoreStates.Done, "", PayScoreStates.UserPaid),
        "DONE/USER_PAYING" => PayScoreLifecycle.Milestones(PayScoreStates.Done, "", PayScoreStates.UserPaying),
        "REVOKED" => PayScoreLifecycle.Milestones(PayScoreStates.Revoked, "", ""),
        "EXPIRED" => PayScoreLifecycle.Milestones(PayScoreStates.Expired, "", ""),
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, null),
    };

    public static TheoryData<string, PayScoreMilestones> MilestoneTable => new()
    {
        { "", PayScoreMilestones.None },
        { "CREATED", PayScoreMilestones.None },
        { "DOING/USER_CONFIRM", PayScoreMilestones.Confirmed },
        { "DOING/MCH_COMPLETE/USER_PAYING", PayScoreMilestones.Confirmed | PayScoreMilestones.Completed },
        { "DONE/USER_PAID", PayScoreMilestones.Confirmed | PayScoreMilestones.Completed | PayScoreMilestones.Paid },
        { "DONE/USER_PAYING", PayScoreMilestones.Confirmed | PayScoreMilestones.Completed },
        { "REVOKED", PayScoreMilestones.Cancelled },
        { "EXPIRED", PayScoreMilestones.Expired },
    };

    [Theory]
    [MemberData(nameof(MilestoneTable))]
    public void Each_state_has_reached_its_milestones(string state, PayScoreMilestones expected) =>
        Assert.Equal(expected, Of(state));

    /// <summary>Before, after, the events in the order they get their sequences.</summary>
    public static TheoryData<string, string, string[]> Moves => new()
    {
        { "CREATED", "CREATED", [] },
        { "CREATED", "DOING/USER_CONFIRM", [Confirmed] },
        { "CREATED", "DOING/MCH_COMPLETE/USER_PAYING", [Confirmed, Completed] },
        { "CREATED", "DONE/USER_PAID", [Confirmed, Completed, Paid] }, // WeChat skipped two states: three events, in order
        { "CREATED", "REVOKED", [Cancelled] },
        { "CREATED", "EXPIRED", [Expired] },
        { "DOING/USER_CONFIRM", "DOING/USER_CONFIRM", [] },
        { "DOING/USER_CONFIRM", "DOING/MCH_COMPLETE/USER_PAYING", [Completed] },
        { "DOING/USER_CONFIRM", "DONE/USER_PAID", [Completed, Paid] },
        { "DOING/USER_CONFIRM", "REVOKED", [Cancelled] }, // confirmed is left behind: no event of its own
        { "DOING/MCH_COMPLETE/USER_PAYING", "DONE/USER_PAID", [Paid] },
        { "DOING/MCH_COMPLETE/USER_PAYING", "REVOKED", [Cancelled] },
        { "DOING/MCH_COMPLETE/USER_PAYING", "DOING/MCH_COMPLETE/USER_PAYING", [] },
        { "DONE/USER_PAYING", "DONE/USER_PAID", [Paid] },
        { "DONE/USER_PAID", "DONE/USER_PAID", [] },
        { "REVOKED", "REVOKED", [] },
        { "EXPIRED", "EXPIRED", [] },
        { "", "CREATED", [] },
    };

    [Theory]
    [MemberData(nameof(Moves))]
    public void A_change_causes_one_event_per_milestone_it_reaches_in_lifecycle_order(string before, string after, string[] expected) =>
        Assert.Equal(expected, PayScoreLifecycle.EventsBetween(Of(before), Of(after)));

    [Fact]
    public void Every_milestone_event_is_a_known_event_type()
    {
        var all = PayScoreLifecycle.EventsBetween(PayScoreMilestones.None,
            PayScoreMilestones.Confirmed | PayScoreMilestones.Completed | PayScoreMilestones.Paid | PayScoreMilestones.Cancelled | PayScoreMilestones.Expired);
        Assert.Equal([Confirmed, Completed, Paid, Cancelled, Expired], all);
        Assert.All(all, t => Assert.Contains(t, EventTypes.All));
    }

    /// <summary>Every decision of <see cref="PayScoreLifecycle.Decide"/> from every stored state: the events follow the row's move, and a move back causes none.</summary>
    [Theory]
    [InlineData("CREATED", PayScoreStates.Done, null, PayScoreStates.UserPaid, new[] { Confirmed, Completed, Paid })]
    [InlineData("DONE/USER_PAID", PayScoreStates.Doing, PayScoreStates.UserConfirm, null, new string[0])] // a late USER_CONFIRM changes nothing
    [InlineData("REVOKED", PayScoreStates.Done, null, PayScoreStates.UserPaid, new string[0])] // nothing leaves REVOKED
    [InlineData("DOING/USER_CONFIRM", "PAUSED", null, null, new string[0])] // an unknown state changes nothing
    public void The_events_follow_what_Decide_does_to_the_row(string stored, string state, string? description, string? collection, string[] expected)
    {
        var parts = stored.Split('/');
        var row = new PayScoreOrderEntity
        {
            PartitionKey = "PS1", State = parts[0], StateDescription = parts.Length > 1 && parts[0] == PayScoreStates.Doing ? parts[1] : "",
            CollectionState = stored == "DONE/USER_PAID" ? PayScoreStates.UserPaid : "",
        };
        var before = PayScoreLifecycle.Milestones(row);

        PayScoreLifecycle.Decide(row, new PayScoreServiceOrder
        {
            OutOrderNo = "PS1", State = state, StateDescription = description,
            Collection = collection is null ? null : new PayScoreCollection { State = collection, TotalAmount = 300, PaidAmount = 300 },
        });

        Assert.Equal(expected, PayScoreLifecycle.EventsBetween(before, PayScoreLifecycle.Milestones(row)));
    }

    [Theory]
    [InlineData(RefundStatuses.Pending, RefundStatuses.Pending, null)]
    [InlineData(RefundStatuses.Pending, RefundStatuses.Succeeded, EventTypes.PayScoreRefundSucceeded)]
    [InlineData(RefundStatuses.Pending, RefundStatuses.Failed, EventTypes.PayScoreRefundFailed)]
    [InlineData(RefundStatuses.Succeeded, RefundStatuses.Succeeded, null)] // a replayed REFUND.SUCCESS
    [InlineData(RefundStatuses.Failed, RefundStatuses.Failed, null)]
    [InlineData(RefundStatuses.Succeeded, RefundStatuses.Failed, null)] // never happens (final never changes); still no second event
    public void A_refund_has_one_event_when_it_ends(string before, string after, string? expected) =>
        Assert.Equal(expected, PayScoreRefundLifecycle.EventFor(before, after));
}
