using System.Text;
using Azure;
using Azure.Storage.Queues.Models;
using OpenTelemetry;
using PaymentFunctions.Notifications;
using PaymentFunctions.Storage;

namespace PaymentFunctions.Hosting;

/// <summary>
/// The standalone stand-in for the Functions queue trigger, reading the same host.json settings:
/// batches of <c>batchSize</c>, each finished before the next is fetched (so at most <c>batchSize</c> messages are in
/// flight; <c>newBatchThreshold</c> is not used, where the host fetches more as soon as the messages still in flight
/// drop to it); success deletes; failure releases the message after <c>visibilityTimeout</c>;
/// at <c>maxDequeueCount</c> failures (or on arrival past it) the message is copied to the poison queue and
/// deleted; an empty queue is polled with randomized backoff up to <c>maxPollingInterval</c>. A message that can
/// never be processed (not Base64, not UTF-8, not an envelope: <see cref="PermanentMessageException"/>) is
/// poisoned at once, as the host's trigger does with a message it cannot decode.
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

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

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
        QueueMessage[] messages;
        // Polling is no one's story: its storage calls are not traced (each empty poll would be a trace of its own).
        using (SuppressInstrumentationScope.Begin())
        {
            await storage.EnsureCreatedAsync(cancellationToken);
            // Received without decoding, and decoded one by one below: the SDK's Base64 decoding would fail the whole
            // batch on one message that is not Base64, again on every poll, and never poison it.
            messages = await storage.RawNotifications.ReceiveMessagesAsync(settings.BatchSize, Lease, cancellationToken);
        }

        await Task.WhenAll(messages.Select(m => HandleAsync(m, cancellationToken)));
        return messages.Length;
    }

    /// <summary>
    /// A stored message's text: Base64 (host.json <c>messageEncoding</c>) of UTF-8 text, as <see cref="NotificationQueue"/>
    /// sends it and as the host's trigger decodes it. Anything else can never be processed.
    /// </summary>
    internal static string Decode(string stored)
    {
        byte[] bytes;
        try
        {
            bytes = Convert.FromBase64String(stored);
        }
        catch (FormatException)
        {
            throw new InvalidMessageException("The message is not Base64.");
        }

        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw new InvalidMessageException("The message's Base64 content is not UTF-8 text.");
        }
    }

    private async Task HandleAsync(QueueMessage message, CancellationToken cancellationToken)
    {
        // With no message encoding, Body is the stored text itself: what a poisoned copy must carry unchanged.
        var stored = message.Body.ToString();
        if (message.DequeueCount > settings.MaxDequeueCount)
        {
            await PoisonAsync(message, stored, "arrived past the maximum dequeue count", cancellationToken);
            return;
        }

        try
        {
            var text = Decode(stored);
            await using var scope = scopes.CreateAsyncScope();
            var processor = scope.ServiceProvider.GetRequiredService<NotificationProcessor>();
            var outcome = await processor.ProcessAsync(text, cancellationToken);
            using (SuppressInstrumentationScope.Begin())
            {
                await storage.RawNotifications.DeleteMessageAsync(message.MessageId, message.PopReceipt, cancellationToken);
            }

            logger.LogDebug("Message {MessageId}: {Outcome}", message.MessageId, outcome);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Shutting down: the lease runs out and the message comes back.
        }
        catch (PermanentMessageException ex)
        {
            // No retry can fix it (orphans are recorded by the processor and never get here): poison it now, unchanged.
            await PoisonAsync(message, stored, ex.Message, cancellationToken);
        }
        catch (Exception ex)
        {
            if (message.DequeueCount >= settings.MaxDequeueCount)
            {
                logger.LogError(ex, "Message {MessageId} failed {Count} times; moving it to {Poison}", message.MessageId, message.DequeueCount, storage.Poison.Name);
                await PoisonAsync(message, stored, ex.Message, cancellationToken);
                return;
            }

            logger.LogWarning(ex, "Message {MessageId} failed (attempt {Count} of {Max}); it comes back in {Delay}",
                message.MessageId, message.DequeueCount, settings.MaxDequeueCount, settings.VisibilityTimeout);
            await ReleaseAsync(message, cancellationToken);
        }
    }

    private async Task PoisonAsync(QueueMessage message, string stored, string reason, CancellationToken cancellationToken)
    {
        using var untraced = SuppressInstrumentationScope.Begin();
        try
        {
            // Copy first, delete second: a crash in between leaves a duplicate, never a loss. Both clients are
            // unencoded, so the copy is the stored text byte for byte, whatever it holds.
            await storage.RawPoison.SendMessageAsync(stored, cancellationToken);
            await storage.RawNotifications.DeleteMessageAsync(message.MessageId, message.PopReceipt, cancellationToken);
            logger.LogError("Message {MessageId} poisoned: {Reason}", message.MessageId, reason);
        }
        catch (RequestFailedException ex)
        {
            logger.LogError(ex, "Could not poison message {MessageId}; it will come back when its lease ends", message.MessageId);
        }
    }

    private async Task ReleaseAsync(QueueMessage message, CancellationToken cancellationToken)
    {
        using var untraced = SuppressInstrumentationScope.Begin();
        try
        {
            await storage.RawNotifications.UpdateMessageAsync(message.MessageId, message.PopReceipt, visibilityTimeout: settings.VisibilityTimeout, cancellationToken: cancellationToken);
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
