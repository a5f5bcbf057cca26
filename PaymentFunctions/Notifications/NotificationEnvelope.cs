using System.Text.Json;
using System.Text.Json.Serialization;

namespace PaymentFunctions.Notifications;

/// <summary>
/// The queue message: a small versioned envelope around a notification whose signature was already verified
/// at intake. <see cref="Payload"/> is the platform's data as received (P云: the form fields); each kind's
/// <see cref="INotification{TSelf}"/> record writes and reads it, and the kind's <see cref="INotificationHandler"/> applies it.
/// The optional <see cref="TraceParent"/>/<see cref="TraceState"/> carry the sender's W3C trace context (absent in
/// messages queued before, or with telemetry off; they process all the same), and <see cref="Due"/> marks a message
/// sent with a delay (see <see cref="Telemetry.PaymentTelemetry.StartProcessing"/>).
/// </summary>
public sealed record NotificationEnvelope(
    [property: JsonPropertyName("v")] int Version,
    [property: JsonPropertyName("kind")] string Kind,
    [property: JsonPropertyName("receivedAt")] DateTimeOffset ReceivedAt,
    [property: JsonPropertyName("payload")] JsonElement Payload)
{
    public const int CurrentVersion = 1;

    [JsonPropertyName("traceparent")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? TraceParent { get; init; }

    [JsonPropertyName("tracestate")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? TraceState { get; init; }

    /// <summary>When a message sent with a delay becomes visible: the start of its queue lag, instead of <see cref="ReceivedAt"/>.</summary>
    [JsonPropertyName("due")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public DateTimeOffset? Due { get; init; }

    /// <summary>The envelope of a typed notification received at <paramref name="receivedAt"/>, in the current trace.</summary>
    public static NotificationEnvelope For<T>(T notification, DateTimeOffset receivedAt) where T : INotification<T>
    {
        var (traceParent, traceState) = Telemetry.TraceContext.Capture();
        return new(CurrentVersion, T.Kind, receivedAt, notification.ToPayload()) { TraceParent = traceParent, TraceState = traceState };
    }

    private static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Options);

    /// <summary>The same text as <see cref="ToJson"/>, as UTF-8: what the queue stores, without a string in between.</summary>
    public byte[] ToUtf8Json() => JsonSerializer.SerializeToUtf8Bytes(this, Options);

    /// <summary>
    /// The message text as it was queued. The Functions host may hand the text over JSON-encoded once more (a JSON
    /// string whose content is the envelope; an envelope itself never starts with a quote), so a string literal is
    /// unwrapped once. Null when the text starts with a quote but is not a JSON string.
    /// </summary>
    public static string? Unwrap(string text)
    {
        var trimmed = text.AsSpan().Trim();
        if (trimmed.Length == 0 || trimmed[0] != '"')
        {
            return text;
        }

        try
        {
            return JsonSerializer.Deserialize<string>(text);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Parses a message text (see <see cref="Unwrap"/>); anything that is not a version-1 envelope is an <see cref="InvalidMessageException"/>.</summary>
    public static NotificationEnvelope Parse(string text)
    {
        text = Unwrap(text) ?? throw new InvalidMessageException("The message is a malformed JSON string.");

        NotificationEnvelope? envelope;
        try
        {
            envelope = JsonSerializer.Deserialize<NotificationEnvelope>(text, Options);
        }
        catch (JsonException ex)
        {
            throw new InvalidMessageException($"The message is not a notification envelope: {ex.Message}");
        }

        if (envelope is null || envelope.Version != CurrentVersion || string.IsNullOrEmpty(envelope.Kind))
        {
            throw new InvalidMessageException("The message is not a version-1 notification envelope.");
        }

        return envelope;
    }
}
