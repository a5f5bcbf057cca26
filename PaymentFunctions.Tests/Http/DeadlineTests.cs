using System.Diagnostics;
using System.Net;
using PaymentFunctions.Tests.Infrastructure;
using PaymentFunctions.Tests.PayScore;

namespace PaymentFunctions.Tests.Http;

/// <summary>
/// Storage that hangs (accepts, never answers): webhooks are still answered within their deadline, with the
/// platform's own retry-later answer, and API reads answer 503, not 500, whatever shape the SDK's failure takes.
/// </summary>
[Trait("Category", "Slow")] // waits out the real deadlines against storage that hangs.
public sealed class DeadlineTests : IAsyncLifetime
{
    private readonly TcpProxy _queue = new(10001);
    private readonly TcpProxy _table = new(10002);
    private readonly PaymentApp _app = new PaymentApp().EnableWeChatPay();

    public async ValueTask InitializeAsync()
    {
        _app.Settings["AzureWebJobsStorage"] = Azurite.ThroughProxies(_queue.Port, _table.Port);
        // The SDK's own budget (3 tries of 3 s) is longer than the deadlines below: the deadline must cut it short.
        _app.Settings["AzureClientDefaults:Retry:MaxRetries"] = "2";
        _app.Settings["AzureClientDefaults:Retry:NetworkTimeout"] = "00:00:03";
        _app.Settings["Http:WebhookDeadline"] = "00:00:01.500";
        _app.Settings["Http:ApiDeadline"] = "00:00:02";
        await _app.InitializeAsync();
    }

    [Fact]
    public async Task A_pyun_notification_is_answered_retry_later_within_the_webhook_deadline_while_storage_hangs()
    {
        var order = await _app.CreateOrderAsync();
        var prepared = await _app.PrepareAsync(order.OrderId);
        _queue.Hang();
        _table.Hang();

        var clock = Stopwatch.StartNew();
        using var response = await _app.PostNotifyAsync(Api.Notification(prepared.PayOrder, 1, 1000).WithSign());
        clock.Stop();

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("1500", await response.PyunCodeAsync());
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(4), $"answered after {clock.Elapsed}");

        _queue.Restore();
        _table.Restore();
        Assert.Equal(0, await _app.QueueLengthAsync());
    }

    [Fact]
    public async Task A_wechatpay_callback_is_answered_fail_within_the_webhook_deadline_while_storage_hangs()
    {
        var outOrderNo = PayScoreApi.NewOutOrderNo();
        var (headers, body) = PayScoreApi.Callback(PayScoreApi.Resource(outOrderNo, "DOING", "USER_CONFIRM"),
            "PAYSCORE.USER_CONFIRM", Guid.NewGuid().ToString("N"), _app.Clock.GetUtcNow());
        _queue.Hang();
        _table.Hang();

        var clock = Stopwatch.StartNew();
        using var response = await _app.PostCallbackAsync(headers, body);
        clock.Stop();

        Assert.True((int)response.StatusCode >= 500, $"status {(int)response.StatusCode}");
        Assert.Equal("FAIL", await response.FailCodeAsync());
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(4), $"answered after {clock.Elapsed}");
        _queue.Restore();
        _table.Restore();
    }

    [Fact]
    public async Task Reading_an_order_while_storage_hangs_is_a_503_problem_within_the_api_deadline()
    {
        var order = await _app.CreateOrderAsync();
        _table.Hang();

        var clock = Stopwatch.StartNew();
        using var http = _app.CreateClient();
        using var response = await http.GetAsync($"/api/orders/{order.OrderId}");
        clock.Stop();

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        await response.ProblemAsync();
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"answered after {clock.Elapsed}");
        _table.Restore();
    }

    [Fact]
    public async Task A_storage_timeout_wrapped_by_the_sdk_is_a_503_not_a_500()
    {
        // Without the deadline in the way: the SDK gives up first and throws its AggregateException of cancellations.
        var order = await _app.CreateOrderAsync();
        await using var fast = new PaymentApp();
        fast.Settings["AzureWebJobsStorage"] = _app.Settings["AzureWebJobsStorage"];
        fast.Settings["Storage:NamePrefix"] = _app.Prefix;
        fast.Settings["AzureClientDefaults:Retry:MaxRetries"] = "1";
        fast.Settings["AzureClientDefaults:Retry:NetworkTimeout"] = "00:00:00.300";
        fast.Settings["Http:ApiDeadline"] = "00:00:30";
        await fast.InitializeAsync();
        _table.Hang();

        using var http = fast.CreateClient();
        using var response = await http.GetAsync($"/api/orders/{order.OrderId}");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        await response.ProblemAsync();
        _table.Restore();
    }

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
        await _queue.DisposeAsync();
        await _table.DisposeAsync();
    }
}
