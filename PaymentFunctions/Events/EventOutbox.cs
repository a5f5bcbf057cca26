using System.Collections.Concurrent;
using System.Text.Json;
using Azure;
using Azure.Data.Tables;
using Microsoft.Extensions.Options;
using PaymentFunctions.Storage;

namespace PaymentFunctions.Events;

/// <summary>The products whose orders have events, each with the table its orders (and their event rows) live in.</summary>
public static class EventProducts
{
    /// <summary>P云 orders: table PaymentOrders, partition = orderId.</summary>
    public const string Order = "order";

    /// <summary>Pay Score orders: table PayScoreOrders, partition = outOrderNo.</summary>
    public const string PayScore = "payscore";
}

/// <summary>
/// Product name → its table, so an event id leads to its row without a scan. Pay Score registers only while it is
/// on, so its ids are 404 when it is off. <see cref="Add"/> registers another product (and a test's table).
/// </summary>
public sealed class EventStreams
{
    private readonly ConcurrentDictionary<string, TableClient> _tables = new(StringComparer.Ordinal);

    public EventStreams(StorageResources storage, PayScore.PayScoreFeature payScore)
    {
        _tables[EventProducts.Order] = storage.Orders;
        if (payScore.Enabled)
        {
            _tables[EventProducts.PayScore] = storage.PayScoreOrders;
        }
    }

    public void Add(string product, TableClient table)
    {
        if (!EventKey.IsProductName(product))
        {
            throw new ArgumentException("A product name is 1 to 16 lowercase letters.", nameof(product));
        }

        _tables[product] = table;
    }

    public TableClient? Find(string product) => _tables.GetValueOrDefault(product);
}

/// <summary>An event staged in a product's transaction: add <see cref="Action"/> to it, then dispatch after the commit.</summary>
public sealed record StagedEvent(EventKey Key, string Type, TableTransactionAction Action, IReadOnlyList<EventDelivery> Deliveries);

/// <summary>
/// The outbox. A product that changes an order's state:
/// <list type="number">
/// <item>bumps the event counter on its order row and calls <see cref="Stage"/> with the new value, adding the returned
/// action to the same entity-group transaction as the change (same table, same partition);</item>
/// <item>after the commit, calls <see cref="DispatchAsync"/>, which queues one delivery message per endpoint;</item>
/// <item>when a replayed cause (notification, check) finds its change already applied, calls
/// <see cref="EnsureDispatchedAsync"/> for the order's partition, which queues whatever a crash left undispatched.</item>
/// </list>
/// A duplicate delivery message is harmless: the delivery reads the event row and acts only on the attempt it expects.
/// </summary>
public sealed class EventOutbox(
    EventStreams streams,
    StorageResources storage,
    IOptionsMonitor<EventsOptions> options,
    IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions> json,
    TimeProvider clock,
    ILogger<EventOutbox> logger)
{
    /// <summary>
    /// The row for event number <paramref name="sequence"/> of the order in <paramref name="partitionKey"/>, as an Add
    /// for the product's transaction (the transaction then fails with 409 if that event exists already, like a
    /// replayed change). <paramref name="data"/> is what the order's GET returns, serialized as the API serializes it.
    /// </summary>
    public StagedEvent Stage(string product, string partitionKey, long sequence, string type, object data)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (streams.Find(product) is null)
        {
            throw new ArgumentException($"No event stream for product '{product}'.", nameof(product));
        }

        if (!EventTypes.All.Contains(type))
        {
            throw new ArgumentException($"Unknown event type '{type}'.", nameof(type));
        }

        if (sequence < 1 || !EventKey.IsPartitionKey(partitionKey))
        {
            throw new ArgumentException("An event needs the order's partition key and a sequence from 1.");
        }

        var key = new EventKey(product, partitionKey, sequence);
        var deliveries = Receivers(type).Select(name => new EventDelivery(key.Id, name, 0, 1)).ToList();
        var row = new TableEntity(partitionKey, key.RowKey)
        {
            [EventRows.Id] = key.Id,
            [EventRows.Type] = type,
            [EventRows.Sequence] = sequence,
            [EventRows.CreatedAt] = clock.GetUtcNow(),
            [EventRows.Data] = JsonSerializer.Serialize(data, data.GetType(), json.Value.SerializerOptions),
            // With no endpoint for it there is nothing to queue, and nothing for EnsureDispatchedAsync to find.
            [EventRows.Dispatched] = deliveries.Count == 0,
        };
        return new StagedEvent(key, type, new TableTransactionAction(TableTransactionActionType.Add, row), deliveries);
    }

    /// <summary>Queues the staged events' delivery messages (after the product's commit), then marks each dispatched.</summary>
    public async Task DispatchAsync(IEnumerable<StagedEvent> events, CancellationToken cancellationToken)
    {
        foreach (var staged in events)
        {
            if (staged.Deliveries.Count == 0)
            {
                continue;
            }

            await storage.EnsureEventQueuesCreatedAsync(cancellationToken);
            foreach (var delivery in staged.Deliveries)
            {
                await SendAsync(delivery, TimeSpan.Zero, cancellationToken);
            }

            // A crash before this line leaves the row undispatched: EnsureDispatchedAsync queues it again, and the
            // duplicate message finds its attempt taken and does nothing.
            await MarkDispatchedAsync(streams.Find(staged.Key.Product)!, staged.Key, cancellationToken);
        }
    }

    public Task DispatchAsync(StagedEvent staged, CancellationToken cancellationToken) => DispatchAsync([staged], cancellationToken);

    /// <summary>
    /// Queues every event of one order (one partition of the product's table) that was committed but never
    /// dispatched: a single-partition query. Returns how many it queued.
    /// </summary>
    public async Task<int> EnsureDispatchedAsync(string product, string partitionKey, CancellationToken cancellationToken)
    {
        var table = streams.Find(product) ?? throw new ArgumentException($"No event stream for product '{product}'.", nameof(product));
        var count = 0;
        foreach (var row in await EventStore.ListAsync(table, partitionKey, cancellationToken))
        {
            if (row.GetBoolean(EventRows.Dispatched) == true || !EventKey.TryParse(row.GetString(EventRows.Id), out var key))
            {
                continue;
            }

            await storage.EnsureEventQueuesCreatedAsync(cancellationToken);
            foreach (var name in Receivers(row.GetString(EventRows.Type) ?? ""))
            {
                await SendAsync(new EventDelivery(key.Id, name, 0, 1), TimeSpan.Zero, cancellationToken);
            }

            await MarkDispatchedAsync(table, key, cancellationToken);
            logger.LogInformation("Event {EventId} was committed but not dispatched; queued it now", key.Id);
            count++;
        }

        return count;
    }

    /// <summary>
    /// <see cref="EnsureDispatchedAsync(string, string, CancellationToken)"/>, skipped when nothing can be waiting: the
    /// order row (read after the change that may have left an event behind) counts no events, or no endpoint receives
    /// any of the product's types (<c>{product}.…</c>; a row staged with no receiver is dispatched already). Replays and
    /// polls of a quiet order then cost no query.
    /// </summary>
    /// <param name="eventCount">The order row's event count as read; null when the caller has no row: then it looks.</param>
    public Task<int> EnsureDispatchedAsync(string product, string partitionKey, long? eventCount, CancellationToken cancellationToken) =>
        eventCount == 0 || !ReceivesAny(product)
            ? Task.FromResult(0)
            : EnsureDispatchedAsync(product, partitionKey, cancellationToken);

    private bool ReceivesAny(string product) =>
        EventTypes.All.Any(t => t.StartsWith(product + ".", StringComparison.Ordinal) && Receivers(t).Count > 0);

    /// <summary>
    /// Sends an event again now to every endpoint that receives its type, or to <paramref name="endpoint"/> alone:
    /// a new delivery round per endpoint, with its own attempts and retries. Null when the event does not exist.
    /// </summary>
    public async Task<IReadOnlyList<string>?> RedeliverAsync(EventKey key, string? endpoint, CancellationToken cancellationToken)
    {
        if (streams.Find(key.Product) is not { } table)
        {
            return null;
        }

        await storage.EnsureEventQueuesCreatedAsync(cancellationToken);
        while (true)
        {
            var response = await table.GetEntityIfExistsAsync<TableEntity>(key.PartitionKey, key.RowKey, cancellationToken: cancellationToken);
            if (!response.HasValue || response.Value is not { } row)
            {
                return null;
            }

            var names = Receivers(row.GetString(EventRows.Type) ?? "")
                .Where(n => endpoint is null || n.Equals(endpoint, StringComparison.OrdinalIgnoreCase)).ToList();
            var update = new TableEntity(key.PartitionKey, key.RowKey) { [EventRows.Dispatched] = true };
            var messages = new List<EventDelivery>();
            foreach (var name in names)
            {
                var state = EventRows.Delivery(row, name);
                var next = state with { Round = state.Round + 1, Attempts = 0, NextAttemptAt = clock.GetUtcNow(), DeliveredAt = null, FailedAt = null };
                update[EventRows.DeliveryProperty(name)] = EventRows.Serialize(next);
                messages.Add(new EventDelivery(key.Id, name, next.Round, 1));
            }

            if (names.Count == 0)
            {
                return names;
            }

            try
            {
                await table.UpdateEntityAsync(update, row.ETag, TableUpdateMode.Merge, cancellationToken);
            }
            catch (RequestFailedException ex) when (ex.Status == 412)
            {
                continue; // a delivery recorded an attempt meanwhile: start the rounds from what it wrote
            }

            foreach (var message in messages)
            {
                await SendAsync(message, TimeSpan.Zero, cancellationToken);
            }

            return names;
        }
    }

    /// <summary>The configured endpoints that receive <paramref name="type"/>.</summary>
    public IReadOnlyList<string> Receivers(string type) =>
        options.CurrentValue.Endpoints.Where(e => e.Value.Receives(type)).Select(e => e.Key).Order(StringComparer.Ordinal).ToList();

    /// <summary>
    /// Queues one delivery message. A new delivery joins the current trace (the change or the redeliver request that
    /// caused it); a retry keeps the context of the message it retries, so every attempt of a delivery sits in the trace
    /// of its cause.
    /// </summary>
    internal async Task SendAsync(EventDelivery delivery, TimeSpan delay, CancellationToken cancellationToken)
    {
        if (delivery.TraceParent is null)
        {
            var (traceParent, traceState) = Telemetry.TraceContext.Capture();
            delivery = delivery with { TraceParent = traceParent, TraceState = traceState };
        }

        delivery = delivery with { QueuedAt = clock.GetUtcNow() + (delay > TimeSpan.Zero ? delay : TimeSpan.Zero) };
        await storage.Events.SendMessageAsync(JsonSerializer.Serialize(delivery), delay > TimeSpan.Zero ? delay : null, cancellationToken: cancellationToken);
    }

    private static async Task MarkDispatchedAsync(TableClient table, EventKey key, CancellationToken cancellationToken) =>
        await table.UpdateEntityAsync(new TableEntity(key.PartitionKey, key.RowKey) { [EventRows.Dispatched] = true }, ETag.All, TableUpdateMode.Merge, cancellationToken);
}

/// <summary>Reads of event rows: a point read by id, or one order's events by a single-partition query.</summary>
public static class EventStore
{
    /// <summary>One order's event rows, by sequence, from the product's <paramref name="table"/>.</summary>
    public static async Task<IReadOnlyList<TableEntity>> ListAsync(TableClient table, string partitionKey, CancellationToken cancellationToken)
    {
        var rows = new List<TableEntity>();
        await foreach (var row in table.QueryAsync<TableEntity>(EventRows.PartitionFilter(partitionKey), cancellationToken: cancellationToken))
        {
            rows.Add(row);
        }

        return rows;
    }

    public static async Task<TableEntity?> GetAsync(TableClient table, EventKey key, CancellationToken cancellationToken)
    {
        var response = await table.GetEntityIfExistsAsync<TableEntity>(key.PartitionKey, key.RowKey, cancellationToken: cancellationToken);
        return response.HasValue ? response.Value : null;
    }
}
