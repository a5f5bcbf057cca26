using System.Text.Json;
using System.Text.Json.Serialization;
using Azure.Data.Tables;
using Microsoft.Extensions.Options;
using PaymentFunctions.Events;
using PaymentFunctions.Notifications;
using PaymentFunctions.Pyun;
using PaymentFunctions.Storage;

namespace PaymentFunctions.Orders;

/// <summary>
/// The final check of an order, scheduled when the order is created for just after it expires. Like
/// <see cref="PyunCheck"/>, we produce it ourselves and it carries no facts: only P云's trade query and the stored
/// order decide anything.
/// </summary>
public sealed record PyunExpiryCheck([property: JsonPropertyName("orderId")] string OrderId) : INotification<PyunExpiryCheck>
{
    public static string Kind => "pyun.expire";

    public string EventKey => "expire";

    public JsonElement ToPayload() => JsonSerializer.SerializeToElement(this);

    public static PyunExpiryCheck FromPayload(JsonElement payload)
    {
        var check = NotificationHandlers.ReadPayload(() => payload.Deserialize<PyunExpiryCheck>())
                    ?? throw new InvalidMessageException("The expiry check payload is empty.");
        if (!PayOrderNumber.IsOrderId(check.OrderId))
        {
            throw new InvalidMessageException("The expiry check payload needs an orderId of ours.");
        }

        return check;
    }
}

/// <summary>Schedules an order's final check (see <see cref="OrderLifecycle.ExpiryCheckWait"/>).</summary>
public sealed class PyunExpiryScheduler(NotificationQueue queue, IOptions<PyunOptions> options, TimeProvider clock)
{
    /// <summary>Queues the final check of <paramref name="order"/> to show up when it is due (or after the longest wait, then chained).</summary>
    public Task ScheduleAsync(OrderEntity order, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        var wait = OrderLifecycle.ExpiryCheckWait(order, now, options.Value.CheckGrace) ?? TimeSpan.Zero;
        return queue.EnqueueAsync(NotificationEnvelope.For(new PyunExpiryCheck(order.PartitionKey), now), wait, cancellationToken);
    }
}

/// <summary>
/// Handles an order's final check. An order that is paid (or otherwise no longer unpaid) needs nothing. One that is
/// not yet due (a chained wait) is scheduled again. Otherwise P云 is asked about the attempts it has not decided, each
/// answer applied like a notification; if the order is still unpaid after that, it is stored Expired with a timeline
/// row, conditional on its ETag (a result racing in makes it read and decide again). P云 unreachable throws, so the
/// message is retried. A replay finds the order already Expired and does nothing but queue what a crash left
/// undispatched of its events (order.expired, or the event of an answer it applied).
/// </summary>
public sealed class PyunExpiryHandler(OrderStore store, IServiceProvider services, PyunExpiryScheduler scheduler, IOptions<PyunOptions> options,
    EventOutbox outbox, TimeProvider clock, ILogger<PyunExpiryHandler> logger) : NotificationHandler<PyunExpiryCheck>
{
    /// <summary>Attempts asked about at expiry; older undecided ones have their own scheduled checks.</summary>
    public const int AttemptsAsked = 10;

    protected override async Task<string> HandleAsync(PyunExpiryCheck check, DateTimeOffset receivedAt, CancellationToken cancellationToken)
    {
        var order = await store.GetOrderAsync(check.OrderId, cancellationToken);
        if (order is null || !OrderLifecycle.IsUnpaid(order))
        {
            if (order is not null)
            {
                // Perhaps this very check stored it (Expired, or Paid by an answer it asked for) and died before queuing the event.
                await outbox.EnsureOrderDispatchedAsync(check.OrderId, order, cancellationToken);
            }

            return $"{check.OrderId}: final check not needed ({order?.Status ?? "no such order"})";
        }

        if (OrderLifecycle.ExpiryCheckWait(order, clock.GetUtcNow(), options.Value.CheckGrace) is { } wait)
        {
            await scheduler.ScheduleAsync(order, cancellationToken);
            return $"{check.OrderId}: final check not due; next in {wait}";
        }

        // Transient (it holds a typed HttpClient) while handlers are singletons: resolved per check.
        var query = services.GetRequiredService<PyunAttemptQuery>();
        var asked = false;
        foreach (var number in OrderLifecycle.UndecidedAttempts(order, AttemptsAsked))
        {
            await query.QueryAndApplyAsync(PayOrderNumber.Format(order.PartitionKey, number), PyunExpiryCheck.Kind, cancellationToken);
            asked = true;
        }

        var (transition, status, staged) = await ConcurrencyRetry.RunAsync(async round =>
        {
            // The row read above is still current unless an answer was applied since, or a write lost a race.
            var current = round == 1 && !asked ? order : await store.GetOrderAsync(check.OrderId, cancellationToken);
            var now = clock.GetUtcNow();
            if (current is null || OrderLifecycle.Expire(current, now) is not { } expired)
            {
                return ((Transition?)null, current?.Status ?? "gone", (StagedEvent?)null);
            }

            var timeline = new TimelineEntity
            {
                PartitionKey = current.PartitionKey,
                RowKey = OrderRows.Timeline("expired"),
                At = now,
                Kind = PyunExpiryCheck.Kind,
                FromStatus = expired.From.ToString(),
                ToStatus = expired.To.ToString(),
                Outcome = expired.Outcome,
            };
            var staged = outbox.StageOrderEvent(current, EventTypes.OrderExpired, now);
            // A second final check of the same order finds the timeline row and changes nothing.
            return await store.SubmitAsync(
                [new(TableTransactionActionType.Add, timeline), new(TableTransactionActionType.UpdateMerge, current, current.ETag), staged.Action], cancellationToken)
                ? (expired, current.Status, staged)
                : (null, "already expired", null);
        }, backoff: clock, cancellationToken);

        if (transition is null)
        {
            // Another run's change (perhaps this check's own, before a crash): make sure its events are queued.
            await outbox.EnsureOrderDispatchedAsync(check.OrderId, null, cancellationToken);
            return $"{check.OrderId}: final check: the order is {status}";
        }

        await outbox.DispatchAsync(staged!, cancellationToken);
        if (staged!.Key.Sequence > 1)
        {
            // An answer this check applied earlier (say, a failed attempt) may have died before its event was queued:
            // on this replay the processor no longer sees that answer, so its event is looked for here.
            await outbox.EnsureOrderDispatchedAsync(check.OrderId, null, cancellationToken);
        }

        logger.LogInformation("Order {OrderId} expired unpaid ({From} -> Expired) at its final check", check.OrderId, transition.From);
        Telemetry.PaymentTelemetry.OrderTransition(Events.EventProducts.Order, transition.From, transition.To);
        return $"{check.OrderId}: final check: {transition.From} -> Expired";
    }
}
