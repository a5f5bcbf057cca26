using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using PaymentFunctions.Hosting;
using PaymentFunctions.Orders;
using PaymentFunctions.Tests.Infrastructure;

namespace PaymentFunctions.Tests.Processing;

/// <summary>The app (standalone) plus a second instance of it whose log lines are kept, sharing the same storage.</summary>
public sealed class LoggedAppFixture : IAsyncLifetime
{
    public PaymentApp App { get; } = new();

    public LogCapture Logs { get; } = new();

    public WebApplicationFactory<Program> Logged { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        await App.InitializeAsync();
        await App.Storage.EnsureCreatedAsync(CancellationToken.None); // the tests put messages on the queue directly
        Logged = App.WithWebHostBuilder(b => b.ConfigureTestServices(s => s.AddSingleton<ILoggerProvider>(Logs)));
    }

    /// <summary>A listener of the logged instance, with host.json's semantics and no wait before a retry.</summary>
    public QueueListener CreateListener() =>
        ActivatorUtilities.CreateInstance<QueueListener>(Logged.Services, QueueSettings.Defaults with { VisibilityTimeout = TimeSpan.Zero, MaxDequeueCount = 5 });

    public async ValueTask DisposeAsync()
    {
        await Logged.DisposeAsync();
        await App.DisposeAsync();
    }
}

/// <summary>
/// The standalone listener and the messages no retry can fix: undecodable or malformed ones are poisoned at once,
/// byte for byte, without stopping the messages behind them; notifications for orders we do not have become orphans.
/// </summary>
public sealed class ListenerPermanentFailureTests(LoggedAppFixture fixture) : IClassFixture<LoggedAppFixture>
{
    private PaymentApp App => fixture.App;

    private async Task<(string OrderId, Dictionary<string, string> Paid)> PreparedAsync()
    {
        var order = await App.CreateOrderAsync();
        var prepared = await App.PrepareAsync(order.OrderId);
        return (order.OrderId, Api.Notification(prepared.PayOrder, 1, 1000).WithSign());
    }

    [Fact]
    public async Task Undecodable_messages_go_to_the_poison_queue_byte_for_byte_and_the_messages_behind_them_are_processed()
    {
        // Not Base64 at all (what another producer, or a hand-written test message, may leave), and Base64 whose
        // bytes are not UTF-8: neither is a message we sent (we send Base64 of UTF-8 JSON).
        const string NotBase64 = "{\"v\":1,\"kind\":\"pyun.trade\"} 不是 base64";
        var notUtf8 = Convert.ToBase64String([0x7B, 0xC3, 0x28, 0xFF, 0xFE, 0x7D]);
        await App.Storage.RawNotifications.SendMessageAsync(NotBase64);
        await App.Storage.RawNotifications.SendMessageAsync(notUtf8);
        var good = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            var (orderId, paid) = await PreparedAsync();
            await App.Storage.Notifications.SendMessageAsync(QueueMessages.Envelope(paid));
            good.Add(orderId);
        }

        var listener = fixture.CreateListener();
        var received = 0;
        for (int n; (n = await listener.PollOnceAsync(CancellationToken.None)) > 0;)
        {
            received += n;
        }

        Assert.Equal(5, received); // each message once: the bad ones were not retried
        foreach (var orderId in good)
        {
            Assert.Equal("Paid", (await App.GetOrderAsync(orderId)).Status);
        }

        Assert.Equal(0, await App.QueueLengthAsync());
        var poisoned = await QueueMessages.TakeAllRawAsync(App.Storage.RawPoison);
        Assert.Equal(new[] { NotBase64, notUtf8 }.Order(StringComparer.Ordinal), poisoned.Order(StringComparer.Ordinal));
        Assert.Contains(fixture.Logs.Lines, l => l.Level == LogLevel.Error && l.Message.Contains("not Base64", StringComparison.Ordinal));
        Assert.Contains(fixture.Logs.Lines, l => l.Level == LogLevel.Error && l.Message.Contains("not UTF-8", StringComparison.Ordinal));
        Assert.DoesNotContain(fixture.Logs.Lines, l => l.Message.Contains("could not reach storage", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("""{"v":2,"kind":"pyun.trade","receivedAt":"2026-01-01T00:00:00Z","payload":{}}""")]
    [InlineData("""{"v":1,"kind":"other","receivedAt":"2026-01-01T00:00:00Z","payload":{}}""")]
    [InlineData("""{"v":1,"kind":"pyun.trade","receivedAt":"2026-01-01T00:00:00Z","payload":{"pay_order":"x","status":"9","value":"1"}}""")]
    [InlineData("""{"v":1,"kind":"wechatpay.payscore","receivedAt":"2026-01-01T00:00:00Z","payload":{"id":"EV-1","resource":[]}}""")]
    public async Task A_malformed_envelope_or_unknown_kind_is_poisoned_on_its_first_delivery(string message)
    {
        await App.Storage.Notifications.SendMessageAsync(message);
        var listener = fixture.CreateListener();

        Assert.Equal(1, await listener.PollOnceAsync(CancellationToken.None));

        Assert.Equal(0, await App.QueueLengthAsync());
        Assert.Equal([QueueMessages.Stored(message)], await QueueMessages.TakeAllRawAsync(App.Storage.RawPoison));
        Assert.Equal(0, await listener.PollOnceAsync(CancellationToken.None));
    }

    [Fact]
    public async Task An_orphan_logs_one_warning_and_its_replay_none()
    {
        var payOrder = PayOrderNumber.Format(PayOrderNumber.NewOrderId(), 2);
        var envelope = QueueMessages.Envelope(Api.Notification(payOrder, 1, 1000).WithSign());
        var listener = fixture.CreateListener();

        await App.Storage.Notifications.SendMessageAsync(envelope);
        Assert.Equal(1, await listener.PollOnceAsync(CancellationToken.None));
        var warnings = fixture.Logs.Lines.Where(l => l.Level >= LogLevel.Warning && l.Message.Contains(payOrder, StringComparison.Ordinal)).ToList();
        var warning = Assert.Single(warnings);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.StartsWith("ORPHAN pyun pyun.trade", warning.Message, StringComparison.Ordinal);

        await App.Storage.Notifications.SendMessageAsync(envelope);
        Assert.Equal(1, await listener.PollOnceAsync(CancellationToken.None));
        Assert.Single(fixture.Logs.Lines, l => l.Level >= LogLevel.Warning && l.Message.Contains(payOrder, StringComparison.Ordinal));
        Assert.Single(await App.OrphansAsync(payOrder));
        Assert.Equal(0, await App.QueueLengthAsync());
        Assert.Equal(0, await App.QueueLengthAsync(poison: true));
    }
}
