using System.Text.Json;
using System.Text.Json.Serialization;

namespace PaymentFunctions.Notifications;

/// <summary>
/// The queue message: a small versioned envelope around a notification whose signature was already verified
/// at intake. <see cref="Payload"/> is the platform's data as received (P云: the form fields).
/// </summary>
public sealed record NotificationEnvelope(
    [property: JsonPropertyName("v")] int Version,
    [property: JsonPropertyName("kind")] string Kind,
    [property: JsonPropertyName("receivedAt")] DateTimeOffset ReceivedAt,
    [property: JsonPropertyName("payload")] JsonElement Payload)
{
    public const int CurrentVersion = 1;

    public static class Kinds
    {
        public const string PyunTrade = "pyun.trade";
        public const string WeChatPayScore = "wechatpay.payscore";
    }

    private static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Options);

    /// <summary>The same text as <see cref="ToJson"/>, as UTF-8: what the queue stores, without a string in between.</summary>
    public byte[] ToUtf8Json() => JsonSerializer.SerializeToUtf8Bytes(this, Options);

    /// <summary>
    /// Parses a message text. The Functions host may hand the text over JSON-encoded once more (a JSON string
    /// whose content is the envelope), so a string literal is unwrapped once.
    /// </summary>
    public static NotificationEnvelope Parse(string text)
    {
        var trimmed = text.AsSpan().Trim();
        if (trimmed.Length > 0 && trimmed[0] == '"')
        {
            text = JsonSerializer.Deserialize<string>(text) ?? throw new InvalidMessageException("The message is an empty JSON string.");
        }

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

/// <summary>A message that can never be processed; it is retried like any failure and ends in the poison queue.</summary>
public sealed class InvalidMessageException(string message) : Exception(message);
