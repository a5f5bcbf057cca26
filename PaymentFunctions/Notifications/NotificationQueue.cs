namespace PaymentFunctions.Notifications;

/// <summary>Puts notifications on the queue. Returns only once the service has accepted the message.</summary>
public sealed class NotificationQueue(Storage.StorageResources storage)
{
    public Task EnqueueAsync(NotificationEnvelope envelope, CancellationToken cancellationToken) =>
        EnqueueAsync(envelope, delay: null, cancellationToken);

    /// <summary>
    /// Sends the message invisible for <paramref name="delay"/> (whole seconds, at most 7 days: the queue's limit, and
    /// below the message's 7-day time to live). Both the Functions host and the standalone listener simply receive it
    /// once it shows up.
    /// </summary>
    public async Task EnqueueAsync(NotificationEnvelope envelope, TimeSpan? delay, CancellationToken cancellationToken)
    {
        await storage.EnsureCreatedAsync(cancellationToken);
        if (delay > TimeSpan.Zero && envelope.Due is null)
        {
            envelope = envelope with { Due = envelope.ReceivedAt + delay.Value };
        }

        // Bytes, not a string: the client Base64-encodes them as they are (the queue's message encoding).
        await storage.Notifications.SendMessageAsync(new BinaryData(envelope.ToUtf8Json()), visibilityTimeout: delay, cancellationToken: cancellationToken);
    }
}
