using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;
using PaymentFunctions.Fakes.Pyun;
using PaymentFunctions.Tests.Infrastructure;

namespace PaymentFunctions.Tests.Telemetry;

/// <summary>Telemetry never carries a secret, a signature or personal data (openid, plate), whatever it records.</summary>
public sealed class TelemetrySecretsTests(TelemetryFixture fx) : IClassFixture<TelemetryFixture>
{
    private const string OpenId = "oTelemetrySecretOpenId0123456789";
    private const string Plate = "粤B12345";

    [Fact]
    public async Task A_full_paid_flow_exports_no_secret_signature_openid_or_plate_in_spans_logs_or_metrics()
    {
        var app = fx.App;
        var order = await app.CreateOrderAsync(); // its scene extra carries the plate
        var prepared = await app.PrepareAsync(order.OrderId, payer: OpenId);
        var notified = await app.Pyun.PayAsync(prepared.PayId);
        Assert.NotNull(notified);
        await app.DrainQueueAsync();
        Assert.Equal("Paid", (await app.GetOrderAsync(order.OrderId)).Status);
        var staged = await fx.CommitEventAsync();
        await fx.DeliverAsync(staged);
        var delivered = Assert.Single(fx.Receiver.State.Received("main"), r => r.Headers.GetValueOrDefault("webhook-id") == staged.Key.Id);
        app.Services.GetRequiredService<MeterProvider>().ForceFlush();

        var forbidden = new Dictionary<string, string>
        {
            ["P云 app secret"] = PaymentApp.AppSecret,
            ["function key"] = PaymentApp.FunctionKey,
            ["event endpoint secret"] = TelemetryFixture.MainSecret["whsec_".Length..],
            ["P云 notification sign"] = notified.Form["sign"],
            ["webhook signature"] = delivered.Headers["webhook-signature"].Split(',')[^1],
            ["openid"] = OpenId,
            ["plate"] = Plate,
        };

        // Spans of this flow carry what an operator searches by; the check itself covers everything exported.
        Assert.Contains(fx.Spans.Snapshot(), s => (string?)s.GetTagItem("payment.order_id") == order.OrderId);
        Assert.NotEmpty(fx.LogRecords.Snapshot());
        var exported = Texts().ToList();
        Assert.NotEmpty(exported);
        foreach (var (what, secret) in forbidden)
        {
            Assert.True(secret.Length >= 6, what); // long enough not to match by chance
            var leak = exported.FirstOrDefault(t => t.Contains(secret, StringComparison.Ordinal));
            Assert.True(leak is null, $"The {what} reached telemetry: {leak}");
        }
    }

    /// <summary>Every text the exporters were handed: span names, attributes, events and links; log bodies and attributes; metric tags.</summary>
    private IEnumerable<string> Texts()
    {
        foreach (var span in fx.Spans.Snapshot())
        {
            yield return span.DisplayName;
            yield return span.StatusDescription ?? "";
            foreach (var tag in span.TagObjects)
            {
                yield return $"{tag.Key}={Convert.ToString(tag.Value, CultureInfo.InvariantCulture)}";
            }

            foreach (var e in span.Events)
            {
                yield return e.Name;
                foreach (var tag in e.Tags)
                {
                    yield return $"{tag.Key}={Convert.ToString(tag.Value, CultureInfo.InvariantCulture)}";
                }
            }

            foreach (var item in span.Baggage)
            {
                yield return $"{item.Key}={item.Value}";
            }
        }

        foreach (var record in fx.LogRecords.Snapshot())
        {
            yield return record.FormattedMessage ?? "";
            yield return record.Body ?? "";
            yield return record.Exception?.ToString() ?? "";
            foreach (var attribute in record.Attributes ?? [])
            {
                yield return $"{attribute.Key}={Convert.ToString(attribute.Value, CultureInfo.InvariantCulture)}";
            }
        }

        foreach (var metric in fx.Metrics.Snapshot())
        {
            foreach (var point in metric.MetricPoints)
            {
                foreach (var tag in point.Tags)
                {
                    yield return $"{metric.Name} {tag.Key}={Convert.ToString(tag.Value, CultureInfo.InvariantCulture)}";
                }
            }
        }
    }
}
