using Azure;
using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;
using OpenTelemetry;
using PaymentFunctions.Notifications;

namespace PaymentFunctions.Hosting;

/// <summary>
/// What the Functions queue trigger does with one received message, for the standalone listeners (the notification
/// queue's and the event delivery queue's), with host.json's settings: decode it (<see cref="QueueListener.Decode"/>),
/// process it, and delete it on success; on failure release it for <c>visibilityTimeout</c>; at <c>maxDequeueCount</c>
/// failures (or on arrival past it), or at once when no retry can fix it (<see cref="PermanentMessageException"/>),
/// copy it to the poison queue unchanged and delete it. Both clients are unencoded, so the stored text is what moves.
/// </summary>
/// <param name="noun">How the logs name a message of this queue.</param>
public sealed class StandaloneMessageHandler(QueueClient source, QueueClient poison, QueueSettings settings, ILogger logger, string noun)
{
    public async Task HandleAsync(QueueMessage message, Func<string, CancellationToken, Task<string>> process, CancellationToken cancellationToken)
    {
        // With no message encoding, Body is the stored text itself: what a poisoned copy must carry unchanged.
        var stored = message.Body.ToString();
        if (message.DequeueCount > settings.MaxDequeueCount)
        {
            await PoisonAsync(message, stored, null, "arrived past the maximum dequeue count", cancellationToken);
            return;
        }

        try
        {
            var outcome = await process(QueueListener.Decode(stored), cancellationToken);
            using (SuppressInstrumentationScope.Begin())
            {
                await source.DeleteMessageAsync(message.MessageId, message.PopReceipt, cancellationToken);
            }

            logger.LogDebug("{Noun} {MessageId}: {Outcome}", noun, message.MessageId, outcome);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Shutting down: the lease runs out and the message comes back.
        }
        catch (PermanentMessageException ex)
        {
            // No retry can fix it (orphans are recorded by the processor and never get here): poison it now, unchanged.
            await PoisonAsync(message, stored, null, ex.Message, cancellationToken);
        }
        catch (Exception ex) when (message.DequeueCount >= settings.MaxDequeueCount)
        {
            await PoisonAsync(message, stored, ex, $"failed {message.DequeueCount} times", cancellationToken);
        }
        catch (Exception ex)
        {
            logger.LogWarning(ex, "{Noun} {MessageId} failed (attempt {Count} of {Max}); it comes back in {Delay}",
                noun, message.MessageId, message.DequeueCount, settings.MaxDequeueCount, settings.VisibilityTimeout);
            await ReleaseAsync(message, cancellationToken);
        }
    }

    private async Task PoisonAsync(QueueMessage message, string stored, Exception? cause, string reason, CancellationToken cancellationToken)
    {
        using var untraced = SuppressInstrumentationScope.Begin();
        try
        {
            // Copy first, delete second: a crash in between leaves a duplicate, never a loss.
            await poison.SendMessageAsync(stored, cancellationToken);
            await source.DeleteMessageAsync(message.MessageId, message.PopReceipt, cancellationToken);
            logger.LogError(cause, "{Noun} {MessageId} poisoned ({Reason}): copied to {Poison}", noun, message.MessageId, reason, poison.Name);
        }
        catch (RequestFailedException ex)
        {
            logger.LogError(ex, "Could not poison {Noun} {MessageId}; it comes back when its lease ends", noun, message.MessageId);
        }
    }

    private async Task ReleaseAsync(QueueMessage message, CancellationToken cancellationToken)
    {
        using var untraced = SuppressInstrumentationScope.Begin();
        try
        {
            await source.UpdateMessageAsync(message.MessageId, message.PopReceipt, visibilityTimeout: settings.VisibilityTimeout, cancellationToken: cancellationToken);
        }
        catch (RequestFailedException ex)
        {
            logger.LogWarning(ex, "Could not release {Noun} {MessageId}; it comes back when its lease ends", noun, message.MessageId);
        }
    }
}
