using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using Azure.Identity;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using PaymentFunctions.Telemetry;
using PaymentFunctions.Tests.Infrastructure;

namespace PaymentFunctions.Tests.Telemetry;

/// <summary>Any process listening for OTLP/HTTP on loopback: records each POST's path and protobuf body.</summary>
public sealed class OtlpReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;

    private OtlpReceiver(WebApplication app) => _app = app;

    public ConcurrentQueue<(string Path, byte[] Body)> Posts { get; } = new();

    public string BaseUrl { get; private set; } = "";

    public static async Task<OtlpReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var receiver = new OtlpReceiver(app);
        app.MapPost("/v1/{signal}", async (HttpContext context, string signal) =>
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body);
            receiver.Posts.Enqueue(($"/v1/{signal}", body.ToArray()));
            context.Response.ContentType = "application/x-protobuf";
            return Results.Ok();
        });
        await app.StartAsync();
        receiver.BaseUrl = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        return receiver;
    }

    /// <summary>True once some POST to <paramref name="path"/> holds every one of <paramref name="parts"/> (bytes, in any one body).</summary>
    public bool Received(string path, params byte[][] parts) =>
        Posts.Any(p => p.Path == path && parts.All(part => p.Body.AsSpan().IndexOf(part) >= 0));

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}

/// <summary>Which exporters the settings switch on: OTLP, Azure Monitor, or none at all.</summary>
public sealed class TelemetryExportTests
{
    [Fact]
    public async Task With_an_otlp_endpoint_a_paid_order_exports_one_trace_from_webhook_to_event_delivery_and_the_metrics_over_otlp_http()
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        await using var events = await PaymentFunctions.Tests.Events.FakeReceiverServer.StartAsync();
        await using var app = new PaymentApp();
        app.Settings["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.BaseUrl;
        app.Settings["Events:Endpoints:main:Url"] = events.Url("main");
        app.Settings["Events:Endpoints:main:Secret"] = TelemetryFixture.MainSecret;
        app.Settings["OTEL_METRIC_EXPORT_INTERVAL"] = "200";
        app.Settings["OTEL_BSP_SCHEDULE_DELAY"] = "100";
        await app.InitializeAsync();

        var order = await app.CreateOrderAsync();
        var prepared = await app.PrepareAsync(order.OrderId);
        var traceId = ActivityTraceId.CreateRandom();
        using (var http = app.CreateClient())
        using (var request = new HttpRequestMessage(HttpMethod.Post, "/api/notify/pyun"))
        {
            request.Content = new FormUrlEncodedContent(Api.Notification(prepared.PayOrder, 1, order.Amount).WithSign());
            request.Headers.Add("traceparent", $"00-{traceId}-{ActivitySpanId.CreateRandom()}-01");
            using var response = await http.SendAsync(request);
            Assert.Equal("1001", await response.PyunCodeAsync());
        }

        await app.DrainQueueAsync();
        var eventId = $"evt_order_{order.OrderId}_1";
        var listener = ActivatorUtilities.CreateInstance<PaymentFunctions.Events.EventDeliveryListener>(app.Services,
            PaymentFunctions.Hosting.QueueSettings.Load(Path.Combine(AppContext.BaseDirectory, "host.json")));
        var deadline = DateTimeOffset.UtcNow + TimeSpan.FromSeconds(30);
        while (!events.State.Received("main").Any(r => r.Headers.GetValueOrDefault("webhook-id") == eventId))
        {
            Assert.True(DateTimeOffset.UtcNow < deadline, "order.paid was not delivered in time.");
            if (await listener.PollOnceAsync(CancellationToken.None) == 0)
            {
                await Task.Delay(50);
            }
        }

        // The trace id's 16 bytes and each span's name, in the protobuf bodies: the webhook's request, its processing,
        // and the delivery of the event it caused are exported in one trace.
        var traceIdBytes = Convert.FromHexString(traceId.ToHexString());
        bool InTrace(string spanName) => receiver.Received("/v1/traces", traceIdBytes, Encoding.UTF8.GetBytes(spanName));
        while (!(receiver.Received("/v1/traces", traceIdBytes, "process pyun.trade"u8.ToArray(), Encoding.UTF8.GetBytes(order.OrderId)) &&
                 InTrace("POST /api/notify/pyun") && InTrace("process event.delivery") && InTrace("deliver order.paid") &&
                 receiver.Received("/v1/metrics", "payment.events.delivery.attempts"u8.ToArray()) &&
                 receiver.Received("/v1/metrics", "payment.webhooks.received"u8.ToArray()) &&
                 receiver.Received("/v1/metrics", "payment.queue.messages"u8.ToArray()) &&
                 receiver.Received("/v1/metrics", "payment.order.transitions"u8.ToArray())))
        {
            Assert.True(DateTimeOffset.UtcNow < deadline,
                $"OTLP receiver got {string.Join(", ", receiver.Posts.Select(p => p.Path).Distinct())} but not the trace and metrics in time.");
            await Task.Delay(100);
        }

        Assert.NotNull(app.Services.GetService<TracerProvider>());
    }

    [Fact]
    public async Task With_neither_setting_no_provider_or_exporter_is_registered_and_processing_starts_no_span()
    {
        await using var app = new PaymentApp();
        await app.InitializeAsync();

        Assert.Null(app.Services.GetService<TracerProvider>());
        Assert.Null(app.Services.GetService<MeterProvider>());
        Assert.DoesNotContain(app.Services.GetServices<ILoggerProvider>(), p => p is OpenTelemetryLoggerProvider);
        Assert.Null(app.Services.GetService<OpenTelemetry.Exporter.OtlpExporterOptions>());
    }

    private static IServiceCollection Register(Dictionary<string, string?> settings)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Configuration.AddInMemoryCollection(settings);
        builder.AddPaymentTelemetry();
        return builder.Services;
    }

    [Fact]
    public void Each_setting_switches_on_its_exporter_and_neither_registers_nothing()
    {
        static bool Has(IServiceCollection services, string typeName) =>
            services.Any(d => (d.ImplementationType ?? d.ServiceType).FullName?.Contains(typeName, StringComparison.Ordinal) == true);

        var none = Register([]);
        Assert.DoesNotContain(none, d => d.ServiceType == typeof(TracerProvider));

        var otlp = Register(new() { ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = "http://127.0.0.1:4318/v1/traces" });
        Assert.Contains(otlp, d => d.ServiceType == typeof(TracerProvider));
        Assert.False(Has(otlp, "AzureMonitor"));

        var azure = Register(new()
        {
            [TelemetryRegistration.AzureMonitorSetting] = "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=http://127.0.0.1:9/",
            [TelemetryRegistration.AzureMonitorAuthenticationSetting] = "ClientId=8a6b7c2d-1e2f-4a3b-9c8d-7e6f5a4b3c2d;Authorization=AAD",
        });
        Assert.Contains(azure, d => d.ServiceType == typeof(TracerProvider));
        Assert.True(Has(azure, "AzureMonitor"));
    }

    [Theory]
    [InlineData("ClientId=8a6b7c2d-1e2f-4a3b-9c8d-7e6f5a4b3c2d;Authorization=AAD")]
    [InlineData("Authorization=AAD")]
    public void The_authentication_string_as_infra_sets_it_is_entra_auth_with_the_managed_identity(string authentication) =>
        Assert.IsType<ManagedIdentityCredential>(TelemetryRegistration.AzureMonitorCredential(authentication));

    [Fact]
    public void The_infra_template_gives_the_app_the_connection_string_and_an_authentication_string_it_reads_as_entra_auth()
    {
        var bicep = File.ReadAllText(Path.Combine(PaymentFunctions.Tests.Deployment.RepositoryFiles.Root, "infra", "modules", "functionapp.bicep"));
        var setting = System.Text.RegularExpressions.Regex.Match(bicep, $@"{TelemetryRegistration.AzureMonitorAuthenticationSetting}: '([^']*)'");

        Assert.Contains($"{TelemetryRegistration.AzureMonitorSetting}: appInsightsConnectionString", bicep, StringComparison.Ordinal);
        Assert.True(setting.Success);
        var value = setting.Groups[1].Value.Replace("${identityClientId}", "8a6b7c2d-1e2f-4a3b-9c8d-7e6f5a4b3c2d", StringComparison.Ordinal);
        Assert.IsType<ManagedIdentityCredential>(TelemetryRegistration.AzureMonitorCredential(value));
    }

    [Fact]
    public void Without_an_authentication_string_the_connection_string_alone_is_used() =>
        Assert.Null(TelemetryRegistration.AzureMonitorCredential(null));

    [Theory]
    [InlineData("ClientId=not-a-guid;Authorization=AAD")]
    [InlineData("ClientId=8a6b7c2d-1e2f-4a3b-9c8d-7e6f5a4b3c2d")]
    [InlineData("Authorization=Key")]
    public void A_malformed_authentication_string_is_a_start_up_error_naming_the_setting_not_its_value(string authentication)
    {
        var ex = Assert.Throws<ConfigurationException>(() => TelemetryRegistration.AzureMonitorCredential(authentication));
        Assert.Contains(TelemetryRegistration.AzureMonitorAuthenticationSetting, ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("not-a-guid", ex.Message, StringComparison.Ordinal);
    }
}
