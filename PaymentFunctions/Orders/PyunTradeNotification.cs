using System.Text.Json;
using PaymentFunctions.Notifications;
using PaymentFunctions.Pyun;

namespace PaymentFunctions.Orders;

/// <summary>
/// A verified P云 payment notification: the signed form fields as received (what the queue keeps, so an orphan
/// record holds P云's own data) and the trade result read from them. Intake and processing read the fields through
/// the same <see cref="TryFrom"/>, so a notification intake accepted is read the same way when it is applied.
/// </summary>
public sealed record PyunTradeNotification(IReadOnlyDictionary<string, string> Fields, PyunTradeResult Result) : INotification<PyunTradeNotification>
{
    public static string Kind => "pyun.trade";

    public string EventKey => Result.EventKey;

    public static bool TryFrom(IReadOnlyDictionary<string, string> fields, out PyunTradeNotification? notification, out string error)
    {
        notification = PyunTradeResult.TryFromNotification(fields, out var result, out error) ? new(fields, result!) : null;
        return notification is not null;
    }

    public JsonElement ToPayload() => JsonSerializer.SerializeToElement(Fields);

    public static PyunTradeNotification FromPayload(JsonElement payload)
    {
        var fields = NotificationHandlers.ReadPayload(() => payload.Deserialize<Dictionary<string, string>>())
                     ?? throw new InvalidMessageException("The P云 payload is empty.");
        return TryFrom(fields, out var notification, out var error) ? notification! : throw new InvalidMessageException(error);
    }
}

/// <summary>Applies a queued P云 payment notification to its order.</summary>
public sealed class PyunTradeNotificationHandler(PyunPaymentProcessor processor) : NotificationHandler<PyunTradeNotification>
{
    protected override async Task<string> HandleAsync(PyunTradeNotification notification, DateTimeOffset receivedAt, CancellationToken cancellationToken)
    {
        var processed = await processor.ApplyAsync(notification.Result, "pyun.notify", receivedAt, cancellationToken);
        return $"{processed.OrderId}: {processed.Outcome} ({processed.From} -> {processed.To})";
    }
}
