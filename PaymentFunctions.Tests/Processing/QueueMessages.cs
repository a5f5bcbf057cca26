using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using Azure.Data.Tables;
using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;
using Microsoft.Extensions.Logging;
using PaymentFunctions.Notifications;
using PaymentFunctions.PayScore;
using PaymentFunctions.Tests.Infrastructure;

namespace PaymentFunctions.Tests.Processing;

/// <summary>Queue messages as the app and the Functions host write them, and ways to read back what came of them.</summary>
internal static class QueueMessages
{
    public static string Envelope(Dictionary<string, string> form) =>
        new NotificationEnvelope(1, PaymentFunctions.Orders.PyunTradeNotification.Kind, DateTimeOffset.UnixEpoch, JsonSerializer.SerializeToElement(form)).ToJson();

    /// <summary>The body the Functions host POSTs for a queue trigger (names as the host writes them).</summary>
    public static string HostPayload(string messageText) => JsonSerializer.Serialize(new Dictionary<string, object>
    {
        ["Data"] = new Dictionary<string, object> { ["msg"] = messageText },
        ["Metadata"] = new Dictionary<string, object>
        {
            ["DequeueCount"] = 1,
            ["Id"] = Guid.NewGuid().ToString(),
            ["PopReceipt"] = "AgAAAAMAAAAAAAAAAgtnj8x+1QE=",
            ["sys"] = new Dictionary<string, object> { ["MethodName"] = "ProcessNotification" },
        },
    });

    /// <summary>How a text is stored on the queue: Base64 of its UTF-8 bytes.</summary>
    public static string Stored(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

    /// <summary>Every message text of a queue, exactly as stored (received without decoding, then deleted).</summary>
    public static async Task<List<string>> TakeAllRawAsync(QueueClient raw)
    {
        var texts = new List<string>();
        while (true)
        {
            QueueMessage[] batch = await raw.ReceiveMessagesAsync(32, TimeSpan.FromSeconds(30));
            if (batch.Length == 0)
            {
                return texts;
            }

            foreach (var message in batch)
            {
                texts.Add(message.Body.ToString());
                await raw.DeleteMessageAsync(message.MessageId, message.PopReceipt);
            }
        }
    }

    public static async Task<List<OrphanEntity>> OrphansAsync(this PaymentApp app, string reference)
    {
        await app.Storage.EnsureCreatedAsync(CancellationToken.None);
        var rows = new List<OrphanEntity>();
        await foreach (var row in app.Storage.Orphans.QueryAsync<OrphanEntity>(TableClient.CreateQueryFilter($"Reference eq {reference}")))
        {
            rows.Add(row);
        }

        return rows;
    }

    /// <summary>
    /// A Pay Score callback envelope for an out_order_no that is claimed but whose creation is not recorded: a
    /// transient failure (the creation may still land), so it is retried, and poisoned only after the last try.
    /// </summary>
    public static async Task<string> ClaimedButNotCreatedAsync(this PaymentApp app)
    {
        var outOrderNo = "PS" + Guid.NewGuid().ToString("N")[..24];
        await app.Storage.EnsureCreatedAsync(CancellationToken.None);
        // These apps run without the WeChatPay section, so the app leaves the Pay Score table alone.
        await app.Storage.PayScoreOrders.CreateIfNotExistsAsync();
        await app.Storage.PayScoreOrders.AddEntityAsync(new PayScoreOrderEntity { PartitionKey = outOrderNo, CreatedAt = app.Clock.GetUtcNow(), UpdatedAt = app.Clock.GetUtcNow() });
        var payload = new Dictionary<string, object?>
        {
            ["id"] = "EV-" + Guid.NewGuid().ToString("N"),
            ["eventType"] = "PAYSCORE.USER_CONFIRM",
            ["resource"] = new Dictionary<string, object?> { ["out_order_no"] = outOrderNo, ["state"] = "DOING", ["state_description"] = "USER_CONFIRM" },
        };
        return new NotificationEnvelope(1, PayScoreNotification.Kind, app.Clock.GetUtcNow(), JsonSerializer.SerializeToElement(payload)).ToJson();
    }
}

/// <summary>Keeps every log line of an app instance, to count what an operator would see.</summary>
public sealed class LogCapture : ILoggerProvider
{
    public ConcurrentQueue<(string Category, LogLevel Level, string Message)> Lines { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(LogCapture owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner.Lines.Enqueue((category, logLevel, formatter(state, exception)));
    }
}
