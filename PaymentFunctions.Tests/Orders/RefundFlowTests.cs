using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using PaymentFunctions.Fakes.Pyun;
using PaymentFunctions.Orders;
using PaymentFunctions.Pyun;
using PaymentFunctions.Tests.Infrastructure;

namespace PaymentFunctions.Tests.Orders;

internal static class RefundFlow
{
    /// <summary>Short rounds (seconds), so a refund resolves within a test: queue delays are real time.</summary>
    public static PaymentApp WithShortRefundRounds(this PaymentApp app, int maxRounds = 4)
    {
        app.Settings["Refunds:RecoveryDelay"] = "00:00:02";
        app.Settings["Refunds:CheckBackoff"] = "00:00:01";
        app.Settings["Refunds:CheckMaxRounds"] = maxRounds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        // A round after a send waits the request timeout + 2 s: 4 s here. Shorter timeouts make a loaded machine's
        // slow answers look lost, and a refund can then use up its rounds.
        app.Settings["Pyun:RequestTimeout"] = "00:00:02";
        return app;
    }

    /// <summary>An order paid through the fake P云 (so the fake's ledger knows the payment), its notification applied.</summary>
    public static async Task<(OrderView Order, PrepareOrderResponse Attempt, string PaySerial)> PaidAtPyunAsync(this PaymentApp app, long amount = 1000, long? value = null)
    {
        var order = await app.CreateOrderAsync(amount: amount);
        var prepared = await app.PrepareAsync(order.OrderId);
        await app.Pyun.PayAsync(prepared.PayId, new FakePayment(Value: value));
        await app.DrainQueueAsync();
        return (order, prepared, app.Pyun.State.TradesByPayId[prepared.PayId].PaySerial!);
    }

    /// <summary>
    /// Runs the listener until <paramref name="done"/> holds or <paramref name="limit"/> (real time) passes. The app's
    /// clock is a manual one: it is moved on with real time here, as the delayed messages are.
    /// </summary>
    public static async Task<bool> RunUntilAsync(this PaymentApp app, Func<Task<bool>> done, TimeSpan limit)
    {
        var listener = app.CreateListener();
        var watch = Stopwatch.StartNew();
        var last = TimeSpan.Zero;
        while (watch.Elapsed < limit)
        {
            var elapsed = watch.Elapsed;
            app.Clock.Advance(elapsed - last);
            last = elapsed;
            await listener.PollOnceAsync(CancellationToken.None);
            if (await done())
            {
                return true;
            }

            await Task.Delay(200);
        }

        return false;
    }

    /// <summary>
    /// Runs rounds until the refund is final. The limit leaves room for one transient storage failure on a loaded
    /// machine: its message comes back only after the queue's visibility timeout (30 s, host.json).
    /// </summary>
    public static async Task<RefundView> RunUntilFinalAsync(this PaymentApp app, string orderId, string refundNo, int seconds = 90)
    {
        var final = await app.RunUntilAsync(async () => (await app.GetRefundAsync(orderId, refundNo)).Status != "Pending", TimeSpan.FromSeconds(seconds));
        Assert.True(final, $"refund {refundNo} is still Pending; the app logged: " + string.Join(" | ", app.Logs.Entries
            .Where(e => e.Level >= LogLevel.Warning).TakeLast(8).Select(e => $"{e.Level} {e.Category}: {e.Message} {e.Exception?.GetType().Name} {e.Exception?.Message}")));
        return await app.GetRefundAsync(orderId, refundNo);
    }

    public static async Task<RefundEntity> RefundRowAsync(this PaymentApp app, string orderId, string refundNo) =>
        (await app.Store.GetRefundAsync(orderId, refundNo, CancellationToken.None))!;

    public static FakePyunRefunds Refunds(this PaymentApp app) => app.Pyun.State.Refunds;
}

/// <summary>P云 refunds end to end: the app, Azurite, the queue listener and the fake P云's refund ledger.</summary>
[Trait("Category", "Slow")] // real-time queue delays (refund rounds of seconds)
public sealed class RefundFlowTests : IAsyncLifetime
{
    private readonly PaymentApp _app = new PaymentApp().WithShortRefundRounds();

    public async ValueTask InitializeAsync() => await _app.InitializeAsync();

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    [Fact]
    public async Task A_refund_is_sent_once_and_polled_until_it_succeeded()
    {
        var (order, _, paySerial) = await _app.PaidAtPyunAsync(amount: 1000);
        _app.Refunds().QueriesWhileRefunding = 1;

        await _app.RefundAsync(order.OrderId, "r1", 400, "停车费多收");
        var refund = await _app.RunUntilFinalAsync(order.OrderId, "r1");

        var row = await _app.RefundRowAsync(order.OrderId, "r1");
        var atPyun = _app.Refunds().ByOrder[row.PyunOrder];
        Assert.Equal(("Succeeded", atPyun.RefundSerial), (refund.Status, refund.RefundSerial));
        Assert.NotNull(refund.CompletedAt);
        Assert.Equal((paySerial, 400L, "停车费多收"), (atPyun.PaySerial, atPyun.Value, atPyun.Reason));
        Assert.Equal(1, _app.Refunds().CreatesFor(row.PyunOrder));
        Assert.Equal(2, _app.Refunds().QueriesFor(row.PyunOrder)); // refunding, then succeeded
        Assert.Equal(600, _app.Refunds().RefundableBalance(paySerial));

        var view = await _app.GetOrderAsync(order.OrderId);
        Assert.Equal((400L, 0L, "Paid"), (view.RefundedAmount, view.RefundingAmount, view.Status));
        var attempt = (await _app.Store.GetAttemptAsync(order.OrderId, 1, CancellationToken.None))!;
        Assert.Equal((400L, 0L), (attempt.RefundedAmount, attempt.RefundingAmount));
        Assert.Contains(await _app.TimelineAsync(order.OrderId), t => t.RowKey == "evt-refund-r1-Succeeded");

        // What is left can be refunded; no more.
        using var over = await _app.PostRefundAsync(order.OrderId, Refunds.Body("r2", 601));
        Assert.Equal(HttpStatusCode.Conflict, over.StatusCode);
        await _app.RefundAsync(order.OrderId, "r2", 600);
        Assert.Equal("Succeeded", (await _app.RunUntilFinalAsync(order.OrderId, "r2")).Status);
        Assert.Equal(1000, (await _app.GetOrderAsync(order.OrderId)).RefundedAmount);
        Assert.Equal(0, _app.Refunds().RefundableBalance(paySerial));
    }

    [Fact]
    public async Task Refused_requests_send_nothing_to_Pyun_and_store_nothing()
    {
        var (order, _, paySerial) = await _app.PaidAtPyunAsync(amount: 1000);
        await _app.RefundAsync(order.OrderId, "ok", 100, "a");
        var unpaid = await _app.CreateOrderAsync();

        foreach (var (orderId, body, status) in new (string, object, HttpStatusCode)[]
                 {
                     (order.OrderId, Refunds.Body("over", 901), HttpStatusCode.Conflict),
                     (order.OrderId, Refunds.Body("zero", 0), HttpStatusCode.BadRequest),
                     (order.OrderId, Refunds.Body("negative", -1), HttpStatusCode.BadRequest),
                     (order.OrderId, Refunds.Body("auto-1", 1), HttpStatusCode.BadRequest),
                     (order.OrderId, Refunds.Body("ok", 100, "b"), HttpStatusCode.Conflict),
                     (unpaid.OrderId, Refunds.Body("unpaid", 1), HttpStatusCode.Conflict),
                     ("abcdefghijklmnopqrstuvwx", Refunds.Body("unknown", 1), HttpStatusCode.NotFound),
                 })
        {
            using var response = await _app.PostRefundAsync(orderId, body);
            Assert.Equal(status, response.StatusCode);
            await response.ProblemAsync();
        }

        // Past every safety net's delay: only the one accepted refund ever reached P云.
        Assert.Equal("Succeeded", (await _app.RunUntilFinalAsync(order.OrderId, "ok")).Status);
        await _app.RunUntilAsync(() => Task.FromResult(false), TimeSpan.FromSeconds(4));
        Assert.Equal(1, _app.Refunds().CreatesReceived);
        Assert.Equal(900, _app.Refunds().RefundableBalance(paySerial));
        Assert.Single((await _app.ListRefundsAsync(order.OrderId)).Refunds);
        Assert.Empty((await _app.ListRefundsAsync(unpaid.OrderId)).Refunds);
    }

    [Theory]
    [InlineData(FakeRefundFault.InsufficientBalance, "1003")]
    [InlineData(FakeRefundFault.NotPermitted, "1403")]
    [InlineData(FakeRefundFault.AlreadyRefunded, "1405")]
    public async Task A_refund_Pyun_refuses_is_Failed_with_its_reason_and_its_amount_is_released(FakeRefundFault fault, string code)
    {
        var (order, _, _) = await _app.PaidAtPyunAsync(amount: 1000);
        _app.Refunds().FailNextCreate(fault);

        await _app.RefundAsync(order.OrderId, "refused", 1000);
        var refund = await _app.RunUntilFinalAsync(order.OrderId, "refused");

        Assert.Equal("Failed", refund.Status);
        Assert.StartsWith($"P云 {code}: ", refund.FailureReason, StringComparison.Ordinal);
        Assert.NotNull(refund.CompletedAt);
        var view = await _app.GetOrderAsync(order.OrderId);
        Assert.Equal((0L, 0L), (view.RefundedAmount, view.RefundingAmount));
        Assert.Contains(await _app.TimelineAsync(order.OrderId), t => t.RowKey == "evt-refund-refused-Failed");
        // A failed refund never moves again, and the whole payment can be refunded again.
        await _app.RefundAsync(order.OrderId, "again", 1000);
        Assert.Equal("Succeeded", (await _app.RunUntilFinalAsync(order.OrderId, "again")).Status);
        Assert.Equal("Failed", (await _app.GetRefundAsync(order.OrderId, "refused")).Status);
    }

    [Fact]
    public async Task A_refund_that_ends_failed_at_Pyun_is_Failed_and_releases_its_amount()
    {
        var (order, _, _) = await _app.PaidAtPyunAsync(amount: 1000);
        _app.Refunds().FailNextCreate(FakeRefundFault.EndsFailed);

        await _app.RefundAsync(order.OrderId, "ends-failed", 500);

        Assert.Equal("Failed", (await _app.RunUntilFinalAsync(order.OrderId, "ends-failed")).Status);
        Assert.Equal(0, (await _app.GetOrderAsync(order.OrderId)).RefundingAmount);
    }

    [Theory]
    [InlineData(FakeRefundFault.Http500)]
    [InlineData(FakeRefundFault.Hang)]
    public async Task A_send_that_got_no_answer_is_asked_about_then_sent_again_and_refunded_once(FakeRefundFault fault)
    {
        var (order, _, paySerial) = await _app.PaidAtPyunAsync(amount: 1000);
        _app.Refunds().HangFor = TimeSpan.FromSeconds(8);
        _app.Refunds().FailNextCreate(fault);

        await _app.RefundAsync(order.OrderId, "lost", 300);
        var refund = await _app.RunUntilFinalAsync(order.OrderId, "lost");

        var row = await _app.RefundRowAsync(order.OrderId, "lost");
        Assert.Equal("Succeeded", refund.Status);
        // The lost create, then (P云 had nothing: query first) the identical one; one refund at P云.
        Assert.Equal(2, _app.Refunds().CreatesFor(row.PyunOrder));
        Assert.True(_app.Refunds().QueriesFor(row.PyunOrder) >= 2);
        Assert.Single(_app.Refunds().ByOrder.Values, r => r.PaySerial == paySerial);
        Assert.Equal(700, _app.Refunds().RefundableBalance(paySerial));
        Assert.Contains(_app.Logs.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("did not answer about refund lost", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_send_Pyun_took_but_whose_answer_was_lost_is_adopted_and_never_sent_twice()
    {
        var (order, _, paySerial) = await _app.PaidAtPyunAsync(amount: 1000);
        _app.Refunds().FailNextCreate(FakeRefundFault.Http500AfterCreate);

        await _app.RefundAsync(order.OrderId, "taken", 300);
        var refund = await _app.RunUntilFinalAsync(order.OrderId, "taken");

        var row = await _app.RefundRowAsync(order.OrderId, "taken");
        Assert.Equal("Succeeded", refund.Status);
        Assert.Equal(1, _app.Refunds().CreatesFor(row.PyunOrder));
        Assert.Equal(700, _app.Refunds().RefundableBalance(paySerial));
    }

    [Fact]
    public async Task The_same_round_delivered_many_times_at_once_is_sent_once()
    {
        var (order, _, paySerial) = await _app.PaidAtPyunAsync(amount: 1000);
        await _app.RefundAsync(order.OrderId, "dup", 200);
        var scheduler = _app.Services.GetRequiredService<PyunRefundScheduler>();
        for (var i = 0; i < 5; i++)
        {
            await scheduler.ScheduleAsync(order.OrderId, "dup", 0, null, CancellationToken.None);
        }

        // Two listeners at once, as two instances would run: six round-0 messages race for one claim.
        await Task.WhenAll(_app.DrainQueueAsync(), _app.DrainQueueAsync());
        var refund = await _app.RunUntilFinalAsync(order.OrderId, "dup");

        var row = await _app.RefundRowAsync(order.OrderId, "dup");
        Assert.Equal("Succeeded", refund.Status);
        Assert.Equal(1, _app.Refunds().CreatesFor(row.PyunOrder));
        Assert.Equal(800, _app.Refunds().RefundableBalance(paySerial));
    }

    [Fact]
    public async Task A_crash_between_the_claim_and_the_call_asks_first_and_then_sends_once()
    {
        var (order, _, paySerial) = await _app.PaidAtPyunAsync(amount: 1000);
        await _app.RefundAsync(order.OrderId, "crashed", 250);
        // What a handler that died right after claiming round 0 leaves: the claim, and its next round queued (not the send).
        var row = await _app.RefundRowAsync(order.OrderId, "crashed");
        Assert.True(RefundLifecycle.TryClaimRound(row, 0, _app.Clock.GetUtcNow().AddMinutes(-1)));
        Assert.True(await _app.Store.TrySaveRefundAsync(row, CancellationToken.None));
        await _app.Services.GetRequiredService<PyunRefundScheduler>().ScheduleAsync(order.OrderId, "crashed", 1, null, CancellationToken.None);

        var refund = await _app.RunUntilFinalAsync(order.OrderId, "crashed");

        Assert.Equal("Succeeded", refund.Status);
        Assert.Equal(1, _app.Refunds().CreatesFor(row.PyunOrder));
        Assert.True(_app.Refunds().QueriesFor(row.PyunOrder) >= 2); // "not found" before the send, then its outcome
        Assert.Equal(750, _app.Refunds().RefundableBalance(paySerial));
    }

    [Fact]
    public async Task A_crash_after_the_call_reached_Pyun_adopts_its_refund_without_sending_again()
    {
        var (order, _, paySerial) = await _app.PaidAtPyunAsync(amount: 1000);
        await _app.RefundAsync(order.OrderId, "sent-then-crashed", 250);
        var row = await _app.RefundRowAsync(order.OrderId, "sent-then-crashed");
        Assert.True(RefundLifecycle.TryClaimRound(row, 0, _app.Clock.GetUtcNow().AddMinutes(-1)));
        Assert.True(await _app.Store.TrySaveRefundAsync(row, CancellationToken.None));
        // The send the dead handler made, exactly as it makes it.
        var pyun = _app.Services.GetRequiredService<PyunClient>();
        Assert.Equal(PyunRefundAnswerKind.Accepted, (await pyun.CreateRefundAsync(new PyunRefundRequest(row.PyunOrder, row.PaySerial, row.Amount, row.Reason), CancellationToken.None)).Kind);
        await _app.Services.GetRequiredService<PyunRefundScheduler>().ScheduleAsync(order.OrderId, "sent-then-crashed", 1, null, CancellationToken.None);

        var refund = await _app.RunUntilFinalAsync(order.OrderId, "sent-then-crashed");

        Assert.Equal("Succeeded", refund.Status);
        Assert.Equal(1, _app.Refunds().CreatesFor(row.PyunOrder));
        Assert.Equal(750, _app.Refunds().RefundableBalance(paySerial));
    }

    [Fact]
    public async Task A_refund_still_refunding_after_the_last_round_stays_Pending_with_one_alert()
    {
        var (order, _, _) = await _app.PaidAtPyunAsync(amount: 1000);
        _app.Refunds().QueriesWhileRefunding = 1000;

        await _app.RefundAsync(order.OrderId, "slow", 100);
        var alerted = await _app.RunUntilAsync(
            () => Task.FromResult(_app.Logs.Entries.Any(e => e.Message.Contains("ALERT refund slow", StringComparison.Ordinal))), TimeSpan.FromSeconds(60));

        Assert.True(alerted);
        var row = await _app.RefundRowAsync(order.OrderId, "slow");
        Assert.Equal((RefundStatus.Pending, RefundStages.Sent), (row.StatusValue, row.Stage));
        Assert.Equal(1, _app.Refunds().CreatesFor(row.PyunOrder));
        Assert.Equal(4, _app.Refunds().QueriesFor(row.PyunOrder)); // Refunds:CheckMaxRounds
        Assert.Single(_app.Logs.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("ALERT refund slow", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_answer_about_another_payment_is_recorded_and_alerted_never_applied()
    {
        var (order, _, _) = await _app.PaidAtPyunAsync(amount: 1000);
        _app.Refunds().QueriesWhileRefunding = 1;
        await _app.RefundAsync(order.OrderId, "foreign", 100);
        _app.Refunds().TamperNextQueryAnswer(p =>
        {
            p["pay_serial"] = "5030-NOT-OURS";
            p["process"] = 1;
        });

        Assert.True(await _app.RunUntilAsync(async () => (await _app.TimelineAsync(order.OrderId)).Any(t => t.RowKey.StartsWith("evt-refund-foreign-foreign-", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(30)));
        Assert.Contains(_app.Logs.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("ALERT P云 answered about refund foreign", StringComparison.Ordinal));
        // The real answer (the next query) still settles it.
        Assert.Equal("Succeeded", (await _app.RunUntilFinalAsync(order.OrderId, "foreign")).Status);
        Assert.Equal(100, (await _app.GetOrderAsync(order.OrderId)).RefundedAmount);
    }
}

/// <summary>Money that paid for nothing, end to end: refunded by itself through the fake P云, once, whatever is replayed.</summary>
[Trait("Category", "Slow")] // real-time queue delays (refund rounds of seconds)
public sealed class AutomaticRefundFlowTests : IAsyncLifetime
{
    private readonly PaymentApp _app = new PaymentApp().WithShortRefundRounds();

    public async ValueTask InitializeAsync() => await _app.InitializeAsync();

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    private async Task AssertRefundedOnceAsync(string orderId, string refundNo, long amount, string paySerial)
    {
        var refund = await _app.RunUntilFinalAsync(orderId, refundNo);
        Assert.Equal(("Succeeded", "automatic", amount), (refund.Status, refund.Origin, refund.Amount));
        Assert.Contains(await _app.ListRefundsAsync(orderId) is var list ? list.Refunds : [], r => r.RefundNo == refundNo);
        Assert.Equal(amount, (await _app.GetOrderAsync(orderId)).RefundedAmount);
        Assert.Single(_app.Refunds().ByOrder.Values, r => r.PaySerial == paySerial);
        Assert.Equal(0, _app.Refunds().RefundableBalance(paySerial));
    }

    /// <summary>P云 sends the payment's notification again: the app applies it as a duplicate and refunds nothing more.</summary>
    private async Task ReplayAsync(string payId, string orderId)
    {
        var creates = _app.Refunds().CreatesReceived;
        var delivery = await FakePyun.NotifyAsync(_app.Pyun.State, _app.Pyun.State.TradesByPayId[payId], _app.CreateClient(), CancellationToken.None);
        Assert.Equal(200, delivery.HttpStatus);
        await _app.RunUntilAsync(() => Task.FromResult(false), TimeSpan.FromSeconds(4));
        Assert.Equal(creates, _app.Refunds().CreatesReceived);
        Assert.Single((await _app.ListRefundsAsync(orderId)).Refunds);
    }

    [Fact]
    public async Task A_payment_of_the_wrong_amount_is_refunded_in_full_once()
    {
        var (order, prepared, paySerial) = await _app.PaidAtPyunAsync(amount: 1000, value: 1200);

        Assert.Equal("AmountMismatch", (await _app.GetOrderAsync(order.OrderId)).Status);
        await AssertRefundedOnceAsync(order.OrderId, "auto-1", 1200, paySerial);
        await ReplayAsync(prepared.PayId, order.OrderId);
    }

    [Fact]
    public async Task A_second_payment_of_a_paid_order_is_refunded_and_the_first_kept()
    {
        var order = await _app.CreateOrderAsync(amount: 1000);
        var first = await _app.PrepareAsync(order.OrderId, payer: "o_a");
        var second = await _app.PrepareAsync(order.OrderId, payer: "o_b");
        await _app.Pyun.PayAsync(first.PayId);
        await _app.DrainQueueAsync();
        _app.Clock.Advance(TimeSpan.FromSeconds(5));
        await _app.Pyun.PayAsync(second.PayId);
        await _app.DrainQueueAsync();

        var secondSerial = _app.Pyun.State.TradesByPayId[second.PayId].PaySerial!;
        await AssertRefundedOnceAsync(order.OrderId, "auto-2", 1000, secondSerial);
        var view = await _app.GetOrderAsync(order.OrderId);
        Assert.Equal(("Paid", _app.Pyun.State.TradesByPayId[first.PayId].PaySerial), (view.Status, view.PaySerial));
        Assert.Equal(1000, _app.Refunds().RefundableBalance(view.PaySerial!));
        await ReplayAsync(second.PayId, order.OrderId);
    }

    [Fact]
    public async Task A_payment_after_close_is_refunded_in_full()
    {
        var order = await _app.CreateOrderAsync(amount: 1000, expiresAt: _app.Clock.GetUtcNow().AddMinutes(2));
        var prepared = await _app.PrepareAsync(order.OrderId);
        _app.Clock.Advance(TimeSpan.FromMinutes(3));
        await _app.Pyun.PayAsync(prepared.PayId);
        await _app.DrainQueueAsync();

        Assert.Equal("PaidAfterClose", (await _app.GetOrderAsync(order.OrderId)).Status);
        await AssertRefundedOnceAsync(order.OrderId, "auto-1", 1000, _app.Pyun.State.TradesByPayId[prepared.PayId].PaySerial!);
    }
}

/// <summary>Storage failing between the steps of storing a refund (Azurite behind a proxy the test cuts).</summary>
[Trait("Category", "Slow")] // real-time queue delays (refund rounds of seconds)
public sealed class RefundCrashTests : IAsyncLifetime
{
    private readonly TcpProxy _queue = new(10001);
    private readonly TcpProxy _table = new(10002);
    private readonly PaymentApp _app = new PaymentApp().WithShortRefundRounds();

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

    [Fact]
    public async Task A_refund_whose_send_cannot_be_queued_after_it_was_stored_is_sent_by_its_safety_net_once()
    {
        var (order, _, paySerial) = await _app.PaidAtPyunAsync(amount: 1000);
        var scheduler = _app.Services.GetRequiredService<PyunRefundScheduler>();
        scheduler.BeforeSendNow = () =>
        {
            _queue.Cut(); // the refund is stored; the queue goes away before its send is queued
            return Task.CompletedTask;
        };

        try
        {
            await _app.RefundAsync(order.OrderId, "net", 300); // still 202: the safety net is queued
        }
        finally
        {
            scheduler.BeforeSendNow = null;
            _queue.Restore();
        }

        Assert.Contains(_app.Logs.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("Could not queue the send of refund net", StringComparison.Ordinal));
        var row = await _app.RefundRowAsync(order.OrderId, "net");
        Assert.Equal((RefundStages.New, 0), (row.Stage, row.Rounds));

        Assert.Equal("Succeeded", (await _app.RunUntilFinalAsync(order.OrderId, "net")).Status);
        Assert.Equal(1, _app.Refunds().CreatesFor(row.PyunOrder));
        Assert.Equal(700, _app.Refunds().RefundableBalance(paySerial));
    }

    [Fact]
    public async Task A_refund_whose_safety_net_cannot_be_queued_is_refused_and_nothing_is_stored()
    {
        var (order, _, _) = await _app.PaidAtPyunAsync(amount: 1000);
        var before = (await _app.Store.GetOrderAsync(order.OrderId, CancellationToken.None))!;

        _queue.Cut();
        try
        {
            using var response = await _app.PostRefundAsync(order.OrderId, Refunds.Body("no-net", 300));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            await response.ProblemAsync();
        }
        finally
        {
            _queue.Restore();
        }

        Assert.Equal(before.ETag, (await _app.Store.GetOrderAsync(order.OrderId, CancellationToken.None))!.ETag);
        Assert.Empty((await _app.ListRefundsAsync(order.OrderId)).Refunds);
        Assert.Equal(0, _app.Refunds().CreatesReceived);
    }
}
