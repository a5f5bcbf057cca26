using Microsoft.Extensions.Logging;
using PaymentFunctions.Orders;
using PaymentFunctions.Tests.Infrastructure;

namespace PaymentFunctions.Tests.Orders;

/// <summary>
/// Money that paid for nothing goes back on its own: the refund rows are written with the P云 result that made them
/// refundable (Azurite; the sending itself is <see cref="RefundFlowTests"/>'). A replay adds nothing.
/// </summary>
public sealed class AutomaticRefundTests(PaymentApp app) : IClassFixture<PaymentApp>
{
    private async Task<RefundEntity> AssertAutomaticRefundAsync(string orderId, int attempt, long amount, string paySerial)
    {
        var refundNo = $"auto-{attempt}";
        var row = (await app.Store.GetRefundAsync(orderId, refundNo, CancellationToken.None))!;
        Assert.NotNull(row);
        Assert.Equal((amount, paySerial, RefundOrigins.Automatic, RefundStatus.Pending, attempt), (row.Amount, row.PaySerial, row.Origin, row.StatusValue, row.AttemptNumber));
        var view = await app.GetRefundAsync(orderId, refundNo);
        Assert.Equal(("automatic", amount), (view.Origin, view.Amount));
        Assert.Contains(await app.TimelineAsync(orderId), t => t.Outcome.Contains($"automatic refund {refundNo} of {amount} fen", StringComparison.Ordinal));
        Assert.Contains(app.Logs.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains($"Automatic refund {refundNo} of order {orderId}", StringComparison.Ordinal));
        var attemptRow = (await app.Store.GetAttemptAsync(orderId, attempt, CancellationToken.None))!;
        Assert.Equal(amount, attemptRow.RefundingAmount);
        Assert.True(attemptRow.RefundRequired);
        return row;
    }

    /// <summary>The same result once more: a duplicate, no second refund, no change of the amounts, nothing queued.</summary>
    private async Task AssertReplayAddsNothingAsync(string orderId, string payOrder, long value, string paySerial, DateTimeOffset? tradeTime = null)
    {
        var before = (await app.Store.GetOrderAsync(orderId, CancellationToken.None))!;
        var refunds = (await app.ListRefundsAsync(orderId)).Refunds.Count;
        var messages = await app.AllMessagesAsync();

        var replay = await app.ApplyPaymentAsync(payOrder, value, paySerial, tradeTime);

        Assert.True(replay.Duplicate);
        Assert.Equal(before.ETag, (await app.Store.GetOrderAsync(orderId, CancellationToken.None))!.ETag);
        Assert.Equal(refunds, (await app.ListRefundsAsync(orderId)).Refunds.Count);
        Assert.Equal(messages, await app.AllMessagesAsync());
    }

    [Fact]
    public async Task A_wrong_amount_is_refunded_in_full_and_its_replay_adds_nothing()
    {
        var order = await app.CreateOrderAsync(amount: 1000);
        var prepared = await app.PrepareAsync(order.OrderId);
        var messages = await app.AllMessagesAsync();

        var result = await app.ApplyPaymentAsync(prepared.PayOrder, 1001, "S-WRONG");

        Assert.Equal(OrderStatus.AmountMismatch, result.To);
        await AssertAutomaticRefundAsync(order.OrderId, 1, 1001, "S-WRONG");
        var view = await app.GetOrderAsync(order.OrderId);
        Assert.Equal(("AmountMismatch", true, 1001L, 0L), (view.Status, view.RefundRequired, view.RefundingAmount, view.RefundedAmount));
        Assert.Equal(messages + 2, await app.AllMessagesAsync()); // its send and its safety net
        await AssertReplayAddsNothingAsync(order.OrderId, prepared.PayOrder, 1001, "S-WRONG");

        // Nothing is left of that payment for a manual refund.
        using var manual = await app.PostRefundAsync(order.OrderId, Refunds.Body("m1", 1));
        Assert.Equal(System.Net.HttpStatusCode.Conflict, manual.StatusCode);
    }

    [Fact]
    public async Task A_payment_after_close_is_refunded_in_full()
    {
        var order = await app.CreateOrderAsync(amount: 1000, expiresAt: app.Clock.GetUtcNow().AddMinutes(2));
        var prepared = await app.PrepareAsync(order.OrderId);
        var paidAt = app.Clock.GetUtcNow().AddMinutes(3);

        var result = await app.ApplyPaymentAsync(prepared.PayOrder, 1000, "S-LATE", paidAt);

        Assert.Equal(OrderStatus.PaidAfterClose, result.To);
        await AssertAutomaticRefundAsync(order.OrderId, 1, 1000, "S-LATE");
        await AssertReplayAddsNothingAsync(order.OrderId, prepared.PayOrder, 1000, "S-LATE", paidAt);
    }

    [Fact]
    public async Task A_second_payment_of_a_paid_order_is_refunded_and_the_first_is_kept()
    {
        var order = await app.CreateOrderAsync(amount: 1000);
        var first = await app.PrepareAsync(order.OrderId, payer: "o_a");
        var second = await app.PrepareAsync(order.OrderId, payer: "o_b");
        var now = app.Clock.GetUtcNow();
        await app.ApplyPaymentAsync(first.PayOrder, 1000, "S-FIRST", now.AddSeconds(-20));

        await app.ApplyPaymentAsync(second.PayOrder, 1000, "S-SECOND", now.AddSeconds(-10));

        var view = await app.GetOrderAsync(order.OrderId);
        Assert.Equal(("Paid", "S-FIRST"), (view.Status, view.PaySerial));
        var refund = Assert.Single((await app.ListRefundsAsync(order.OrderId)).Refunds);
        Assert.Equal("auto-2", refund.RefundNo);
        await AssertAutomaticRefundAsync(order.OrderId, 2, 1000, "S-SECOND");
        await AssertReplayAddsNothingAsync(order.OrderId, second.PayOrder, 1000, "S-SECOND", now.AddSeconds(-10));
    }

    [Fact]
    public async Task A_displaced_payment_is_refunded_for_what_is_left_after_a_manual_refund()
    {
        var order = await app.CreateOrderAsync(amount: 1000);
        var first = await app.PrepareAsync(order.OrderId, payer: "o_a");
        var second = await app.PrepareAsync(order.OrderId, payer: "o_b");
        var now = app.Clock.GetUtcNow();
        // The later payment is heard of first and partly refunded by hand; then the earlier one arrives and takes its place.
        await app.ApplyPaymentAsync(second.PayOrder, 1000, "S-LATER", now.AddSeconds(-10));
        await app.RefundAsync(order.OrderId, "manual-1", 300);

        await app.ApplyPaymentAsync(first.PayOrder, 1000, "S-EARLIER", now.AddSeconds(-20));

        var view = await app.GetOrderAsync(order.OrderId);
        Assert.Equal(("Paid", "S-EARLIER", 1000L), (view.Status, view.PaySerial, view.RefundingAmount));
        var row = (await app.Store.GetRefundAsync(order.OrderId, "auto-2", CancellationToken.None))!;
        Assert.Equal((700L, "S-LATER"), (row.Amount, row.PaySerial));
        var displaced = (await app.Store.GetAttemptAsync(order.OrderId, 2, CancellationToken.None))!;
        Assert.Equal((1000L, Transition.DisplacedReason), (displaced.RefundingAmount, displaced.RefundReason));
        Assert.Null((await app.Store.GetRefundAsync(order.OrderId, "auto-1", CancellationToken.None)));
        await AssertReplayAddsNothingAsync(order.OrderId, first.PayOrder, 1000, "S-EARLIER", now.AddSeconds(-20));
    }

    [Fact]
    public async Task A_right_payment_refunds_nothing()
    {
        var (order, _) = await app.PaidOrderAsync(amount: 1000);

        Assert.Empty((await app.ListRefundsAsync(order.OrderId)).Refunds);
        var view = await app.GetOrderAsync(order.OrderId);
        Assert.Equal((false, 0L, 0L), (view.RefundRequired, view.RefundingAmount, view.RefundedAmount));
    }
}

/// <summary>With <c>Refunds:Automatic</c> off, such payments stay flagged for someone to refund by hand.</summary>
public sealed class AutomaticRefundsOffTests : IAsyncLifetime
{
    private readonly PaymentApp _app = new();

    public async ValueTask InitializeAsync()
    {
        _app.Settings["Refunds:Automatic"] = "false";
        await _app.InitializeAsync();
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    [Fact]
    public async Task A_wrong_amount_stays_flagged_without_a_refund_and_can_be_refunded_by_hand()
    {
        var order = await _app.CreateOrderAsync(amount: 1000);
        var prepared = await _app.PrepareAsync(order.OrderId);
        var messages = await _app.AllMessagesAsync();

        await _app.ApplyPaymentAsync(prepared.PayOrder, 1001, "S-WRONG");

        var view = await _app.GetOrderAsync(order.OrderId);
        Assert.Equal(("AmountMismatch", true, 0L), (view.Status, view.RefundRequired, view.RefundingAmount));
        Assert.Empty((await _app.ListRefundsAsync(order.OrderId)).Refunds);
        Assert.Equal(messages, await _app.AllMessagesAsync());
        Assert.DoesNotContain(_app.Logs.Entries, e => e.Message.Contains("Automatic refund", StringComparison.Ordinal));

        var manual = await _app.RefundAsync(order.OrderId, "by-hand", 1001);
        Assert.Equal("Pending", manual.Status);
    }
}
