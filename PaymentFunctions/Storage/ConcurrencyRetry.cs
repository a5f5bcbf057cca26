namespace PaymentFunctions.Storage;

/// <summary>
/// The one optimistic-concurrency loop over table rows: each round reads the rows, decides on what it read, and
/// writes conditionally on the ETags it read. When the write finds a row changed since (it throws
/// <see cref="ConcurrencyException"/>) the round is run again from a fresh read, so every decision is taken on the
/// state it is written over. Shared by both products' stores and processors.
/// </summary>
public static class ConcurrencyRetry
{
    /// <summary>
    /// Rounds before a conflict is let through (to the caller: a 500 or a queue retry). Conflicts come from the few
    /// writers one order has at a time (a prepare, a notification, a query answer), so a round rarely fails twice;
    /// the limit only stops a livelock from spinning forever.
    /// </summary>
    public const int MaxRounds = 20;

    /// <summary>
    /// Runs <paramref name="round"/> (given its number, from 1) until it completes without a conflict, at most
    /// <see cref="MaxRounds"/> times. With <paramref name="backoff"/>, waits a random, growing few milliseconds
    /// between rounds so that writers racing for a busy row fall out of step.
    /// </summary>
    public static async Task<T> RunAsync<T>(Func<int, Task<T>> round, TimeProvider? backoff, CancellationToken cancellationToken)
    {
        for (var number = 1; ; number++)
        {
            try
            {
                return await round(number);
            }
            catch (ConcurrencyException) when (number < MaxRounds)
            {
                if (backoff is not null)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(5, 20 * number)), backoff, cancellationToken);
                }
            }
        }
    }
}
