using System.Diagnostics;
using Azure.Storage.Queues.Models;
using Microsoft.Extensions.Configuration;
using PaymentFunctions.Operations;
using PaymentFunctions.Tests.Infrastructure;
using PaymentFunctions.Tests.Processing;

namespace PaymentFunctions.Tests.Operations;

/// <summary>
/// <c>PaymentFunctions poison list|show|replay</c> against Azurite: what the app poisoned is listed and shown without
/// being touched, and a replayed message goes back byte for byte and is applied once, however often it is replayed.
/// </summary>
public sealed class PoisonCommandTests : IAsyncLifetime
{
    private readonly PaymentApp _app = new();

    public async ValueTask InitializeAsync()
    {
        await _app.InitializeAsync();
        await _app.Storage.EnsureCreatedAsync(CancellationToken.None);
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    private async Task<(int Code, string Out, string Err)> RunAsync(params string[] args) =>
        await RunAsync(new Dictionary<string, string?> { ["AzureWebJobsStorage"] = Azurite.ConnectionString, ["Storage:NamePrefix"] = _app.Prefix }, args);

    private static async Task<(int Code, string Out, string Err)> RunAsync(Dictionary<string, string?> settings, params string[] args)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = await PoisonCommand.RunAsync(args, configuration, output, error, TestContext.Current.CancellationToken);
        return (code, output.ToString(), error.ToString());
    }

    private async Task<PeekedMessage[]> PeekPoisonAsync() => (await _app.Storage.RawPoison.PeekMessagesAsync(32)).Value;

    [Fact]
    public async Task What_the_listener_poisoned_is_listed_and_shown_and_neither_changes_the_queue()
    {
        var tail = new string('x', 400);
        var unknownKind = $$$"""{"v":1,"kind":"pyun.nonesuch","receivedAt":"2026-11-25T02:01:00+00:00","payload":{"pay_order":"PO-1","note":"{{{tail}}}"}}""";
        const string NotBase64 = "not base64\n\tforged line"; // the queue service takes only XML-legal characters
        await _app.Storage.Notifications.SendMessageAsync(unknownKind);
        await _app.Storage.RawNotifications.SendMessageAsync(NotBase64);
        await _app.DrainQueueAsync();
        var before = await PeekPoisonAsync();
        Assert.Equal(2, before.Length); // both poisoned at once by the listener
        var envelope = Assert.Single(before, m => m.Body.ToString() == QueueMessages.Stored(unknownKind));
        var raw = Assert.Single(before, m => m.Body.ToString() == NotBase64);

        var (code, output, error) = await RunAsync("list");

        Assert.Equal(0, code);
        Assert.Equal("", error);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(4, lines.Length); // each queue's line, then one line per message however many lines it holds
        Assert.Contains($"{_app.Prefix}payment-notifications-poison holds 2 message(s)", lines[0], StringComparison.Ordinal);
        Assert.StartsWith($"events: {_app.Prefix}payment-events-poison holds 0 message(s)", lines[3], StringComparison.Ordinal);
        var envelopeLine = Assert.Single(lines, l => l.StartsWith(envelope.MessageId, StringComparison.Ordinal));
        Assert.Contains("dequeued 0", envelopeLine, StringComparison.Ordinal);
        Assert.Contains("  pyun.nonesuch  ", envelopeLine, StringComparison.Ordinal);
        Assert.DoesNotContain(tail[..100], envelopeLine, StringComparison.Ordinal); // the preview is clipped
        var rawLine = Assert.Single(lines, l => l.StartsWith(raw.MessageId, StringComparison.Ordinal));
        Assert.Contains("(The message is not Base64) not base64\\u000a\\u0009forged line", rawLine, StringComparison.Ordinal);

        (code, output, error) = await RunAsync("show", envelope.MessageId);

        Assert.Equal(0, code);
        Assert.Equal("", error);
        Assert.Contains($"id:           {envelope.MessageId}", output, StringComparison.Ordinal);
        Assert.Contains("kind:         pyun.nonesuch", output, StringComparison.Ordinal);
        Assert.Contains("receivedAt:   2026-11-25T02:01:00+00:00", output, StringComparison.Ordinal);
        Assert.Contains("\"pay_order\": \"PO-1\"", output, StringComparison.Ordinal);
        Assert.Contains("text:\n" + unknownKind + "\n", output.ReplaceLineEndings("\n"), StringComparison.Ordinal); // whole, decoded

        (code, output, _) = await RunAsync("show", raw.MessageId, "--queue", "notifications");

        Assert.Equal(0, code);
        Assert.Contains("envelope:     none (The message is not Base64)", output, StringComparison.Ordinal);
        Assert.Contains("stored text (as is):\n" + NotBase64, output.ReplaceLineEndings("\n"), StringComparison.Ordinal);

        var after = await PeekPoisonAsync();
        Assert.Equal(
            before.Select(m => (m.MessageId, m.DequeueCount, m.Body.ToString())).Order(),
            after.Select(m => (m.MessageId, m.DequeueCount, m.Body.ToString())).Order());
        Assert.Equal(0, await _app.QueueLengthAsync());
    }

    [Fact]
    public async Task A_replayed_notification_goes_back_byte_for_byte_and_is_applied_once_however_often_it_is_replayed()
    {
        var order = await _app.CreateOrderAsync();
        var prepared = await _app.PrepareAsync(order.OrderId);
        var text = QueueMessages.Envelope(Api.Notification(prepared.PayOrder, 1, 1000).WithSign());
        // Two copies, as the host's poisoning would leave them (Base64 of the text), e.g. after a storage outage.
        await _app.Storage.Poison.SendMessageAsync(text);
        await _app.Storage.Poison.SendMessageAsync(text);
        var copies = await PeekPoisonAsync();
        Assert.Equal(2, copies.Length);

        var (code, output, error) = await RunAsync("replay", copies[1].MessageId);

        Assert.Equal(0, code);
        Assert.Equal("", error);
        Assert.Contains($"Replayed {copies[1].MessageId}", output, StringComparison.Ordinal);
        var requeued = Assert.Single((await _app.Storage.RawNotifications.PeekMessagesAsync(32)).Value);
        Assert.Equal(copies[1].Body.ToString(), requeued.Body.ToString()); // the same stored bytes: Base64, as the trigger expects
        // The other copy stays, visible at once (the search received it too, and gave it back).
        Assert.Equal(copies[0].MessageId, Assert.Single(await PeekPoisonAsync()).MessageId);

        await _app.DrainQueueAsync();

        Assert.Equal("Paid", (await _app.GetOrderAsync(order.OrderId)).Status);
        var timeline = await _app.TimelineAsync(order.OrderId);
        Assert.Single(timeline);

        (code, output, _) = await RunAsync("replay", "--all");

        Assert.Equal(0, code);
        Assert.Contains("Replayed 1 message(s)", output, StringComparison.Ordinal);
        Assert.Empty(await PeekPoisonAsync());
        await _app.DrainQueueAsync();
        var paid = await _app.GetOrderAsync(order.OrderId);
        Assert.Equal("Paid", paid.Status);
        Assert.Equal(1000, paid.PaidAmount);
        Assert.Equal(timeline.Select(t => t.RowKey), (await _app.TimelineAsync(order.OrderId)).Select(t => t.RowKey)); // nothing applied twice
        Assert.Equal(0, await _app.QueueLengthAsync(poison: true));
    }

    [Fact]
    public async Task Replaying_an_unknown_id_exits_2_and_gives_every_message_it_looked_at_back()
    {
        await _app.Storage.Poison.SendMessageAsync("""{"v":1,"kind":"pyun.nonesuch"}""");
        var before = Assert.Single(await PeekPoisonAsync());

        var (code, output, error) = await RunAsync("replay", "0b2f7c1e-0000-4000-8000-000000000000");

        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.Equal($"poison: no message '0b2f7c1e-0000-4000-8000-000000000000' in {_app.Prefix}payment-notifications-poison, {_app.Prefix}payment-events-poison; nothing replayed.", error.TrimEnd());
        var after = Assert.Single(await PeekPoisonAsync()); // visible again at once, not after the search's lease
        Assert.Equal((before.MessageId, before.Body.ToString()), (after.MessageId, after.Body.ToString()));
        Assert.Equal(0, await _app.QueueLengthAsync());

        (code, _, error) = await RunAsync("show", "0b2f7c1e-0000-4000-8000-000000000000");

        Assert.Equal(2, code);
        Assert.StartsWith("poison: no message '0b2f7c1e-0000-4000-8000-000000000000'", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Past_the_first_32_list_says_so_and_replay_still_finds_the_message_and_gives_the_others_back()
    {
        var ids = new List<string>();
        for (var i = 0; i < 40; i++)
        {
            ids.Add((await _app.Storage.Poison.SendMessageAsync($$"""{"v":1,"kind":"pyun.nonesuch","n":{{i}}}""")).Value.MessageId);
        }

        var (code, output, _) = await RunAsync("list");

        Assert.Equal(0, code);
        Assert.Contains("holds 40 message(s) (approximate); the first 32 shown (a peek returns at most 32)", output, StringComparison.Ordinal);
        Assert.Equal(34, output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);

        (code, _, var error) = await RunAsync("show", ids[^1]);

        Assert.Equal(2, code);
        Assert.Contains("Only the first 32 messages of", error, StringComparison.Ordinal);

        (code, output, _) = await RunAsync("replay", ids[^1]);

        Assert.Equal(0, code);
        Assert.Contains($"Replayed {ids[^1]}", output, StringComparison.Ordinal);
        Assert.Equal(1, await _app.QueueLengthAsync());
        var properties = await _app.Storage.Poison.GetPropertiesAsync();
        Assert.Equal(39, properties.Value.ApproximateMessagesCount);
        var visible = await PeekPoisonAsync(); // the 39 the search received were given back at once, not after its lease
        Assert.Equal(32, visible.Length);
        Assert.All(visible, m => Assert.Contains(m.MessageId, ids[..^1]));
    }

    [Theory]
    [InlineData(new string[0], "Required command was not provided")]
    [InlineData(new[] { "purge" }, "Unrecognized command or argument 'purge'")]
    [InlineData(new[] { "replay" }, "replay needs a message id or --all (not both).")]
    [InlineData(new[] { "replay", "some-id", "--all" }, "replay needs a message id or --all (not both).")]
    [InlineData(new[] { "show" }, "Required argument 'messageId' missing")]
    [InlineData(new[] { "list", "--queue", "orders" }, "Unknown queue 'orders': expected notifications, events or all.")]
    public async Task A_usage_error_exits_2_with_the_reason_and_the_usage_and_touches_nothing(string[] args, string reason)
    {
        await _app.Storage.Poison.SendMessageAsync("""{"v":1,"kind":"pyun.nonesuch"}""");

        var (code, output, error) = await RunAsync(args);

        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.Contains(reason, error, StringComparison.Ordinal);
        Assert.Contains("Usage: PaymentFunctions poison list", error, StringComparison.Ordinal);
        Assert.Equal(0, Assert.Single(await PeekPoisonAsync()).DequeueCount);
    }

    [Fact]
    public async Task Storage_out_of_reach_exits_1_with_one_line_and_no_key()
    {
        var (code, output, error) = await RunAsync(new Dictionary<string, string?> { ["AzureWebJobsStorage"] = Azurite.ThroughProxies(9, 9) }, "list");

        Assert.Equal(1, code);
        Assert.Equal("", output);
        Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("poison: storage failed: ", error, StringComparison.Ordinal);
        Assert.DoesNotContain("AccountKey", error, StringComparison.Ordinal);
        Assert.DoesNotMatch(@"\bat [\w.`<>]+\(", error);
    }
}

/// <summary>The real executable: <c>PaymentFunctions poison …</c> runs the command with the app's settings; anything else starts the app.</summary>
[Trait("Category", "Slow")] // starts the real executable once per case.
public sealed class PoisonCommandProcessTests
{
    private const string Secret = "THIS-IS-A-SECRET-VALUE-0123456789";

    private static async Task<(int Code, string Out, string Err)> RunAsync(Dictionary<string, string?> environment, params string[] args)
    {
        using var process = Process.Start(TestSettings.AppProcess(environment, args))!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException("The command did not finish within 60 s.");
        }

        return (process.ExitCode, await stdout, await stderr);
    }

    [Fact]
    public async Task With_the_apps_settings_in_the_environment_it_lists_the_prefixed_poison_queue()
    {
        Azurite.EnsureRunning();
        var environment = new Dictionary<string, string?> { ["AzureWebJobsStorage"] = Azurite.ConnectionString, ["Storage__NamePrefix"] = "poisoncli" };

        var (code, output, error) = await RunAsync(environment, "poison", "list");

        Assert.Equal("", error);
        Assert.Equal(0, code);
        Assert.StartsWith("notifications: poisonclipayment-notifications-poison holds ", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null, "poison: Setting 'AzureWebJobsStorage' is missing")]
    [InlineData("not a connection string " + Secret, "poison: Setting 'AzureWebJobsStorage' is malformed")]
    public async Task Missing_or_bad_storage_settings_exit_1_with_one_line_and_no_secret(string? storage, string expected)
    {
        // The app's other settings are irrelevant to the command: none is given.
        var environment = new Dictionary<string, string?> { ["AzureWebJobsStorage"] = storage };

        var (code, output, error) = await RunAsync(environment, "poison", "replay", "--all");

        Assert.Equal(1, code);
        Assert.Equal("", output);
        var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith(expected, line, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", line, StringComparison.Ordinal);
        Assert.DoesNotMatch(@"\bat [\w.`<>]+\(", line);
        Assert.DoesNotContain(Secret, error, StringComparison.Ordinal);
    }
}
