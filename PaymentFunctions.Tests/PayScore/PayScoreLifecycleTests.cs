using PaymentFunctions.PayScore;
using PaymentFunctions.WeChatPay;

namespace PaymentFunctions.Tests.PayScore;

/// <summary>
/// Every Pay Score state rule as a table: each stored state × each observation → the decision and the row after
/// it, and the truth tables of the guards (confirmed, paid, final, query, complete, cancel).
/// </summary>
public sealed class PayScoreLifecycleTests
{
    /// <summary>The rows a created order can be stored as, by how the timeline describes them.</summary>
    private static PayScoreOrderEntity Stored(string name) => name switch
    {
        "CREATED" => Row(PayScoreStates.Created, null, null),
        "DOING/USER_CONFIRM" => Row(PayScoreStates.Doing, PayScoreStates.UserConfirm, null),
        "DOING/MCH_COMPLETE/USER_PAYING" => Row(PayScoreStates.Doing, PayScoreStates.MchComplete, PayScoreStates.UserPaying, total: 700, paid: 0),
        "DONE/USER_PAID" => Row(PayScoreStates.Done, "", PayScoreStates.UserPaid, total: 700, paid: 700, transaction: "4200000001"),
        "REVOKED" => Row(PayScoreStates.Revoked, "", ""),
        "EXPIRED" => Row(PayScoreStates.Expired, "", ""),
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, null),
    };

    private static PayScoreOrderEntity Row(string state, string? description, string? collection, long? total = 500, long? paid = null, string? transaction = null) => new()
    {
        PartitionKey = "PS1", State = state, StateDescription = description, CollectionState = collection,
        TotalAmount = total, PaidAmount = paid, TransactionId = transaction,
    };

    /// <summary>What WeChat Pay can report (a callback or an answer), by name.</summary>
    private static PayScoreServiceOrder Observed(string name) => name switch
    {
        "CREATED" => Report(PayScoreStates.Created),
        "DOING/USER_CONFIRM" => Report(PayScoreStates.Doing, PayScoreStates.UserConfirm),
        "DOING/MCH_COMPLETE" => Report(PayScoreStates.Doing, PayScoreStates.MchComplete,
            new PayScoreCollection { State = PayScoreStates.UserPaying, TotalAmount = 900, PayingAmount = 900, PaidAmount = 0 }, 900),
        "DONE" => Report(PayScoreStates.Done, null,
            new PayScoreCollection
            {
                State = PayScoreStates.UserPaid, TotalAmount = 900, PaidAmount = 900,
                Details = [new PayScoreCollectionDetail { Seq = 1, Amount = 900, PaidType = "NEWTON", TransactionId = "4200000009" }],
            }, 900),
        "REVOKED" => Report(PayScoreStates.Revoked),
        "EXPIRED" => Report(PayScoreStates.Expired),
        "PAUSED" => Report("PAUSED"),
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, null),
    };

    private static PayScoreServiceOrder Report(string state, string? description = null, PayScoreCollection? collection = null, long? total = null) =>
        new() { OutOrderNo = "PS1", State = state, StateDescription = description, Collection = collection, TotalAmount = total };

    private const string C = "CREATED", Uc = "DOING/USER_CONFIRM", Mc = "DOING/MCH_COMPLETE/USER_PAYING", D = "DONE/USER_PAID", R = "REVOKED", E = "EXPIRED";

    /// <summary>Stored state, observation, decision. An observation moves the row only when it is further along.</summary>
    public static TheoryData<string, string, string> Decisions => new()
    {
        { C, "CREATED", "unchanged" },
        { Uc, "CREATED", "ignored: CREATED/ arrived after DOING/USER_CONFIRM" },
        { Mc, "CREATED", "ignored: CREATED/ arrived after DOING/MCH_COMPLETE/USER_PAYING" },
        { D, "CREATED", "ignored: CREATED/ arrived after DONE/USER_PAID" },
        { R, "CREATED", "ignored: CREATED/ arrived after REVOKED" },
        { E, "CREATED", "ignored: CREATED/ arrived after EXPIRED" },

        { C, "DOING/USER_CONFIRM", "confirmed" },
        { Uc, "DOING/USER_CONFIRM", "unchanged" },
        { Mc, "DOING/USER_CONFIRM", "ignored: DOING/USER_CONFIRM arrived after DOING/MCH_COMPLETE/USER_PAYING" },
        { D, "DOING/USER_CONFIRM", "ignored: DOING/USER_CONFIRM arrived after DONE/USER_PAID" },
        { R, "DOING/USER_CONFIRM", "ignored: DOING/USER_CONFIRM arrived after REVOKED" },
        { E, "DOING/USER_CONFIRM", "ignored: DOING/USER_CONFIRM arrived after EXPIRED" },

        { C, "DOING/MCH_COMPLETE", "completed, collecting" },
        { Uc, "DOING/MCH_COMPLETE", "completed, collecting" },
        { Mc, "DOING/MCH_COMPLETE", "unchanged" },
        { D, "DOING/MCH_COMPLETE", "ignored: DOING/MCH_COMPLETE arrived after DONE/USER_PAID" },
        { R, "DOING/MCH_COMPLETE", "ignored: DOING/MCH_COMPLETE arrived after REVOKED" },
        { E, "DOING/MCH_COMPLETE", "ignored: DOING/MCH_COMPLETE arrived after EXPIRED" },

        { C, "DONE", "paid" },
        { Uc, "DONE", "paid" },
        { Mc, "DONE", "paid" },
        { D, "DONE", "unchanged" },
        { R, "DONE", "unchanged" },
        { E, "DONE", "unchanged" },

        { C, "REVOKED", "revoked" },
        { Uc, "REVOKED", "revoked" },
        { Mc, "REVOKED", "revoked" },
        { D, "REVOKED", "unchanged" },
        { R, "REVOKED", "unchanged" },
        { E, "REVOKED", "unchanged" },

        { C, "EXPIRED", "expired" },
        { Uc, "EXPIRED", "expired" },
        { Mc, "EXPIRED", "expired" },
        { D, "EXPIRED", "unchanged" },
        { R, "EXPIRED", "unchanged" },
        { E, "EXPIRED", "unchanged" },

        { C, "PAUSED", "ignored: unknown state PAUSED" },
        { Uc, "PAUSED", "ignored: unknown state PAUSED" },
        { Mc, "PAUSED", "ignored: unknown state PAUSED" },
        { D, "PAUSED", "ignored: unknown state PAUSED" },
        { R, "PAUSED", "ignored: unknown state PAUSED" },
        { E, "PAUSED", "ignored: unknown state PAUSED" },
    };

    private static readonly HashSet<string> Moves = ["confirmed", "completed, collecting", "paid", "revoked", "expired"];

    private static (string, string?, string?, long?, long?, string?) Snapshot(PayScoreOrderEntity e) =>
        (e.State, e.StateDescription, e.CollectionState, e.TotalAmount, e.PaidAmount, e.TransactionId);

    [Theory]
    [MemberData(nameof(Decisions))]
    public void Each_observation_on_each_stored_state_decides_as_tabled(string stored, string observed, string expected)
    {
        var order = Stored(stored);
        var before = Snapshot(order);
        var report = Observed(observed);

        Assert.Equal(expected, PayScoreLifecycle.Decide(order, report));

        if (Moves.Contains(expected))
        {
            // Moved to what was observed; a merge skips nulls, so cleared fields become "".
            Assert.Equal(report.State, order.State);
            Assert.Equal(report.StateDescription ?? "", order.StateDescription);
            Assert.Equal(report.Collection?.State ?? "", order.CollectionState);
            Assert.Equal(report.TotalAmount ?? before.Item4, order.TotalAmount);
            Assert.Equal(report.Collection?.PaidAmount ?? before.Item5, order.PaidAmount);
            Assert.Equal((report.Collection?.Details is { Count: > 0 } details ? details[^1].TransactionId : null) ?? before.Item6, order.TransactionId);
            Assert.True(PayScoreLifecycle.Rank(order) > PayScoreLifecycle.Rank(Stored(stored)));
        }
        else
        {
            Assert.Equal(before, Snapshot(order));
        }
    }

    [Fact]
    public void The_decision_table_covers_every_stored_state_and_observation()
    {
        string[] stored = [C, Uc, Mc, D, R, E];
        string[] observed = ["CREATED", "DOING/USER_CONFIRM", "DOING/MCH_COMPLETE", "DONE", "REVOKED", "EXPIRED", "PAUSED"];
        var rows = Decisions.Select(r => (r.Data.Item1, r.Data.Item2)).ToList();

        Assert.Equal(stored.Length * observed.Length, rows.Count);
        Assert.True(rows.ToHashSet().SetEquals(from s in stored from o in observed select (s, o)));
    }

    [Fact]
    public void Describe_names_the_state_as_the_timeline_shows_it()
    {
        Assert.Equal("CREATED", PayScoreLifecycle.Describe(Stored(C)));
        Assert.Equal("DOING/MCH_COMPLETE/USER_PAYING", PayScoreLifecycle.Describe(Stored(Mc)));
        Assert.Equal("DONE/USER_PAID", PayScoreLifecycle.Describe(Stored(D)));
        Assert.Equal("", PayScoreLifecycle.Describe(new PayScoreOrderEntity()));
    }

    /// <summary>Stored state → created, confirmed, paid, final, completable, cancellable.</summary>
    public static TheoryData<string, bool, bool, bool, bool, bool> Guards => new()
    {
        { C, false, false, false, false, true },
        { Uc, true, false, false, true, true },
        { Mc, true, false, false, false, true },
        { D, true, true, true, false, false },
        { R, false, false, true, false, false },
        { E, false, false, true, false, false },
    };

    [Theory]
    [MemberData(nameof(Guards))]
    public void Guards_answer_as_tabled(string stored, bool confirmed, bool paid, bool final, bool completable, bool cancellable)
    {
        var order = Stored(stored);

        Assert.True(PayScoreLifecycle.IsCreated(order));
        Assert.Equal(confirmed, PayScoreLifecycle.IsConfirmed(order));
        Assert.Equal(paid, PayScoreLifecycle.IsPaid(order));
        Assert.Equal(final, PayScoreLifecycle.IsFinal(order));
        Assert.Equal(completable, PayScoreLifecycle.CanComplete(order, out var notCompletable));
        Assert.Equal(completable, notCompletable is null);
        Assert.Equal(cancellable, PayScoreLifecycle.CanCancel(order, out var notCancellable));
        Assert.Equal(cancellable, notCancellable is null);
    }

    [Fact]
    public void A_claim_not_yet_created_at_WeChat_is_not_created()
    {
        Assert.False(PayScoreLifecycle.IsCreated(new PayScoreOrderEntity { PartitionKey = "PS1" }));
        Assert.False(new PayScoreOrderEntity { PartitionKey = "PS1" }.IsCreated);
    }

    [Fact]
    public void Done_without_the_collection_paid_is_not_paid() =>
        Assert.False(PayScoreLifecycle.IsPaid(Row(PayScoreStates.Done, "", PayScoreStates.UserPaying)));

    public static TheoryData<string, string> CompleteProblems => new()
    {
        { C, "The user has not confirmed this order yet; it cannot be completed." },
        { Mc, "The order is DOING/MCH_COMPLETE; only a confirmed order (DOING/USER_CONFIRM) can be completed." },
        { D, "The order is DONE/; only a confirmed order (DOING/USER_CONFIRM) can be completed." },
        { R, "The order is REVOKED/; only a confirmed order (DOING/USER_CONFIRM) can be completed." },
        { E, "The order is EXPIRED/; only a confirmed order (DOING/USER_CONFIRM) can be completed." },
    };

    [Theory]
    [MemberData(nameof(CompleteProblems))]
    public void Complete_guard_says_why_not(string stored, string problem)
    {
        Assert.False(PayScoreLifecycle.CanComplete(Stored(stored), out var actual));
        Assert.Equal(problem, actual);
    }

    public static TheoryData<string, string> CancelProblems => new()
    {
        { D, "The order is DONE (paid); WeChat Pay cancels only CREATED or DOING orders, so refund it instead." },
        { R, "The order is REVOKED; WeChat Pay cancels only CREATED or DOING orders." },
        { E, "The order is EXPIRED; WeChat Pay cancels only CREATED or DOING orders." },
    };

    [Theory]
    [MemberData(nameof(CancelProblems))]
    public void Cancel_guard_says_why_not(string stored, string problem)
    {
        Assert.False(PayScoreLifecycle.CanCancel(Stored(stored), out var actual));
        Assert.Equal(problem, actual);
    }

    private static readonly DateTimeOffset Now = new(2025, 1, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);

    /// <summary>Stored state, seconds since the last query (null: never), whether a poll may ask WeChat now.</summary>
    public static TheoryData<string, int?, bool> Queries => new()
    {
        { C, null, true },
        { C, 4, false },
        { C, 5, true },
        { Uc, 0, false },
        { Uc, 60, true },
        { Mc, null, true },
        { D, null, false },
        { R, 60, false },
        { E, null, false },
    };

    [Theory]
    [MemberData(nameof(Queries))]
    public void A_poll_asks_WeChat_only_for_an_open_order_not_asked_within_the_interval(string stored, int? secondsAgo, bool may)
    {
        var order = Stored(stored);
        order.LastQueryAt = secondsAgo is { } s ? Now.AddSeconds(-s) : null;

        Assert.Equal(may, PayScoreLifecycle.MayQuery(order, Now, Interval));
    }
}
