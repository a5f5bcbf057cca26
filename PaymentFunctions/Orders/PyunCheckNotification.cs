using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Options;
using PaymentFunctions.Events;
using PaymentFunctions.Notifications;
using PaymentFunctions.Pyun;

namespace PaymentFunctions.Orders;

/// <summary>
/// A scheduled check of one P云 attempt (<c>pay_order</c>), round 1 being the first. We produce it ourselves (no
/// signature), and it carries no payment facts: its handler trusts only what P云's trade query answers.
/// </summary>
public sealed record PyunCheck(
    [property: JsonPropertyName("payOrder")] string PayOrder,
    [property: JsonPropertyName("round")] int Round) : INotification<PyunCheck>
{
    public static string Kind => "pyun.check";

    public string EventKey => $"check-{Round}";

    public JsonElement ToPayload() => JsonSerializer.SerializeToElement(this);

    public static PyunCheck FromPayload(JsonElement payload)
    {
        var check = NotificationHandlers.ReadPayload(() => payload.Deserialize<PyunCheck>())
                    ?? throw new InvalidMessageException("The check payload is empty.");
        if (!PayOrderNumber.TryParse(check.PayOrder, out _, out _) || check.Round is < 1 or > PyunOptions.MaxCheckRounds)
        {
            throw new InvalidMessageException($"The check payload needs a pay_order of ours and a round from 1 to {PyunOptions.MaxCheckRounds}.");
        }

        return check;
    }
}

/// <summary>Schedules checks: a queue message that shows up after the delay.</summary>
public sealed class PyunCheckScheduler(NotificationQueue queue, TimeProvider clock)
{
    public Task ScheduleAsync(string payOrder, int round, TimeSpan delay, CancellationToken cancellationToken) =>
        queue.EnqueueAsync(NotificationEnvelope.For(new PyunCheck(payOrder, round), clock.GetUtcNow()), delay, cancellationToken);
}

/// <summary>
/// Handles a scheduled check: an attempt that no longer needs one (the order is final, or P云 already decided the
/// attempt) completes without asking P云. Otherwise it asks P云's trade query and applies the answer like a
/// notification (source <c>pyun.check</c>); while P云 says paying or has no record, it schedules the next round, up to
/// <see cref="PyunOptions.CheckMaxRounds"/>. A replayed or racing check is harmless: the processor dedupes results.
/// P云 unreachable throws, so the message is retried like any transient failure. A check that is no longer needed
/// queues what a crash left undispatched of the order's events: perhaps its own answer decided the attempt (and its
/// retry now finds it decided), or a status poll applied one and could not queue its event.
/// </summary>
public sealed class PyunCheckHandler(OrderStore store, IServiceProvider services, PyunCheckScheduler scheduler, IOptions<PyunOptions> options,
    EventOutbox outbox, ILogger<PyunCheckHandler> logger) : NotificationHandler<PyunCheck>
{
    protected override async Task<string> HandleAsync(PyunCheck check, DateTimeOffset receivedAt, CancellationToken cancellationToken)
    {
        if (!PayOrderNumber.TryParse(check.PayOrder, out var orderId, out var number))
        {
            throw new InvalidMessageException("The check's pay_order is not one of ours."); // FromPayload already refuses it
        }

        var order = await store.GetOrderAsync(orderId, cancellationToken);
        if (!OrderLifecycle.NeedsCheck(order, number))
        {
            if (order is not null)
            {
                await outbox.EnsureOrderDispatchedAsync(orderId, order, cancellationToken);
            }

            return $"{check.PayOrder}: check {check.Round} not needed ({order?.Status ?? "no such order"})";
        }

        // Transient (it holds a typed HttpClient) while handlers are singletons: resolved per check.
        var query = services.GetRequiredService<PyunAttemptQuery>();
        var (answer, applied) = await query.QueryAndApplyAsync(check.PayOrder, PyunCheck.Kind, cancellationToken);
        var undecided = answer.Result is null || answer.Result.Status == PyunTradeResult.Paying;
        var o = options.Value;
        var outcome = applied is null ? $"P云 has no record ({answer.Code})" : $"{applied.Outcome} ({applied.From} -> {applied.To})";
        if (OrderLifecycle.NextCheckDelay(undecided, check.Round, o.CheckMaxRounds, o.CheckBackoff) is { } delay)
        {
            // A failure here retries this check: asking P云 again is harmless.
            await scheduler.ScheduleAsync(check.PayOrder, check.Round + 1, delay, cancellationToken);
            return $"{check.PayOrder}: check {check.Round}: {outcome}; next check in {delay}";
        }

        if (undecided)
        {
            logger.LogWarning("P云 attempt {PayOrder} is still undecided after {Rounds} scheduled checks; no more are scheduled", check.PayOrder, check.Round);
        }

        return $"{check.PayOrder}: check {check.Round}: {outcome}";
    }
}
