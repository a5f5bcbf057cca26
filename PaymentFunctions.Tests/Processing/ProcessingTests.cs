using System.Text.Json;
using PaymentFunctions.Hosting;
using PaymentFunctions.Notifications;
using PaymentFunctions.Orders;
using PaymentFunctions.Tests.Infrastructure;

namespace PaymentFunctions.Tests.Processing;

/// <summary>The queue-triggered processor, through both of its doors: the host's invocation and our own listener.</summary>
public sealed class ProcessingTests(PaymentApp app) : IClassFixture<PaymentApp>
{
    private async Task<(string OrderId, string PayOrder)> PreparedOrderAsync(long amount = 1000, DateTimeOffset? expiresAt = null)
    {
        var order = await app.CreateOrderAsync(amount, expiresAt);
        var prepared = await app.PrepareAsync(order.OrderId);
        return (order.OrderId, prepared.PayOrder);
    }

    private async Task NotifyAsync(Dictionary<string, string> form)
    {
        using var response = await app.PostNotifyAsync(form.WithSign());
        Assert.Equal("1001", await response.PyunCodeAsync());
    }

    [Fact]
    public async Task Out_of_order_paying_and_failed_after_paid_never_unpay()
    {
        var (orderId, payOrder) = await PreparedOrderAsync();
        await NotifyAsync(Api.Notification(payOrder, 1, 1000));
        await app.DrainQueueAsync();
        await NotifyAsync(Api.Notification(payOrder, 0, 1000));
        await NotifyAsync(Api.Notification(payOrder, -1, 1000));
        await app.DrainQueueAsync();

        var order = await app.GetOrderAsync(orderId);
        Assert.Equal("Paid", order.Status);
        Assert.False(order.RefundRequired);
        Assert.Equal(3, (await app.TimelineAsync(orderId)).Count);
    }

    [Fact]
    public async Task Paying_then_paid_moves_forward()
    {
        var (orderId, payOrder) = await PreparedOrderAsync();
        await NotifyAsync(Api.Notification(payOrder, 0, 1000));
        await app.DrainQueueAsync();
        Assert.Equal("Pending", (await app.GetOrderAsync(orderId)).Status);

        await NotifyAsync(Api.Notification(payOrder, 1, 1000));
        await app.DrainQueueAsync();
        Assert.Equal("Paid", (await app.GetOrderAsync(orderId)).Status);
    }

    [Fact]
    public async Task A_payment_after_the_order_closed_is_PaidAfterClose()
    {
        var expiresAt = app.Clock.GetUtcNow().AddMinutes(10);
        var (orderId, payOrder) = await PreparedOrderAsync(expiresAt: expiresAt);

        await NotifyAsync(Api.Notification(payOrder, 1, 1000, tradeTime: expiresAt.AddSeconds(1)));
        await app.DrainQueueAsync();

        var order = await app.GetOrderAsync(orderId);
        Assert.Equal("PaidAfterClose", order.Status);
        Assert.True(order.RefundRequired);
    }

    [Fact]
    public async Task A_second_paid_attempt_is_flagged_for_refund_and_the_order_stays_paid()
    {
        var order = await app.CreateOrderAsync();
        var first = await app.PrepareAsync(order.OrderId);
        app.Clock.Advance(TimeSpan.FromMinutes(5));
        var second = await app.PrepareAsync(order.OrderId);
        app.Clock.Advance(-TimeSpan.FromMinutes(5));

        await NotifyAsync(Api.Notification(first.PayOrder, 1, 1000, paySerial: "S-first"));
        await NotifyAsync(Api.Notification(second.PayOrder, 1, 1000, paySerial: "S-second"));
        await app.DrainQueueAsync();

        var view = await app.GetOrderAsync(order.OrderId);
        Assert.Equal("Paid", view.Status);
        Assert.True(view.RefundRequired);
        var attempts = new[] { await app.Store.GetAttemptAsync(order.OrderId, 1, default), await app.Store.GetAttemptAsync(order.OrderId, 2, default) };
        Assert.Single(attempts, a => a!.RefundRequired);
        Assert.True(view.PaySerial is "S-first" or "S-second", view.PaySerial);
    }

    [Fact]
    public async Task An_unknown_pay_order_is_recorded_as_an_orphan_once_and_completed_without_retries()
    {
        var unknown = Api.Notification(PayOrderNumber.Format(PayOrderNumber.NewOrderId(), 1), 1, 1000);
        var receivedAt = app.Clock.GetUtcNow();
        await NotifyAsync(unknown);
        var listener = app.CreateListener(QueueSettings.Defaults with { VisibilityTimeout = TimeSpan.Zero, MaxDequeueCount = 5 });

        // One delivery settles it: no retry can make the order appear, so none is spent and nothing is poisoned.
        Assert.Equal(1, await listener.PollOnceAsync(default));
        Assert.Equal(0, await listener.PollOnceAsync(default));
        Assert.Equal(0, await app.QueueLengthAsync());
        Assert.Equal(0, await app.QueueLengthAsync(poison: true));

        var orphan = Assert.Single(await app.OrphansAsync(unknown["pay_order"]));
        Assert.Equal("pyun", orphan.PartitionKey);
        Assert.Equal(PyunTradeNotification.Kind, orphan.Kind);
        Assert.Equal(receivedAt, orphan.ReceivedAt);
        Assert.Contains(unknown["pay_order"], orphan.Reason, StringComparison.Ordinal);
        using var payload = JsonDocument.Parse(orphan.Payload);
        Assert.Equal(unknown["sign"], payload.RootElement.GetProperty("sign").GetString());
        Assert.Equal("1000", payload.RootElement.GetProperty("value").GetString());

        // P云 sends the same notification again: acknowledged, completed, and still one row.
        app.Clock.Advance(TimeSpan.FromMinutes(1));
        await NotifyAsync(unknown);
        await app.DrainQueueAsync(listener);
        Assert.Single(await app.OrphansAsync(unknown["pay_order"]));
        Assert.Equal(0, await app.QueueLengthAsync(poison: true));
    }

    [Fact]
    public async Task A_transient_failure_is_retried_and_ends_in_the_poison_queue_unchanged()
    {
        var envelope = await app.ClaimedButNotCreatedAsync();
        await app.Storage.Notifications.SendMessageAsync(envelope);
        // host.json's semantics, with no wait between tries so the test does not sleep 30 s each time.
        var listener = app.CreateListener(QueueSettings.Defaults with { VisibilityTimeout = TimeSpan.Zero, MaxDequeueCount = 5 });

        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(1, await listener.PollOnceAsync(default));
            Assert.Equal(0, await app.QueueLengthAsync(poison: true));
        }

        Assert.Equal(1, await listener.PollOnceAsync(default));
        Assert.Equal(0, await app.QueueLengthAsync());
        Assert.Equal([QueueMessages.Stored(envelope)], await QueueMessages.TakeAllRawAsync(app.Storage.RawPoison));
    }

    [Fact]
    public async Task A_failed_message_waits_for_the_visibility_timeout_before_its_retry()
    {
        await app.Storage.Notifications.SendMessageAsync(await app.ClaimedButNotCreatedAsync());
        var listener = app.CreateListener(QueueSettings.Defaults with { VisibilityTimeout = TimeSpan.FromSeconds(30), MaxDequeueCount = 5 });

        Assert.Equal(1, await listener.PollOnceAsync(default));
        Assert.Equal(0, await listener.PollOnceAsync(default)); // invisible for 30 s, not retried at once
        Assert.Equal(0, await app.QueueLengthAsync(poison: true));

        var message = (await app.Storage.Notifications.ReceiveMessagesAsync(1, TimeSpan.FromSeconds(1))).Value;
        Assert.Empty(message);
        await app.Storage.Notifications.ClearMessagesAsync(); // so it does not come back during another test of this class
    }

    [Fact]
    public async Task The_standalone_listener_runs_as_a_hosted_service_and_processes_on_its_own()
    {
        await using var standalone = new PaymentApp();
        standalone.Settings["QueueListener:Enabled"] = "true";
        await standalone.InitializeAsync();
        var order = await standalone.CreateOrderAsync();
        var prepared = await standalone.PrepareAsync(order.OrderId);

        await standalone.Pyun.PayAsync(prepared.PayId);

        var deadline = DateTime.UtcNow.AddSeconds(20);
        while ((await standalone.GetOrderAsync(order.OrderId)).Status != "Paid" && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }

        Assert.Equal("Paid", (await standalone.GetOrderAsync(order.OrderId)).Status);
        Assert.Equal(0, await standalone.QueueLengthAsync());
    }
}
