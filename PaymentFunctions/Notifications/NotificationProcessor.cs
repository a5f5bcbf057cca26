namespace PaymentFunctions.Notifications;

/// <summary>
/// The one entry point for queued notifications, shared by the Functions host invocation and the
/// standalone queue listener: parses the envelope and hands its typed payload to the kind's registered handler.
/// Throws <see cref="InvalidMessageException"/> for a message to poison at once (an unknown kind, a malformed
/// payload), and anything else for a failure to retry (and finally poison). A notification about an order we do
/// not have is recorded as an orphan here, and counts as processed.
/// </summary>
public sealed class NotificationProcessor(NotificationHandlers handlers, OrphanStore orphans)
{
    public async Task<string> ProcessAsync(string messageText, CancellationToken cancellationToken)
    {
        var envelope = NotificationEnvelope.Parse(messageText);
        var handler = handlers.For(envelope.Kind);
        var notification = handler.Decode(envelope.Payload);
        try
        {
            return await handler.HandleAsync(notification, envelope.ReceivedAt, cancellationToken);
        }
        catch (OrphanNotificationException ex)
        {
            return await RecordOrphanAsync(envelope, ex, notification.EventKey, cancellationToken);
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
