using PaymentFunctions.Orders;

namespace PaymentFunctions.Tests.Orders;

/// <summary>The scheduled-check rules: whether a check still has anything to learn, and when the next one runs.</summary>
public sealed class CheckScheduleTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 25, 2, 0, 0, TimeSpan.Zero);

    private static OrderEntity Order(OrderStatus status, int attempts, string? results) => new()
    {
        PartitionKey = "abcdefghijklmnopqrstuvwx",
        StatusValue = status,
        AttemptCount = attempts,
        AttemptResults = results,
        ExpiresAt = Now.AddHours(1),
    };

    [Theory]
    // Undecided attempts of an open order: check.
    [InlineData(OrderStatus.Pending, 1, null, 1, true)]
    [InlineData(OrderStatus.Pending, 1, "Y", 1, true)]
    [InlineData(OrderStatus.Created, 1, null, 1, true)]
    [InlineData(OrderStatus.Failed, 2, "F-", 2, true)]
    [InlineData(OrderStatus.Failed, 2, "-F", 1, true)] // another attempt failed; this one may have been paid
    // A decided attempt: nothing to learn.
    [InlineData(OrderStatus.Failed, 1, "F", 1, false)]
    [InlineData(OrderStatus.Pending, 2, "P-", 1, false)]
    // A final order: nothing to learn, whatever the attempt.
    [InlineData(OrderStatus.Paid, 2, "P-", 2, false)]
    [InlineData(OrderStatus.PaidAfterClose, 1, "P", 1, false)]
    [InlineData(OrderStatus.AmountMismatch, 1, "P", 1, false)]
    [InlineData(OrderStatus.Paid, 2, "-P", 1, false)]
    // An attempt the order does not have.
    [InlineData(OrderStatus.Pending, 1, null, 2, false)]
    [InlineData(OrderStatus.Pending, 1, null, 0, false)]
    public void A_check_is_needed_only_for_an_undecided_attempt_of_an_open_order(OrderStatus status, int attempts, string? results, int number, bool needed) =>
        Assert.Equal(needed, OrderLifecycle.NeedsCheck(Order(status, attempts, results), number));

    [Fact]
    public void A_check_for_an_order_that_is_gone_is_not_needed() => Assert.False(OrderLifecycle.NeedsCheck(null, 1));

    [Theory]
    [InlineData(true, 1, 5, 30, 60.0)]
    [InlineData(true, 2, 5, 30, 120.0)]
    [InlineData(true, 4, 5, 30, 480.0)]
    [InlineData(true, 5, 5, 30, null)]      // the last round schedules nothing
    [InlineData(true, 6, 5, 30, null)]
    [InlineData(false, 1, 5, 30, null)]     // decided: no next check
    [InlineData(true, 19, 20, 3600, 518400.0)] // capped at 6 days, below the queue's 7-day limit
    public void The_next_check_backs_off_doubling_until_the_last_round(bool undecided, int round, int maxRounds, int backoffSeconds, double? expectedSeconds) =>
        Assert.Equal(expectedSeconds, OrderLifecycle.NextCheckDelay(undecided, round, maxRounds, TimeSpan.FromSeconds(backoffSeconds))?.TotalSeconds);

    [Theory]
    [InlineData(300, 30, 330.0)]
    [InlineData(-10, 2, 0.0)]       // already long expired: check now
    [InlineData(900000, 30, 518400.0)] // capped at 6 days
    public void The_first_check_runs_a_grace_after_the_attempt_expires(int expiresInSeconds, int graceSeconds, double expectedSeconds) =>
        Assert.Equal(expectedSeconds, OrderLifecycle.FirstCheckDelay(Now.AddSeconds(expiresInSeconds), Now, TimeSpan.FromSeconds(graceSeconds)).TotalSeconds);
}
