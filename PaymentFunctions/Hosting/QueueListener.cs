using Azure;
using Azure.Storage.Queues.Models;
using PaymentFunctions.Notifications;
using PaymentFunctions.Storage;

namespace PaymentFunctions.Hosting;

/// <summary>
/// The standalone stand-in for the Functions queue trigger, with the same semantics and host.json settings:
/// batches of <c>batchSize</c>; success deletes; failure releases the message after <c>visibilityTimeout</c>;
/// at <c>maxDequeueCount</c> failures (or on arrival past it) the message is copied to the poison queue and
/// deleted; an empty queue is polled with randomized backoff up to <c>maxPollingInterval</c>.
/// </summary>
public sealed class QueueListener(
    StorageResources storage,
    IServiceScopeFactory scopes,
    QueueSettings settings,
    TimeProvider clock,
    ILogger<QueueListener> logger) : BackgroundService
{
    /// <summary>
    /// How long a received message stays invisible while we work on it. Processing takes milliseconds; if storage
    /// dies mid-message we cannot release it, and it returns when this lease ends, so a short lease recovers fast.
    /// A redelivery is a no-op (the timeline row dedupes it). The host instead renews a 10-minute lease.
    /// </summary>
    private static readonly TimeSpan Lease = TimeSpan.FromMinutes(1);

    private static readonly TimeSpan MinimumPoll = TimeSpan.FromMilliseconds(100);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        logger.LogInformation("Queue listener on {Queue}: batch {Batch}, visibility timeout {Visibility}, max dequeue count {Max}, poison queue {Poison}",
            storage.Notifications.Name, settings.BatchSize, settings.VisibilityTimeout, settings.MaxDequeueCount, storage.Poison.Name);
        var delay = MinimumPoll;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var processed = await PollOnceAsync(stoppingToken);
                delay = processed > 0 ? MinimumPoll : Backoff(delay);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                logger.LogWarning(ex, "Queue listener could not reach storage; backing off");
                delay = Backoff(delay);
            }

            if (delay > MinimumPoll)
            {
                try
                {
                    await Task.Delay(delay, clock, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    /// <summary>Receives and handles one batch; returns how many messages it received.</summary>
    public async Task<int> PollOnceAsync(CancellationToken cancellationToken)
    {
        await storage.EnsureCreatedAsync(cancellationToken);
        QueueMessage[] messages = await storage.Notifications.ReceiveMessagesAsync(settings.BatchSize, Lease, cancellationToken);
        await Task.WhenAll(messages.Select(m => HandleAsync(m, cancellationToken)));
        return messages.Length;
    }

    private async Task HandleAsync(QueueMessage message, CancellationToken cancellationToken)
    {
        if (message.DequeueCount > settings.MaxDequeueCount)
        {
            await PoisonAsync(message, "arrived past the maximum dequeue count", cancellationToken);
            return;
        }

        try
        {
            await using var scope = scopes.CreateAsyncScope();
            var processor = scope.ServiceProvider.GetRequiredService<NotificationProcessor>();
            var outcome = await processor.ProcessAsync(message.Body.ToString(), cancellationToken);
            await storage.Notifications.DeleteMessageAsync(message.MessageId, message.PopReceipt, cancellationToken);
            logger.LogDebug("Message {MessageId}: {Outcome}", message.MessageId, outcome);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Shutting down: the lease runs out and the message comes back.
        }
        catch (Exception ex)
        {
            if (message.DequeueCount >= settings.MaxDequeueCount)
            {
                logger.LogError(ex, "Message {MessageId} failed {Count} times; moving it to {Poison}", message.MessageId, message.DequeueCount, storage.Poison.Name);
                await PoisonAsync(message, ex.Message, cancellationToken);
                return;
            }

            logger.LogWarning(ex, "Message {MessageId} failed (attempt {Count} of {Max}); it comes back in {Delay}",
                message.MessageId, message.DequeueCount, settings.MaxDequeueCount, settings.VisibilityTimeout);
            await ReleaseAsync(message, cancellationToken);
        }
    }

    private async Task PoisonAsync(QueueMessage message, string reason, CancellationToken cancellationToken)
    {
        try
        {
            // Copy first, delete second: a crash in between leaves a duplicate, never a loss.
            await storage.Poison.SendMessageAsync(message.Body.ToString(), cancellationToken);
            await storage.Notifications.DeleteMessageAsync(message.MessageId, message.PopReceipt, cancellationToken);
            logger.LogError("Message {MessageId} poisoned: {Reason}", message.MessageId, reason);
        }
        catch (RequestFailedException ex)
        {
            logger.LogError(ex, "Could not poison message {MessageId}; it will come back when its lease ends", message.MessageId);
        }
    }

    private async Task ReleaseAsync(QueueMessage message, CancellationToken cancellationToken)
    {
        try
        {
            await storage.Notifications.UpdateMessageAsync(message.MessageId, message.PopReceipt, visibilityTimeout: settings.VisibilityTimeout, cancellationToken: cancellationToken);
        }
        catch (RequestFailedException ex)
        {
            logger.LogWarning(ex, "Could not release message {MessageId}; it will come back when its lease ends", message.MessageId);
        }
    }

    private TimeSpan Backoff(TimeSpan current)
    {
        var doubled = TimeSpan.FromTicks(Math.Min(current.Ticks * 2, settings.MaxPollingInterval.Ticks));
        var jitter = TimeSpan.FromMilliseconds(Random.Shared.Next(0, (int)Math.Max(1, doubled.TotalMilliseconds / 5)));
        return TimeSpan.FromTicks(Math.Min((doubled + jitter).Ticks, settings.MaxPollingInterval.Ticks));
    }
}
