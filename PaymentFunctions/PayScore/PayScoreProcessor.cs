using System.Security.Cryptography;
using System.Text;
using PaymentFunctions.Events;
using PaymentFunctions.Orders;
using PaymentFunctions.Storage;
using PaymentFunctions.WeChatPay;

namespace PaymentFunctions.PayScore;

/// <summary>A Pay Score callback or answer for an out_order_no we never claimed: no retry can fix it; recorded as an orphan.</summary>
public sealed class UnknownPayScoreOrderException(string outOrderNo)
    : Notifications.OrphanNotificationException("wechatpay", outOrderNo, $"No Pay Score order '{Http.LogValue.Safe(outOrderNo)}'.");

/// <summary>
/// The out_order_no is claimed but its creation at WeChat Pay is not recorded yet (in flight, or its recording
/// failed): transient, so it keeps its retries, and ends in the poison queue if the creation never lands.
/// </summary>
public sealed class PayScoreOrderNotCreatedException(string outOrderNo)
    : Exception($"Pay Score order '{outOrderNo}' is claimed but its creation is not recorded yet.");

public sealed record PayScoreProcessResult(PayScoreOrderEntity Order, string Outcome, bool Duplicate);

/// <summary>
/// A change was committed with its event rows, but queueing their deliveries failed. A queued cause lets it through
/// (its message is retried, finds the change applied and queues them then); an HTTP answer that made the change
/// answers with <see cref="Result"/> and warns instead, as the change stands (see <see cref="PayScoreEvents"/>).
/// </summary>
public sealed class PayScoreEventsNotDispatchedException(PayScoreProcessResult result, Exception inner)
    : Exception($"Pay Score order '{result.Order.PartitionKey}': {result.Outcome}, but its events could not be queued: {inner.Message}", inner)
{
    public PayScoreProcessResult Result { get; } = result;
}

/// <summary>
/// Applies what WeChat Pay says about a service order (a callback or a query/complete/cancel answer) to the
/// stored order: the timeline row (keyed by the notification id, or by the observed state), the order row with its
/// ETag and the rows of the events the change causes (<see cref="PayScoreLifecycle.EventsBetween"/>) in one
/// transaction (through <see cref="PayScoreStore"/>), as <see cref="PayScoreLifecycle.Decide"/> decides; after the
/// commit it queues the events' deliveries. Replays are no-ops that make sure every committed event is queued
/// (a crash between a commit and its dispatch); concurrent writers re-read and decide again.
/// </summary>
public sealed class PayScoreProcessor(PayScoreStore store, EventOutbox outbox, TimeProvider clock, ILogger<PayScoreProcessor> logger)
{
    /// <param name="eventId">The callback's <c>id</c>; null for an answer to our own call.</param>
    /// <exception cref="PayScoreEventsNotDispatchedException">The change is committed; its events are not queued yet.</exception>
    public async Task<PayScoreProcessResult> ApplyAsync(PayScoreServiceOrder observed, string source, string? eventId, DateTimeOffset receivedAt, CancellationToken cancellationToken)
    {
        var outOrderNo = observed.OutOrderNo ?? throw new InvalidOperationException("The service order has no out_order_no.");
        var eventKey = eventId is not null ? $"n-{Hash(eventId)}" : $"q-{Hash($"{observed.State}|{observed.StateDescription}|{observed.Collection?.State}|{observed.Collection?.PaidAmount}")}";
        var (result, staged) = await ConcurrencyRetry.RunAsync(async _ =>
        {
            var order = await store.GetAsync(outOrderNo, cancellationToken);
            if (order is null)
            {
                throw new UnknownPayScoreOrderException(outOrderNo);
            }

            if (!order.IsCreated)
            {
                throw new PayScoreOrderNotCreatedException(outOrderNo);
            }

            Telemetry.PaymentTelemetry.TagOrder(outOrderNo: outOrderNo);

            var fromState = PayScoreLifecycle.Describe(order);
            var before = PayScoreLifecycle.Milestones(order);
            var outcome = PayScoreLifecycle.Decide(order, observed);
            var now = clock.GetUtcNow();
            order.UpdatedAt = now;
            var staged = PayScoreEvents.Stage(outbox, order, PayScoreLifecycle.EventsBetween(before, PayScoreLifecycle.Milestones(order)));
            var timeline = new TimelineEntity
            {
                PartitionKey = outOrderNo,
                RowKey = OrderRows.Timeline(eventKey),
                At = receivedAt,
                Kind = source,
                FromStatus = fromState,
                ToStatus = PayScoreLifecycle.Describe(order),
                Outcome = outcome,
                Data = System.Text.Json.JsonSerializer.Serialize(new { observed.State, observed.StateDescription, Collection = observed.Collection?.State, observed.TotalAmount, eventId }),
            };

            if (!await store.TryRecordObservationAsync(order, timeline, staged, cancellationToken))
            {
                logger.LogInformation("Pay Score {Source} for {OutOrderNo} is a duplicate; nothing changed", source, outOrderNo);
                return (new PayScoreProcessResult((await store.GetAsync(outOrderNo, cancellationToken))!, "duplicate", true), (IReadOnlyList<StagedEvent>)[]);
            }

            logger.LogInformation("Pay Score order {OutOrderNo}: {Outcome} ({From} -> {To}) from {Source}{Events}", outOrderNo, outcome, fromState, timeline.ToStatus, source,
                staged.Count == 0 ? "" : $"; events {string.Join(", ", staged.Select(e => $"{e.Type} #{e.Key.Sequence}"))}");
            Telemetry.PaymentTelemetry.OrderTransition(Events.EventProducts.PayScore, fromState.Split('/')[0], order.State);
            return (new PayScoreProcessResult(order, outcome, false), staged);
        }, clock, cancellationToken);

        try
        {
            await PayScoreEvents.DispatchAsync(outbox, outOrderNo, result.Order.EventCount, staged, cancellationToken);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new PayScoreEventsNotDispatchedException(result, ex);
        }

        return result;
    }

    private static string Hash(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)).AsSpan(0, 12));
}

/// <summary>
/// The Pay Score side of the event outbox (docs/events.md): events staged on the order row's counter with the order's
/// view as its query answers it, and their dispatch after the commit.
/// </summary>
public static class PayScoreEvents
{
    /// <summary>
    /// Stages one event per type, in order, each taking the next sequence from <see cref="PayScoreOrderEntity.EventCount"/>
    /// (written with the order row's ETag in the same transaction, so two writers never take the same sequence). Every
    /// event carries the order as the change leaves it.
    /// </summary>
    public static List<StagedEvent> Stage(EventOutbox outbox, PayScoreOrderEntity order, IEnumerable<string> types)
    {
        var staged = new List<StagedEvent>();
        PayScoreOrderView? view = null;
        foreach (var type in types)
        {
            view ??= PayScoreOrderView.From(order);
            order.EventCount++;
            staged.Add(outbox.Stage(EventProducts.PayScore, order.PartitionKey, order.EventCount, type, view));
        }

        return staged;
    }

    /// <summary>
    /// After a commit: queues what it staged. With nothing staged (a replay, a change that is no milestone, a message
    /// with nothing left to do) it makes sure whatever an earlier commit left undispatched is queued now: a
    /// single-partition query.
    /// </summary>
    /// <param name="eventCount">The order row's <see cref="PayScoreOrderEntity.EventCount"/> as last read: 0 means nothing can be waiting.</param>
    public static async Task DispatchAsync(EventOutbox outbox, string outOrderNo, long eventCount, IReadOnlyList<StagedEvent> staged, CancellationToken cancellationToken)
    {
        if (staged.Count > 0)
        {
            await outbox.DispatchAsync(staged, cancellationToken);
        }
        else
        {
            await outbox.EnsureDispatchedAsync(EventProducts.PayScore, outOrderNo, eventCount, cancellationToken);
        }
    }
}
