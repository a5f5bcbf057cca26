using System.Text.Json;
using PaymentFunctions.Orders;
using PaymentFunctions.Pyun;

namespace PaymentFunctions.Notifications;

/// <summary>
/// The one entry point for queued notifications, shared by the Functions host invocation and the
/// standalone queue listener. Throws <see cref="InvalidMessageException"/> for a message to poison at once,
/// and anything else for a failure to retry (and finally poison). A notification about an order we do not
/// have is recorded as an orphan here, and counts as processed.
/// </summary>
public sealed class NotificationProcessor(PyunPaymentProcessor pyun, PayScore.PayScoreProcessor payScore, OrphanStore orphans)
{
    public async Task<string> ProcessAsync(string messageText, CancellationToken cancellationToken)
    {
        var envelope = NotificationEnvelope.Parse(messageText);
        switch (envelope.Kind)
        {
            case NotificationEnvelope.Kinds.PyunTrade:
            {
                var fields = Payload(() => envelope.Payload.Deserialize<Dictionary<string, string>>())
                             ?? throw new InvalidMessageException("The P云 payload is empty.");
                if (!PyunTradeResult.TryFromNotification(fields, out var result, out var error))
                {
                    throw new InvalidMessageException(error);
                }

                try
                {
                    var processed = await pyun.ApplyAsync(result!, "pyun.notify", envelope.ReceivedAt, cancellationToken);
                    return $"{processed.OrderId}: {processed.Outcome} ({processed.From} -> {processed.To})";
                }
                catch (OrphanNotificationException ex)
                {
                    return await RecordOrphanAsync(envelope, ex, result!.EventKey, cancellationToken);
                }
            }

            case NotificationEnvelope.Kinds.WeChatPayScore:
            {
                var (id, order) = Payload(() => (
                    envelope.Payload.GetProperty("id").GetString(),
                    envelope.Payload.GetProperty("resource").Deserialize<WeChatPay.PayScoreServiceOrder>(WeChatPay.WeChatPayJson.Options)));
                if (order is null)
                {
                    throw new InvalidMessageException("The Pay Score payload has no resource.");
                }

                if (string.IsNullOrEmpty(id) || string.IsNullOrEmpty(order.OutOrderNo))
                {
                    throw new InvalidMessageException("The Pay Score payload has no id or no out_order_no.");
                }

                try
                {
                    var processed = await payScore.ApplyAsync(order, "wechatpay.notify", id, envelope.ReceivedAt, cancellationToken);
                    return $"{order.OutOrderNo}: {processed.Outcome}";
                }
                catch (OrphanNotificationException ex)
                {
                    return await RecordOrphanAsync(envelope, ex, id, cancellationToken);
                }
            }

            default:
                throw new InvalidMessageException($"Unknown notification kind '{Http.LogValue.Safe(envelope.Kind, 40)}'.");
        }
    }

    private async Task<string> RecordOrphanAsync(NotificationEnvelope envelope, OrphanNotificationException orphan, string eventKey, CancellationToken cancellationToken)
    {
        var recorded = await orphans.RecordAsync(
            new OrphanNotification(orphan.Platform, envelope.Kind, orphan.Reference, eventKey, envelope.ReceivedAt, orphan.Message, envelope.Payload.GetRawText()),
            cancellationToken);
        return $"{orphan.Reference}: orphan {(recorded ? "recorded" : "already recorded")} ({orphan.Message})";
    }

    /// <summary>A payload of the wrong shape (a missing member, a number where text belongs) is a malformed message, not a transient failure.</summary>
    private static T Payload<T>(Func<T> read)
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
