using System.Text.Json;
using System.Text.Json.Serialization;
using PaymentFunctions.Notifications;
using PaymentFunctions.Storage;

namespace PaymentFunctions.Hosting;

/// <summary>
/// <c>POST /ProcessNotification</c>: the Functions host invokes the queue-triggered function here with its
/// <c>{Data, Metadata}</c> payload. A 2xx completes the message; anything else makes the host retry it and,
/// after <c>maxDequeueCount</c>, move it to the poison queue. Mapped only under the host (see
/// <see cref="ApplicationServices.MapApplicationEndpoints"/>): it trusts its caller.
/// </summary>
public static class ProcessNotificationEndpoint
{
    public const string FunctionName = "ProcessNotification";

    /// <summary>The host's response shape, with its exact (PascalCase) names.</summary>
    public sealed record InvocationResult(
        [property: JsonPropertyName("Outputs")] Dictionary<string, object?> Outputs,
        [property: JsonPropertyName("Logs")] List<string> Logs,
        [property: JsonPropertyName("ReturnValue")] object? ReturnValue);

    public static void MapProcessNotification(this IEndpointRouteBuilder app) =>
        app.MapPost($"/{FunctionName}", HandleAsync).WithName(FunctionName).ExcludeFromDescription();

    internal static async Task<IResult> HandleAsync(HttpRequest request, NotificationProcessor processor, StorageResources storage, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        var logger = loggers.CreateLogger(FunctionName);
        string? text;
        long? dequeueCount = null;
        try
        {
            using var payload = await JsonDocument.ParseAsync(request.Body, cancellationToken: cancellationToken);
            text = ReadMessage(payload.RootElement);
            if (Property(payload.RootElement, "Metadata") is { ValueKind: JsonValueKind.Object } metadata &&
                Property(metadata, "DequeueCount") is { } count && count.TryGetInt64(out var c))
            {
                dequeueCount = c;
            }
        }
        catch (JsonException)
        {
            text = null;
        }

        if (text is null)
        {
            return Failure("The invocation payload has no Data.msg.");
        }

        try
        {
            var outcome = await processor.ProcessAsync(text, cancellationToken);
            return TypedResults.Json(new InvocationResult([], [outcome], null));
        }
        catch (PermanentMessageException ex)
        {
            return await PoisonAsync(text, ex, storage, logger, cancellationToken);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            logger.LogError(ex, "Notification processing failed (dequeue count {DequeueCount}); the host will retry it", dequeueCount);
            return Failure(ex.Message);
        }
    }

    /// <summary>
    /// A message no retry can fix is poisoned now rather than after <c>maxDequeueCount</c> failures. The host has no
    /// answer that means "poison this", so the handler copies the message to the poison queue itself and answers
    /// success, and the host then deletes the original. The copy carries the text as queued (the host's extra JSON
    /// encoding undone, as <see cref="NotificationEnvelope.Unwrap"/> does), Base64-encoded like every message. If the
    /// copy fails, the answer is a failure, so the host keeps the message and retries it.
    /// </summary>
    private static async Task<IResult> PoisonAsync(string text, PermanentMessageException reason, StorageResources storage, ILogger logger, CancellationToken cancellationToken)
    {
        var original = NotificationEnvelope.Unwrap(text) ?? text;
        try
        {
            await storage.EnsureCreatedAsync(cancellationToken);
            await storage.Poison.SendMessageAsync(original, cancellationToken);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            logger.LogError(ex, "Could not copy an unprocessable message to {Poison}; the host will retry it", storage.Poison.Name);
            return Failure($"{reason.Message} (and the copy to the poison queue failed: {ex.Message})");
        }

        logger.LogError("Message poisoned: {Reason} Copied to {Poison}; answering success so the host deletes the original", reason.Message, storage.Poison.Name);
        return TypedResults.Json(new InvocationResult([], [$"poisoned: {reason.Message}"], null));
    }

    /// <summary>Data.msg is the message text, possibly JSON-encoded once more by the host; an object is taken as is.</summary>
    private static string? ReadMessage(JsonElement root)
    {
        if (Property(root, "Data") is not { ValueKind: JsonValueKind.Object } data || Property(data, "msg") is not { } msg)
        {
            return null;
        }

        return msg.ValueKind switch
        {
            JsonValueKind.String => msg.GetString(),
            JsonValueKind.Object => msg.GetRawText(),
            _ => null,
        };
    }

    /// <summary>The host writes PascalCase with Newtonsoft; read names case-insensitively, as it would.</summary>
    private static JsonElement? Property(JsonElement element, string name)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        foreach (var property in element.EnumerateObject())
        {
            if (property.NameEquals(name) || property.Name.Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                return property.Value;
            }
        }

        return null;
    }

    private static Microsoft.AspNetCore.Http.HttpResults.JsonHttpResult<InvocationResult> Failure(string message) =>
        TypedResults.Json(new InvocationResult([], [message], null), statusCode: StatusCodes.Status500InternalServerError);
}
