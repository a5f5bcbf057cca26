using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Azure.Data.Tables;

namespace PaymentFunctions.Events;

/// <summary>
/// Which order an event belongs to, and so its public id: <c>evt_{product}_{partitionKey}_{sequence}</c>, e.g.
/// <c>evt_order_0f3c…_3</c> or <c>evt_payscore_RENT-1_2</c>. The product names the table (see
/// <see cref="EventStreams"/>), the partition key is the order's, and the sequence numbers the order's events from 1.
/// The id alone leads to the row by a point read; the same change always yields the same id (the sequence comes from
/// the order row the change is written over), so a receiver can deduplicate on it.
/// </summary>
public sealed record EventKey(string Product, string PartitionKey, long Sequence)
{
    public const string IdPrefix = "evt_";

    /// <summary>Row keys of event rows; not <c>evt-</c>, which is the timeline rows' prefix (<see cref="Storage.TableWrites"/>).</summary>
    public const string RowPrefix = "event-";

    public string Id => string.Create(CultureInfo.InvariantCulture, $"{IdPrefix}{Product}_{PartitionKey}_{Sequence}");

    /// <summary>Zero-padded, so the rows of one order sort by sequence.</summary>
    public string RowKey => RowKeyFor(Sequence);

    public static string RowKeyFor(long sequence) => string.Create(CultureInfo.InvariantCulture, $"{RowPrefix}{sequence:D10}");

    public override string ToString() => Id;

    /// <summary>Parses an id of ours; anything else (another shape, a key no table accepts) is false.</summary>
    public static bool TryParse(string? id, [NotNullWhen(true)] out EventKey? key)
    {
        key = null;
        if (id is null || id.Length > 200 || !id.StartsWith(IdPrefix, StringComparison.Ordinal))
        {
            return false;
        }

        var rest = id.AsSpan(IdPrefix.Length);
        var productEnd = rest.IndexOf('_');
        var sequenceStart = rest.LastIndexOf('_');
        if (productEnd <= 0 || sequenceStart <= productEnd + 1)
        {
            return false;
        }

        var product = rest[..productEnd].ToString();
        var partition = rest[(productEnd + 1)..sequenceStart].ToString();
        var digits = rest[(sequenceStart + 1)..];
        if (!IsProductName(product) || !IsPartitionKey(partition) || digits.Length is 0 or > 10 || digits[0] == '0' ||
            !long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var sequence))
        {
            return false;
        }

        key = new EventKey(product, partition, sequence);
        return true;
    }

    internal static bool IsProductName(string product) =>
        product.Length is > 0 and <= 16 && product.All(c => c is >= 'a' and <= 'z');

    /// <summary>What Table Storage accepts as a key (no / \ # ? or control characters), within a sane length.</summary>
    internal static bool IsPartitionKey(string partition) =>
        partition.Length is > 0 and <= 128 && !partition.Any(c => c is '/' or '\\' or '#' or '?' || char.IsControl(c));
}

/// <summary>
/// One message of the delivery queue: one event to one endpoint, one attempt of one delivery round. The optional
/// <see cref="TraceParent"/>/<see cref="TraceState"/> carry the W3C trace context of the work that caused the delivery
/// (kept by every retry of it), and <see cref="QueuedAt"/> when the message was due; messages without them still process.
/// </summary>
/// <param name="Round">0 for the first delivery; each redeliver request starts the next.</param>
/// <param name="Attempt">The attempt this message is for, from 1.</param>
public sealed record EventDelivery(
    [property: JsonPropertyName("eventId")] string EventId,
    [property: JsonPropertyName("endpoint")] string Endpoint,
    [property: JsonPropertyName("round")] int Round,
    [property: JsonPropertyName("attempt")] int Attempt)
{
    [JsonPropertyName("traceparent")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? TraceParent { get; init; }

    [JsonPropertyName("tracestate")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? TraceState { get; init; }

    /// <summary>When the message was sent, plus its delay: the start of its queue lag.</summary>
    [JsonPropertyName("queuedAt")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public DateTimeOffset? QueuedAt { get; init; }
}

/// <summary>
/// One endpoint's delivery state, kept on the event row in its own property (<see cref="EventRows.DeliveryProperty"/>)
/// and written by an ETag-conditional merge.
/// </summary>
public sealed record EndpointDelivery(
    int Round,
    int Attempts,
    int TotalAttempts,
    int? LastStatus,
    string? LastError,
    DateTimeOffset? LastAttemptAt,
    DateTimeOffset? NextAttemptAt,
    DateTimeOffset? DeliveredAt,
    DateTimeOffset? FailedAt,
    int? ClaimedAttempt = null,
    DateTimeOffset? ClaimedAt = null)
{
    public static EndpointDelivery None { get; } = new(0, 0, 0, null, null, null, null, null, null);

    /// <summary><c>pending</c>, <c>retrying</c>, <c>delivered</c> or <c>failed</c>.</summary>
    public string Status => DeliveredAt is not null ? "delivered" : FailedAt is not null ? "failed" : Attempts > 0 ? "retrying" : "pending";

    public bool Finished => DeliveredAt is not null || FailedAt is not null;
}

/// <summary>The columns of an event row, beside the order row in the order's partition of the product's table.</summary>
public static class EventRows
{
    public const string Id = "EventId";
    public const string Type = "Type";
    public const string Sequence = "Sequence";
    public const string CreatedAt = "CreatedAt";
    public const string Data = "Data";

    /// <summary>True once its delivery messages are queued (or there was no endpoint to queue for).</summary>
    public const string Dispatched = "Dispatched";

    private const string DeliveryPrefix = "Delivery_";

    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public static string DeliveryProperty(string endpoint) => DeliveryPrefix + endpoint.ToLowerInvariant();

    public static EndpointDelivery Delivery(TableEntity row, string endpoint) =>
        row.GetString(DeliveryProperty(endpoint)) is { Length: > 0 } json
            ? JsonSerializer.Deserialize<EndpointDelivery>(json, Json) ?? EndpointDelivery.None
            : EndpointDelivery.None;

    /// <summary>Every endpoint's state on the row, by endpoint name (lowercase).</summary>
    public static IReadOnlyDictionary<string, EndpointDelivery> Deliveries(TableEntity row) =>
        row.Keys.Where(k => k.StartsWith(DeliveryPrefix, StringComparison.Ordinal))
            .ToDictionary(k => k[DeliveryPrefix.Length..], k => Delivery(row, k[DeliveryPrefix.Length..]), StringComparer.Ordinal);

    public static string Serialize(EndpointDelivery delivery) => JsonSerializer.Serialize(delivery, Json);

    /// <summary>The OData filter for one order's event rows: a single-partition range query.</summary>
    public static string PartitionFilter(string partitionKey) =>
        TableClient.CreateQueryFilter($"PartitionKey eq {partitionKey} and RowKey ge {EventKey.RowPrefix} and RowKey lt {"event."}");
}
