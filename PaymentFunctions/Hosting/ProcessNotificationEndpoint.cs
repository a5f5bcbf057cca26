using System.Text.Json;
using System.Text.Json.Serialization;
using PaymentFunctions.Notifications;

namespace PaymentFunctions.Hosting;

/// <summary>
/// <c>POST /ProcessNotification</c>: the Functions host invokes the queue-triggered function here with its
/// <c>{Data, Metadata}</c> payload. A 2xx completes the message; anything else makes the host retry it and,
/// after <c>maxDequeueCount</c>, move it to the poison queue.
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

    internal static async Task<IResult> HandleAsync(HttpRequest request, NotificationProcessor processor, ILoggerFactory loggers, CancellationToken cancellationToken)
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
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            logger.LogError(ex, "Notification processing failed (dequeue count {DequeueCount}); the host will retry it", dequeueCount);
            return Failure(ex.Message);
        }
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
