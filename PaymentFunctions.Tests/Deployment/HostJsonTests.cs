using System.Globalization;
using System.Text.Json.Nodes;

namespace PaymentFunctions.Tests.Deployment;

/// <summary>host.json settings the deployment depends on.</summary>
public sealed class HostJsonTests
{
    private static readonly JsonObject Host = RepositoryFiles.ReadJsonObject(RepositoryFiles.HostJsonPath);

    [Fact]
    public void Is_version_2()
    {
        Assert.Equal("2.0", (string?)Host["version"]);
    }

    [Fact]
    public void Custom_handler_starts_the_app_executable_and_forwards_http_requests()
    {
        var handler = Host["customHandler"]?.AsObject();
        Assert.NotNull(handler);
        Assert.Null(Host["httpWorker"]); // customHandler wins anyway; two descriptions would only confuse
        // The package puts the self-contained app host, named after the assembly, at the root.
        Assert.Equal(typeof(Program).Assembly.GetName().Name, (string?)handler["description"]?["defaultExecutablePath"]);
        Assert.Equal("PaymentFunctions", (string?)handler["description"]?["defaultExecutablePath"]);
        // With arguments the path would be resolved from PATH instead of the app root.
        Assert.Empty(handler["description"]?["arguments"]?.AsArray() ?? []);
        Assert.True((bool?)handler["enableForwardingHttpRequest"]);
    }

    [Fact]
    public void Uses_extension_bundle_4()
    {
        Assert.Equal("Microsoft.Azure.Functions.ExtensionBundle", (string?)Host["extensionBundle"]?["id"]);
        Assert.Equal("[4.*, 5.0.0)", (string?)Host["extensionBundle"]?["version"]);
    }

    [Fact]
    public void Http_routes_live_under_api()
    {
        Assert.Equal("api", (string?)Host["extensions"]?["http"]?["routePrefix"]);
    }

    [Fact]
    public void Queue_trigger_reads_base64_retries_five_times_with_a_delay()
    {
        var queues = Host["extensions"]?["queues"]?.AsObject();
        Assert.NotNull(queues);
        // The app enqueues with QueueMessageEncoding.Base64; a mismatch sends every message straight to -poison.
        Assert.Equal("base64", (string?)queues["messageEncoding"]);
        Assert.Equal(5, (int?)queues["maxDequeueCount"]);
        // Without it the default of 0 retries a failed message immediately, five times back to back.
        var visibility = (string?)queues["visibilityTimeout"];
        Assert.NotNull(visibility);
        Assert.True(TimeSpan.TryParse(visibility, CultureInfo.InvariantCulture, out var timeout) && timeout > TimeSpan.Zero,
            $"visibilityTimeout '{visibility}' must be a positive hh:mm:ss.");
    }

    [Fact]
    public void Has_a_function_timeout_within_the_flex_and_premium_limits()
    {
        var value = (string?)Host["functionTimeout"];
        Assert.NotNull(value);
        Assert.True(TimeSpan.TryParse(value, CultureInfo.InvariantCulture, out var timeout) && timeout > TimeSpan.Zero && timeout <= TimeSpan.FromMinutes(30),
            $"functionTimeout '{value}' must be a positive hh:mm:ss of at most 30 minutes.");
    }
}
