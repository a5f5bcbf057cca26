using System.Text.Json;
using PaymentFunctions.Notifications;
using PaymentFunctions.PayScore;
using PaymentFunctions.WeChatPay;

namespace PaymentFunctions.Tests.PayScore;

/// <summary>
/// The scheduled-check rules of Pay Score orders (pure): which stage an order waits in, whether a check of a stage
/// still has anything to learn, when the first check runs, how a long wait is chained, and the backoff after it.
/// </summary>
public sealed class PayScoreCheckRulesTests
{
    private static readonly DateTimeOffset Created = new(2026, 11, 25, 2, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Lifetime = TimeSpan.FromDays(30);
    private static readonly TimeSpan SixDays = TimeSpan.FromDays(6);

    private static PayScoreOrderEntity Row(string state, string? description = null, string? collection = null) => new()
    {
        PartitionKey = "PS1", State = state, StateDescription = description, CollectionState = collection, CreatedAt = Created,
    };

    private static PayScoreOrderEntity Stored(string name) => name switch
    {
        "claim" => Row(""),
        "CREATED" => Row(PayScoreStates.Created),
        "DOING/USER_CONFIRM" => Row(PayScoreStates.Doing, PayScoreStates.UserConfirm),
        "DOING/MCH_COMPLETE/USER_PAYING" => Row(PayScoreStates.Doing, PayScoreStates.MchComplete, PayScoreStates.UserPaying),
        "DONE/USER_PAID" => Row(PayScoreStates.Done, "", PayScoreStates.UserPaid),
        "REVOKED" => Row(PayScoreStates.Revoked, "", ""),
        "EXPIRED" => Row(PayScoreStates.Expired, "", ""),
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, null),
    };

    [Theory]
    [InlineData("claim", null)]                           // WeChat has not accepted it: nothing to check
    [InlineData("CREATED", PayScoreCheckStage.Unconfirmed)]
    [InlineData("DOING/USER_CONFIRM", null)]              // waits for the merchant's complete or cancel, not for WeChat
    [InlineData("DOING/MCH_COMPLETE/USER_PAYING", PayScoreCheckStage.Collecting)]
    [InlineData("DONE/USER_PAID", null)]
    [InlineData("REVOKED", null)]
    [InlineData("EXPIRED", null)]
    public void An_order_waits_for_WeChat_only_while_created_or_collecting(string stored, PayScoreCheckStage? stage) =>
        Assert.Equal(stage, PayScoreLifecycle.CheckStage(Stored(stored)));

    [Theory]
    [InlineData("CREATED", PayScoreCheckStage.Unconfirmed, true)]
    [InlineData("CREATED", PayScoreCheckStage.Collecting, false)]
    [InlineData("DOING/USER_CONFIRM", PayScoreCheckStage.Unconfirmed, false)] // confirmed: the expiry check has nothing to learn
    [InlineData("DOING/MCH_COMPLETE/USER_PAYING", PayScoreCheckStage.Collecting, true)]
    [InlineData("DOING/MCH_COMPLETE/USER_PAYING", PayScoreCheckStage.Unconfirmed, false)] // another chain's stage: never two chains
    [InlineData("DONE/USER_PAID", PayScoreCheckStage.Collecting, false)]
    [InlineData("REVOKED", PayScoreCheckStage.Collecting, false)]
    [InlineData("EXPIRED", PayScoreCheckStage.Unconfirmed, false)]
    [InlineData("claim", PayScoreCheckStage.Unconfirmed, false)]
    public void A_check_is_needed_only_while_the_order_is_still_in_its_stage(string stored, PayScoreCheckStage stage, bool needed) =>
        Assert.Equal(needed, PayScoreLifecycle.NeedsCheck(Stored(stored), stage));

    [Fact]
    public void A_check_for_an_order_that_is_gone_is_not_needed() =>
        Assert.False(PayScoreLifecycle.NeedsCheck(null, PayScoreCheckStage.Collecting));

    [Theory]
    [InlineData(0, 30 * 86400, 6 * 86400.0)]           // 30 days away: the first hop is capped at 6 days
    [InlineData(27 * 86400, 30 * 86400, 3 * 86400.0)]  // 3 days left
    [InlineData(0, 2, 2.0)]                            // a lifetime of seconds (tests)
    [InlineData(40 * 86400, 30 * 86400, 0.0)]          // already past it: check now
    public void The_first_check_of_an_unconfirmed_order_runs_when_WeChat_would_expire_it(int secondsSinceCreate, int lifetimeSeconds, double expectedSeconds) =>
        Assert.Equal(expectedSeconds, PayScoreLifecycle.FirstCheckDelay(PayScoreCheckStage.Unconfirmed, Created, Created.AddSeconds(secondsSinceCreate),
            TimeSpan.FromSeconds(lifetimeSeconds), TimeSpan.FromMinutes(1)).TotalSeconds);

    [Theory]
    [InlineData(60, 60.0)]
    [InlineData(7 * 86400, 6 * 86400.0)] // never past the queue's limit
    public void The_first_check_of_a_completed_order_runs_one_backoff_after_the_complete(int backoffSeconds, double expectedSeconds) =>
        Assert.Equal(expectedSeconds, PayScoreLifecycle.FirstCheckDelay(PayScoreCheckStage.Collecting, Created, Created.AddDays(3), Lifetime,
            TimeSpan.FromSeconds(backoffSeconds)).TotalSeconds);

    [Fact]
    public void Thirty_days_are_waited_in_hops_of_at_most_six_days_and_then_the_check_is_due()
    {
        var order = Stored("CREATED");
        var now = Created;
        var hops = new List<TimeSpan> { PayScoreLifecycle.FirstCheckDelay(PayScoreCheckStage.Unconfirmed, Created, now, Lifetime, TimeSpan.FromMinutes(1)) };
        now += hops[0];
        while (PayScoreLifecycle.WaitBeforeCheck(order, PayScoreCheckStage.Unconfirmed, now, Lifetime) is { } wait)
        {
            Assert.True(hops.Count < 10, "the chain does not end");
            hops.Add(wait);
            now += wait;
        }

        Assert.Equal(Enumerable.Repeat(SixDays, 5), hops);
        Assert.Equal(Created + Lifetime, now);
    }

    [Theory]
    [InlineData(0, 6 * 86400.0)]
    [InlineData(25 * 86400, 5 * 86400.0)]
    [InlineData(30 * 86400 - 1, 1.0)]
    [InlineData(30 * 86400, null)]     // due: ask WeChat
    [InlineData(31 * 86400, null)]
    public void An_unconfirmed_check_that_shows_up_early_waits_the_rest_in_a_hop(int secondsSinceCreate, double? expectedSeconds) =>
        Assert.Equal(expectedSeconds, PayScoreLifecycle.WaitBeforeCheck(Stored("CREATED"), PayScoreCheckStage.Unconfirmed, Created.AddSeconds(secondsSinceCreate), Lifetime)?.TotalSeconds);

    [Fact]
    public void A_collecting_check_is_always_due() =>
        Assert.Null(PayScoreLifecycle.WaitBeforeCheck(Stored("DOING/MCH_COMPLETE/USER_PAYING"), PayScoreCheckStage.Collecting, Created, Lifetime));

    [Theory]
    [InlineData(true, 1, 12, 60, 120.0)]
    [InlineData(true, 3, 12, 60, 480.0)]
    [InlineData(true, 12, 12, 60, null)]        // the last round schedules nothing
    [InlineData(false, 1, 12, 60, null)]        // the order left its stage: no next check
    [InlineData(true, 19, 20, 60, 518400.0)]    // capped at 6 days
    public void The_next_check_backs_off_doubling_until_the_last_round(bool stillNeeded, int round, int maxRounds, int backoffSeconds, double? expectedSeconds) =>
        Assert.Equal(expectedSeconds, PayScoreLifecycle.NextCheckDelay(stillNeeded, round, maxRounds, TimeSpan.FromSeconds(backoffSeconds))?.TotalSeconds);

    [Fact]
    public void A_check_reads_back_from_its_payload_as_it_was_queued()
    {
        var check = new PayScoreCheck("PS-1|a*b", PayScoreCheckStage.Collecting, 3);
        var payload = check.ToPayload();

        Assert.Equal("""{"outOrderNo":"PS-1|a*b","stage":"collecting","round":3}""", payload.GetRawText());
        Assert.Equal(check, PayScoreCheck.FromPayload(payload));
        Assert.Equal("check-collecting-3", check.EventKey);
    }

    [Theory]
    [InlineData("""{"outOrderNo":"PS1","stage":"collecting","round":0}""")]
    [InlineData("""{"outOrderNo":"PS1","stage":"collecting","round":21}""")]
    [InlineData("""{"outOrderNo":"PS1","stage":"paying","round":1}""")]
    [InlineData("""{"outOrderNo":"PS1","stage":1,"round":1}""")]
    [InlineData("""{"outOrderNo":"PS1","round":1}""")]                 // a missing stage is not the first one
    [InlineData("""{"stage":"unconfirmed","round":1}""")]
    [InlineData("""{"outOrderNo":null,"stage":"unconfirmed","round":1}""")]
    [InlineData("""{"outOrderNo":"PS/1","stage":"unconfirmed","round":1}""")]
    [InlineData("""{"outOrderNo":"","stage":"unconfirmed","round":1}""")]
    [InlineData("[1]")]
    public void A_malformed_check_is_a_message_to_poison(string payload) =>
        Assert.Throws<InvalidMessageException>(() => PayScoreCheck.FromPayload(JsonDocument.Parse(payload).RootElement));
}
