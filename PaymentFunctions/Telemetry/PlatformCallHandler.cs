using System.Diagnostics;

namespace PaymentFunctions.Telemetry;

/// <summary>
/// On a payment platform's HttpClient: measures each call (<c>payment.platform.call.duration</c>, by platform and
/// result) and names the platform on the request, which the HttpClient instrumentation copies onto its span
/// (<see cref="Enrich"/>) as <c>payment.platform</c>.
/// </summary>
public sealed class PlatformCallHandler(string platform, TimeProvider clock) : DelegatingHandler
{
    public static readonly HttpRequestOptionsKey<string> PlatformKey = new("PaymentFunctions.Platform");

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        request.Options.Set(PlatformKey, platform);
        var started = clock.GetTimestamp();
        var result = "error";
        try
        {
            var response = await base.SendAsync(request, cancellationToken);
            result = Result((int)response.StatusCode);
            return response;
        }
        catch (OperationCanceledException)
        {
            result = "canceled"; // the caller's deadline (or shutdown)
            throw;
        }
        finally
        {
            PaymentTelemetry.PlatformCall(platform, result, clock.GetElapsedTime(started));
        }
    }

    internal static string Result(int status) => status switch
    {
        >= 200 and < 300 => "ok",
        >= 300 and < 400 => "redirect",
        >= 400 and < 500 => "client_error",
        _ => "server_error",
    };

    internal static void Enrich(Activity activity, HttpRequestMessage request)
    {
        if (request.Options.TryGetValue(PlatformKey, out var name))
        {
            activity.SetTag("payment.platform", name);
        }
    }
}

public static class PlatformCallHandlerExtensions
{
    /// <summary>Adds the platform's call metric and span attribute to an HttpClient registration.</summary>
    public static IHttpClientBuilder AddPlatformTelemetry(this IHttpClientBuilder http, string platform) =>
        http.AddHttpMessageHandler(sp => new PlatformCallHandler(platform, sp.GetRequiredService<TimeProvider>()));
}
