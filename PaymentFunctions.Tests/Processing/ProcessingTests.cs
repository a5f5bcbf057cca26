using System.Net;
using System.Net.Http.Json;
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

    private static string Envelope(Dictionary<string, string> form) =>
        new NotificationEnvelope(1, NotificationEnvelope.Kinds.PyunTrade, DateTimeOffset.UnixEpoch, JsonSerializer.SerializeToElement(form)).ToJson();

    /// <summary>The body the Functions host POSTs for a queue trigger (names as the host writes them).</summary>
    private static string HostPayload(string messageText) => JsonSerializer.Serialize(new Dictionary<string, object>
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
    public async Task An_unknown_pay_order_fails_is_retried_and_ends_in_the_poison_queue()
    {
        var unknown = Api.Notification(PayOrderNumber.Format(PayOrderNumber.NewOrderId(), 1), 1, 1000);
        await NotifyAsync(unknown);
        // host.json's semantics, with no wait between tries so the test does not sleep 30 s each time.
        var listener = app.CreateListener(QueueSettings.Defaults with { VisibilityTimeout = TimeSpan.Zero, MaxDequeueCount = 5 });

        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(1, await listener.PollOnceAsync(default));
        }

        Assert.Equal(0, await app.QueueLengthAsync());
        Assert.Equal(1, await app.QueueLengthAsync(poison: true));
        var poisoned = (await app.Storage.Poison.ReceiveMessageAsync()).Value;
        Assert.Equal(unknown["pay_order"], NotificationEnvelope.Parse(poisoned.Body.ToString()).Payload.GetProperty("pay_order").GetString());
        await app.Storage.Poison.DeleteMessageAsync(poisoned.MessageId, poisoned.PopReceipt);
    }

    [Fact]
    public async Task A_failed_message_waits_for_the_visibility_timeout_before_its_retry()
    {
        await NotifyAsync(Api.Notification(PayOrderNumber.Format(PayOrderNumber.NewOrderId(), 1), 1, 1000));
        var listener = app.CreateListener(QueueSettings.Defaults with { VisibilityTimeout = TimeSpan.FromSeconds(30), MaxDequeueCount = 5 });

        Assert.Equal(1, await listener.PollOnceAsync(default));
        Assert.Equal(0, await listener.PollOnceAsync(default)); // invisible for 30 s, not retried at once
        Assert.Equal(0, await app.QueueLengthAsync(poison: true));

        var message = (await app.Storage.Notifications.ReceiveMessagesAsync(1, TimeSpan.FromSeconds(1))).Value;
        Assert.Empty(message);
    }

    [Fact]
    public async Task The_host_invocation_accepts_the_message_as_text_and_json_encoded_once_more()
    {
        var (orderId, payOrder) = await PreparedOrderAsync();
        var envelope = Envelope(Api.Notification(payOrder, 0, 1000).WithSign());
        var paid = Envelope(Api.Notification(payOrder, 1, 1000).WithSign());
        using var http = app.CreateClient();

        using var plain = await http.PostJsonTextAsync("/ProcessNotification", HostPayload(envelope));
        using var doubled = await http.PostJsonTextAsync("/ProcessNotification", HostPayload(JsonSerializer.Serialize(paid)));

        Assert.True(plain.StatusCode == HttpStatusCode.OK, await plain.Content.ReadAsStringAsync());
        Assert.True(doubled.StatusCode == HttpStatusCode.OK, await doubled.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, doubled.StatusCode);
        using var answer = JsonDocument.Parse(await doubled.Content.ReadAsStringAsync());
        Assert.Equal(JsonValueKind.Object, answer.RootElement.GetProperty("Outputs").ValueKind);
        Assert.Contains("Paid", answer.RootElement.GetProperty("Logs")[0].GetString(), StringComparison.Ordinal);
        Assert.True(answer.RootElement.TryGetProperty("ReturnValue", out _));
        Assert.Equal("Paid", (await app.GetOrderAsync(orderId)).Status);
    }

    [Theory]
    [InlineData("""{"Data":{"msg":"not json"}}""")]
    [InlineData("""{"Data":{}}""")]
    [InlineData("""{"Data":{"msg":"{\"v\":2,\"kind\":\"pyun.trade\",\"receivedAt\":\"2026-01-01T00:00:00Z\",\"payload\":{}}"}}""")]
    [InlineData("""{"Data":{"msg":"{\"v\":1,\"kind\":\"other\",\"receivedAt\":\"2026-01-01T00:00:00Z\",\"payload\":{}}"}}""")]
    [InlineData("""{"Data":{"msg":"{\"v\":1,\"kind\":\"pyun.trade\",\"receivedAt\":\"2026-01-01T00:00:00Z\",\"payload\":{\"pay_order\":\"x\",\"status\":\"9\",\"value\":\"1\"}}"}}""")]
    [InlineData("garbage")]
    public async Task A_host_invocation_that_cannot_be_processed_answers_non_2xx_so_the_host_retries(string payload)
    {
        using var http = app.CreateClient();
        using var response = await http.PostJsonTextAsync("/ProcessNotification", payload);

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        using var answer = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.NotEmpty(answer.RootElement.GetProperty("Logs")[0].GetString()!);
    }

    [Fact]
    public async Task A_host_invocation_for_an_unknown_pay_order_fails()
    {
        var envelope = Envelope(Api.Notification(PayOrderNumber.Format(PayOrderNumber.NewOrderId(), 3), 1, 1000));
        using var http = app.CreateClient();
        using var response = await http.PostJsonTextAsync("/ProcessNotification", HostPayload(envelope));
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
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
