using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;
using PaymentFunctions.Tests.Infrastructure;

namespace PaymentFunctions.Tests.Telemetry;

/// <summary>The app's metrics arrive with their low-cardinality tags (docs/telemetry.md).</summary>
public sealed class TelemetryMetricsTests(TelemetryFixture fx) : IClassFixture<TelemetryFixture>
{
    private PaymentApp App => fx.App;

    /// <summary>The last exported sum of <paramref name="name"/> over points whose tags include <paramref name="tags"/>.</summary>
    private double Sum(string name, params (string Key, string Value)[] tags)
    {
        App.Services.GetRequiredService<MeterProvider>().ForceFlush();
        var last = fx.Metrics.Snapshot().LastOrDefault(m => m.Name == name);
        Assert.True(last is not null, $"No metric {name} exported.");
        double total = 0;
        foreach (var point in last.MetricPoints)
        {
            var pointTags = new Dictionary<string, object?>();
            foreach (var tag in point.Tags)
            {
                pointTags[tag.Key] = tag.Value;
            }

            if (tags.All(t => Equals(pointTags.GetValueOrDefault(t.Key), t.Value)))
            {
                total += last.MetricType switch
                {
                    MetricType.LongSum => point.GetSumLong(),
                    MetricType.Histogram => point.GetHistogramCount(),
                    _ => point.GetSumDouble(),
                };
            }
        }

        return total;
    }

    [Fact]
    public async Task A_paid_order_and_its_event_produce_the_webhook_queue_transition_platform_and_delivery_metrics()
    {
        var order = await App.CreateOrderAsync();
        var prepared = await App.PrepareAsync(order.OrderId);
        using (var forged = await App.PostNotifyAsync(Api.Notification(prepared.PayOrder, 1, order.Amount).WithSign("not-the-secret")))
        {
            Assert.Equal("1401", await forged.PyunCodeAsync());
        }

        using (var paid = await App.PostNotifyAsync(Api.Notification(prepared.PayOrder, 1, order.Amount).WithSign()))
        {
            Assert.Equal("1001", await paid.PyunCodeAsync());
        }

        await App.DrainQueueAsync();
        var staged = await fx.CommitEventAsync();
        await fx.DeliverAsync(staged);

        Assert.True(Sum("payment.webhooks.refused", ("platform", "pyun"), ("reason", "signature")) >= 1);
        Assert.True(Sum("payment.webhooks.received", ("platform", "pyun")) >= 1);
        Assert.True(Sum("payment.queue.messages", ("queue", "notifications"), ("kind", "pyun.trade"), ("outcome", "processed")) >= 1);
        Assert.True(Sum("payment.queue.lag", ("queue", "notifications"), ("kind", "pyun.trade")) >= 1);
        Assert.True(Sum("payment.queue.messages", ("queue", "events"), ("kind", "event.delivery"), ("outcome", "processed")) >= 1);
        Assert.True(Sum("payment.order.transitions", ("product", "order"), ("to", "paid")) >= 1);
        Assert.True(Sum("payment.platform.call.duration", ("platform", "pyun"), ("result", "ok")) >= 1);
        Assert.True(Sum("payment.events.delivery.attempts", ("outcome", "delivered")) >= 1);
        Assert.True(Sum("payment.events.delivery.duration", ("outcome", "delivered")) >= 1);
    }

    [Fact]
    public async Task An_unparseable_message_counts_as_invalid_under_kind_unknown_whatever_kind_it_claims()
    {
        await App.Storage.EnsureCreatedAsync(CancellationToken.None);
        await App.Storage.Notifications.SendMessageAsync(new BinaryData("{\"v\":1,\"kind\":\"forged-kind-123\",\"receivedAt\":\"2026-11-25T00:00:00Z\",\"payload\":{}}"u8.ToArray()));
        await App.DrainQueueAsync();

        Assert.True(Sum("payment.queue.messages", ("queue", "notifications"), ("kind", "unknown"), ("outcome", "invalid")) >= 1);
        Assert.Equal(0, Sum("payment.queue.messages", ("kind", "forged-kind-123")));
    }
}
