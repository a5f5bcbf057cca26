using System.Globalization;

namespace PaymentFunctions.Hosting;

/// <summary>Which way the app is running: as the Functions host's custom handler, or on its own.</summary>
public static class FunctionsHost
{
    public const string PortVariable = "FUNCTIONS_CUSTOMHANDLER_PORT";

    /// <summary>
    /// Under the host, the host checks function keys and triggers the queue function. The host sets
    /// <see cref="PortVariable"/> in the environment; it is read through configuration (which holds the environment
    /// variables) so that one test process can run the app both ways without changing its environment.
    /// </summary>
    public static bool IsCustomHandler(IConfiguration configuration) => !string.IsNullOrEmpty(configuration[PortVariable]);

    /// <summary>
    /// Under the host, listen only on loopback at the port the host chose: the host is the only caller, and it
    /// forwards from the outside only the HTTP-trigger routes of function.json, so <c>/ProcessNotification</c> (and
    /// the key-less view of the function-key routes) is reachable from this machine only.
    /// </summary>
    public static void ConfigureKestrel(WebApplicationBuilder builder)
    {
        if (IsCustomHandler(builder.Configuration))
        {
            var value = builder.Configuration[PortVariable];
            if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
            {
                throw new ConfigurationException($"Setting '{PortVariable}' is malformed: expected a TCP port number.");
            }

            builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        }

        // A backstop for routes that do not read their body through RequestBody's own, smaller limits.
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = 1024 * 1024;
            // Our bodies are a few KB: one that has not started flowing at 240 B/s within 3 s is a stalled client,
            // answered 408 before a webhook's deadline (Kestrel's default grace is 5 s).
            k.Limits.MinRequestBodyDataRate = new Microsoft.AspNetCore.Server.Kestrel.Core.MinDataRate(240, TimeSpan.FromSeconds(3));
        });
    }
}
