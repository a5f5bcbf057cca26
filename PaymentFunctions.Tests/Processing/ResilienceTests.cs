using System.Net;
using PaymentFunctions.Fakes.Pyun;
using PaymentFunctions.Orders;
using PaymentFunctions.Tests.Infrastructure;

namespace PaymentFunctions.Tests.Processing;

/// <summary>Storage going away mid-flow: nothing acknowledged is lost, nothing unacknowledged is half-applied.</summary>
public sealed class ResilienceTests : IAsyncLifetime
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

    [Fact]
    public async Task A_notification_that_cannot_be_queued_is_not_acknowledged_and_its_retry_is_applied_once()
    {
        var order = await _app.CreateOrderAsync();
        var prepared = await _app.PrepareAsync(order.OrderId);
        var form = Api.Notification(prepared.PayOrder, 1, 1000).WithSign();

        _queue.Cut();
        _table.Cut();
        using (var refused = await _app.PostNotifyAsync(form))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
            Assert.NotEqual("1001", await refused.PyunCodeAsync());
            Assert.DoesNotContain(PaymentApp.AppSecret, await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // Reads fail cleanly too: a 503 ProblemDetails, not a stack trace.
        using (var http = _app.CreateClient())
        using (var read = await http.GetAsync($"/api/orders/{order.OrderId}"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, read.StatusCode);
            await read.ProblemAsync();
        }

        _queue.Restore();
        _table.Restore();
        Assert.Equal(0, await _app.QueueLengthAsync());
        Assert.Equal("Pending", (await _app.GetOrderAsync(order.OrderId)).Status);

        // P云 sends it again; now it is queued, acknowledged and applied.
        using (var accepted = await _app.PostNotifyAsync(form))
        {
            Assert.Equal("1001", await accepted.PyunCodeAsync());
        }

        await _app.DrainQueueAsync();
        Assert.Equal("Paid", (await _app.GetOrderAsync(order.OrderId)).Status);
        Assert.Single(await _app.TimelineAsync(order.OrderId));
    }

    [Fact]
    public async Task A_prepare_whose_check_cannot_be_scheduled_still_answers_with_its_pay_id()
    {
        var order = await _app.CreateOrderAsync(); // creates the queues, so only the send is left to fail

        _queue.Cut();
        PrepareOrderResponse prepared;
        try
        {
            prepared = await _app.PrepareAsync(order.OrderId);
        }
        finally
        {
            _queue.Restore();
        }

        Assert.False(string.IsNullOrEmpty(prepared.PayId));
        Assert.Contains(_app.Logs.Entries, e => e.Level == Microsoft.Extensions.Logging.LogLevel.Warning &&
                                                 e.Message.Contains($"Could not schedule the check of {prepared.PayOrder}", StringComparison.Ordinal));
        Assert.Equal("Pending", (await _app.GetOrderAsync(order.OrderId)).Status);
    }

    [Fact]
    public async Task An_acknowledged_notification_survives_storage_loss_before_processing()
    {
        var order = await _app.CreateOrderAsync();
        var prepared = await _app.PrepareAsync(order.OrderId);
        var delivery = await _app.Pyun.PayAsync(prepared.PayId, new FakePayment());
        Assert.Equal(200, delivery!.HttpStatus);

        _queue.Cut();
        _table.Cut();
        var listener = _app.CreateListener();
        await Assert.ThrowsAnyAsync<Exception>(() => listener.PollOnceAsync(CancellationToken.None));
        _queue.Restore();
        _table.Restore();

        await _app.DrainQueueAsync(listener);
        Assert.Equal("Paid", (await _app.GetOrderAsync(order.OrderId)).Status);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
        await _queue.DisposeAsync();
        await _table.DisposeAsync();
    }
}
