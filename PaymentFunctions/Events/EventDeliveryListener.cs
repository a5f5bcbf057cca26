using Azure;
using Azure.Storage.Queues.Models;
using OpenTelemetry;
using PaymentFunctions.Hosting;
using PaymentFunctions.Notifications;
using PaymentFunctions.Storage;

namespace PaymentFunctions.Events;

/// <summary>
/// The standalone stand-in for the <c>DeliverEvent</c> queue trigger, with the same host.json semantics as
/// <see cref="QueueListener"/> (batches, visibility timeout on failure, poison after <c>maxDequeueCount</c>) on the
/// delivery queue. A receiver's failure is not a message failure: the deliverer records it and queues the retry, so
/// only storage trouble makes a message come back. Separate from the notification listener, so a slow receiver
/// never holds up payment processing.
/// </summary>
public sealed class EventDeliveryListener(
    StorageResources storage,
    EventDeliverer deliverer,
    QueueSettings settings,
    TimeProvider clock,
    ILogger<EventDeliveryListener> logger) : BackgroundService
{
    /// <summary>Longer than an attempt can take (Events:Timeout is at most 1 minute) plus its writes.</summary>
    private static readonly TimeSpan Lease = TimeSpan.FromMinutes(3);

    private static readonly TimeSpan MinimumPoll = TimeSpan.FromMilliseconds(100);

    private readonly StandaloneMessageHandler _handler = new(storage.RawEvents, storage.RawEventsPoison, settings, logger, "Delivery message");

    /// <summary>
    /// Keeps up to <c>batchSize</c> deliveries in flight and fetches more as soon as one finishes (as the host does
    /// with <c>newBatchThreshold</c>), so a receiver that hangs until the timeout holds one slot, not the queue.
    /// </summary>
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        logger.LogInformation("Event delivery listener on {Queue}, poison queue {Poison}", storage.Events.Name, storage.EventsPoison.Name);
        using var slots = new SemaphoreSlim(settings.BatchSize, settings.BatchSize);
        var delay = MinimumPoll;
        while (!stoppingToken.IsCancellationRequested)
        {
            var free = 0;
            try
            {
                await slots.WaitAsync(stoppingToken);
                free = 1;
                while (free < settings.BatchSize && slots.Wait(0, CancellationToken.None))
                {
                    free++;
                }

                QueueMessage[] messages;
                using (SuppressInstrumentationScope.Begin()) // polls are not traced (see QueueListener)
                {
                    await storage.EnsureEventQueuesCreatedAsync(stoppingToken);
                    messages = await storage.RawEvents.ReceiveMessagesAsync(free, Lease, stoppingToken);
                }

                foreach (var message in messages)
                {
                    free--;
                    _ = Task.Run(async () =>
                    {
                        try
                        {
                            await HandleAsync(message, stoppingToken);
                        }
                        finally
                        {
                            slots.Release();
                        }
                    }, CancellationToken.None);
                }

                delay = messages.Length > 0 ? MinimumPoll : TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, settings.MaxPollingInterval.Ticks));
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                logger.LogWarning(ex, "Event delivery listener could not reach storage; backing off");
                delay = settings.MaxPollingInterval;
            }
            finally
            {
                if (free > 0)
                {
                    slots.Release(free);
                }
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
        using (SuppressInstrumentationScope.Begin())
        {
            await storage.EnsureEventQueuesCreatedAsync(cancellationToken);
            messages = await storage.RawEvents.ReceiveMessagesAsync(settings.BatchSize, Lease, cancellationToken);
        }

        await Task.WhenAll(messages.Select(m => HandleAsync(m, cancellationToken)));
        return messages.Length;
    }

    private Task HandleAsync(QueueMessage message, CancellationToken cancellationToken) =>
        _handler.HandleAsync(message, deliverer.ProcessAsync, cancellationToken);
}
