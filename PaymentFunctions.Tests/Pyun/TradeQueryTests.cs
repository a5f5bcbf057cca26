using PaymentFunctions.Fakes.Pyun;
using PaymentFunctions.Tests.Infrastructure;

namespace PaymentFunctions.Tests.Pyun;

/// <summary>GetOrder asks P云's trade query when a pending order's notification is late, and only then.</summary>
public sealed class TradeQueryTests(PaymentApp app) : IClassFixture<PaymentApp>
{
    private int QueriesFor(string payOrder) => app.Pyun.State.QueryRequests.Count(q => q.GetValueOrDefault("pay_order") == payOrder);

    [Theory]
    [InlineData(QueryLayout.Flat)]
    [InlineData(QueryLayout.Payload)]
    public async Task A_lost_notification_is_recovered_by_trade_query_in_either_layout(QueryLayout layout)
    {
        app.Pyun.State.QueryLayout = layout;
        var order = await app.CreateOrderAsync(amount: 2500);
        var prepared = await app.PrepareAsync(order.OrderId);
        await app.Pyun.PayAsync(prepared.PayId, new FakePayment(Notify: false));

        // Fresh: the notification usually wins, so no query yet.
        Assert.Equal("Pending", (await app.GetOrderAsync(order.OrderId)).Status);
        Assert.Equal(0, QueriesFor(prepared.PayOrder));

        app.Clock.Advance(TimeSpan.FromSeconds(6));
        var view = await app.GetOrderAsync(order.OrderId);

        Assert.Equal("Paid", view.Status);
        Assert.Equal(2500, view.PaidAmount);
        Assert.Equal(1, QueriesFor(prepared.PayOrder));
        var query = app.Pyun.State.QueryRequests.Last(q => q.GetValueOrDefault("pay_order") == prepared.PayOrder);
        Assert.Equal(PaymentApp.Merchant, query["merchant"]);

        // The late notification then changes nothing.
        await app.Pyun.PayAsync(prepared.PayId);
        await app.DrainQueueAsync();
        Assert.Single(await app.TimelineAsync(order.OrderId));
        app.Pyun.State.QueryLayout = QueryLayout.Flat;
    }

    [Fact]
    public async Task Queries_are_throttled_per_order_however_often_the_client_polls()
    {
        var order = await app.CreateOrderAsync();
        var prepared = await app.PrepareAsync(order.OrderId);
        app.Clock.Advance(TimeSpan.FromSeconds(6));

        for (var i = 0; i < 5; i++)
        {
            Assert.Equal("Pending", (await app.GetOrderAsync(order.OrderId)).Status);
        }

        await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => app.GetOrderAsync(order.OrderId)));
        Assert.Equal(1, QueriesFor(prepared.PayOrder));

        app.Clock.Advance(TimeSpan.FromSeconds(11));
        await app.GetOrderAsync(order.OrderId);
        Assert.Equal(2, QueriesFor(prepared.PayOrder));
    }

    [Fact]
    public async Task A_query_for_a_trade_P云_does_not_know_leaves_the_order_pending()
    {
        var order = await app.CreateOrderAsync();
        var prepared = await app.PrepareAsync(order.OrderId);
        app.Pyun.State.TradesByPayOrder.TryRemove(prepared.PayOrder, out _);
        app.Clock.Advance(TimeSpan.FromSeconds(6));

        Assert.Equal("Pending", (await app.GetOrderAsync(order.OrderId)).Status);
        Assert.Equal(1, QueriesFor(prepared.PayOrder));
        Assert.Empty(await app.TimelineAsync(order.OrderId));
    }

    [Fact]
    public async Task Created_and_paid_orders_are_never_queried()
    {
        var order = await app.CreateOrderAsync();
        app.Clock.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal("Created", (await app.GetOrderAsync(order.OrderId)).Status);
        Assert.DoesNotContain(app.Pyun.State.QueryRequests, q => q.GetValueOrDefault("pay_order")?.StartsWith(order.OrderId, StringComparison.Ordinal) == true);
    }
}
