using System.Net;
using System.Text.Json;
using PaymentFunctions.Tests.Infrastructure;

namespace PaymentFunctions.Tests.Storage;

/// <summary><c>GET /api/health</c> against Azurite behind proxies that can be cut and hung.</summary>
public sealed class HealthTests : IAsyncLifetime
{
    private readonly TcpProxy _queue = new(10001);
    private readonly TcpProxy _table = new(10002);
    private readonly PaymentApp _app = new();

    public async ValueTask InitializeAsync()
    {
        _app.Settings["AzureWebJobsStorage"] = Azurite.ThroughProxies(_queue.Port, _table.Port);
        _app.Settings["AzureClientDefaults:Retry:MaxRetries"] = "0";
        _app.Settings["AzureClientDefaults:Retry:NetworkTimeout"] = "00:00:02";
        await _app.InitializeAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
        await _queue.DisposeAsync();
        await _table.DisposeAsync();
    }

    private async Task<(HttpStatusCode Status, string Body)> HealthAsync()
    {
        // Answers are shared for a second (pinned clock here): move past it so each call probes.
        _app.Clock.Advance(TimeSpan.FromSeconds(2));
        using var http = _app.CreateClient();
        using var response = await http.GetAsync("/api/health");
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Healthy_while_storage_answers_unhealthy_naming_it_while_it_is_down_and_healthy_again_when_it_is_back()
    {
        var up = await HealthAsync();
        Assert.Equal(HttpStatusCode.OK, up.Status);
        Assert.Equal("""{"status":"healthy"}""", up.Body);

        _table.Cut();
        var tableDown = await HealthAsync();
        Assert.Equal(HttpStatusCode.ServiceUnavailable, tableDown.Status);
        Assert.Equal("""{"status":"unhealthy","failing":["table storage"]}""", tableDown.Body);

        _queue.Cut();
        var bothDown = await HealthAsync();
        Assert.Equal(HttpStatusCode.ServiceUnavailable, bothDown.Status);
        Assert.Equal(["queue storage", "table storage"], JsonDocument.Parse(bothDown.Body).RootElement.GetProperty("failing").EnumerateArray().Select(e => e.GetString()));

        _queue.Restore();
        _table.Restore();
        Assert.Equal(HttpStatusCode.OK, (await HealthAsync()).Status);
    }

    [Fact]
    public async Task Storage_that_hangs_is_unhealthy_within_the_deadline()
    {
        _queue.Hang();
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var hung = await HealthAsync();
        Assert.Equal(HttpStatusCode.ServiceUnavailable, hung.Status);
        Assert.Contains("queue storage", hung.Body, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", hung.Body, StringComparison.Ordinal);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"took {watch.Elapsed}");
    }

    [Fact]
    public async Task Callers_within_a_second_share_one_probe()
    {
        await HealthAsync();
        _table.Cut();
        // No clock move: the answer of a moment ago stands, and storage is not asked again.
        using var http = _app.CreateClient();
        using var response = await http.GetAsync("/api/health");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}
