using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using PaymentFunctions.Events;
using PaymentFunctions.Tests.Infrastructure;

namespace PaymentFunctions.Tests.Events;

/// <summary>The real executable refuses a bad Events section with one clear line, never echoing the secret.</summary>
[Trait("Category", "Slow")] // starts the real executable once per case.
public sealed class EventsStartupTests
{
    private const string SecretValue = "not-a-whsec-secret-0123456789abcdef";

    [Theory]
    [InlineData("Events__Endpoints__erp__Secret", SecretValue, "Setting 'Events:Endpoints:erp:Secret' is missing or malformed: expected 'whsec_'")]
    [InlineData("Events__Endpoints__erp__Secret", "whsec_c2hvcnQ=", "Setting 'Events:Endpoints:erp:Secret' is missing or malformed")]
    [InlineData("Events__Endpoints__erp__Url", "http://erp.example.com/hook", "Setting 'Events:Endpoints:erp:Url' is missing or malformed: expected an https URL")]
    [InlineData("Events__Endpoints__erp__Types", "order.paid,order.teleported", "names an unknown event type 'order.teleported'")]
    [InlineData("Events__RetrySchedule", "00:00:05,soon", "Setting 'Events:RetrySchedule' is malformed")]
    [InlineData("Events__Timeout", "00:05:00", "Setting 'Events:Timeout' is out of range")]
    public async Task A_bad_events_setting_stops_the_app_with_one_clear_line(string key, string value, string expected)
    {
        var environment = TestSettings.ValidEnvironment();
        environment["Events__Endpoints__erp__Url"] = "https://erp.example.com/hook";
        environment["Events__Endpoints__erp__Secret"] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        environment[key] = value;

        using var process = Process.Start(TestSettings.AppProcess(environment, "--urls", "http://127.0.0.1:0"))!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException("The app started instead of refusing its configuration.");
        }

        Assert.Equal(1, process.ExitCode);
        var lines = (await stderr).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var line = Assert.Single(lines);
        Assert.StartsWith("PaymentFunctions cannot start: ", line, StringComparison.Ordinal);
        Assert.Contains(expected, line, StringComparison.Ordinal);
        Assert.DoesNotContain(SecretValue, line + await stdout, StringComparison.Ordinal);
    }
}

/// <summary>Under the Functions host, the host posts each delivery message to /DeliverEvent.</summary>
public sealed class DeliverEventHostTests : IAsyncLifetime
{
    private readonly PaymentApp _app = new PaymentApp().UnderFunctionsHost();

    public async ValueTask InitializeAsync() => await _app.InitializeAsync();

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    [Fact]
    public async Task The_host_invocation_of_a_message_that_is_not_a_delivery_poisons_it_and_answers_success()
    {
        using var client = _app.CreateClient();
        var payload = JsonSerializer.Serialize(new { Data = new { msg = "{\"eventId\":\"evt_nope\",\"endpoint\":\"x\",\"round\":0,\"attempt\":1}" }, Metadata = new { DequeueCount = 1 } });
        using var response = await client.PostAsync(new Uri("/" + EventEndpoints.DeliverFunctionName, UriKind.Relative), new StringContent(payload, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("poisoned", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        var poisoned = await _app.Storage.EventsPoison.PeekMessagesAsync(1);
        Assert.Contains("evt_nope", Assert.Single(poisoned.Value).Body.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_payload_without_a_message_is_a_failure_the_host_retries()
    {
        using var client = _app.CreateClient();
        using var response = await client.PostAsync(new Uri("/" + EventEndpoints.DeliverFunctionName, UriKind.Relative), new StringContent("{}", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
    }
}
