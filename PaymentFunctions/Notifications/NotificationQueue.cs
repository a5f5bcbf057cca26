namespace PaymentFunctions.Notifications;

/// <summary>Puts verified notifications on the queue. Returns only once the service has accepted the message.</summary>
public sealed class NotificationQueue(Storage.StorageResources storage)
{
    public async Task EnqueueAsync(NotificationEnvelope envelope, CancellationToken cancellationToken)
    {
        await storage.EnsureCreatedAsync(cancellationToken);
        // Bytes, not a string: the client Base64-encodes them as they are (the queue's message encoding).
        await storage.Notifications.SendMessageAsync(new BinaryData(envelope.ToUtf8Json()), cancellationToken: cancellationToken);
    }
}
