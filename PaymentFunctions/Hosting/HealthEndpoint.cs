using Azure;
using Microsoft.AspNetCore.Http.HttpResults;
using PaymentFunctions.OpenApi;
using PaymentFunctions.Storage;

namespace PaymentFunctions.Hosting;

/// <summary>The health answer: <c>healthy</c>, or <c>unhealthy</c> with the dependencies that failed, and nothing else.</summary>
public sealed record HealthAnswer(
    string Status,
    [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<string>? Failing = null);

/// <summary>
/// <c>GET /api/health</c> (anonymous): 200 when storage (the notification queue and the orders table) answers within
/// <see cref="Deadline"/>, 503 naming the failing dependency otherwise. Anyone may call it, so one probe serves every
/// caller for <see cref="CacheFor"/>: a flood of health checks costs storage two requests a second at most.
/// </summary>
public sealed class HealthProbe(StorageResources storage, TimeProvider clock, ILogger<HealthProbe> logger) : IDisposable
{
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(3);
    public static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(1);

    private readonly SemaphoreSlim _gate = new(1, 1);
    private (DateTimeOffset At, HealthAnswer Answer)? _last;

    public async Task<HealthAnswer> CheckAsync(CancellationToken cancellationToken)
    {
        if (Fresh() is { } cached)
        {
            return cached;
        }

        await _gate.WaitAsync(cancellationToken);
        try
        {
            // Whoever waited behind the probe takes its answer.
            if (Fresh() is { } justProbed)
            {
                return justProbed;
            }

            var answer = await ProbeAsync(cancellationToken);
            _last = (clock.GetUtcNow(), answer);
            return answer;
        }
        finally
        {
            _gate.Release();
        }
    }

    public void Dispose() => _gate.Dispose();

    private HealthAnswer? Fresh() => _last is { } last && clock.GetUtcNow() - last.At < CacheFor ? last.Answer : null;

    private async Task<HealthAnswer> ProbeAsync(CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(Deadline);
        // Both at once, so the answer takes one deadline, not two. A missing row (or table) still proves storage answers.
        var failing = (await Task.WhenAll(
                FailureOf(() => storage.Notifications.GetPropertiesAsync(deadline.Token), "queue storage"),
                FailureOf(() => storage.Orders.GetEntityIfExistsAsync<Azure.Data.Tables.TableEntity>("health", "probe", ["PartitionKey"], deadline.Token), "table storage")))
            .OfType<string>().Order(StringComparer.Ordinal).ToArray();
        cancellationToken.ThrowIfCancellationRequested();
        return failing.Length == 0 ? new HealthAnswer("healthy") : new HealthAnswer("unhealthy", failing);
    }

    /// <summary>Null when the dependency answered, its name when it did not.</summary>
    private async Task<string?> FailureOf(Func<Task> call, string name)
    {
        try
        {
            await call();
            return null;
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            // The queue and tables are created on first use: a 404 is storage answering.
            return null;
        }
        catch (Exception ex)
        {
            // Whatever the shape (an error answer, a reset connection, a timeout), the dependency did not answer.
            logger.LogWarning("Health probe: {Dependency} did not answer ({Error})", name, ex.GetType().Name);
            return name;
        }
    }
}

public static class HealthEndpoint
{
    public static void MapHealth(this IEndpointRouteBuilder api) =>
        api.MapGet("/health", HandleAsync).WithName("Health")
            .WithSummary("Is the app able to work (platform probes)").Describes(StatusCodes.Status200OK, "Storage answers.")
            .Produces<HealthAnswer>(StatusCodes.Status503ServiceUnavailable).Describes(StatusCodes.Status503ServiceUnavailable, "`failing` names what did not answer within 3 s: queue storage, table storage.");

    internal static async Task<Results<Ok<HealthAnswer>, JsonHttpResult<HealthAnswer>>> HandleAsync(HealthProbe probe, CancellationToken cancellationToken)
    {
        var answer = await probe.CheckAsync(cancellationToken);
        return answer.Failing is null
            ? TypedResults.Ok(answer)
            : TypedResults.Json(answer, statusCode: StatusCodes.Status503ServiceUnavailable);
    }
}
