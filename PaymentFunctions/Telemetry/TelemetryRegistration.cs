using Azure.Core;
using Azure.Identity;
using Azure.Monitor.OpenTelemetry.AspNetCore;
using OpenTelemetry;
using OpenTelemetry.Instrumentation.AspNetCore;
using OpenTelemetry.Instrumentation.Http;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace PaymentFunctions.Telemetry;

/// <summary>
/// Traces, metrics and logs through OpenTelemetry (docs/telemetry.md). Exported to Azure Monitor when
/// <c>APPLICATIONINSIGHTS_CONNECTION_STRING</c> is set (with Entra auth as <c>APPLICATIONINSIGHTS_AUTHENTICATION_STRING</c>
/// says, as the Functions host does), over OTLP when an <c>OTEL_EXPORTER_OTLP_*ENDPOINT</c> is set, both when both are.
/// With neither, nothing is registered at all: no listener, so no span is started and start-up costs nothing.
/// </summary>
public static class TelemetryRegistration
{
    public const string AzureMonitorSetting = "APPLICATIONINSIGHTS_CONNECTION_STRING";

    public const string AzureMonitorAuthenticationSetting = "APPLICATIONINSIGHTS_AUTHENTICATION_STRING";

    /// <summary>The standard OTLP exporter settings that switch OTLP on: the base endpoint or a signal's own.</summary>
    public static readonly IReadOnlyList<string> OtlpEndpointSettings =
    [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
        "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
    ];

    private const string OtlpProtocolSetting = "OTEL_EXPORTER_OTLP_PROTOCOL";

    /// <summary>The Azure SDK starts its ActivitySource spans ("Azure.*") only with this switch on.</summary>
    private const string AzureActivitySourceSwitch = "Azure.Experimental.EnableActivitySource";

    public static WebApplicationBuilder AddPaymentTelemetry(this WebApplicationBuilder builder)
    {
        var configuration = builder.Configuration;
        var azureMonitor = !string.IsNullOrWhiteSpace(configuration[AzureMonitorSetting]);
        var otlp = OtlpEndpointSettings.Any(name => !string.IsNullOrWhiteSpace(configuration[name]));
        if (!azureMonitor && !otlp)
        {
            return builder;
        }

        // Read now: a malformed authentication string is a start-up error naming the setting, not a silent loss of telemetry.
        var credential = azureMonitor ? AzureMonitorCredential(configuration[AzureMonitorAuthenticationSetting]) : null;
        var otel = builder.Services.AddOpenTelemetry().AddPaymentInstrumentation(withAspNetCoreAndHttp: !azureMonitor,
            // In Azure the function app's name, so the app's telemetry has the host's cloud role name (the alerts of
            // infra/modules/alerts.bicep filter on it).
            configuration["OTEL_SERVICE_NAME"] is { Length: > 0 } name ? name : configuration["WEBSITE_SITE_NAME"]);
        if (otlp)
        {
            // The specification's default protocol is http/protobuf; the .NET exporter's is gRPC. Follow the specification.
            if (string.IsNullOrWhiteSpace(configuration[OtlpProtocolSetting]))
            {
                configuration.AddInMemoryCollection([new(OtlpProtocolSetting, "http/protobuf")]);
            }

            otel.UseOtlpExporter();
        }

        if (azureMonitor)
        {
            // The distro adds the ASP.NET Core and HttpClient instrumentation itself (configured by the options below).
            otel.UseAzureMonitor(o => o.Credential = credential);
        }

        return builder;
    }

    /// <summary>
    /// Our sources, meter and instrumentation on an OpenTelemetry builder, without an exporter; tests add their own
    /// (the in-memory exporter) through this same method.
    /// </summary>
    /// <param name="serviceName">The service name (Application Insights' cloud role name); <c>OTEL_SERVICE_NAME</c> when set.</param>
    public static OpenTelemetryBuilder AddPaymentInstrumentation(this OpenTelemetryBuilder otel, bool withAspNetCoreAndHttp = true, string? serviceName = null)
    {
        AppContext.SetSwitch(AzureActivitySourceSwitch, true);
        otel.ConfigureResource(r => r.AddService(string.IsNullOrWhiteSpace(serviceName) ? PaymentTelemetry.Name : serviceName));
        otel.Services.Configure<AspNetCoreTraceInstrumentationOptions>(o => o.Filter = context => !IsHostPlumbing(context.Request.Path));
        otel.Services.Configure<HttpClientTraceInstrumentationOptions>(o => o.EnrichWithHttpRequestMessage = PlatformCallHandler.Enrich);
        otel.WithTracing(tracing =>
        {
            tracing.AddSource(PaymentTelemetry.Name).AddSource("Azure.*");
            if (withAspNetCoreAndHttp)
            {
                tracing.AddAspNetCoreInstrumentation().AddHttpClientInstrumentation();
            }
        });
        otel.WithMetrics(metrics =>
        {
            metrics.AddMeter(PaymentTelemetry.Name);
            if (withAspNetCoreAndHttp)
            {
                metrics.AddAspNetCoreInstrumentation().AddHttpClientInstrumentation();
            }
        });
        otel.WithLogging(configureBuilder: null, configureOptions: o =>
        {
            o.IncludeFormattedMessage = true;
            o.ParseStateValues = true;
        });
        return otel;
    }

    /// <summary>
    /// Puts the order numbers a route names (<c>{orderId}</c>, <c>{outOrderNo}</c>) on the request's span, so an operator
    /// finds every call about one order. Route values are caller input: only short ones are taken.
    /// </summary>
    public static IApplicationBuilder UseOrderTags(this IApplicationBuilder app) =>
        app.Use((context, next) =>
        {
            if (System.Diagnostics.Activity.Current is { IsAllDataRequested: true })
            {
                PaymentTelemetry.TagOrder(orderId: Short(context.GetRouteValue("orderId")), outOrderNo: Short(context.GetRouteValue("outOrderNo")));
            }

            return next(context);
        });

    private static string? Short(object? value) => value is string { Length: > 0 and <= 64 } text ? text : null;

    /// <summary>
    /// Requests that are the Functions host's plumbing, not anyone's story: its readiness poll of "/" and its queue
    /// trigger invocations, whose work is traced as the message's own span (<see cref="PaymentTelemetry.StartProcessing"/>).
    /// </summary>
    internal static bool IsHostPlumbing(PathString path) =>
        path == "/" ||
        path.StartsWithSegments("/" + Hosting.ProcessNotificationEndpoint.FunctionName, StringComparison.OrdinalIgnoreCase) ||
        path.StartsWithSegments("/" + Events.EventEndpoints.DeliverFunctionName, StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// <c>APPLICATIONINSIGHTS_AUTHENTICATION_STRING</c> as the Functions host reads it: <c>Authorization=AAD</c> is Entra
    /// auth with the managed identity, <c>ClientId=…</c> naming a user-assigned one (infra/ sets exactly that). Absent,
    /// the connection string's instrumentation key is used (a component whose local auth is disabled refuses it).
    /// </summary>
    internal static TokenCredential? AzureMonitorCredential(string? authentication)
    {
        if (string.IsNullOrWhiteSpace(authentication))
        {
            return null;
        }

        string? clientId = null;
        var aad = false;
        foreach (var part in authentication.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var pair = part.Split('=', 2, StringSplitOptions.TrimEntries);
            if (pair.Length == 2 && pair[0].Equals("Authorization", StringComparison.OrdinalIgnoreCase))
            {
                aad = pair[1].Equals("AAD", StringComparison.OrdinalIgnoreCase);
            }
            else if (pair.Length == 2 && pair[0].Equals("ClientId", StringComparison.OrdinalIgnoreCase))
            {
                clientId = pair[1];
            }
        }

        if (!aad || (clientId is not null && !Guid.TryParse(clientId, out _)))
        {
            throw new ConfigurationException(
                $"Setting '{AzureMonitorAuthenticationSetting}' is malformed: expected 'Authorization=AAD' or 'ClientId=<client id of the user-assigned identity>;Authorization=AAD'.");
        }

        return new ManagedIdentityCredential(clientId is null ? ManagedIdentityId.SystemAssigned : ManagedIdentityId.FromUserAssignedClientId(clientId));
    }
}
