using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Azure.Data.Tables;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using PaymentFunctions.Events;
using PaymentFunctions.Fakes.Events;
using PaymentFunctions.Hosting;
using PaymentFunctions.PayScore;
using PaymentFunctions.Tests.Infrastructure;
using PaymentFunctions.Tests.PayScore;
using PaymentFunctions.WeChatPay;
using StandardWebhooks;

namespace PaymentFunctions.Tests.Events;

/// <summary>
/// The app with the fake WeChat Pay, refunds and Pay Score checks followed a second apart, and one endpoint <c>main</c>
/// (every type) on a loopback receiver.
/// </summary>
public sealed class PayScoreEventsFixture : IAsyncLifetime
{
    public const string Secret = EventsFixture.MainSecret;

    public PaymentApp App { get; private set; } = null!;

    public FakeReceiverServer Receiver { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        Receiver = await FakeReceiverServer.StartAsync();
        App = new PaymentApp().EnableWeChatPay();
        App.Settings["Events:Endpoints:main:Url"] = Receiver.Url("main");
        App.Settings["Events:Endpoints:main:Secret"] = Secret;
        App.Settings["Refunds:RecoveryDelay"] = "00:10:00";
        App.Settings["Refunds:CheckBackoff"] = "00:00:01";
        App.Settings["Refunds:CheckMaxRounds"] = "3";
        App.Settings["WeChatPay:CheckBackoff"] = "00:00:01";
        await App.InitializeAsync();
        // Signatures are checked against the real clock by the verifier (5 minutes' tolerance).
        App.Clock.Set(DateTimeOffset.UtcNow);
        App.WeChat!.State.CallbackHttp = App.CreateClient;
        await App.Storage.EnsureEventQueuesCreatedAsync(CancellationToken.None);
    }

    public async ValueTask DisposeAsync()
    {
        await App.DisposeAsync();
        await Receiver.DisposeAsync();
    }
}

/// <summary>
/// Pay Score orders produce their events through the outbox, by the real flows against Azurite and the fakes: each type
/// arrives at a loopback receiver signed so the StandardWebhooks package verifies it, with the order as its query shows it
/// at that point and a sequence that increases per order; a replayed cause sends nothing twice; a crash between the commit
/// and the dispatch loses nothing.
/// </summary>
public sealed class PayScoreEventTests(PayScoreEventsFixture fx) : IClassFixture<PayScoreEventsFixture>
{
    private PaymentApp App => fx.App;

    private Uri Notify => new(App.Server.BaseAddress, "/api/notify/wechatpay");

    private static string Prefix(string outOrderNo) => $"evt_payscore_{outOrderNo}_";

    private List<ReceivedRequest> Received(string outOrderNo) =>
        fx.Receiver.State.Received("main").Where(r => r.Headers.GetValueOrDefault("webhook-id")?.StartsWith(Prefix(outOrderNo), StringComparison.Ordinal) == true).ToList();

    /// <summary>Runs the notification queue and the delivery queue until the receiver has <paramref name="count"/> events of the order; all it has, by sequence.</summary>
    private async Task<List<ReceivedRequest>> ReceivedAsync(string outOrderNo, int count)
    {
        var deliveries = ActivatorUtilities.CreateInstance<EventDeliveryListener>(App.Services, QueueSettings.Load(Path.Combine(AppContext.BaseDirectory, "host.json")));
        var deadline = DateTimeOffset.UtcNow + TimeSpan.FromSeconds(30);
        while (Received(outOrderNo).Count < count)
        {
            Assert.True(DateTimeOffset.UtcNow < deadline, $"{outOrderNo}: {Received(outOrderNo).Count} of {count} events arrived in time.");
            await fx.App.WeChat!.State.WhenRefundCallbacksSentAsync();
            await App.DrainQueueAsync();
            if (await deliveries.PollOnceAsync(CancellationToken.None) == 0)
            {
                await Task.Delay(100);
            }
        }

        // Whatever else is queued for it arrives too, so a test sees a second delivery if there were one.
        while (await deliveries.PollOnceAsync(CancellationToken.None) > 0)
        {
        }

        // By sequence: a batch of deliveries arrives in any order.
        return [.. Received(outOrderNo).OrderBy(r => JsonNode.Parse(r.Body)!["sequence"]!.GetValue<long>())];
    }

    /// <summary>The event as received: signature verified by the package, its id, type and sequence, and its data.</summary>
    private static JsonNode AssertEvent(ReceivedRequest request, string outOrderNo, long sequence, string type)
    {
        var headers = new HeaderDictionary();
        foreach (var (name, value) in request.Headers)
        {
            headers[name] = value;
        }

        new StandardWebhook(PayScoreEventsFixture.Secret).Verify(request.Body, headers);
        var body = JsonNode.Parse(request.Body)!;
        Assert.Equal($"{Prefix(outOrderNo)}{sequence}", body["id"]!.GetValue<string>());
        Assert.Equal(body["id"]!.GetValue<string>(), request.Headers["webhook-id"]);
        Assert.Equal(type, body["type"]!.GetValue<string>());
        Assert.Equal(sequence, body["sequence"]!.GetValue<long>());
        return body["data"]!;
    }

    private static void AssertSameJson(JsonNode expected, JsonNode actual) =>
        Assert.True(JsonNode.DeepEquals(expected, actual), $"expected {expected.ToJsonString()}\n  actual {actual.ToJsonString()}");

    /// <summary>What the order's query answers now (asking the fake WeChat Pay by query_id, as the mini program does).</summary>
    private async Task<JsonNode> ViewAsync(string outOrderNo)
    {
        using var response = await App.PostAsync("/api/payscore/orders/query", new JsonObject { ["queryId"] = App.WeChat!.State.GetQueryId(outOrderNo) }, withKey: false);
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        return JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
    }

    private async Task<string> CreatedAsync()
    {
        var outOrderNo = PayScoreApi.NewOutOrderNo();
        await App.CreatePayScoreOrderAsync(outOrderNo);
        return outOrderNo;
    }

    private async Task ConfirmAsync(string outOrderNo)
    {
        Assert.Equal(HttpStatusCode.NoContent, await App.WeChat!.State.SendCallbackAsync(outOrderNo, PayScoreStates.UserConfirmEvent, Notify, App.CreateClient()));
        await App.DrainQueueAsync();
    }

    private async Task<JsonNode> CompleteAsync(string outOrderNo, long amount = 500)
    {
        using var complete = await App.PostAsync($"/api/payscore/orders/{outOrderNo}/complete", new JsonObject
        {
            ["postPayments"] = new JsonArray(new JsonObject { ["name"] = "租借费", ["amount"] = amount, ["count"] = 1 }),
            ["totalAmount"] = amount,
        });
        Assert.True(complete.StatusCode == HttpStatusCode.OK, await complete.Content.ReadAsStringAsync());
        return JsonNode.Parse(await complete.Content.ReadAsStringAsync())!;
    }

    private async Task PayAsync(string outOrderNo)
    {
        Assert.Equal(HttpStatusCode.NoContent, await App.WeChat!.State.SendCallbackAsync(outOrderNo, PayScoreStates.UserPaidEvent, Notify, App.CreateClient()));
        await App.DrainQueueAsync();
    }

    private async Task<List<TableEntity>> EventRowsAsync(string outOrderNo) =>
        [.. await EventStore.ListAsync(App.Storage.PayScoreOrders, outOrderNo, CancellationToken.None)];

    [Fact]
    public async Task A_paid_order_sends_confirmed_completed_and_paid_signed_each_with_the_order_as_its_query_shows_it()
    {
        var outOrderNo = await CreatedAsync();
        Assert.Empty(await EventRowsAsync(outOrderNo)); // creating is no event

        await ConfirmAsync(outOrderNo);
        var confirmed = AssertEvent(Assert.Single(await ReceivedAsync(outOrderNo, 1)), outOrderNo, 1, EventTypes.PayScoreConfirmed);
        AssertSameJson(await ViewAsync(outOrderNo), confirmed);
        Assert.True(confirmed["confirmed"]!.GetValue<bool>());

        var answer = await CompleteAsync(outOrderNo);
        var completed = AssertEvent((await ReceivedAsync(outOrderNo, 2))[1], outOrderNo, 2, EventTypes.PayScoreCompleted);
        AssertSameJson(answer, completed);
        AssertSameJson(await ViewAsync(outOrderNo), completed);
        Assert.Equal("MCH_COMPLETE", completed["stateDescription"]!.GetValue<string>());

        await PayAsync(outOrderNo);
        var received = await ReceivedAsync(outOrderNo, 3);
        var paid = AssertEvent(received[2], outOrderNo, 3, EventTypes.PayScorePaid);
        AssertSameJson(await ViewAsync(outOrderNo), paid);
        Assert.True(paid["paid"]!.GetValue<bool>());
        Assert.Equal(500, paid["paidAmount"]!.GetValue<long>());
        Assert.Equal(3, received.Count); // the queries in between changed nothing and sent nothing

        // The order's event list shows them, delivered.
        using var http = App.CreateBusinessClient();
        using var list = JsonDocument.Parse(await http.GetStringAsync(new Uri($"/api/payscore/orders/{outOrderNo}/events", UriKind.Relative)));
        var events = list.RootElement.GetProperty("events").EnumerateArray().ToList();
        Assert.Equal([EventTypes.PayScoreConfirmed, EventTypes.PayScoreCompleted, EventTypes.PayScorePaid], events.Select(e => e.GetProperty("type").GetString()));
        Assert.All(events, e => Assert.Equal("delivered", e.GetProperty("deliveries").GetProperty("main").GetProperty("status").GetString()));
        Assert.Equal(3, (await App.PayScoreOrderAsync(outOrderNo))!.EventCount);
    }

    [Fact]
    public async Task WeChat_skipping_from_CREATED_to_DONE_sends_confirmed_completed_and_paid_in_that_order_from_one_callback()
    {
        var outOrderNo = await CreatedAsync();
        var (headers, body) = PayScoreApi.Callback(PayScoreApi.Resource(outOrderNo, PayScoreStates.Done, collection: PayScoreStates.UserPaid),
            PayScoreStates.UserPaidEvent, "EV-" + Guid.NewGuid().ToString("N"), App.Clock.GetUtcNow());
        using (var response = await App.PostCallbackAsync(headers, body))
        {
            Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        }

        await App.DrainQueueAsync();
        var received = await ReceivedAsync(outOrderNo, 3);

        Assert.Equal(3, received.Count);
        var view = await ViewAsync(outOrderNo); // the fake still says CREATED: ignored, the stored DONE is answered
        AssertSameJson(view, AssertEvent(received[0], outOrderNo, 1, EventTypes.PayScoreConfirmed));
        AssertSameJson(view, AssertEvent(received[1], outOrderNo, 2, EventTypes.PayScoreCompleted));
        AssertSameJson(view, AssertEvent(received[2], outOrderNo, 3, EventTypes.PayScorePaid));
        // One change, one timeline row, three event rows.
        Assert.Single(await App.PayScoreTimelineAsync(outOrderNo), t => t.Kind == "wechatpay.notify");
        Assert.Equal(3, (await EventRowsAsync(outOrderNo)).Count);
    }

    [Fact]
    public async Task A_callback_WeChat_sends_again_sends_no_second_event()
    {
        var outOrderNo = await CreatedAsync();
        var (headers, body) = PayScoreApi.Callback(PayScoreApi.Resource(outOrderNo, PayScoreStates.Doing, PayScoreStates.UserConfirm),
            PayScoreStates.UserConfirmEvent, "EV-" + Guid.NewGuid().ToString("N"), App.Clock.GetUtcNow());

        for (var i = 0; i < 2; i++)
        {
            using var response = await App.PostCallbackAsync(headers, body);
            Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
            await App.DrainQueueAsync();
        }

        var received = await ReceivedAsync(outOrderNo, 1);
        AssertEvent(Assert.Single(received), outOrderNo, 1, EventTypes.PayScoreConfirmed);
        var row = Assert.Single(await EventRowsAsync(outOrderNo));
        Assert.Equal(1, EventRows.Delivery(row, "main").TotalAttempts);
        Assert.Equal(1, (await App.PayScoreOrderAsync(outOrderNo))!.EventCount);
    }

    [Fact]
    public async Task A_crash_between_the_commit_and_the_dispatch_loses_nothing_the_redelivered_callback_sends_the_event_exactly_once()
    {
        var outOrderNo = await CreatedAsync();
        var listener = App.CreateListener(QueueSettings.Defaults with { VisibilityTimeout = TimeSpan.Zero, MaxDequeueCount = 5 });
        Assert.Equal(HttpStatusCode.NoContent, await App.WeChat!.State.SendCallbackAsync(outOrderNo, PayScoreStates.UserConfirmEvent, Notify, App.CreateClient()));

        // The delivery queue is gone while the callback is processed: the change and its event row commit, the
        // dispatch that follows fails, as if the process had died between the two.
        await App.Storage.Events.DeleteAsync();
        try
        {
            Assert.True(await listener.PollOnceAsync(CancellationToken.None) >= 1); // the callback (and any check of another order that is due)
        }
        finally
        {
            await App.Storage.Events.CreateIfNotExistsAsync();
        }

        Assert.Equal(PayScoreStates.Doing, (await App.PayScoreOrderAsync(outOrderNo))!.State);
        var committed = Assert.Single(await EventRowsAsync(outOrderNo));
        Assert.False(committed.GetBoolean(EventRows.Dispatched));
        Assert.Equal(0, (await App.Storage.Events.GetPropertiesAsync()).Value.ApproximateMessagesCount);
        // The callback's processing failed after the commit, so its message was not deleted: it comes back.
        Assert.Contains(App.Logs.Entries, e => e.Exception is PayScoreEventsNotDispatchedException failed && failed.Result.Order.PartitionKey == outOrderNo);
        Assert.DoesNotContain(App.Logs.Entries, e => e.Message.Contains($"wechatpay.notify for {outOrderNo} is a duplicate", StringComparison.Ordinal));

        // Its redelivery finds the change applied (a duplicate) and queues the committed event.
        await App.DrainQueueAsync(listener);
        var received = await ReceivedAsync(outOrderNo, 1);

        AssertEvent(Assert.Single(received), outOrderNo, 1, EventTypes.PayScoreConfirmed);
        // The callback was not acknowledged the first time: it came back from its queue and took the duplicate path.
        Assert.Contains(App.Logs.Entries, e => e.Message.Contains($"wechatpay.notify for {outOrderNo} is a duplicate", StringComparison.Ordinal));
        Assert.Single(await App.PayScoreTimelineAsync(outOrderNo), t => t.Kind == "wechatpay.notify");
        var row = Assert.Single(await EventRowsAsync(outOrderNo));
        Assert.True(row.GetBoolean(EventRows.Dispatched));
        Assert.Equal(1, EventRows.Delivery(row, "main").TotalAttempts);
        Assert.Contains(App.Logs.Entries, e => e.Message.Contains("committed but not dispatched", StringComparison.Ordinal) && e.Message.Contains(outOrderNo, StringComparison.Ordinal));
        Assert.Equal(0, await App.QueueLengthAsync(poison: true));
    }

    [Fact]
    public async Task A_cancel_whose_event_cannot_be_queued_answers_the_cancelled_order_and_a_check_queues_the_event_once()
    {
        var outOrderNo = await CreatedAsync();
        await ConfirmAsync(outOrderNo);
        Assert.Single(await ReceivedAsync(outOrderNo, 1));

        // The delivery queue is gone: WeChat cancelled the order and the change commits, its event cannot be queued.
        await App.Storage.Events.DeleteAsync();
        HttpResponseMessage cancel;
        try
        {
            cancel = await App.PostAsync($"/api/payscore/orders/{outOrderNo}/cancel", new JsonObject { ["reason"] = "用户取消" });
        }
        finally
        {
            await App.Storage.Events.CreateIfNotExistsAsync();
        }

        JsonNode answer;
        using (cancel)
        {
            // The order is cancelled at WeChat and here: the answer says so (a 5xx would invite a retry that is only refused).
            Assert.True(cancel.StatusCode == HttpStatusCode.OK, await cancel.Content.ReadAsStringAsync());
            answer = JsonNode.Parse(await cancel.Content.ReadAsStringAsync())!;
        }

        Assert.Equal(PayScoreStates.Revoked, answer["state"]!.GetValue<string>());
        Assert.Contains(App.Logs.Entries, e => e.Level == Microsoft.Extensions.Logging.LogLevel.Warning &&
            e.Message.Contains(outOrderNo, StringComparison.Ordinal) && e.Message.Contains("could not be queued", StringComparison.Ordinal));
        Assert.False((await EventRowsAsync(outOrderNo))[1].GetBoolean(EventRows.Dispatched));

        // A check a second later finds nothing to wait for and queues the committed event.
        var received = await ReceivedAsync(outOrderNo, 2);

        Assert.Equal(2, received.Count);
        AssertSameJson(answer, AssertEvent(received[1], outOrderNo, 2, EventTypes.PayScoreCancelled));
        Assert.All(await EventRowsAsync(outOrderNo), r => Assert.True(r.GetBoolean(EventRows.Dispatched)));
    }

    [Fact]
    public async Task A_cancelled_order_sends_payscore_cancelled_with_the_cancel_answer()
    {
        var outOrderNo = await CreatedAsync();
        await ConfirmAsync(outOrderNo);

        using var cancel = await App.PostAsync($"/api/payscore/orders/{outOrderNo}/cancel", new JsonObject { ["reason"] = "用户取消" });
        Assert.True(cancel.StatusCode == HttpStatusCode.OK, await cancel.Content.ReadAsStringAsync());
        var answer = JsonNode.Parse(await cancel.Content.ReadAsStringAsync())!;
        var received = await ReceivedAsync(outOrderNo, 2);

        AssertEvent(received[0], outOrderNo, 1, EventTypes.PayScoreConfirmed);
        var cancelled = AssertEvent(received[1], outOrderNo, 2, EventTypes.PayScoreCancelled);
        AssertSameJson(answer, cancelled);
        Assert.Equal(PayScoreStates.Revoked, cancelled["state"]!.GetValue<string>());

        // Cancelling again is refused and sends nothing.
        using var again = await App.PostAsync($"/api/payscore/orders/{outOrderNo}/cancel", new JsonObject { ["reason"] = "用户取消" });
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        Assert.Equal(2, (await ReceivedAsync(outOrderNo, 2)).Count);
    }

    [Fact]
    public async Task An_order_WeChat_expired_sends_payscore_expired_when_a_query_finds_it()
    {
        var outOrderNo = await CreatedAsync();
        App.WeChat!.State.Expire(outOrderNo);

        var view = await ViewAsync(outOrderNo);

        var expired = AssertEvent(Assert.Single(await ReceivedAsync(outOrderNo, 1)), outOrderNo, 1, EventTypes.PayScoreExpired);
        AssertSameJson(view, expired);
        Assert.Equal(PayScoreStates.Expired, expired["state"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_refund_settled_by_its_callback_sends_payscore_refund_succeeded_with_the_refunded_amount()
    {
        var outOrderNo = await App.PaidOrderAsync(300);
        var outRefundNo = PayScoreRefundApi.NewOutRefundNo();
        using (var response = await App.RefundAsync(outOrderNo, PayScoreRefundApi.RefundBody(outRefundNo, 100)))
        {
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        App.WeChat!.State.RefundSettleAfterQueries = 0; // only the callback settles it
        try
        {
            await App.DrainQueueAsync(); // sent: PROCESSING
            Assert.Equal(RefundStates.Processing, (await App.StoredRefundAsync(outOrderNo, outRefundNo))!.WeChatStatus);
            Assert.Equal(HttpStatusCode.NoContent, await App.WeChat.State.SettleRefundAsync(outRefundNo, RefundStates.Success));
            var received = await ReceivedAsync(outOrderNo, 4);

            var succeeded = AssertEvent(received[3], outOrderNo, 4, EventTypes.PayScoreRefundSucceeded);
            Assert.Equal(4, received.Count);
            Assert.Equal(RefundStatuses.Succeeded, (await App.StoredRefundAsync(outOrderNo, outRefundNo))!.Status);
            Assert.Equal((100L, 0L), (succeeded["refundedAmount"]!.GetValue<long>(), succeeded["refundingAmount"]!.GetValue<long>()));
            AssertSameJson(await ViewAsync(outOrderNo), succeeded);

            // WeChat sends the same callback again: nothing new.
            var callback = App.WeChat.State.BuildRefundCallback(outRefundNo);
            using (var again = await App.PostCallbackAsync(callback.Headers, callback.Body))
            {
                Assert.Equal(HttpStatusCode.NoContent, again.StatusCode);
            }

            await App.DrainQueueAsync();
            Assert.Equal(4, (await ReceivedAsync(outOrderNo, 4)).Count);
            Assert.Equal(4, (await EventRowsAsync(outOrderNo)).Count);
        }
        finally
        {
            App.WeChat.State.RefundSettleAfterQueries = 1;
        }
    }

    [Fact]
    public async Task A_refund_callback_whose_event_was_not_queued_sends_it_exactly_once_when_it_comes_back_from_its_queue()
    {
        var outOrderNo = await App.PaidOrderAsync(300);
        Assert.Equal(3, (await ReceivedAsync(outOrderNo, 3)).Count);
        var outRefundNo = PayScoreRefundApi.NewOutRefundNo();
        using (var response = await App.RefundAsync(outOrderNo, PayScoreRefundApi.RefundBody(outRefundNo, 100)))
        {
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        App.WeChat!.State.RefundSettleAfterQueries = 0; // only the callback settles it
        App.WeChat.State.SuppressRefundCallbacks = true; // the test posts it
        try
        {
            await App.DrainQueueAsync(); // sent: PROCESSING
            Assert.Null(await App.WeChat.State.SettleRefundAsync(outRefundNo, RefundStates.Success));
            var callback = App.WeChat.State.BuildRefundCallback(outRefundNo);
            using (var posted = await App.PostCallbackAsync(callback.Headers, callback.Body))
            {
                Assert.Equal(HttpStatusCode.NoContent, posted.StatusCode);
            }

            // The refund ends and its event row commits while the delivery queue is gone.
            var listener = App.CreateListener(QueueSettings.Defaults with { VisibilityTimeout = TimeSpan.Zero, MaxDequeueCount = 5 });
            await App.Storage.Events.DeleteAsync();
            try
            {
                Assert.True(await listener.PollOnceAsync(CancellationToken.None) >= 1);
            }
            finally
            {
                await App.Storage.Events.CreateIfNotExistsAsync();
            }

            Assert.Equal(RefundStatuses.Succeeded, (await App.StoredRefundAsync(outOrderNo, outRefundNo))!.Status);
            Assert.False((await EventRowsAsync(outOrderNo))[3].GetBoolean(EventRows.Dispatched));
            Assert.Empty(Received(outOrderNo).Skip(3));

            // The callback was not acknowledged: it comes back from its queue, changes nothing, and queues the committed event.
            var received = await ReceivedAsync(outOrderNo, 4);

            Assert.Equal(4, received.Count);
            AssertEvent(received[3], outOrderNo, 4, EventTypes.PayScoreRefundSucceeded);
            Assert.Equal(4, (await EventRowsAsync(outOrderNo)).Count);
            Assert.Equal(1, EventRows.Delivery((await EventRowsAsync(outOrderNo))[3], "main").TotalAttempts);
            Assert.Equal(0, await App.QueueLengthAsync(poison: true));
        }
        finally
        {
            App.WeChat.State.RefundSettleAfterQueries = 1;
            App.WeChat.State.SuppressRefundCallbacks = false;
        }
    }

    [Fact]
    public async Task A_refund_a_follow_up_round_finds_closed_sends_payscore_refund_failed_with_the_amount_back()
    {
        var outOrderNo = await App.PaidOrderAsync(300);
        App.WeChat!.State.RefundOutcome = RefundStates.Closed; // the round-1 query finds it CLOSED
        App.WeChat.State.SuppressRefundCallbacks = true;
        try
        {
            var outRefundNo = PayScoreRefundApi.NewOutRefundNo();
            using (var response = await App.RefundAsync(outOrderNo, PayScoreRefundApi.RefundBody(outRefundNo, 100)))
            {
                Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            }

            var received = await ReceivedAsync(outOrderNo, 4);

            var failed = AssertEvent(received[3], outOrderNo, 4, EventTypes.PayScoreRefundFailed);
            Assert.Equal(RefundStatuses.Failed, (await App.StoredRefundAsync(outOrderNo, outRefundNo))!.Status);
            Assert.Equal((0L, 0L), (failed["refundedAmount"]!.GetValue<long>(), failed["refundingAmount"]!.GetValue<long>()));
            AssertSameJson(await ViewAsync(outOrderNo), failed);
        }
        finally
        {
            App.WeChat.State.RefundOutcome = RefundStates.Success;
            App.WeChat.State.SuppressRefundCallbacks = false;
        }
    }
}

/// <summary>Without any endpoint configured, Pay Score events are still recorded, and nothing else changes.</summary>
public sealed class PayScoreEventsWithoutEndpointsTests
{
    [Fact]
    public async Task A_paid_order_records_its_events_with_nothing_to_dispatch_and_lists_them()
    {
        await using var app = new PaymentApp().EnableWeChatPay();
        await app.InitializeAsync();

        var outOrderNo = await app.PaidOrderAsync(300);

        var rows = await EventStore.ListAsync(app.Storage.PayScoreOrders, outOrderNo, CancellationToken.None);
        Assert.Equal([EventTypes.PayScoreConfirmed, EventTypes.PayScoreCompleted, EventTypes.PayScorePaid], rows.Select(r => r.GetString(EventRows.Type)));
        Assert.All(rows, r => Assert.True(r.GetBoolean(EventRows.Dispatched)));
        Assert.Equal(0, await app.QueueLengthAsync(poison: true));
        using var http = app.CreateBusinessClient();
        var list = await http.GetFromJsonAsync<JsonElement>(new Uri($"/api/payscore/orders/{outOrderNo}/events", UriKind.Relative));
        var paid = list.GetProperty("events").EnumerateArray().Last();
        Assert.Equal($"evt_payscore_{outOrderNo}_3", paid.GetProperty("id").GetString());
        Assert.True(paid.GetProperty("data").GetProperty("paid").GetBoolean());
        Assert.Empty(paid.GetProperty("deliveries").EnumerateObject());
    }
}
