using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using PaymentFunctions.Notifications;
using PaymentFunctions.Orders;
using PaymentFunctions.Tests.Infrastructure;

namespace PaymentFunctions.Tests.Processing;

/// <summary>
/// The processor decides on the order row alone (it records what P云 results made of each attempt there), and
/// writes to an attempt row only what the decision changed. These pin that down against the stored rows.
/// </summary>
public sealed class AttemptResultProcessingTests(FunctionsHostAppFixture fixture) : IClassFixture<FunctionsHostAppFixture>
{
    // The host's invocation route exists only under the Functions host.
    private PaymentApp app => fixture.App;

    private async Task<HttpResponseMessage> ProcessAsync(Dictionary<string, string> form)
    {
        var envelope = new NotificationEnvelope(1, PyunTradeNotification.Kind, app.Clock.GetUtcNow(), JsonSerializer.SerializeToElement(form)).ToJson();
        var payload = JsonSerializer.Serialize(new { Data = new { msg = envelope }, Metadata = new { DequeueCount = 1 } });
        using var http = app.CreateClient();
        return await http.PostJsonTextAsync("/ProcessNotification", payload);
    }

    [Fact]
    public async Task A_payment_updates_the_attempt_row_and_keeps_everything_else_on_it()
    {
        var order = await app.CreateOrderAsync();
        var prepared = await app.PrepareAsync(order.OrderId, payer: "o_payer_1");

        using var response = await ProcessAsync(Api.Notification(prepared.PayOrder, 1, 1000, paySerial: "S-1"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var row = (await app.Store.GetOrderAsync(order.OrderId, default))!;
        Assert.Equal(OrderStatus.Paid, row.StatusValue);
        Assert.Equal(AttemptStates.Paid, row.AttemptResult(1));
        var attempt = (await app.Store.GetAttemptAsync(order.OrderId, 1, default))!;
        Assert.Equal(AttemptStates.Paid, attempt.State);
        Assert.Equal(1000, attempt.PaidAmount);
        Assert.Equal("S-1", attempt.PaySerial);
        Assert.False(attempt.RefundRequired);
        Assert.Equal(prepared.PayId, attempt.PayId);
        Assert.Equal("wechat", attempt.Client);
        Assert.Equal("o_payer_1", attempt.Payer);
        Assert.Equal(prepared.PayOrder, attempt.PayOrder);
        Assert.Equal(prepared.ExpiresAt, attempt.ExpiresAt);
    }

    [Fact]
    public async Task Paying_for_an_attempt_whose_prepare_failed_moves_the_order_but_not_that_attempt()
    {
        var order = await app.CreateOrderAsync();
        app.Pyun.State.FailNextPrepareWithCode = "500";
        using (var http = app.CreateClient())
        using (var refused = await http.PostAsJsonAsync($"/api/orders/{order.OrderId}/prepare", new { client = "wechat" }))
        {
            Assert.Equal(HttpStatusCode.BadGateway, refused.StatusCode);
        }

        var payOrder = PayOrderNumber.Format(order.OrderId, 1);
        using (var paying = await ProcessAsync(Api.Notification(payOrder, 0, 1000)))
        {
            Assert.Equal(HttpStatusCode.OK, paying.StatusCode);
        }

        Assert.Equal(AttemptStates.PrepareFailed, (await app.Store.GetAttemptAsync(order.OrderId, 1, default))!.State);
        Assert.Equal("Pending", (await app.GetOrderAsync(order.OrderId)).Status);

        using (var failed = await ProcessAsync(Api.Notification(payOrder, -1, 1000)))
        {
            Assert.Equal(HttpStatusCode.OK, failed.StatusCode);
        }

        Assert.Equal(AttemptStates.Failed, (await app.Store.GetAttemptAsync(order.OrderId, 1, default))!.State);
        Assert.Equal("Failed", (await app.GetOrderAsync(order.OrderId)).Status);
    }

    [Fact]
    public async Task A_pay_order_for_an_attempt_the_order_never_made_is_an_orphan_and_changes_nothing()
    {
        var order = await app.CreateOrderAsync();
        await app.PrepareAsync(order.OrderId);
        var before = (await app.Store.GetOrderAsync(order.OrderId, default))!;

        using var response = await ProcessAsync(Api.Notification(PayOrderNumber.Format(order.OrderId, 2), 1, 1000));

        // No retry can make that attempt exist: recorded as an orphan, and the message completed.
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Single(await app.OrphansAsync(PayOrderNumber.Format(order.OrderId, 2)));
        Assert.Equal(before.ETag, (await app.Store.GetOrderAsync(order.OrderId, default))!.ETag);
        Assert.Empty(await app.TimelineAsync(order.OrderId));
    }

    [Fact]
    public async Task The_same_result_again_is_a_duplicate_and_a_different_one_is_still_recorded()
    {
        var order = await app.CreateOrderAsync();
        var prepared = await app.PrepareAsync(order.OrderId);
        using (var paid = await ProcessAsync(Api.Notification(prepared.PayOrder, 1, 1000)))
        {
            Assert.Equal(HttpStatusCode.OK, paid.StatusCode);
        }

        var afterPayment = (await app.Store.GetOrderAsync(order.OrderId, default))!;
        using (var again = await ProcessAsync(Api.Notification(prepared.PayOrder, 1, 1000)))
        {
            Assert.Equal(HttpStatusCode.OK, again.StatusCode);
            Assert.Contains("duplicate", await again.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        Assert.Equal(afterPayment.ETag, (await app.Store.GetOrderAsync(order.OrderId, default))!.ETag);
        using (var late = await ProcessAsync(Api.Notification(prepared.PayOrder, -1, 1000)))
        {
            Assert.Equal(HttpStatusCode.OK, late.StatusCode);
        }

        Assert.Equal(2, (await app.TimelineAsync(order.OrderId)).Count);
        Assert.Equal("Paid", (await app.GetOrderAsync(order.OrderId)).Status);
    }

    [Fact]
    public async Task Of_two_right_payments_the_earlier_is_kept_and_the_displaced_attempt_row_is_flagged_for_refund()
    {
        var order = await app.CreateOrderAsync();
        var first = await app.PrepareAsync(order.OrderId, payer: "o_payer_a");
        var second = await app.PrepareAsync(order.OrderId, payer: "o_payer_b");
        var now = app.Clock.GetUtcNow();

        // The later payment is heard of first; then the earlier one arrives.
        using (var later = await ProcessAsync(Api.Notification(second.PayOrder, 1, 1000, paySerial: "S-LATE", tradeTime: now.AddSeconds(-10))))
        {
            Assert.Equal(HttpStatusCode.OK, later.StatusCode);
        }

        using (var earlier = await ProcessAsync(Api.Notification(first.PayOrder, 1, 1000, paySerial: "S-EARLY", tradeTime: now.AddSeconds(-20))))
        {
            Assert.Equal(HttpStatusCode.OK, earlier.StatusCode);
        }

        var row = (await app.Store.GetOrderAsync(order.OrderId, default))!;
        Assert.Equal(OrderStatus.Paid, row.StatusValue);
        Assert.Equal(first.PayOrder, row.PaidPayOrder);
        Assert.Equal("S-EARLY", row.PaySerial);
        Assert.True(row.RefundRequired);
        var kept = (await app.Store.GetAttemptAsync(order.OrderId, 1, default))!;
        var displaced = (await app.Store.GetAttemptAsync(order.OrderId, 2, default))!;
        Assert.False(kept.RefundRequired);
        Assert.True(displaced.RefundRequired);
        Assert.Equal("S-LATE", displaced.PaySerial);
        Assert.Equal(Transition.DisplacedReason, displaced.RefundReason);
    }
}
