using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Trace;
using PaymentFunctions.Events;
using PaymentFunctions.Orders;
using PaymentFunctions.Tests.Infrastructure;

namespace PaymentFunctions.Tests.Telemetry;

/// <summary>
/// One trace per payment story: the W3C trace context travels in every queue message, so the webhook request, the
/// processing of its message and the event delivery it causes are one trace; messages without it still process.
/// </summary>
public sealed class TracePropagationTests(TelemetryFixture fx) : IClassFixture<TelemetryFixture>
{
    private PaymentApp App => fx.App;

    /// <summary>A P云 notification for a fresh order's attempt, posted as P云 would with a trace context of its own.</summary>
    private async Task<(OrderView Order, ActivityTraceId TraceId, ActivitySpanId CallerSpan)> NotifyPaidAsync()
    {
        var order = await App.CreateOrderAsync();
        var prepared = await App.PrepareAsync(order.OrderId);
        var traceId = ActivityTraceId.CreateRandom();
        var caller = ActivitySpanId.CreateRandom();
        using var http = App.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/notify/pyun")
        {
            Content = new FormUrlEncodedContent(Api.Notification(prepared.PayOrder, 1, order.Amount).WithSign()),
        };
        request.Headers.Add("traceparent", $"00-{traceId}-{caller}-01");
        using var response = await http.SendAsync(request);
        Assert.Equal("1001", await response.PyunCodeAsync());
        return (order, traceId, caller);
    }

    [Fact]
    public async Task A_pyun_webhook_and_the_processing_of_its_message_are_one_trace_with_the_order_numbers_on_the_span()
    {
        var (order, traceId, caller) = await NotifyPaidAsync();
        await App.DrainQueueAsync();

        var spans = await fx.TraceAsync(traceId, s => s.Any(a => a.DisplayName == "process pyun.trade") && s.Any(a => a.Kind == ActivityKind.Server));
        var request = Assert.Single(spans, s => s.Kind == ActivityKind.Server);
        Assert.Equal(caller, request.ParentSpanId);
        Assert.Equal("/api/notify/pyun", request.GetTagItem("url.path"));
        var process = Assert.Single(spans, s => s.DisplayName == "process pyun.trade");
        Assert.Equal(ActivityKind.Consumer, process.Kind);
        Assert.Equal(request.SpanId, process.ParentSpanId);
        Assert.Equal(order.OrderId, process.GetTagItem("payment.order_id"));
        Assert.Equal(order.MerchantOrderNo, process.GetTagItem("payment.merchant_order_no"));
        Assert.Equal("processed", process.GetTagItem("payment.outcome"));
        // The storage writes of the processing are its children (the Azure SDK's own spans).
        Assert.Contains(spans, s => s.Source.Name.StartsWith("Azure.", StringComparison.Ordinal) && s.ParentSpanId == process.SpanId);
        Assert.Equal("Paid", (await App.GetOrderAsync(order.OrderId)).Status);
    }

    [Fact]
    public async Task A_paid_order_is_one_trace_from_the_webhook_through_its_processing_to_the_delivery_of_order_paid()
    {
        var (order, traceId, caller) = await NotifyPaidAsync();
        await App.DrainQueueAsync();
        var eventId = $"evt_order_{order.OrderId}_1";
        await fx.DeliverAsync(eventId);

        var spans = await fx.TraceAsync(traceId, s => s.Any(a => a.DisplayName == "deliver order.paid"));
        // Two server spans: the webhook's, and (the receiver runs in the test process) the receiver's own.
        var request = Assert.Single(spans, s => s.Kind == ActivityKind.Server && Equals(s.GetTagItem("url.path"), "/api/notify/pyun"));
        Assert.Equal(caller, request.ParentSpanId);
        var process = Assert.Single(spans, s => s.DisplayName == "process pyun.trade");
        Assert.Equal(request.SpanId, process.ParentSpanId);
        // The delivery message was queued while the notification was processed: its processing is a child of that.
        var delivery = Assert.Single(spans, s => s.DisplayName == "process event.delivery");
        Assert.Equal(process.SpanId, delivery.ParentSpanId);
        Assert.Equal(eventId, delivery.GetTagItem("payment.event_id"));
        var attempt = Assert.Single(spans, s => s.DisplayName == "deliver order.paid");
        Assert.Equal(delivery.SpanId, attempt.ParentSpanId);
        Assert.Equal("delivered", attempt.GetTagItem("payment.outcome"));
        var received = Assert.Single(fx.Receiver.State.Received("main"), r => r.Headers.GetValueOrDefault("webhook-id") == eventId);
        Assert.StartsWith($"00-{traceId}-", received.Headers.GetValueOrDefault("traceparent"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_event_delivery_is_in_the_trace_that_queued_it_and_the_receiver_gets_that_trace_context()
    {
        StagedEvent staged;
        ActivityTraceId traceId;
        ActivitySpanId story;
        using (var activity = TelemetryFixture.TestSource.StartActivity("order change"))
        {
            Assert.NotNull(activity);
            (traceId, story) = (activity.TraceId, activity.SpanId);
            staged = await fx.CommitEventAsync();
        }

        await fx.DeliverAsync(staged);

        var spans = await fx.TraceAsync(traceId, s => s.Any(a => a.DisplayName == "process event.delivery") && s.Any(a => a.DisplayName == "deliver order.failed"));
        var process = Assert.Single(spans, s => s.DisplayName == "process event.delivery");
        Assert.Equal(story, process.ParentSpanId);
        Assert.Equal(staged.Key.Id, process.GetTagItem("payment.event_id"));
        Assert.Equal("main", process.GetTagItem("payment.event.endpoint"));
        var attempt = Assert.Single(spans, s => s.DisplayName == "deliver order.failed");
        Assert.Equal(process.SpanId, attempt.ParentSpanId);
        Assert.Equal("delivered", attempt.GetTagItem("payment.outcome"));
        var post = Assert.Single(spans, s => s.Kind == ActivityKind.Client && s.ParentSpanId == attempt.SpanId && s.Source.Name == "System.Net.Http");
        var received = Assert.Single(fx.Receiver.State.Received("main"), r => r.Headers.GetValueOrDefault("webhook-id") == staged.Key.Id);
        Assert.Equal($"00-{traceId}-{post.SpanId}-01", received.Headers.GetValueOrDefault("traceparent"));
    }

    [Fact]
    public async Task A_message_queued_by_processing_with_a_delay_is_linked_to_that_trace_not_its_child()
    {
        // A notification P云 marks as still paying schedules a check of its own; the check runs later, in its own trace.
        var order = await App.CreateOrderAsync();
        var prepared = await App.PrepareAsync(order.OrderId);
        ActivityTraceId traceId;
        ActivitySpanId story;
        using (var activity = TelemetryFixture.TestSource.StartActivity("scheduling"))
        {
            Assert.NotNull(activity);
            (traceId, story) = (activity.TraceId, activity.SpanId);
            await App.Services.GetRequiredService<PyunCheckScheduler>().ScheduleAsync(prepared.PayOrder, 1, TimeSpan.FromSeconds(1), CancellationToken.None);
        }

        await Task.Delay(TimeSpan.FromSeconds(1.5));
        await App.DrainQueueAsync();

        var check = await EventuallyAsync(() => fx.Spans.Snapshot().FirstOrDefault(s => s.DisplayName == "process pyun.check" && s.Links.Any(l => l.Context.TraceId == traceId)));
        Assert.NotEqual(traceId, check.TraceId);
        Assert.Equal(default, check.ParentSpanId);
        Assert.Equal(story, Assert.Single(check.Links).Context.SpanId);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("not-a-traceparent")]
    [InlineData("00-00000000000000000000000000000000-0000000000000000-01")]
    public async Task A_notification_without_a_valid_trace_context_still_processes_in_a_trace_of_its_own(string? traceParent)
    {
        var order = await App.CreateOrderAsync();
        var prepared = await App.PrepareAsync(order.OrderId);
        // As messages were queued before the trace fields existed (or with a field no one can parse).
        var envelope = new Dictionary<string, object?>
        {
            ["v"] = 1,
            ["kind"] = PyunTradeNotification.Kind,
            ["receivedAt"] = App.Clock.GetUtcNow(),
            ["payload"] = Api.Notification(prepared.PayOrder, 1, order.Amount).WithSign(),
        };
        if (traceParent is not null)
        {
            envelope["traceparent"] = traceParent;
        }

        await App.Storage.EnsureCreatedAsync(CancellationToken.None);
        await App.Storage.Notifications.SendMessageAsync(new BinaryData(JsonSerializer.SerializeToUtf8Bytes(envelope)));
        await App.DrainQueueAsync();

        Assert.Equal("Paid", (await App.GetOrderAsync(order.OrderId)).Status);
        var process = await EventuallyAsync(() => fx.Spans.Snapshot().FirstOrDefault(s => s.DisplayName == "process pyun.trade" && (string?)s.GetTagItem("payment.order_id") == order.OrderId));
        Assert.Equal(default, process.ParentSpanId);
        Assert.Empty(process.Links);
        Assert.Equal(0, await App.QueueLengthAsync(poison: true));
    }

    [Fact]
    public async Task A_delivery_message_without_trace_fields_still_delivers()
    {
        var staged = await fx.CommitEventAsync(dispatch: false);
        await App.Storage.Events.SendMessageAsync(JsonSerializer.Serialize(new { eventId = staged.Key.Id, endpoint = "main", round = 0, attempt = 1 }));

        await fx.DeliverAsync(staged);

        var row = await EventStore.GetAsync(fx.Table, staged.Key, CancellationToken.None);
        Assert.NotNull(EventRows.Delivery(row!, "main").DeliveredAt);
        var process = await EventuallyAsync(() => fx.Spans.Snapshot().FirstOrDefault(s => s.DisplayName == "process event.delivery" && (string?)s.GetTagItem("payment.event_id") == staged.Key.Id));
        Assert.Equal(default, process.ParentSpanId);
    }

    [Fact]
    public async Task The_queued_envelope_carries_the_trace_context_of_the_request_that_queued_it()
    {
        var (_, traceId, _) = await NotifyPaidAsync();
        var spans = await fx.TraceAsync(traceId, s => s.Any(a => a.Kind == ActivityKind.Server));
        var request = Assert.Single(spans, s => s.Kind == ActivityKind.Server);

        var messages = (await App.Storage.Notifications.PeekMessagesAsync(32)).Value;
        var texts = messages.Select(m => Encoding.UTF8.GetString(m.Body.ToArray())).ToList();
        Assert.Contains(texts, t => t.Contains($"\"traceparent\":\"00-{traceId}-{request.SpanId}-01\"", StringComparison.Ordinal));
        await App.DrainQueueAsync();
    }

    private static async Task<T> EventuallyAsync<T>(Func<T?> find) where T : class
    {
        var deadline = DateTimeOffset.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            if (find() is { } found)
            {
                return found;
            }

            Assert.True(DateTimeOffset.UtcNow < deadline, "Not seen in time.");
            await Task.Delay(50);
        }
    }
}
