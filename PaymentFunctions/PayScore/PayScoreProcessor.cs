using System.Security.Cryptography;
using System.Text;
using Azure.Data.Tables;
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
/// with its ETag in one transaction. Replays are no-ops; concurrent writers re-read and decide again.
/// </summary>
public sealed class PayScoreProcessor(StorageResources storage, TimeProvider clock, ILogger<PayScoreProcessor> logger)
{
    private const int MaxConcurrencyRetries = 20;

    public async Task<PayScoreOrderEntity?> GetAsync(string outOrderNo, CancellationToken cancellationToken)
    {
        await storage.EnsureCreatedAsync(cancellationToken);
        var row = await storage.PayScoreOrders.GetEntityIfExistsAsync<PayScoreOrderEntity>(outOrderNo, OrderRows.Order, cancellationToken: cancellationToken);
        return row.HasValue ? row.Value : null;
    }

    /// <summary>
    /// True when the caller may ask WeChat about this order now: it is not final, nobody asked within the interval,
    /// and we won the conditional write of <c>LastQueryAt</c> (a 412 means someone else just asked or wrote).
    /// </summary>
    public async Task<bool> TryClaimQueryAsync(PayScoreOrderEntity order, TimeSpan interval, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        if (PayScoreProgress.IsFinal(order) || (order.LastQueryAt is { } last && now - last < interval))
        {
            return false;
        }

        var claim = new TableEntity(order.PartitionKey, OrderRows.Order) { [nameof(PayScoreOrderEntity.LastQueryAt)] = now };
        try
        {
            await storage.PayScoreOrders.UpdateEntityAsync(claim, order.ETag, TableUpdateMode.Merge, cancellationToken);
            return true;
        }
        catch (Azure.RequestFailedException ex) when (ex.Status == 412)
        {
            return false;
        }
    }

    /// <param name="eventId">The callback's <c>id</c>; null for an answer to our own call.</param>
    public async Task<PayScoreProcessResult> ApplyAsync(PayScoreServiceOrder observed, string source, string? eventId, DateTimeOffset receivedAt, CancellationToken cancellationToken)
    {
        var outOrderNo = observed.OutOrderNo ?? throw new InvalidOperationException("The service order has no out_order_no.");
        var eventKey = eventId is not null ? $"n-{Hash(eventId)}" : $"q-{Hash($"{observed.State}|{observed.StateDescription}|{observed.Collection?.State}|{observed.Collection?.PaidAmount}")}";
        for (var round = 1; ; round++)
        {
            var order = await GetAsync(outOrderNo, cancellationToken);
            if (order is null)
            {
                throw new UnknownPayScoreOrderException(outOrderNo);
            }

            if (!order.IsCreated)
            {
                throw new PayScoreOrderNotCreatedException(outOrderNo);
            }

            var fromState = Describe(order);
            var outcome = Decide(order, observed);
            var now = clock.GetUtcNow();
            order.UpdatedAt = now;
            var timeline = new TimelineEntity
            {
                PartitionKey = outOrderNo,
                RowKey = OrderRows.Timeline(eventKey),
                At = receivedAt,
                Kind = source,
                FromStatus = fromState,
                ToStatus = Describe(order),
                Outcome = outcome,
                Data = System.Text.Json.JsonSerializer.Serialize(new { observed.State, observed.StateDescription, Collection = observed.Collection?.State, observed.TotalAmount, eventId }),
            };

            try
            {
                if (!await OrderStore.SubmitAsync(storage.PayScoreOrders,
                        [new(TableTransactionActionType.Add, timeline), new(TableTransactionActionType.UpdateMerge, order, order.ETag)], cancellationToken))
                {
                    logger.LogInformation("Pay Score {Source} for {OutOrderNo} is a duplicate; nothing changed", source, outOrderNo);
                    return new((await GetAsync(outOrderNo, cancellationToken))!, "duplicate", true);
                }
            }
            catch (ConcurrencyException) when (round < MaxConcurrencyRetries)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(5, 20 * round)), clock, cancellationToken);
                continue;
            }

            logger.LogInformation("Pay Score order {OutOrderNo}: {Outcome} ({From} -> {To}) from {Source}", outOrderNo, outcome, fromState, timeline.ToStatus, source);
            return new(order, outcome, false);
        }
    }

    /// <summary>Moves the row forward to what was observed, if that is further along; returns what happened.</summary>
    internal static string Decide(PayScoreOrderEntity order, PayScoreServiceOrder observed)
    {
        var current = PayScoreProgress.Rank(order);
        var next = PayScoreProgress.Rank(observed);
        if (next == 0)
        {
            return $"ignored: unknown state {observed.State}";
        }

        if (next <= current)
        {
            return next == current ? "unchanged" : $"ignored: {observed.State}/{observed.StateDescription} arrived after {Describe(order)}";
        }

        // A merge skips null properties, so a cleared field is written as "" (DONE has no state_description).
        order.State = observed.State!;
        order.StateDescription = observed.StateDescription ?? "";
        order.CollectionState = observed.Collection?.State ?? "";
        order.TotalAmount = observed.TotalAmount ?? observed.Collection?.TotalAmount ?? order.TotalAmount;
        if (observed.Collection is { } collection)
        {
            order.PaidAmount = collection.PaidAmount ?? order.PaidAmount;
            order.TransactionId = collection.Details?.LastOrDefault(d => d.TransactionId is not null)?.TransactionId ?? order.TransactionId;
        }

        return order.State switch
        {
            PayScoreStates.Doing when order.StateDescription == PayScoreStates.UserConfirm => "confirmed",
            PayScoreStates.Doing => "completed, collecting",
            PayScoreStates.Done => "paid",
            _ => order.State.ToLowerInvariant(),
        };
    }

    private static string Describe(PayScoreOrderEntity e) =>
        string.Join('/', new[] { e.State, e.StateDescription, e.CollectionState }.Where(s => !string.IsNullOrEmpty(s)));

    private static string Hash(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)).AsSpan(0, 12));
}
