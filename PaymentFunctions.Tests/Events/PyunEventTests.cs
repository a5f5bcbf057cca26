using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using PaymentFunctions.Events;
using PaymentFunctions.Fakes.Events;
using PaymentFunctions.Fakes.Pyun;
using PaymentFunctions.Hosting;
using PaymentFunctions.Notifications;
using PaymentFunctions.Orders;
using PaymentFunctions.Tests.Infrastructure;
using PaymentFunctions.Tests.Orders;
using StandardWebhooks;

namespace PaymentFunctions.Tests.Events;

/// <summary>What the P云 event tests share: an app with one endpoint "erp" on a loopback receiver, and ways to read what arrived.</summary>
internal static class PyunEvents
{
    public const string Endpoint = "erp";
    public const string Secret = EventsFixture.MainSecret;

    /// <summary>The app with the endpoint (every type), short refund rounds, and its clock at real time (the verifier checks timestamps).</summary>
    public static async Task<PaymentApp> StartAsync(PaymentApp app, FakeReceiverServer receiver)
    {
        app.WithShortRefundRounds();
        app.Settings[$"Events:Endpoints:{Endpoint}:Url"] = receiver.Url(Endpoint);
        app.Settings[$"Events:Endpoints:{Endpoint}:Secret"] = Secret;
        app.Settings["Events:Timeout"] = "00:00:05";
        await app.InitializeAsync();
        app.Clock.Set(DateTimeOffset.UtcNow);
        return app;
    }

    /// <summary>What the receiver got for one order, in arrival order.</summary>
    public static IReadOnlyList<ReceivedRequest> ReceivedFor(this FakeReceiverServer receiver, string orderId) =>
        receiver.State.Received(Endpoint).Where(r => r.Headers.GetValueOrDefault("webhook-id")?.StartsWith($"evt_order_{orderId}_", StringComparison.Ordinal) == true).ToList();

    /// <summary>Runs the delivery listener until the receiver has <paramref name="count"/> events of the order.</summary>
    public static async Task<IReadOnlyList<ReceivedRequest>> DeliveredAsync(this PaymentApp app, FakeReceiverServer receiver, string orderId, int count)
    {
        var listener = ActivatorUtilities.CreateInstance<EventDeliveryListener>(app.Services, QueueSettings.Load(Path.Combine(AppContext.BaseDirectory, "host.json")));
        var deadline = DateTimeOffset.UtcNow.AddSeconds(30);
        while (receiver.ReceivedFor(orderId).Count < count)
        {
            Assert.True(DateTimeOffset.UtcNow < deadline, $"{receiver.ReceivedFor(orderId).Count} of {count} events of {orderId} arrived in time.");
            if (await listener.PollOnceAsync(CancellationToken.None) == 0)
            {
                await Task.Delay(50);
            }
        }

        // Anything else queued for it would be delivered by now too.
        while (await listener.PollOnceAsync(CancellationToken.None) > 0)
        {
        }

        return receiver.ReceivedFor(orderId);
    }

    /// <summary>Verifies the signature with the StandardWebhooks package and returns the body.</summary>
    public static JsonElement Verified(ReceivedRequest request)
    {
        var headers = new HeaderDictionary();
        foreach (var (name, value) in request.Headers)
        {
            headers[name] = value;
        }

        new StandardWebhook(Secret).Verify(request.Body, headers);
        using var body = JsonDocument.Parse(request.Body);
        return body.RootElement.Clone();
    }

    /// <summary>GET /api/orders/{id} as its caller reads it: the raw JSON.</summary>
    public static async Task<JsonNode> GetViewAsync(this PaymentApp app, string orderId)
    {
        using var http = app.CreateClient();
        return JsonNode.Parse(await http.GetStringAsync(new Uri($"/api/orders/{orderId}", UriKind.Relative)))!;
    }

    public static async Task<EventListView> EventsAsync(this PaymentApp app, string orderId)
    {
        using var client = app.CreateBusinessClient();
        return (await client.GetFromJsonAsync<EventListView>(new Uri($"/api/orders/{orderId}/events", UriKind.Relative), Api.Json))!;
    }

    /// <summary>Asserts one delivered event: signed, of the type and sequence, its data the GET view <paramref name="view"/>.</summary>
    public static void AssertEvent(ReceivedRequest request, string orderId, string type, long sequence, JsonNode view)
    {
        var body = Verified(request);
        Assert.Equal($"evt_order_{orderId}_{sequence}", body.GetProperty("id").GetString());
        Assert.Equal(request.Headers["webhook-id"], body.GetProperty("id").GetString());
        Assert.Equal(type, body.GetProperty("type").GetString());
        Assert.Equal(sequence, body.GetProperty("sequence").GetInt64());
        var data = JsonNode.Parse(body.GetProperty("data").GetRawText());
        Assert.True(JsonNode.DeepEquals(view, data), $"data {data?.ToJsonString()} is not the GET view {view.ToJsonString()}");
    }

    /// <summary>Processes one queue message as the listener would, without the queue.</summary>
    public static async Task<string> ProcessAsync(this PaymentApp app, string messageText)
    {
        await using var scope = app.Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<NotificationProcessor>().ProcessAsync(messageText, CancellationToken.None);
    }
}

/// <summary>
/// The P云 product's events from the real flows (fake P云, Azurite, the queue listener) at a loopback receiver, each
/// verified with the StandardWebhooks package and compared with the GET view of the order at that point.
/// </summary>
[Trait("Category", "Slow")] // refund rounds run in real time
public sealed class PyunEventTests : IAsyncLifetime
{
    private readonly PaymentApp _app = new();
    private FakeReceiverServer _receiver = null!;

    public async ValueTask InitializeAsync()
    {
        _receiver = await FakeReceiverServer.StartAsync();
        await PyunEvents.StartAsync(_app, _receiver);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
        await _receiver.DisposeAsync();
    }

    [Fact]
    public async Task A_paid_order_sends_order_paid_signed_with_the_GET_view_and_its_duplicate_notification_sends_nothing_more()
    {
        var order = await _app.CreateOrderAsync();
        var prepared = await _app.PrepareAsync(order.OrderId);
        var notification = await _app.Pyun.PayAsync(prepared.PayId);
        await _app.DrainQueueAsync();
        var view = await _app.GetViewAsync(order.OrderId);

        var received = await _app.DeliveredAsync(_receiver, order.OrderId, 1);

        PyunEvents.AssertEvent(Assert.Single(received), order.OrderId, EventTypes.OrderPaid, 1, view);
        Assert.Equal("Paid", view["status"]!.GetValue<string>());

        // P云 sends it again: applied once, no second event, nothing more delivered.
        using (var again = await _app.PostNotifyAsync(new Dictionary<string, string>(notification!.Form)))
        {
            Assert.Equal("1001", await again.PyunCodeAsync());
        }

        await _app.DrainQueueAsync();
        Assert.Single(await _app.DeliveredAsync(_receiver, order.OrderId, 1));
        var events = await _app.EventsAsync(order.OrderId);
        var recorded = Assert.Single(events.Events);
        Assert.True(recorded.Dispatched);
        Assert.Equal(1, recorded.Deliveries[PyunEvents.Endpoint].TotalAttempts);
        Assert.Equal("delivered", recorded.Deliveries[PyunEvents.Endpoint].Status);
    }

    [Fact]
    public async Task A_failure_a_second_failure_on_a_new_attempt_and_then_a_payment_send_failed_failed_paid_in_sequence()
    {
        var order = await _app.CreateOrderAsync();
        var views = new List<JsonNode>();
        foreach (var outcome in new[] { "failure", "failure", "success" })
        {
            var prepared = await _app.PrepareAsync(order.OrderId);
            await _app.Pyun.PayAsync(prepared.PayId, new FakePayment(outcome));
            await _app.DrainQueueAsync();
            views.Add(await _app.GetViewAsync(order.OrderId));
        }

        var received = await _app.DeliveredAsync(_receiver, order.OrderId, 3);

        // Every change of the status is one event: Failed → Pending (a new attempt) → Failed again is a second order.failed.
        var bySequence = received.OrderBy(r => PyunEvents.Verified(r).GetProperty("sequence").GetInt64()).ToList();
        Assert.Equal(3, bySequence.Count);
        PyunEvents.AssertEvent(bySequence[0], order.OrderId, EventTypes.OrderFailed, 1, views[0]);
        PyunEvents.AssertEvent(bySequence[1], order.OrderId, EventTypes.OrderFailed, 2, views[1]);
        PyunEvents.AssertEvent(bySequence[2], order.OrderId, EventTypes.OrderPaid, 3, views[2]);
        Assert.Equal(["Failed", "Failed", "Paid"], views.Select(v => v["status"]!.GetValue<string>()));
    }

    [Fact]
    public async Task A_wrong_amount_sends_order_amount_mismatch_then_order_refund_succeeded_when_its_automatic_refund_ends()
    {
        var (order, _, _) = await _app.PaidAtPyunAsync(amount: 1000, value: 1200);
        var mismatch = await _app.GetViewAsync(order.OrderId);

        Assert.Equal("Succeeded", (await _app.RunUntilFinalAsync(order.OrderId, RefundLifecycle.AutomaticRefundNo(1))).Status);
        var refunded = await _app.GetViewAsync(order.OrderId);
        var received = await _app.DeliveredAsync(_receiver, order.OrderId, 2);

        Assert.Equal(2, received.Count);
        var bySequence = received.OrderBy(r => PyunEvents.Verified(r).GetProperty("sequence").GetInt64()).ToList();
        PyunEvents.AssertEvent(bySequence[0], order.OrderId, EventTypes.OrderAmountMismatch, 1, mismatch);
        PyunEvents.AssertEvent(bySequence[1], order.OrderId, EventTypes.OrderRefundSucceeded, 2, refunded);
        // The views carry the money: the automatic refund under way in the first, done in the second.
        Assert.Equal((1200L, 0L), (mismatch["refundingAmount"]!.GetValue<long>(), mismatch["refundedAmount"]!.GetValue<long>()));
        Assert.Equal((0L, 1200L), (refunded["refundingAmount"]!.GetValue<long>(), refunded["refundedAmount"]!.GetValue<long>()));
    }

    [Fact]
    public async Task A_payment_after_close_sends_order_paid_after_close()
    {
        var order = await _app.CreateOrderAsync(expiresAt: _app.Clock.GetUtcNow().AddMinutes(2));
        var prepared = await _app.PrepareAsync(order.OrderId);
        // P云's trade time says it was paid after the order closed (the app's clock stays at real time for the verifier).
        await _app.Pyun.PayAsync(prepared.PayId, new FakePayment(TradeTimeMs: order.ExpiresAt.AddMinutes(1).ToUnixTimeMilliseconds()));
        await _app.DrainQueueAsync();
        var view = await _app.GetViewAsync(order.OrderId);

        var received = await _app.DeliveredAsync(_receiver, order.OrderId, 1);

        PyunEvents.AssertEvent(received[0], order.OrderId, EventTypes.OrderPaidAfterClose, 1, view);
        Assert.Equal("PaidAfterClose", view["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_refund_Pyun_refuses_sends_order_refund_failed_with_the_amount_released()
    {
        var (order, _, _) = await _app.PaidAtPyunAsync(amount: 1000);
        var paid = await _app.GetViewAsync(order.OrderId);
        _app.Refunds().FailNextCreate(FakeRefundFault.InsufficientBalance);

        await _app.RefundAsync(order.OrderId, "r-refused", 400);
        Assert.Equal("Failed", (await _app.RunUntilFinalAsync(order.OrderId, "r-refused")).Status);
        var failed = await _app.GetViewAsync(order.OrderId);
        var received = await _app.DeliveredAsync(_receiver, order.OrderId, 2);

        var bySequence = received.OrderBy(r => PyunEvents.Verified(r).GetProperty("sequence").GetInt64()).ToList();
        PyunEvents.AssertEvent(bySequence[0], order.OrderId, EventTypes.OrderPaid, 1, paid);
        PyunEvents.AssertEvent(bySequence[1], order.OrderId, EventTypes.OrderRefundFailed, 2, failed);
        Assert.Equal((0L, 0L), (failed["refundingAmount"]!.GetValue<long>(), failed["refundedAmount"]!.GetValue<long>()));

        // The refund's later round (queued before its claim) finds it final: no second event.
        await _app.RunUntilAsync(() => Task.FromResult(false), TimeSpan.FromSeconds(6));
        Assert.Equal(2, (await _app.DeliveredAsync(_receiver, order.OrderId, 2)).Count);
        Assert.Equal(2, (await _app.EventsAsync(order.OrderId)).Events.Count);
    }

    [Fact]
    public async Task An_order_nobody_pays_sends_order_expired_once_however_often_its_final_check_runs()
    {
        var order = await _app.CreateOrderAsync(expiresAt: _app.Clock.GetUtcNow().AddMinutes(2));
        var realNow = _app.Clock.GetUtcNow();
        _app.Clock.Advance(TimeSpan.FromMinutes(5)); // past its end and the grace
        var check = NotificationEnvelope.For(new PyunExpiryCheck(order.OrderId), DateTimeOffset.UnixEpoch).ToJson();
        foreach (var _ in Enumerable.Range(0, 3))
        {
            await _app.ProcessAsync(check);
        }

        var view = await _app.GetViewAsync(order.OrderId);
        _app.Clock.Set(realNow); // back to real time, which the verifier checks the signature's timestamp against
        var received = await _app.DeliveredAsync(_receiver, order.OrderId, 1);

        PyunEvents.AssertEvent(Assert.Single(received), order.OrderId, EventTypes.OrderExpired, 1, view);
        Assert.Equal("Expired", view["status"]!.GetValue<string>());
        Assert.Single(await _app.TimelineAsync(order.OrderId), t => t.ToStatus == "Expired");
        Assert.Single((await _app.EventsAsync(order.OrderId)).Events);
    }
}

/// <summary>No endpoint configured: the events are still recorded beside the order, and nothing is queued.</summary>
public sealed class PyunEventsWithoutEndpointTests(PaymentApp app) : IClassFixture<PaymentApp>
{
    [Fact]
    public async Task A_paid_order_records_order_paid_with_the_GET_view_and_queues_nothing()
    {
        var order = await app.CreateOrderAsync();
        var prepared = await app.PrepareAsync(order.OrderId);
        var notification = await app.Pyun.PayAsync(prepared.PayId);
        await app.DrainQueueAsync();
        using (var again = await app.PostNotifyAsync(new Dictionary<string, string>(notification!.Form)))
        {
            Assert.Equal("1001", await again.PyunCodeAsync());
        }

        await app.DrainQueueAsync();
        var view = await app.GetViewAsync(order.OrderId);

        var events = await app.EventsAsync(order.OrderId);

        var recorded = Assert.Single(events.Events);
        Assert.Equal((EventTypes.OrderPaid, 1L, $"evt_order_{order.OrderId}_1"), (recorded.Type, recorded.Sequence, recorded.Id));
        Assert.True(JsonNode.DeepEquals(view, JsonNode.Parse(recorded.Data.GetRawText())));
        Assert.True(recorded.Dispatched);
        Assert.Empty(recorded.Deliveries);
        await app.Storage.EnsureEventQueuesCreatedAsync(CancellationToken.None);
        Assert.Empty((await app.Storage.Events.PeekMessagesAsync(32)).Value);
        Assert.Equal("Paid", view["status"]!.GetValue<string>());
    }
}

/// <summary>
/// The crash window: the change is committed but its event is never queued (the queue endpoint is cut for exactly that
/// moment, through a proxy). The cause is still on its queue; its replay finds the change applied and queues the
/// event, which arrives exactly once.
/// </summary>
public sealed class PyunEventCrashTests : IAsyncLifetime
{
    private readonly TcpProxy _queue = new(10001);
    private readonly PaymentApp _app = new();
    private FakeReceiverServer _receiver = null!;

    public async ValueTask InitializeAsync()
    {
        _receiver = await FakeReceiverServer.StartAsync();
        _app.Settings["AzureWebJobsStorage"] = Azurite.ThroughProxies(_queue.Port, 10002);
        _app.Settings["AzureClientDefaults:Retry:MaxRetries"] = "0";
        _app.Settings["AzureClientDefaults:Retry:NetworkTimeout"] = "00:00:02";
        await PyunEvents.StartAsync(_app, _receiver);
        await _app.Storage.EnsureEventQueuesCreatedAsync(CancellationToken.None);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
        await _receiver.DisposeAsync();
        await _queue.DisposeAsync();
    }

    [Fact]
    public async Task A_notification_committed_whose_event_was_never_queued_queues_it_when_the_queue_redelivers_it_and_it_arrives_once()
    {
        var order = await _app.CreateOrderAsync();
        var prepared = await _app.PrepareAsync(order.OrderId);
        var notification = await _app.Pyun.PayAsync(prepared.PayId); // queued by the intake
        // The listener takes the message (invisible for a second), applies it, and dies before queuing the event:
        // here the queue is unreachable from the commit on, so the dispatch fails and the message is not deleted.
        var message = (await _app.Storage.Notifications.ReceiveMessageAsync(TimeSpan.FromSeconds(1))).Value;
        Assert.Contains(prepared.PayOrder, message.Body.ToString(), StringComparison.Ordinal);
        _queue.Cut();
        var failure = await Assert.ThrowsAsync<OrderEventsNotDispatchedException>(() => _app.ProcessAsync(message.Body.ToString()));
        _queue.Restore();

        Assert.Equal("Paid", failure.Result.To.ToString());
        Assert.Equal(OrderStatus.Paid, (await _app.Store.GetOrderAsync(order.OrderId, CancellationToken.None))!.StatusValue);
        var undispatched = Assert.Single((await _app.EventsAsync(order.OrderId)).Events);
        Assert.False(undispatched.Dispatched);
        Assert.Empty(_receiver.ReceivedFor(order.OrderId));

        // The queue shows the message again; processed again, it is a duplicate that queues the event.
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        await _app.DrainQueueAsync();
        var view = await _app.GetViewAsync(order.OrderId);
        var received = await _app.DeliveredAsync(_receiver, order.OrderId, 1);

        PyunEvents.AssertEvent(Assert.Single(received), order.OrderId, EventTypes.OrderPaid, 1, view);
        Assert.Single(await _app.TimelineAsync(order.OrderId), t => t.Kind == "pyun.notify");
        Assert.True(Assert.Single((await _app.EventsAsync(order.OrderId)).Events).Dispatched);

        // P云's own retry of the notification afterwards changes nothing and sends nothing again.
        using (var again = await _app.PostNotifyAsync(new Dictionary<string, string>(notification!.Form)))
        {
            Assert.Equal("1001", await again.PyunCodeAsync());
        }

        await _app.DrainQueueAsync();
        Assert.Single(await _app.DeliveredAsync(_receiver, order.OrderId, 1));
        Assert.Equal(1, Assert.Single((await _app.EventsAsync(order.OrderId)).Events).Deliveries[PyunEvents.Endpoint].TotalAttempts);
    }

    [Fact]
    public async Task A_final_check_that_stored_Expired_but_could_not_queue_its_event_queues_it_when_it_runs_again()
    {
        var order = await _app.CreateOrderAsync(expiresAt: _app.Clock.GetUtcNow().AddMinutes(2));
        var realNow = _app.Clock.GetUtcNow();
        _app.Clock.Advance(TimeSpan.FromMinutes(5));
        var check = NotificationEnvelope.For(new PyunExpiryCheck(order.OrderId), DateTimeOffset.UnixEpoch).ToJson();

        _queue.Cut();
        await Assert.ThrowsAnyAsync<Exception>(() => _app.ProcessAsync(check)); // committed, then the dispatch failed: the message is retried
        _queue.Restore();
        Assert.Equal(OrderStatus.Expired, (await _app.Store.GetOrderAsync(order.OrderId, CancellationToken.None))!.StatusValue);
        Assert.False(Assert.Single((await _app.EventsAsync(order.OrderId)).Events).Dispatched);

        Assert.Contains("not needed", await _app.ProcessAsync(check), StringComparison.Ordinal); // the retry
        var view = await _app.GetViewAsync(order.OrderId);
        _app.Clock.Set(realNow);
        var received = await _app.DeliveredAsync(_receiver, order.OrderId, 1);

        PyunEvents.AssertEvent(Assert.Single(received), order.OrderId, EventTypes.OrderExpired, 1, view);
        await _app.ProcessAsync(check);
        Assert.Single(await _app.DeliveredAsync(_receiver, order.OrderId, 1));
    }

    [Fact]
    public async Task A_status_poll_that_applied_a_payment_but_could_not_queue_its_event_answers_Paid_and_the_attempts_check_queues_it()
    {
        var order = await _app.CreateOrderAsync();
        var prepared = await _app.PrepareAsync(order.OrderId);
        await _app.Pyun.PayAsync(prepared.PayId, new FakePayment(Notify: false)); // paid at P云, the notification lost
        var realNow = _app.Clock.GetUtcNow();
        _app.Clock.Advance(TimeSpan.FromSeconds(6)); // quiet long enough for the poll to ask P云

        _queue.Cut();
        var polled = await _app.GetOrderAsync(order.OrderId);
        _queue.Restore();

        // The answer is committed, so the poll shows it; its event waits undispatched, with a warning logged.
        Assert.Equal("Paid", polled.Status);
        Assert.False(Assert.Single((await _app.EventsAsync(order.OrderId)).Events).Dispatched);
        Assert.Contains(_app.Logs.Entries, e => e.Level == Microsoft.Extensions.Logging.LogLevel.Warning &&
            e.Message.Contains("could not be queued", StringComparison.Ordinal));

        // The attempt's scheduled check finds it decided (not needed) and queues what is undispatched.
        var check = NotificationEnvelope.For(new PyunCheck(prepared.PayOrder, 1), DateTimeOffset.UnixEpoch).ToJson();
        Assert.Contains("not needed", await _app.ProcessAsync(check), StringComparison.Ordinal);
        var view = await _app.GetViewAsync(order.OrderId);
        _app.Clock.Set(realNow);
        var received = await _app.DeliveredAsync(_receiver, order.OrderId, 1);

        PyunEvents.AssertEvent(Assert.Single(received), order.OrderId, EventTypes.OrderPaid, 1, view);
    }

    [Fact]
    public async Task A_refund_round_whose_end_was_committed_but_never_queued_queues_it_when_the_round_runs_again()
    {
        var (order, _, _) = await _app.PaidAtPyunAsync(amount: 1000);
        Assert.Single(await _app.DeliveredAsync(_receiver, order.OrderId, 1)); // order.paid
        _app.Refunds().FailNextCreate(FakeRefundFault.InsufficientBalance);
        await _app.RefundAsync(order.OrderId, "r-crash", 300);
        Assert.Equal("Failed", (await _app.RunUntilFinalAsync(order.OrderId, "r-crash")).Status);

        // As if the round died between its commit and its dispatch: the delivery message never sent, the row not marked.
        await _app.Storage.Events.ClearMessagesAsync();
        var row = (await _app.EventsAsync(order.OrderId)).Events.Single(e => e.Type == EventTypes.OrderRefundFailed);
        Assert.True(EventKey.TryParse(row.Id, out var key));
        await _app.Storage.Orders.UpdateEntityAsync(new Azure.Data.Tables.TableEntity(key.PartitionKey, key.RowKey) { [EventRows.Dispatched] = false },
            Azure.ETag.All, Azure.Data.Tables.TableUpdateMode.Merge);

        // Its message comes back (the round it ran; it is final now) and queues the event.
        var round = (await _app.RefundRowAsync(order.OrderId, "r-crash")).Rounds - 1;
        var replay = NotificationEnvelope.For(new PyunRefund(order.OrderId, "r-crash", round), DateTimeOffset.UnixEpoch).ToJson();
        Assert.Contains("already Failed", await _app.ProcessAsync(replay), StringComparison.Ordinal);
        var view = await _app.GetViewAsync(order.OrderId);
        var received = await _app.DeliveredAsync(_receiver, order.OrderId, 2);

        Assert.Equal(2, received.Count);
        PyunEvents.AssertEvent(received[1], order.OrderId, EventTypes.OrderRefundFailed, 2, view);
        await _app.ProcessAsync(replay);
        Assert.Equal(2, (await _app.DeliveredAsync(_receiver, order.OrderId, 2)).Count);
    }
}
