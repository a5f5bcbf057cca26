using System.Security.Cryptography;
using System.Text;
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
/// Applies what WeChat Pay says about a service order (a callback or a query/complete/cancel answer) to the
/// stored order: the timeline row (keyed by the notification id, or by the observed state) and the order row
/// with its ETag in one transaction (through <see cref="PayScoreStore"/>), as <see cref="PayScoreLifecycle.Decide"/> decides.
/// Replays are no-ops; concurrent writers re-read and decide again.
/// </summary>
public sealed class PayScoreProcessor(PayScoreStore store, TimeProvider clock, ILogger<PayScoreProcessor> logger)
{
    /// <param name="eventId">The callback's <c>id</c>; null for an answer to our own call.</param>
    public async Task<PayScoreProcessResult> ApplyAsync(PayScoreServiceOrder observed, string source, string? eventId, DateTimeOffset receivedAt, CancellationToken cancellationToken)
    {
        var outOrderNo = observed.OutOrderNo ?? throw new InvalidOperationException("The service order has no out_order_no.");
        var eventKey = eventId is not null ? $"n-{Hash(eventId)}" : $"q-{Hash($"{observed.State}|{observed.StateDescription}|{observed.Collection?.State}|{observed.Collection?.PaidAmount}")}";
        return await ConcurrencyRetry.RunAsync(async _ =>
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
            var outcome = PayScoreLifecycle.Decide(order, observed);
            var now = clock.GetUtcNow();
            order.UpdatedAt = now;
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

            if (!await store.TryRecordObservationAsync(order, timeline, cancellationToken))
            {
                logger.LogInformation("Pay Score {Source} for {OutOrderNo} is a duplicate; nothing changed", source, outOrderNo);
                return new PayScoreProcessResult((await store.GetAsync(outOrderNo, cancellationToken))!, "duplicate", true);
            }

            logger.LogInformation("Pay Score order {OutOrderNo}: {Outcome} ({From} -> {To}) from {Source}", outOrderNo, outcome, fromState, timeline.ToStatus, source);
            Telemetry.PaymentTelemetry.OrderTransition(Events.EventProducts.PayScore, fromState.Split('/')[0], order.State);
            return new PayScoreProcessResult(order, outcome, false);
        }, clock, cancellationToken);
    }

    private static string Hash(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)).AsSpan(0, 12));
}
