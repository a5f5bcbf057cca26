using System.Text.Json;
using PaymentFunctions.Orders;
using PaymentFunctions.Pyun;

namespace PaymentFunctions.Notifications;

/// <summary>
/// The one entry point for queued notifications, shared by the Functions host invocation and the
/// standalone queue listener. Throws on anything that should be retried (and finally poisoned).
/// </summary>
public sealed class NotificationProcessor(PyunPaymentProcessor pyun, PayScore.PayScoreProcessor payScore)
{
    public async Task<string> ProcessAsync(string messageText, CancellationToken cancellationToken)
    {
        var envelope = NotificationEnvelope.Parse(messageText);
        switch (envelope.Kind)
        {
            case NotificationEnvelope.Kinds.PyunTrade:
            {
                var fields = envelope.Payload.Deserialize<Dictionary<string, string>>()
                             ?? throw new InvalidMessageException("The P云 payload is empty.");
                if (!PyunTradeResult.TryFromNotification(fields, out var result, out var error))
                {
                    throw new InvalidMessageException(error);
                }

                var processed = await pyun.ApplyAsync(result!, "pyun.notify", envelope.ReceivedAt, cancellationToken);
                return $"{processed.OrderId}: {processed.Outcome} ({processed.From} -> {processed.To})";
            }

            case NotificationEnvelope.Kinds.WeChatPayScore:
            {
                var id = envelope.Payload.GetProperty("id").GetString();
                var order = envelope.Payload.GetProperty("resource").Deserialize<WeChatPay.PayScoreServiceOrder>(WeChatPay.WeChatPayJson.Options)
                            ?? throw new InvalidMessageException("The Pay Score payload has no resource.");
                var processed = await payScore.ApplyAsync(order, "wechatpay.notify", id, envelope.ReceivedAt, cancellationToken);
                return $"{order.OutOrderNo}: {processed.Outcome}";
            }

            default:
                throw new InvalidMessageException($"Unknown notification kind '{envelope.Kind}'.");
        }
    }
}
