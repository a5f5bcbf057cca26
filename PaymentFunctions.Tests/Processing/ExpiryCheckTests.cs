using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using PaymentFunctions.Fakes.Pyun;
using PaymentFunctions.Notifications;
using PaymentFunctions.Orders;
using PaymentFunctions.Tests.Infrastructure;

namespace PaymentFunctions.Tests.Processing;

internal static class Expiries
{
    /// <summary>Orders (and their attempts) living <paramref name="lifetime"/>, checked a second after, one round each.</summary>
    public static Task InitializeShortLivedAsync(this PaymentApp app, string lifetime)
    {
        app.Settings["Orders:DefaultLifetime"] = lifetime;
        app.Settings["Pyun:AttemptLifetime"] = lifetime;
        app.Settings["Pyun:CheckGrace"] = "00:00:01";
        app.Settings["Pyun:CheckBackoff"] = "00:00:01";
        app.Settings["Pyun:CheckMaxRounds"] = "1";
        return app.InitializeAsync().AsTask();
    }

    /// <summary>An order created without <c>expiresAt</c>: it lives <c>Orders:DefaultLifetime</c> (here, seconds).</summary>
    public static async Task<OrderView> CreateShortOrderAsync(this PaymentApp app, long amount = 1000)
    {
        using var client = app.CreateBusinessClient();
        using var response = await client.PostAsJsonAsync("/api/orders", Api.OrderRequest(amount: amount));
        Assert.Equal(System.Net.HttpStatusCode.Created, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<OrderView>(Api.Json))!;
    }
}

/// <summary>
/// An order's final check, end to end: scheduled at create for its expiry plus the grace (real time in Azurite),
/// with three-second orders so each one resolves itself within seconds and nobody calls GET.
/// </summary>
public sealed class ExpiryCheckTests : IAsyncLifetime
{
    private readonly PaymentApp _app = new();

    public async ValueTask InitializeAsync() => await _app.InitializeShortLivedAsync("00:00:03");

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    [Fact]
    public async Task An_order_nobody_prepares_is_stored_expired_by_itself()
    {
        var order = await _app.CreateShortOrderAsync();
        // The app's clock is pinned: move it past the order's end; the queue's delay (4 s) runs in real time.
        _app.Clock.Advance(TimeSpan.FromSeconds(5));

        Assert.True(await _app.PollUntilAsync(async () => (await _app.StoredAsync(order.OrderId)).StatusValue == OrderStatus.Expired, TimeSpan.FromSeconds(20)));

        var entry = Assert.Single(await _app.TimelineAsync(order.OrderId));
        Assert.Equal(("pyun.expire", "Created", "Expired"), (entry.Kind, entry.FromStatus, entry.ToStatus));
        Assert.Empty(_app.Pyun.State.QueryRequests); // no attempt, nothing to ask P云
    }

    [Fact]
    public async Task The_final_check_twice_expires_the_order_once_and_a_check_of_a_paid_order_changes_nothing()
    {
        var open = await _app.CreateShortOrderAsync();
        var paid = await _app.CreateOrderAsync(expiresAt: _app.Clock.GetUtcNow().AddMinutes(2)); // long enough to prepare
        var prepared = await _app.PrepareAsync(paid.OrderId);
        await _app.Pyun.PayAsync(prepared.PayId);
        await _app.DrainQueueAsync();
        _app.Clock.Advance(TimeSpan.FromSeconds(5)); // the open order is past its time and grace

        var asked = _app.QueriesFor(prepared.PayOrder);
        foreach (var orderId in new[] { open.OrderId, open.OrderId, paid.OrderId })
        {
            await using var scope = _app.Services.CreateAsyncScope();
            await scope.ServiceProvider.GetRequiredService<NotificationProcessor>()
                .ProcessAsync(NotificationEnvelope.For(new PyunExpiryCheck(orderId), DateTimeOffset.UnixEpoch).ToJson(), CancellationToken.None);
        }

        Assert.Equal(OrderStatus.Expired, (await _app.StoredAsync(open.OrderId)).StatusValue);
        Assert.Single(await _app.TimelineAsync(open.OrderId), t => t.ToStatus == "Expired");
        var stillPaid = await _app.StoredAsync(paid.OrderId);
        Assert.Equal(OrderStatus.Paid, stillPaid.StatusValue);
        Assert.Equal(asked, _app.QueriesFor(prepared.PayOrder)); // the paid order's final check asks P云 nothing
        Assert.DoesNotContain(await _app.TimelineAsync(paid.OrderId), t => t.Kind == "pyun.expire");
    }

    [Fact]
    public void A_malformed_final_check_is_a_message_to_poison()
    {
        Assert.Throws<InvalidMessageException>(() => PyunExpiryCheck.FromPayload(System.Text.Json.JsonDocument.Parse("{\"orderId\":\"nope!\"}").RootElement));
        Assert.Throws<InvalidMessageException>(() => PyunExpiryCheck.FromPayload(System.Text.Json.JsonDocument.Parse("{}").RootElement));
    }
}

/// <summary>
/// Prepared orders resolving themselves: 35-second orders (prepare refuses an order with under 30 s left), all three
/// cases in one test so they wait together.
/// </summary>
[Trait("Category", "Slow")]
public sealed class PreparedOrderExpiryTests : IAsyncLifetime
{
    private readonly PaymentApp _app = new();

    public async ValueTask InitializeAsync() => await _app.InitializeShortLivedAsync("00:00:35");

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    [Fact]
    public async Task Unpaid_orders_expire_lost_payments_are_found_and_a_payment_in_time_heard_of_late_still_counts()
    {
        var unpaid = await _app.CreateShortOrderAsync();
        var unpaidAttempt = await _app.PrepareAsync(unpaid.OrderId);
        var lost = await _app.CreateShortOrderAsync(amount: 1200);
        var lostAttempt = await _app.PrepareAsync(lost.OrderId);
        await _app.Pyun.PayAsync(lostAttempt.PayId, new FakePayment(Notify: false));
        var late = await _app.CreateShortOrderAsync(amount: 800);
        var lateAttempt = await _app.PrepareAsync(late.OrderId);
        // The app's clock is pinned: move it past the orders' end; the queue's delays (36 s) run in real time.
        _app.Clock.Advance(TimeSpan.FromSeconds(37));

        // No GET: only the scheduled checks (35 s + 1 s grace) can settle these.
        Assert.True(await _app.PollUntilAsync(async () =>
            (await _app.StoredAsync(unpaid.OrderId)).StatusValue == OrderStatus.Expired &&
            (await _app.StoredAsync(late.OrderId)).StatusValue == OrderStatus.Expired &&
            (await _app.StoredAsync(lost.OrderId)).StatusValue == OrderStatus.Paid, TimeSpan.FromSeconds(60)));

        var expired = (await _app.TimelineAsync(unpaid.OrderId)).Single(t => t.ToStatus == "Expired");
        Assert.Equal(("pyun.expire", "Pending"), (expired.Kind, expired.FromStatus));
        Assert.True(_app.QueriesFor(unpaidAttempt.PayOrder) >= 1); // P云 was asked before the order was given up
        Assert.DoesNotContain(await _app.TimelineAsync(lost.OrderId), t => t.ToStatus == "Expired");
        Assert.Equal(1200, (await _app.StoredAsync(lost.OrderId)).PaidAmount);

        // The user of the third order paid a second before its end; P云's notification only comes now.
        var stored = await _app.StoredAsync(late.OrderId);
        var delivery = await _app.Pyun.PayAsync(lateAttempt.PayId, new FakePayment(TradeTimeMs: stored.ExpiresAt.AddSeconds(-1).ToUnixTimeMilliseconds()));
        Assert.Equal(200, delivery!.HttpStatus);
        await _app.DrainQueueAsync();
        var paid = await _app.StoredAsync(late.OrderId);
        Assert.Equal((OrderStatus.Paid, false), (paid.StatusValue, paid.RefundRequired));
    }
}

/// <summary>An order whose final check cannot be queued is not answered as created; the client's repeat queues it.</summary>
public sealed class ExpiryCheckSchedulingTests : IAsyncLifetime
{
    private readonly TcpProxy _queue = new(10001);
    private readonly PaymentApp _app = new();

    public async ValueTask InitializeAsync()
    {
        _app.Settings["AzureWebJobsStorage"] = Azurite.ThroughProxies(_queue.Port, 10002);
        _app.Settings["AzureClientDefaults:Retry:MaxRetries"] = "0";
        _app.Settings["AzureClientDefaults:Retry:NetworkTimeout"] = "00:00:02";
        await _app.InitializeAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
        await _queue.DisposeAsync();
    }

    [Fact]
    public async Task A_create_whose_final_check_cannot_be_queued_answers_503_and_its_repeat_queues_the_check()
    {
        await _app.Storage.EnsureCreatedAsync(CancellationToken.None);
        var before = (await _app.Storage.Notifications.GetPropertiesAsync()).Value.ApproximateMessagesCount;
        var request = Api.OrderRequest(merchantOrderNo: Api.NewMerchantOrderNo(), expiresAt: _app.Clock.GetUtcNow().AddHours(1));
        using var client = _app.CreateBusinessClient();

        _queue.Cut();
        using (var refused = await client.PostAsJsonAsync("/api/orders", request))
        {
            Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        }

        _queue.Restore();
        using var repeat = await client.PostAsJsonAsync("/api/orders", request);
        Assert.Equal(System.Net.HttpStatusCode.OK, repeat.StatusCode); // the order row was written the first time
        // The check is invisible until the order expires; the queue's count includes it.
        Assert.Equal(before + 1, (await _app.Storage.Notifications.GetPropertiesAsync()).Value.ApproximateMessagesCount);
    }
}
