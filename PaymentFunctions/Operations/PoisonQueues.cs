using System.Text.Json;
using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;
using PaymentFunctions.Hosting;
using PaymentFunctions.Notifications;
using PaymentFunctions.Storage;

namespace PaymentFunctions.Operations;

/// <summary>A queue the app consumes and the poison queue its failed messages land in, by the name the operator types.</summary>
public sealed record PoisonQueuePair(string Name, string SourceQueue, string PoisonQueue);

/// <summary>A message of a poison queue, exactly as stored, and what can be read from it.</summary>
public sealed record PoisonMessage(PoisonQueuePair Queue, string MessageId, DateTimeOffset? InsertedOn, long DequeueCount, string Stored)
{
    /// <summary>The message text: Base64 of UTF-8 (what the app and the Functions trigger write), or null with <see cref="DecodeProblem"/>.</summary>
    public string? Text => _decoded.Text;

    /// <summary>Why <see cref="Text"/> is null: not Base64, or not UTF-8.</summary>
    public string? DecodeProblem => _decoded.Problem;

    private readonly (string? Text, string? Problem) _decoded = Decode(Stored);

    /// <summary>The envelope's <c>kind</c> when the text is a JSON object that has one.</summary>
    public string? Kind => Fields() is { } fields && fields.TryGetValue("kind", out var kind) && kind.ValueKind == JsonValueKind.String ? kind.GetString() : null;

    /// <summary>The top-level fields of the envelope (any queue's: only JSON-object-ness is assumed), or null when the text is not one.</summary>
    public IReadOnlyDictionary<string, JsonElement>? Fields()
    {
        if (Text is null || NotificationEnvelope.Unwrap(Text) is not { } json)
        {
            return null;
        }

        try
        {
            using var document = JsonDocument.Parse(json);
            return document.RootElement.ValueKind == JsonValueKind.Object
                ? document.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.Clone(), StringComparer.Ordinal)
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static (string? Text, string? Problem) Decode(string stored)
    {
        try
        {
            return (QueueListener.Decode(stored), null);
        }
        catch (InvalidMessageException ex)
        {
            return (null, ex.Message);
        }
    }

    internal static PoisonMessage From(PoisonQueuePair queue, PeekedMessage m) => new(queue, m.MessageId, m.InsertedOn, m.DequeueCount, m.Body.ToString());
}

/// <summary>
/// Lists, reads and replays the poison queues through an unencoded queue client, so every message is seen and moved
/// exactly as stored (Base64 for everything the app or the Functions host wrote; a message that was never Base64
/// stays as it was, byte for byte).
/// </summary>
public sealed class PoisonQueues(QueueServiceClient rawQueues, IReadOnlyList<PoisonQueuePair> pairs)
{
    /// <summary>The queue service returns at most this many messages per peek or receive.</summary>
    public const int PageSize = 32;

    /// <summary>How long a message received while looking for one stays hidden if we die before releasing it.</summary>
    internal static readonly TimeSpan SearchLease = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Every queue pair, one line each: a new queue the app consumes (and poisons) is one more line here, and then
    /// listed, shown and replayed like the others.
    /// </summary>
    public static IReadOnlyList<PoisonQueuePair> All(StorageOptions o) =>
    [
        new("notifications", o.NotificationQueue, o.PoisonQueue),
        new("events", o.EventQueue, o.EventPoisonQueue),
    ];

    public IReadOnlyList<PoisonQueuePair> Pairs => pairs;

    /// <summary>
    /// The first <see cref="PageSize"/> messages, peeked (peeking changes nothing: no dequeue count, no visibility), and
    /// the queue's approximate length. Peek cannot page past the first 32; see docs/operations.md.
    /// </summary>
    public async Task<(IReadOnlyList<PoisonMessage> Messages, int ApproximateCount)> PeekAsync(PoisonQueuePair pair, CancellationToken cancellationToken)
    {
        var queue = rawQueues.GetQueueClient(pair.PoisonQueue);
        if (!await queue.ExistsAsync(cancellationToken))
        {
            return ([], 0);
        }

        QueueProperties properties = await queue.GetPropertiesAsync(cancellationToken);
        PeekedMessage[] peeked = await queue.PeekMessagesAsync(PageSize, cancellationToken);
        return (peeked.Select(m => PoisonMessage.From(pair, m)).ToList(), Math.Max(properties.ApproximateMessagesCount, peeked.Length));
    }

    /// <summary>Moves one message back to its source queue; false when no message of that id is in the poison queue.</summary>
    public async Task<bool> ReplayAsync(PoisonQueuePair pair, string messageId, CancellationToken cancellationToken)
    {
        var poison = rawQueues.GetQueueClient(pair.PoisonQueue);
        if (!await poison.ExistsAsync(cancellationToken))
        {
            return false;
        }

        // Deleting needs a pop receipt, which only a receive gives: receive pages (each message hidden for a short lease)
        // until the id shows up, and give every other message back at once (visibility 0), whatever happens.
        var others = new List<QueueMessage>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            while (true)
            {
                QueueMessage[] page = await poison.ReceiveMessagesAsync(PageSize, SearchLease, cancellationToken);
                var fresh = page.Where(m => seen.Add(m.MessageId)).ToList();
                var match = fresh.FirstOrDefault(m => m.MessageId == messageId);
                others.AddRange(page.Where(m => m != match));
                if (match is not null)
                {
                    await MoveAsync(pair, poison, match, cancellationToken);
                    return true;
                }

                if (fresh.Count == 0)
                {
                    return false;
                }
            }
        }
        finally
        {
            await ReleaseAsync(poison, others);
        }
    }

    /// <summary>
    /// Moves every message that was in the poison queue when the replay started back to its source queue; returns how
    /// many. Messages poisoned meanwhile (a replayed one failing again, say) are left for the next look, so the replay
    /// ends even while something keeps failing.
    /// </summary>
    public async Task<int> ReplayAllAsync(PoisonQueuePair pair, CancellationToken cancellationToken)
    {
        var poison = rawQueues.GetQueueClient(pair.PoisonQueue);
        if (!await poison.ExistsAsync(cancellationToken))
        {
            return 0;
        }

        // The service's clock, not ours: insertion times are the service's too.
        var properties = await poison.GetPropertiesAsync(cancellationToken);
        var startedAt = properties.GetRawResponse().Headers.Date ?? DateTimeOffset.UtcNow;
        // Received but not (yet) moved: given back at the end, also when a move fails.
        var unmoved = new List<QueueMessage>();
        var replayed = 0;
        try
        {
            while (true)
            {
                QueueMessage[] page = await poison.ReceiveMessagesAsync(PageSize, SearchLease, cancellationToken);
                unmoved.AddRange(page);
                var due = page.Where(m => m.InsertedOn is not { } inserted || inserted <= startedAt).ToList();
                if (due.Count == 0)
                {
                    return replayed;
                }

                foreach (var message in due)
                {
                    await MoveAsync(pair, poison, message, cancellationToken);
                    unmoved.Remove(message);
                    replayed++;
                }
            }
        }
        finally
        {
            await ReleaseAsync(poison, unmoved);
        }
    }

    /// <summary>
    /// Send first, delete second, as the listener poisons: a crash in between leaves the message in both queues, and
    /// processing it twice is harmless (each notification is applied once; the order's timeline row dedupes a repeat).
    /// The text goes back unchanged through the unencoded client: the Base64 the queue trigger expects.
    /// </summary>
    private async Task MoveAsync(PoisonQueuePair pair, QueueClient poison, QueueMessage message, CancellationToken cancellationToken)
    {
        await rawQueues.GetQueueClient(pair.SourceQueue).SendMessageAsync(message.Body.ToString(), cancellationToken);
        await poison.DeleteMessageAsync(message.MessageId, message.PopReceipt, cancellationToken);
    }

    /// <summary>Gives received messages back at once; one that cannot be released comes back when its lease ends.</summary>
    private static async Task ReleaseAsync(QueueClient poison, List<QueueMessage> messages)
    {
        foreach (var message in messages)
        {
            try
            {
                await poison.UpdateMessageAsync(message.MessageId, message.PopReceipt, visibilityTimeout: TimeSpan.Zero, cancellationToken: CancellationToken.None);
            }
            catch (Azure.RequestFailedException)
            {
                // Back within SearchLease anyway.
            }
        }
    }
}
