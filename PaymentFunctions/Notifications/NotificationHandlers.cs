using System.Text.Json;

namespace PaymentFunctions.Notifications;

/// <summary>
/// One notification kind's typed message: what intake puts in the envelope's payload and what its handler reads
/// back. <see cref="FromPayload"/> is the one parser of that payload (intake builds the record through the same
/// rules), and throws <see cref="InvalidMessageException"/> for a payload of the wrong shape.
/// </summary>
public interface INotification<TSelf> : INotification where TSelf : INotification<TSelf>
{
    /// <summary>The envelope's <c>kind</c>; it never changes once messages of it may be queued.</summary>
    static abstract string Kind { get; }

    static abstract TSelf FromPayload(JsonElement payload);

    /// <summary>The envelope's payload: the platform's data as received.</summary>
    JsonElement ToPayload();
}

/// <summary>What the processor needs of any notification: the key an orphan of it is recorded under.</summary>
public interface INotification
{
    string EventKey { get; }
}

/// <summary>Handles one kind of notification; register it with <see cref="NotificationServiceCollectionExtensions.AddNotificationHandler{THandler}"/>.</summary>
public interface INotificationHandler
{
    string Kind { get; }

    /// <summary>The typed notification in <paramref name="payload"/>; <see cref="InvalidMessageException"/> when it is malformed.</summary>
    INotification Decode(JsonElement payload);

    /// <summary>
    /// Applies a notification <see cref="Decode"/> returned. Returns a one-line summary for the log; throws
    /// <see cref="OrphanNotificationException"/> when it is about nothing of ours, <see cref="PermanentMessageException"/>
    /// when no retry can help, and anything else for a transient failure.
    /// </summary>
    Task<string> HandleAsync(INotification notification, DateTimeOffset receivedAt, CancellationToken cancellationToken);
}

/// <summary>The typed base of a handler: decoding by the record's own parser, and applying the typed record.</summary>
public abstract class NotificationHandler<T> : INotificationHandler where T : INotification<T>
{
    public string Kind => T.Kind;

    public INotification Decode(JsonElement payload) => T.FromPayload(payload);

    public Task<string> HandleAsync(INotification notification, DateTimeOffset receivedAt, CancellationToken cancellationToken) =>
        HandleAsync((T)notification, receivedAt, cancellationToken);

    protected abstract Task<string> HandleAsync(T notification, DateTimeOffset receivedAt, CancellationToken cancellationToken);
}

/// <summary>The registered handlers by kind. Two handlers for one kind is a startup error, not a silent choice.</summary>
public sealed class NotificationHandlers
{
    private readonly Dictionary<string, INotificationHandler> byKind = new(StringComparer.Ordinal);

    public NotificationHandlers(IEnumerable<INotificationHandler> handlers)
    {
        foreach (var handler in handlers)
        {
            if (!byKind.TryAdd(handler.Kind, handler))
            {
                throw new InvalidOperationException($"Two notification handlers are registered for kind '{handler.Kind}'.");
            }
        }
    }

    public IReadOnlyCollection<string> Kinds => byKind.Keys;

    /// <summary>The handler of <paramref name="kind"/>; an unknown kind is a message to poison at once.</summary>
    public INotificationHandler For(string kind) =>
        byKind.GetValueOrDefault(kind)
        ?? throw new InvalidMessageException($"Unknown notification kind '{Http.LogValue.Safe(kind, 40)}'.");

    /// <summary>A payload of the wrong shape (a missing member, a number where text belongs) is a malformed message, not a transient failure.</summary>
    public static TResult ReadPayload<TResult>(Func<TResult> read)
    {
        try
        {
            return read();
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or NotSupportedException)
        {
            throw new InvalidMessageException($"The payload is malformed: {ex.Message}");
        }
    }
}

public static class NotificationServiceCollectionExtensions
{
    /// <summary>Registers a notification kind's handler: adding a kind is its handler file plus this one line.</summary>
    public static IServiceCollection AddNotificationHandler<THandler>(this IServiceCollection services)
        where THandler : class, INotificationHandler
    {
        services.AddSingleton<INotificationHandler, THandler>();
        return services;
    }
}
