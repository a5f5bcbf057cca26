using System.Text;
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

    private readonly StandaloneMessageHandler _handler = new(storage.RawNotifications, storage.RawPoison, settings, logger, "Message");

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

    private async Task HandleAsync(QueueMessage message, CancellationToken cancellationToken) =>
        await _handler.HandleAsync(message, async (text, ct) =>
        {
            await using var scope = scopes.CreateAsyncScope();
            return await scope.ServiceProvider.GetRequiredService<NotificationProcessor>().ProcessAsync(text, ct);
        }, cancellationToken);

    private TimeSpan Backoff(TimeSpan current)
    {
        var doubled = TimeSpan.FromTicks(Math.Min(current.Ticks * 2, settings.MaxPollingInterval.Ticks));
        var jitter = TimeSpan.FromMilliseconds(Random.Shared.Next(0, (int)Math.Max(1, doubled.TotalMilliseconds / 5)));
        return TimeSpan.FromTicks(Math.Min((doubled + jitter).Ticks, settings.MaxPollingInterval.Ticks));
    }
}
