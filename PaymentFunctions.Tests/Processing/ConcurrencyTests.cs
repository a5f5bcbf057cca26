using PaymentFunctions.Tests.Infrastructure;

namespace PaymentFunctions.Tests.Processing;

[Trait("Category", "Slow")] // 200 notifications for 50 orders drained by two listeners (a multi-instance flow).
public sealed class ConcurrencyTests(PaymentApp app) : IClassFixture<PaymentApp>
{
    [Fact]
    public async Task Two_hundred_notifications_for_fifty_orders_at_once_end_in_exactly_the_right_states()
    {
        var orders = new List<(string OrderId, string PayOrder, long Amount)>();
        for (var i = 0; i < 50; i++)
        {
            var amount = 100 + i;
            var order = await app.CreateOrderAsync(amount);
            orders.Add((order.OrderId, (await app.PrepareAsync(order.OrderId)).PayOrder, amount));
        }

        // Per order: paying, paid, the paid one again (a P云 retry) and a late paying, in a shuffled order.
        // Every tenth order is paid the wrong amount instead.
        var forms = orders.SelectMany((o, i) => new[]
        {
            Api.Notification(o.PayOrder, 0, o.Amount),
            Api.Notification(o.PayOrder, 1, i % 10 == 0 ? o.Amount + 1 : o.Amount, paySerial: $"S{i}"),
            Api.Notification(o.PayOrder, 1, i % 10 == 0 ? o.Amount + 1 : o.Amount, paySerial: $"S{i}"),
            Api.Notification(o.PayOrder, 0, o.Amount),
        }).Select(f => f.WithSign()).OrderBy(_ => Random.Shared.Next()).ToList();
        Assert.Equal(200, forms.Count);

        var codes = await Task.WhenAll(forms.Select(async form =>
        {
            using var response = await app.PostNotifyAsync(form);
            return await response.PyunCodeAsync();
        }));
        Assert.All(codes, code => Assert.Equal("1001", code));

        // Two listeners at once, as two instances would run.
        await Task.WhenAll(app.DrainQueueAsync(), app.DrainQueueAsync());

        for (var i = 0; i < orders.Count; i++)
        {
            var view = await app.GetOrderAsync(orders[i].OrderId);
            var timeline = await app.TimelineAsync(orders[i].OrderId);
            // One row per distinct payment fact: paying and paid. The wrong payments' automatic refunds (their end,
            // whenever the background listener gets to them) are rows of their own.
            Assert.Equal(2, timeline.Count(t => t.Kind != PaymentFunctions.Orders.PyunRefund.Kind));
            Assert.True(timeline.Count(t => t.Kind == PaymentFunctions.Orders.PyunRefund.Kind) <= (i % 10 == 0 ? 1 : 0));
            if (i % 10 == 0)
            {
                Assert.Equal("AmountMismatch", view.Status);
                Assert.True(view.RefundRequired);
                Assert.Equal(orders[i].Amount + 1, (await app.Store.GetRefundAsync(orders[i].OrderId, "auto-1", CancellationToken.None))!.Amount);
            }
            else
            {
                Assert.Equal("Paid", view.Status);
                Assert.Equal(orders[i].Amount, view.PaidAmount);
                Assert.Equal($"S{i}", view.PaySerial);
                Assert.False(view.RefundRequired);
                Assert.Single(timeline, t => t.Outcome == "paid");
            }
        }

        Assert.Equal(0, await app.QueueLengthAsync());
        Assert.Equal(0, await app.QueueLengthAsync(poison: true));
    }
}
