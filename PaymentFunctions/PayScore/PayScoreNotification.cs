using System.Text.Json;
using PaymentFunctions.Notifications;
using PaymentFunctions.WeChatPay;

namespace PaymentFunctions.PayScore;

/// <summary>
/// A verified, decrypted WeChat Pay Score callback: its <c>id</c> and event, the decrypted resource as WeChat sent
/// it (what the queue keeps, so an orphan record holds WeChat's own data) and that resource read as a service order.
/// </summary>
public sealed record PayScoreNotification(string Id, string? EventType, string? CreateTime, JsonElement Resource, PayScoreServiceOrder Order)
    : INotification<PayScoreNotification>
{
    public static string Kind => "wechatpay.payscore";

    public string EventKey => Id;

    /// <summary>A notification whose order has an out_order_no; null (with the reason) otherwise.</summary>
    public static PayScoreNotification? From(string? id, string? eventType, string? createTime, JsonElement resource, PayScoreServiceOrder? order, out string error)
    {
        if (order is null)
        {
            error = "The Pay Score payload has no resource.";
            return null;
        }

        if (string.IsNullOrEmpty(id) || string.IsNullOrEmpty(order.OutOrderNo))
        {
            error = "The Pay Score payload has no id or no out_order_no.";
            return null;
        }

        error = "";
        return new(id, eventType, createTime, resource, order);
    }

    public JsonElement ToPayload() => JsonSerializer.SerializeToElement(new Dictionary<string, object?>
    {
        ["id"] = Id,
        ["eventType"] = EventType,
        ["createTime"] = CreateTime,
        ["resource"] = Resource,
    });

    public static PayScoreNotification FromPayload(JsonElement payload)
    {
        var (id, eventType, createTime, resource, order) = NotificationHandlers.ReadPayload(() =>
        {
            var resource = payload.GetProperty("resource");
            return (payload.GetProperty("id").GetString(), OptionalString(payload, "eventType"), OptionalString(payload, "createTime"),
                resource, resource.Deserialize<PayScoreServiceOrder>(WeChatPayJson.Options));
        });
        return From(id, eventType, createTime, resource, order, out var error) ?? throw new InvalidMessageException(error);
    }

    /// <summary>Absent or null is null (messages queued before these members existed lack them); any other non-string is malformed.</summary>
    private static string? OptionalString(JsonElement payload, string name) =>
        payload.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null ? value.GetString() : null;
}

/// <summary>Applies a queued Pay Score callback to its service order.</summary>
public sealed class PayScoreNotificationHandler(PayScoreProcessor processor) : NotificationHandler<PayScoreNotification>
{
    protected override async Task<string> HandleAsync(PayScoreNotification notification, DateTimeOffset receivedAt, CancellationToken cancellationToken)
    {
        var processed = await processor.ApplyAsync(notification.Order, "wechatpay.notify", notification.Id, receivedAt, cancellationToken);
        return $"{notification.Order.OutOrderNo}: {processed.Outcome}";
    }
}
