using PaymentFunctions.Telemetry;

namespace PaymentFunctions.Notifications;

/// <summary>
/// The one entry point for queued notifications, shared by the Functions host invocation and the
/// standalone queue listener: parses the envelope and hands its typed payload to the kind's registered handler.
/// Throws <see cref="InvalidMessageException"/> for a message to poison at once (an unknown kind, a malformed
/// payload), and anything else for a failure to retry (and finally poison). A notification about an order we do
/// not have is recorded as an orphan here, and counts as processed. Each message is one span (<c>process {kind}</c>)
/// in the trace of the work that queued it, and one count of <c>payment.queue.messages</c>.
/// </summary>
public sealed class NotificationProcessor(NotificationHandlers handlers, OrphanStore orphans, TimeProvider clock)
{
    public async Task<string> ProcessAsync(string messageText, CancellationToken cancellationToken)
    {
        NotificationEnvelope envelope;
        try
        {
            envelope = NotificationEnvelope.Parse(messageText);
        }
        catch (InvalidMessageException)
        {
            PaymentTelemetry.MessageProcessed(PaymentTelemetry.NotificationsQueue, "unknown", "invalid");
            throw;
        }

        // Only registered kinds become tag values and span names: a forged kind must not grow the metric's series.
        var kind = handlers.Kinds.Contains(envelope.Kind) ? envelope.Kind : "unknown";
        using var activity = PaymentTelemetry.StartProcessing($"process {kind}", PaymentTelemetry.NotificationsQueue, kind,
            envelope.TraceParent, envelope.TraceState, linkOnly: envelope.Due is not null);
        try
        {
            var handler = handlers.For(envelope.Kind);
            var notification = handler.Decode(envelope.Payload);
            string summary;
            string outcome;
            try
            {
                summary = await handler.HandleAsync(notification, envelope.ReceivedAt, cancellationToken);
                outcome = "processed";
            }
            catch (OrphanNotificationException ex)
            {
                summary = await RecordOrphanAsync(envelope, ex, notification.EventKey, cancellationToken);
                outcome = "orphan";
            }

            activity?.SetTag("payment.outcome", outcome);
            PaymentTelemetry.MessageProcessed(PaymentTelemetry.NotificationsQueue, kind, outcome, clock.GetUtcNow() - (envelope.Due ?? envelope.ReceivedAt));
            return summary;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            PaymentTelemetry.Fail(activity, ex);
            PaymentTelemetry.MessageProcessed(PaymentTelemetry.NotificationsQueue, kind, ex is PermanentMessageException ? "invalid" : "failed");
            throw;
        }
    }

    private async Task<string> RecordOrphanAsync(NotificationEnvelope envelope, OrphanNotificationException orphan, string eventKey, CancellationToken cancellationToken)
    {
        var recorded = await orphans.RecordAsync(
            new OrphanNotification(orphan.Platform, envelope.Kind, orphan.Reference, eventKey, envelope.ReceivedAt, orphan.Message, envelope.Payload.GetRawText()),
            cancellationToken);
        return $"{orphan.Reference}: orphan {(recorded ? "recorded" : "already recorded")} ({orphan.Message})";
    }
}
