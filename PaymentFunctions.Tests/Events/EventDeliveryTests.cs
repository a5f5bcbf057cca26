using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using PaymentFunctions.Events;
using PaymentFunctions.Fakes.Events;
using PaymentFunctions.Tests.Infrastructure;
using StandardWebhooks;

namespace PaymentFunctions.Tests.Events;

/// <summary>Delivery to a real receiver on loopback: signatures, retries, faults, redelivery, filters, the outbox's crash window.</summary>
public sealed class EventDeliveryTests(EventsFixture fx) : IClassFixture<EventsFixture>
{
    private static void Verify(string secret, ReceivedRequest request)
    {
        var headers = new HeaderDictionary();
        foreach (var (name, value) in request.Headers)
        {
            headers[name] = value;
        }

        new StandardWebhook(secret).Verify(request.Body, headers);
    }

    private async Task<EndpointDelivery> FinishedAsync(StagedEvent staged, string endpoint = "main")
    {
        await fx.PumpUntilAsync(async () => (await fx.DeliveryAsync(staged, endpoint)).Finished);
        return await fx.DeliveryAsync(staged, endpoint);
    }

    [Fact]
    public async Task An_event_arrives_signed_so_the_package_verifier_accepts_it_with_the_body_of_the_issue()
    {
        var staged = await fx.CommitEventAsync();

        var state = await FinishedAsync(staged);

        Assert.Equal("delivered", state.Status);
        Assert.Equal(1, state.Attempts);
        Assert.Equal(204, state.LastStatus);
        var request = Assert.Single(fx.Received("main", staged));
        Verify(EventsFixture.MainSecret, request);
        using var body = JsonDocument.Parse(request.Body);
        Assert.Equal(staged.Key.Id, body.RootElement.GetProperty("id").GetString());
        Assert.Equal("order.failed", body.RootElement.GetProperty("type").GetString());
        Assert.Equal(1, body.RootElement.GetProperty("sequence").GetInt64());
        Assert.Equal(100, body.RootElement.GetProperty("data").GetProperty("amount").GetInt32());
        Assert.True(body.RootElement.TryGetProperty("createdAt", out _));
        Assert.StartsWith("application/json", request.Headers["content-type"], StringComparison.Ordinal);
        // order.failed is not among paidonly's types: nothing for it.
        Assert.Empty(fx.Received("paidonly", staged));
        Assert.Equal("pending", (await fx.DeliveryAsync(staged, "paidonly")).Status);
    }

    [Fact]
    public async Task A_receiver_failing_twice_then_recovering_gets_the_event_on_the_third_attempt_with_the_same_webhook_id()
    {
        fx.Receiver.State.Fail("main", ReceiverFault.Error, 2);
        var staged = await fx.CommitEventAsync();

        var state = await FinishedAsync(staged);

        Assert.Equal("delivered", state.Status);
        Assert.Equal(3, state.Attempts);
        var requests = fx.Received("main", staged);
        Assert.Equal(3, requests.Count);
        Assert.Equal(["Error", "Error", "OK"], requests.Select(r => r.Answer));
        Assert.All(requests, r => Assert.Equal(staged.Key.Id, r.Headers["webhook-id"]));
        Assert.All(requests, r => Verify(EventsFixture.MainSecret, r));
    }

    [Theory]
    [InlineData(ReceiverFault.Error, 500, "receiver is down")]
    [InlineData(ReceiverFault.Hang, null, "no 2xx answer within 1 s")]
    [InlineData(ReceiverFault.Redirect, 302, "not followed")]
    [InlineData(ReceiverFault.Huge, 500, "HTTP 500")]
    [InlineData(ReceiverFault.Slow, null, "no 2xx answer within 1 s")]
    public async Task Each_receiver_fault_is_a_failed_attempt_recorded_on_the_row_and_retried(ReceiverFault fault, int? status, string error)
    {
        fx.Receiver.State.Fail("main", fault);
        var staged = await fx.CommitEventAsync();

        await fx.PumpUntilAsync(async () => (await fx.DeliveryAsync(staged, "main")).Attempts >= 1);
        var afterFirst = await fx.DeliveryAsync(staged, "main");
        var state = await FinishedAsync(staged);

        Assert.Equal(1, afterFirst.Attempts);
        Assert.Equal(status, afterFirst.LastStatus);
        Assert.Contains(error, afterFirst.LastError, StringComparison.Ordinal);
        Assert.True(afterFirst.LastError!.Length <= EventDeliverer.MaxErrorLength + 1, "Only an excerpt of the answer is recorded.");
        Assert.NotNull(afterFirst.NextAttemptAt);
        Assert.Equal("delivered", state.Status);
        Assert.Equal(2, state.Attempts);
        Assert.Null(state.LastError);
        Assert.Equal(0, fx.Receiver.State.RedirectsFollowed("main"));
    }

    [Fact]
    public async Task A_receiver_down_for_the_whole_schedule_marks_the_delivery_failed_with_an_alert()
    {
        fx.Receiver.State.Fail("main", ReceiverFault.Error, 3);
        var staged = await fx.CommitEventAsync();

        var state = await FinishedAsync(staged);

        Assert.Equal("failed", state.Status);
        Assert.Equal(3, state.Attempts); // 0.2 s and 0.4 s fit in RetryFor 0.5 s; a third delay would not
        Assert.Null(state.NextAttemptAt);
        Assert.NotNull(state.FailedAt);
        Assert.Equal(3, fx.Received("main", staged).Count);
        Assert.Contains(fx.App.Logs.Entries, e => e.Level == Microsoft.Extensions.Logging.LogLevel.Warning &&
            e.Message.StartsWith("ALERT", StringComparison.Ordinal) && e.Message.Contains(staged.Key.Id, StringComparison.Ordinal));
        // Nothing else is left in flight for it.
        await fx.PumpUntilAsync(() => Task.FromResult(true));
        Assert.Equal(3, fx.Received("main", staged).Count);
    }

    [Fact]
    public async Task Redeliver_sends_a_delivered_or_failed_event_again_with_the_same_id()
    {
        fx.Receiver.State.Fail("main", ReceiverFault.Error, 3);
        var staged = await fx.CommitEventAsync(type: "order.paid");
        await FinishedAsync(staged);
        await FinishedAsync(staged, "paidonly");
        Assert.Equal("failed", (await fx.DeliveryAsync(staged, "main")).Status);

        using var client = fx.App.CreateBusinessClient();
        using var response = await client.PostAsync(new Uri($"/api/events/{staged.Key.Id}/redeliver?endpoint=main", UriKind.Relative), null);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal(["main"], JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("endpoints").EnumerateArray().Select(e => e.GetString()));
        var state = await FinishedAsync(staged);
        Assert.Equal("delivered", state.Status);
        Assert.Equal(1, state.Round);
        Assert.Equal(4, state.TotalAttempts);
        var requests = fx.Received("main", staged);
        Assert.Equal(4, requests.Count);
        Assert.Equal("OK", requests[^1].Answer);
        Verify(EventsFixture.MainSecret, requests[^1]);
        Assert.Single(fx.Received("paidonly", staged)); // only the endpoint asked for

        // Without ?endpoint=, every endpoint that receives the type.
        using var all = await client.PostAsync(new Uri($"/api/events/{staged.Key.Id}/redeliver", UriKind.Relative), null);
        Assert.Equal(HttpStatusCode.Accepted, all.StatusCode);
        await fx.PumpUntilAsync(async () => fx.Received("paidonly", staged).Count == 2 && (await fx.DeliveryAsync(staged, "main")).Finished && fx.Received("main", staged).Count == 5);
    }

    [Theory]
    [InlineData("evt_test_nosuchorder_1")] // well-formed, no such row
    [InlineData("evt_nosuchproduct_x_1")]
    [InlineData("evt_payscore_RENT1_1")] // Pay Score is off in this app
    [InlineData("not-an-event")]
    [InlineData("evt_order_x_01")]
    public async Task Redeliver_of_an_id_that_is_not_ours_is_404(string id)
    {
        using var client = fx.App.CreateBusinessClient();
        using var response = await client.PostAsync(new Uri($"/api/events/{Uri.EscapeDataString(id)}/redeliver", UriKind.Relative), null);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task Redeliver_to_an_unknown_endpoint_is_404_and_without_the_key_401()
    {
        var staged = await fx.CommitEventAsync(dispatch: false);
        using var client = fx.App.CreateBusinessClient();
        using var unknown = await client.PostAsync(new Uri($"/api/events/{staged.Key.Id}/redeliver?endpoint=nobody", UriKind.Relative), null);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        using var anonymous = fx.App.CreateClient();
        using var refused = await anonymous.PostAsync(new Uri($"/api/events/{staged.Key.Id}/redeliver", UriKind.Relative), null);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
    }

    [Fact]
    public async Task One_endpoint_hanging_does_not_delay_the_other()
    {
        fx.Receiver.State.FailAlways("paidonly", ReceiverFault.Hang);
        // The standalone listener as it runs (not batch by batch), polling an empty queue every 100 ms at most.
        var listener = fx.CreateListener(s => s with { MaxPollingInterval = TimeSpan.FromMilliseconds(100) });
        await listener.StartAsync(CancellationToken.None);
        try
        {
            var warmUp = await fx.CommitEventAsync();
            await fx.PumpUntilAsync(() => Task.FromResult(fx.Received("main", warmUp).Count == 1), poll: false);

            // paidonly hangs on the first event until the 1 s timeout; meanwhile main gets the first and a second event.
            var first = await fx.CommitEventAsync(type: "order.paid");
            await fx.PumpUntilAsync(() => Task.FromResult(fx.Received("paidonly", first).Count == 1), poll: false);
            var second = await fx.CommitEventAsync();
            var queuedAt = DateTimeOffset.UtcNow;
            await fx.PumpUntilAsync(() => Task.FromResult(fx.Received("main", second).Count == 1), poll: false);

            var mainAt = fx.Received("main", second)[0].At;
            Assert.True(mainAt - queuedAt < TimeSpan.FromSeconds(0.8), $"main got the second event {mainAt - queuedAt} after it was queued, behind a hanging endpoint with a 1 s timeout");
            Assert.Equal("delivered", (await fx.DeliveryAsync(first, "main")).Status);
            await fx.PumpUntilAsync(async () => (await fx.DeliveryAsync(first, "paidonly")).Finished, poll: false);
            Assert.Equal("failed", (await fx.DeliveryAsync(first, "paidonly")).Status);
        }
        finally
        {
            fx.Receiver.State.FailAlways("paidonly", null);
            await listener.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task An_endpoint_with_types_gets_only_those_types()
    {
        var paid = await fx.CommitEventAsync(type: "order.paid");
        var expired = await fx.CommitEventAsync(type: "order.expired");

        await FinishedAsync(paid, "paidonly");
        await FinishedAsync(expired, "main");
        await FinishedAsync(paid, "main");

        Assert.Single(fx.Received("paidonly", paid));
        Verify(EventsFixture.PaidOnlySecret, fx.Received("paidonly", paid)[0]);
        Assert.Empty(fx.Received("paidonly", expired));
        Assert.Equal(["main"], fx.Outbox.Receivers("order.expired"));
    }

    [Fact]
    public async Task An_event_committed_but_never_dispatched_is_queued_exactly_once_by_EnsureDispatched_and_delivered_once()
    {
        // The product's transaction commits (order row + event row), then the process "dies" before dispatching.
        var staged = await fx.CommitEventAsync(dispatch: false);
        var other = await fx.CommitEventAsync(dispatch: false, partition: staged.Key.PartitionKey + "x");
        var before = await QueuedForAsync(staged.Key.Id);
        Assert.Equal(0, before);

        // The replayed cause finds its change applied and makes sure its events are queued.
        var queued = await fx.Outbox.EnsureDispatchedAsync(EventsFixture.TestProduct, staged.Key.PartitionKey, CancellationToken.None);
        var again = await fx.Outbox.EnsureDispatchedAsync(EventsFixture.TestProduct, staged.Key.PartitionKey, CancellationToken.None);

        Assert.Equal(1, queued);
        Assert.Equal(0, again);
        Assert.Equal(1, await QueuedForAsync(staged.Key.Id));
        Assert.Equal(0, await QueuedForAsync(other.Key.Id)); // another order's partition is not touched
        // A duplicate message (a crash after queuing, before marking) delivers nothing twice.
        await fx.Outbox.DispatchAsync(staged, CancellationToken.None);
        Assert.Equal("delivered", (await FinishedAsync(staged)).Status);
        await fx.PumpUntilAsync(async () => await QueuedForAsync(staged.Key.Id) == 0);
        Assert.Single(fx.Received("main", staged));
        Assert.Equal(1, (await fx.DeliveryAsync(staged, "main")).TotalAttempts);
    }

    [Fact]
    public async Task Staging_a_replayed_event_fails_the_whole_transaction_so_the_change_is_not_applied_twice()
    {
        var staged = await fx.CommitEventAsync(dispatch: false);
        var replay = fx.Outbox.Stage(EventsFixture.TestProduct, staged.Key.PartitionKey, 1, "order.failed", new { again = true });
        var change = new Azure.Data.Tables.TableEntity(staged.Key.PartitionKey, "order") { ["State"] = "Changed" };

        await Assert.ThrowsAsync<Azure.Data.Tables.TableTransactionFailedException>(() =>
            fx.Table.SubmitTransactionAsync([new(Azure.Data.Tables.TableTransactionActionType.UpsertMerge, change), replay.Action]));

        Assert.Equal("Failed", (await fx.Table.GetEntityAsync<Azure.Data.Tables.TableEntity>(staged.Key.PartitionKey, "order")).Value.GetString("State"));
        Assert.Equal(replay.Key.Id, staged.Key.Id);
    }

    [Fact]
    public async Task The_order_events_list_shows_each_event_with_its_delivery_state_and_bad_ids_are_404()
    {
        const string orderId = "abcdefghjkmnpqrstuvwxyz2";
        Assert.True(PaymentFunctions.Orders.PayOrderNumber.IsOrderId(orderId), "test order id must be well-formed");
        var orders = fx.App.Storage.Orders;
        var staged = fx.Outbox.Stage(EventProducts.Order, orderId, 1, "order.paid", new { orderId, state = "Paid" });
        await orders.SubmitTransactionAsync([new(Azure.Data.Tables.TableTransactionActionType.UpsertReplace, new Azure.Data.Tables.TableEntity(orderId, "order")), staged.Action]);
        await fx.Outbox.DispatchAsync(staged, CancellationToken.None);
        await fx.PumpUntilAsync(async () =>
        {
            var row = await EventStore.GetAsync(orders, staged.Key, CancellationToken.None);
            return EventRows.Delivery(row!, "main").Finished && EventRows.Delivery(row!, "paidonly").Finished;
        });

        using var client = fx.App.CreateBusinessClient();
        using var list = await client.GetAsync(new Uri($"/api/orders/{orderId}/events", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, list.StatusCode);
        using var body = JsonDocument.Parse(await list.Content.ReadAsStringAsync());
        var evt = Assert.Single(body.RootElement.GetProperty("events").EnumerateArray());
        Assert.Equal(staged.Key.Id, evt.GetProperty("id").GetString());
        Assert.Equal("Paid", evt.GetProperty("data").GetProperty("state").GetString());
        Assert.Equal("delivered", evt.GetProperty("deliveries").GetProperty("main").GetProperty("status").GetString());
        Assert.Equal(1, evt.GetProperty("deliveries").GetProperty("paidonly").GetProperty("attempts").GetInt32());

        foreach (var bad in new[] { "/api/orders/abcdefghjkmnpqrstuvwxyz3/events", "/api/orders/short/events", "/api/payscore/orders/RENT1/events" })
        {
            using var missing = await client.GetAsync(new Uri(bad, UriKind.Relative));
            Assert.True(missing.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.ServiceUnavailable, $"{bad}: {missing.StatusCode}");
        }

        using var anonymous = fx.App.CreateClient();
        using var refused = await anonymous.GetAsync(new Uri($"/api/orders/{orderId}/events", UriKind.Relative));
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
    }

    private async Task<int> QueuedForAsync(string eventId)
    {
        var peeked = await fx.App.Storage.Events.PeekMessagesAsync(32);
        return peeked.Value.Count(m => m.Body.ToString().Contains(eventId, StringComparison.Ordinal));
    }
}
