using PaymentFunctions.Orders;
using PaymentFunctions.Storage;

namespace PaymentFunctions.Tests.Storage;

/// <summary>The one read-decide-write loop: a conflict runs the round again, up to the limit; nothing else does.</summary>
public sealed class ConcurrencyRetryTests
{
    private static ConcurrencyException Conflict() => new(new InvalidOperationException("412"));

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(ConcurrencyRetry.MaxRounds)]
    public async Task A_round_that_conflicts_runs_again_until_it_completes(int succeedsOn)
    {
        var rounds = new List<int>();

        var result = await ConcurrencyRetry.RunAsync(round =>
        {
            rounds.Add(round);
            return round < succeedsOn ? throw Conflict() : Task.FromResult($"done in {round}");
        }, backoff: null, TestContext.Current.CancellationToken);

        Assert.Equal($"done in {succeedsOn}", result);
        Assert.Equal(Enumerable.Range(1, succeedsOn), rounds);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task The_conflict_of_the_last_round_reaches_the_caller(bool backoff)
    {
        var rounds = 0;

        await Assert.ThrowsAsync<ConcurrencyException>(() => ConcurrencyRetry.RunAsync<int>(_ =>
        {
            rounds++;
            throw Conflict();
        }, backoff ? TimeProvider.System : null, TestContext.Current.CancellationToken));

        Assert.Equal(ConcurrencyRetry.MaxRounds, rounds);
    }

    [Fact]
    public async Task Any_other_failure_is_not_retried()
    {
        var rounds = 0;

        await Assert.ThrowsAsync<InvalidOperationException>(() => ConcurrencyRetry.RunAsync<int>(_ =>
        {
            rounds++;
            throw new InvalidOperationException("storage is down");
        }, backoff: null, TestContext.Current.CancellationToken));

        Assert.Equal(1, rounds);
    }
}
