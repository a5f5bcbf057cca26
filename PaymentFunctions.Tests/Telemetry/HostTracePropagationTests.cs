using System.Diagnostics;
using System.Text.Json;
using PaymentFunctions.Events;
using PaymentFunctions.Notifications;
using PaymentFunctions.Orders;
using PaymentFunctions.Tests.Infrastructure;

namespace PaymentFunctions.Tests.Telemetry;

/// <summary>The telemetry fixture's app as the Functions host's custom handler: the test plays the host's queue triggers.</summary>
public sealed class HostTelemetryFixture() : TelemetryFixture(underFunctionsHost: true);

/// <summary>Under the Functions host, the queue trigger's invocation restores the trace the message carries.</summary>
public sealed class HostTracePropagationTests(HostTelemetryFixture fx) : IClassFixture<HostTelemetryFixture>
{
    private PaymentApp App => fx.App;

    private async Task<HttpResponseMessage> InvokeAsync(string function, string message)
    {
        var payload = JsonSerializer.Serialize(new { Data = new { msg = message }, Metadata = new { DequeueCount = 1 } });
        using var http = App.CreateClient();
        return await http.PostJsonTextAsync($"/{function}", payload);
    }

    [Fact]
    public async Task ProcessNotification_continues_the_trace_of_the_envelope_and_the_invocation_request_itself_is_not_a_span()
    {
        var order = await App.CreateOrderAsync();
        var prepared = await App.PrepareAsync(order.OrderId);
        var traceId = ActivityTraceId.CreateRandom();
        var origin = ActivitySpanId.CreateRandom();
        var envelope = new NotificationEnvelope(1, PyunTradeNotification.Kind, App.Clock.GetUtcNow(),
            JsonSerializer.SerializeToElement(Api.Notification(prepared.PayOrder, 1, order.Amount).WithSign()))
        {
            TraceParent = $"00-{traceId}-{origin}-01",
        };

        using var response = await InvokeAsync("ProcessNotification", envelope.ToJson());

        Assert.True(response.IsSuccessStatusCode);
        var spans = await fx.TraceAsync(traceId, s => s.Any(a => a.DisplayName == "process pyun.trade"));
        var process = Assert.Single(spans, s => s.DisplayName == "process pyun.trade");
        Assert.Equal(origin, process.ParentSpanId);
        Assert.Equal(order.OrderId, process.GetTagItem("payment.order_id"));
        Assert.DoesNotContain(fx.Spans.Snapshot(), s => s.Kind == ActivityKind.Server && (string?)s.GetTagItem("url.path") == "/ProcessNotification");
        Assert.Equal("Paid", (await App.GetOrderAsync(order.OrderId)).Status);
    }

    [Fact]
    public async Task DeliverEvent_continues_the_trace_of_the_delivery_message()
    {
        var staged = await fx.CommitEventAsync(dispatch: false);
        var traceId = ActivityTraceId.CreateRandom();
        var origin = ActivitySpanId.CreateRandom();
        var message = new EventDelivery(staged.Key.Id, "main", 0, 1) { TraceParent = $"00-{traceId}-{origin}-01" };

        using var response = await InvokeAsync(EventEndpoints.DeliverFunctionName, JsonSerializer.Serialize(message));

        Assert.True(response.IsSuccessStatusCode);
        var spans = await fx.TraceAsync(traceId, s => s.Any(a => a.DisplayName == "process event.delivery") && s.Any(a => a.DisplayName == "deliver order.failed"));
        var process = Assert.Single(spans, s => s.DisplayName == "process event.delivery");
        Assert.Equal(origin, process.ParentSpanId);
        Assert.Contains(spans, s => s.DisplayName == "deliver order.failed" && s.ParentSpanId == process.SpanId);
        var received = Assert.Single(fx.Receiver.State.Received("main"), r => r.Headers.GetValueOrDefault("webhook-id") == staged.Key.Id);
        Assert.Contains(traceId.ToHexString(), received.Headers.GetValueOrDefault("traceparent") ?? "", StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_api_call_about_an_order_carries_its_order_number_on_the_request_span()
    {
        var order = await App.CreateOrderAsync();
        await App.GetOrderAsync(order.OrderId);

        var deadline = DateTimeOffset.UtcNow + TimeSpan.FromSeconds(10);
        while (!fx.Spans.Snapshot().Any(s => s.Kind == ActivityKind.Server && (string?)s.GetTagItem("url.path") == $"/api/orders/{order.OrderId}" &&
                   (string?)s.GetTagItem("payment.order_id") == order.OrderId))
        {
            Assert.True(DateTimeOffset.UtcNow < deadline, "The GET's span has no order id.");
            await Task.Delay(50);
        }

        Assert.Contains(fx.Spans.Snapshot(), s => s.Kind == ActivityKind.Server && (string?)s.GetTagItem("url.path") == "/api/orders" &&
            (string?)s.GetTagItem("payment.order_id") == order.OrderId && (string?)s.GetTagItem("payment.merchant_order_no") == order.MerchantOrderNo);
    }
}
