namespace PaymentFunctions.Notifications;

/// <summary>Puts verified notifications on the queue. Returns only once the service has accepted the message.</summary>
public sealed class NotificationQueue(Storage.StorageResources storage)
{
    public async Task EnqueueAsync(NotificationEnvelope envelope, CancellationToken cancellationToken)
    {
        await storage.EnsureCreatedAsync(cancellationToken);
        await storage.Notifications.SendMessageAsync(envelope.ToJson(), cancellationToken);
    }
}
