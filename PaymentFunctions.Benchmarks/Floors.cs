using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Azure.Data.Tables;
using Azure.Storage.Queues.Models;

namespace PaymentFunctions.Benchmarks;

/// <summary>
/// The floors, each run as its own process (this program in a floor mode) so that it starts cold like the app
/// and its CPU time is read the same way: the least storage work that does the same job at the same parallelism.
/// </summary>
public static class Floors
{
    /// <summary>
    /// The processor's floor: receive a batch as the listener does, and for each message one point read of the
    /// order row, one two-row transaction (timeline row added, order row merged with its ETag) and the delete.
    /// </summary>
    public static async Task<int> ProcessorAsync(string prefix, int messages, int batchSize)
    {
        var queue = Workload.Queue(prefix);
        var table = Workload.Orders(prefix);
        var processed = 0;
        while (processed < messages)
        {
            QueueMessage[] batch = await queue.ReceiveMessagesAsync(batchSize, TimeSpan.FromMinutes(1));
            if (batch.Length == 0)
            {
                await Task.Delay(50);
                continue;
            }

            await Task.WhenAll(batch.Select(async message =>
            {
                using var envelope = JsonDocument.Parse(message.Body.ToMemory());
                var payload = envelope.RootElement.GetProperty("payload");
                var payOrder = payload.GetProperty("pay_order").GetString()!;
                var orderId = payOrder[..payOrder.LastIndexOf('-')];
                var order = (await table.GetEntityAsync<TableEntity>(orderId, "order")).Value;
                var timeline = new TableEntity(orderId, "evt-" + payOrder[(payOrder.LastIndexOf('-') + 1)..] + "-s1")
                {
                    ["At"] = DateTimeOffset.UtcNow,
                    ["Kind"] = "pyun.notify",
                    ["FromStatus"] = order.GetString("Status"),
                    ["ToStatus"] = "Paid",
                    ["Outcome"] = "paid",
                    ["Data"] = payload.GetRawText(),
                };
                var paid = new TableEntity(orderId, "order")
                {
                    ["Status"] = "Paid",
                    ["PaidAt"] = DateTimeOffset.UtcNow,
                    ["PaidAmount"] = 1000L,
                    ["UpdatedAt"] = DateTimeOffset.UtcNow,
                };
                await table.SubmitTransactionAsync([new(TableTransactionActionType.Add, timeline), new(TableTransactionActionType.UpdateMerge, paid, order.ETag)]);
                await queue.DeleteMessageAsync(message.MessageId, message.PopReceipt);
            }));
            processed += batch.Length;
        }

        // Stay up until the driver has read this process's CPU time; it stops us.
        await Task.Delay(TimeSpan.FromMinutes(2));
        return 0;
    }

    /// <summary>The intake's floor: raw SendMessageAsync of a notification envelope at the same concurrency.</summary>
    public static async Task<int> IntakeAsync(string prefix, int messages, int concurrency, int warmup)
    {
        var queue = Workload.Queue(prefix);
        await queue.CreateIfNotExistsAsync();
        var body = Workload.Envelope(Workload.PaidForm("abcdefghijklmnopqrstuvwx-1"));
        await Parallel.ForEachAsync(Enumerable.Range(0, warmup), new ParallelOptions { MaxDegreeOfParallelism = concurrency },
            async (_, ct) => await queue.SendMessageAsync(body, ct));

        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        await Parallel.ForEachAsync(Enumerable.Range(0, messages), new ParallelOptions { MaxDegreeOfParallelism = concurrency },
            async (_, ct) => await queue.SendMessageAsync(body, ct));
        var elapsed = clock.Elapsed;
        cpu = Process.GetCurrentProcess().TotalProcessorTime - cpu;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"RESULT {elapsed.TotalMilliseconds:0.0} {cpu.TotalMilliseconds:0.0}"));
        return 0;
    }
}
