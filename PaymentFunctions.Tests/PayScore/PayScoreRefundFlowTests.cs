using System.Net.Http.Json;
using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using PaymentFunctions.Fakes.WeChatPay;
using PaymentFunctions.PayScore;
using PaymentFunctions.Tests.Infrastructure;
using PaymentFunctions.WeChatPay;

namespace PaymentFunctions.Tests.PayScore;

/// <summary>The app against Azurite and the fake WeChat Pay with refunds, follow-up rounds a second apart (real queue delays).</summary>
internal sealed class RefundFlowApp : IAsyncDisposable
{
    private RefundFlowApp(PaymentApp app) => App = app;

    public PaymentApp App { get; }

    public FakeWeChatPayState WeChat => App.WeChat!.State;

    public static async Task<RefundFlowApp> StartAsync(string mode = "Direct", string recoveryDelay = "00:10:00", int maxRounds = 3)
    {
        var app = new PaymentApp().EnableWeChatPay(mode);
        app.Settings["Refunds:RecoveryDelay"] = recoveryDelay;
        app.Settings["Refunds:CheckBackoff"] = "00:00:01";
        app.Settings["Refunds:CheckMaxRounds"] = maxRounds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        await app.InitializeAsync();
        app.WeChat!.State.CallbackHttp = app.CreateClient;
        return new RefundFlowApp(app);
    }

    /// <summary>Runs the queue (and the fake's callbacks) until <paramref name="done"/> holds; delayed rounds show up on real time.</summary>
    public async Task RunUntilAsync(Func<Task<bool>> done, string what, int seconds = 20)
    {
        var until = DateTime.UtcNow.AddSeconds(seconds);
        while (true)
        {
            await WeChat.WhenRefundCallbacksSentAsync();
            await App.DrainQueueAsync();
            if (await done())
            {
                return;
            }

            Assert.True(DateTime.UtcNow < until, $"timed out waiting for {what}");
            await Task.Delay(200);
        }
    }

    public Task RunUntilStatusAsync(string outOrderNo, string outRefundNo, string status, string? weChatStatus = null) =>
        RunUntilAsync(async () => await App.StoredRefundAsync(outOrderNo, outRefundNo) is { } r && r.Status == status && (weChatStatus is null || r.WeChatStatus == weChatStatus),
            $"refund {outRefundNo} {status} {weChatStatus}");

    public async Task<string> RefundAsync(string outOrderNo, long amount = 100)
    {
        var outRefundNo = PayScoreRefundApi.NewOutRefundNo();
        using var response = await App.RefundAsync(outOrderNo, PayScoreRefundApi.RefundBody(outRefundNo, amount));
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        return outRefundNo;
    }

    public List<PayScoreRefundApi.FakeRequest> Creates(string outRefundNo) =>
        [.. App.RefundCalls(outRefundNo).Where(r => r.Method == "POST")];

    public int Alerts(string outRefundNo) =>
        App.Logs.Entries.Count(e => e.Level == LogLevel.Warning && e.Message.StartsWith("ALERT", StringComparison.Ordinal) && e.Message.Contains(outRefundNo, StringComparison.Ordinal));

    public ValueTask DisposeAsync() => App.DisposeAsync();
}

/// <summary>Refunds end to end: sent by transaction_id, settled by callback or by polling, refused, retried query-first, recovered after a crash.</summary>
public sealed class PayScoreRefundFlowTests
{
    [Theory]
    [InlineData("Direct")]
    [InlineData("Partner")]
    public async Task A_refund_is_sent_by_transaction_id_and_settled_by_its_callback(string mode)
    {
        await using var flow = await RefundFlowApp.StartAsync(mode);
        var app = flow.App;
        var outOrderNo = await app.PaidOrderAsync(300);
        var transactionId = (await app.PayScoreOrderAsync(outOrderNo))!.TransactionId!;
        var outRefundNo = await flow.RefundAsync(outOrderNo, 100);

        await flow.RunUntilStatusAsync(outOrderNo, outRefundNo, RefundStatuses.Pending, RefundStates.Processing);
        var create = Assert.Single(flow.Creates(outRefundNo));
        Assert.Equal(WeChatPayClient.RefundPath, create.Target);
        using (var body = JsonDocument.Parse(create.Body))
        {
            var root = body.RootElement;
            Assert.Equal(transactionId, root.GetProperty("transaction_id").GetString());
            Assert.False(root.TryGetProperty("out_trade_no", out _));
            Assert.DoesNotContain(outOrderNo, create.Body, StringComparison.Ordinal);
            Assert.Equal((100, 300, "CNY"), (root.GetProperty("amount").GetProperty("refund").GetInt64(), root.GetProperty("amount").GetProperty("total").GetInt64(),
                root.GetProperty("amount").GetProperty("currency").GetString()));
            Assert.Equal(mode == "Partner" ? PaymentApp.SubMchId : null, root.TryGetProperty("sub_mchid", out var sub) ? sub.GetString() : null);
        }

        Assert.Equal(HttpStatusCode.NoContent, await flow.WeChat.SettleRefundAsync(outRefundNo, RefundStates.Success));
        await flow.RunUntilStatusAsync(outOrderNo, outRefundNo, RefundStatuses.Succeeded);

        using var read = await app.GetRefundAsync(outOrderNo, outRefundNo);
        var view = await read.ReadRefundAsync();
        Assert.Equal((RefundStatuses.Succeeded, RefundStates.Success), (view.Status, view.WeChatStatus));
        Assert.NotNull(view.RefundId);
        Assert.NotNull(view.CompletedAt);
        var order = (await app.PayScoreOrderAsync(outOrderNo))!;
        Assert.Equal((0L, 100L), (order.RefundingAmount, order.RefundedAmount));
        Assert.Single(flow.Creates(outRefundNo));

        // The order's own answer shows what went back.
        using var http = app.CreateClient();
        using var queried = await http.PostAsJsonAsync("/api/payscore/orders/query", new { outOrderNo });
        var shown = System.Text.Json.JsonDocument.Parse(await queried.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal((100L, 0L), (shown.GetProperty("refundedAmount").GetInt64(), shown.GetProperty("refundingAmount").GetInt64()));
    }

    [Fact]
    public async Task Without_callbacks_the_follow_up_query_settles_the_refund()
    {
        await using var flow = await RefundFlowApp.StartAsync();
        flow.WeChat.SuppressRefundCallbacks = true;
        var outOrderNo = await flow.App.PaidOrderAsync(300);
        var outRefundNo = await flow.RefundAsync(outOrderNo, 300);

        await flow.RunUntilStatusAsync(outOrderNo, outRefundNo, RefundStatuses.Succeeded);

        Assert.Contains(flow.App.RefundCalls(outRefundNo), r => r.Method == "GET");
        Assert.DoesNotContain(flow.WeChat.RefundCallbacks, c => c.OutRefundNo == outRefundNo);
        Assert.Equal(300, (await flow.App.PayScoreOrderAsync(outOrderNo))!.RefundedAmount);
    }

    [Fact]
    public async Task A_refund_that_stays_processing_is_queried_for_the_configured_rounds_then_alerted()
    {
        await using var flow = await RefundFlowApp.StartAsync(maxRounds: 2);
        flow.WeChat.SuppressRefundCallbacks = true;
        flow.WeChat.RefundSettleAfterQueries = 0;
        var outOrderNo = await flow.App.PaidOrderAsync(300);
        var outRefundNo = await flow.RefundAsync(outOrderNo);

        await flow.RunUntilAsync(async () => (await flow.App.StoredRefundAsync(outOrderNo, outRefundNo))!.Rounds == 2 && flow.Alerts(outRefundNo) == 1, "the rounds to run out");
        await Task.Delay(1500);
        await flow.App.DrainQueueAsync();

        var refund = (await flow.App.StoredRefundAsync(outOrderNo, outRefundNo))!;
        Assert.Equal((RefundStatuses.Pending, RefundStates.Processing), (refund.Status, refund.WeChatStatus));
        Assert.Equal(2, flow.App.RefundCalls(outRefundNo).Count(r => r.Method == "GET"));
        Assert.Single(flow.Creates(outRefundNo));
        Assert.Equal(1, flow.Alerts(outRefundNo));
    }

    [Fact]
    public async Task Not_enough_balance_fails_the_refund_with_WeChats_reason_and_releases_its_amount()
    {
        await using var flow = await RefundFlowApp.StartAsync();
        var outOrderNo = await flow.App.PaidOrderAsync(300);
        flow.WeChat.FailNextRefundCreate(FakeRefundFailure.NotEnough);
        var outRefundNo = await flow.RefundAsync(outOrderNo, 300);

        await flow.RunUntilStatusAsync(outOrderNo, outRefundNo, RefundStatuses.Failed);

        var refund = (await flow.App.StoredRefundAsync(outOrderNo, outRefundNo))!;
        Assert.StartsWith("NOT_ENOUGH:", refund.FailureReason, StringComparison.Ordinal);
        Assert.Equal("NOT_ENOUGH", refund.WeChatStatus);
        Assert.Single(flow.Creates(outRefundNo));
        Assert.Equal(0, (await flow.App.PayScoreOrderAsync(outOrderNo))!.RefundingAmount);

        flow.App.Clock.Advance(TimeSpan.FromMinutes(1));
        var again = await flow.RefundAsync(outOrderNo, 300); // the whole amount is refundable again
        await flow.RunUntilStatusAsync(outOrderNo, again, RefundStatuses.Pending, RefundStates.Processing);
    }

    [Fact]
    public async Task A_500_after_WeChat_created_the_refund_is_followed_by_a_query_not_a_second_create()
    {
        await using var flow = await RefundFlowApp.StartAsync();
        var outOrderNo = await flow.App.PaidOrderAsync(300);
        flow.WeChat.FailNextRefundCreate(FakeRefundFailure.SystemErrorAfterCreate);
        var outRefundNo = await flow.RefundAsync(outOrderNo);
        await flow.App.DrainQueueAsync();
        Assert.Equal((RefundStatuses.Pending, RefundStages.Sending), ((await flow.App.StoredRefundAsync(outOrderNo, outRefundNo))!.Status, (await flow.App.StoredRefundAsync(outOrderNo, outRefundNo))!.Stage));
        Assert.True(flow.WeChat.HasRefund(outRefundNo));

        flow.App.Clock.Advance(TimeSpan.FromSeconds(30)); // the claim is stale: whoever looks next asks WeChat first
        await flow.RunUntilStatusAsync(outOrderNo, outRefundNo, RefundStatuses.Succeeded);

        Assert.Equal(1, flow.WeChat.RefundCreateCount(outRefundNo));
        Assert.Contains(flow.App.RefundCalls(outRefundNo), r => r.Method == "GET");
    }

    [Fact]
    public async Task A_rate_limited_create_is_resent_identically_once_a_query_finds_nothing()
    {
        await using var flow = await RefundFlowApp.StartAsync();
        var outOrderNo = await flow.App.PaidOrderAsync(300);
        flow.WeChat.FailNextRefundCreate(FakeRefundFailure.FrequencyLimited);
        var outRefundNo = await flow.RefundAsync(outOrderNo);
        await flow.App.DrainQueueAsync();
        Assert.False(flow.WeChat.HasRefund(outRefundNo));

        flow.App.Clock.Advance(TimeSpan.FromSeconds(30));
        await flow.RunUntilAsync(() => Task.FromResult(flow.WeChat.HasRefund(outRefundNo)), "the resend");

        var creates = flow.Creates(outRefundNo);
        Assert.Equal(2, creates.Count);
        Assert.Equal(creates[0].Body, creates[1].Body);
        var calls = flow.App.RefundCalls(outRefundNo);
        Assert.Equal("GET", calls[1].Method); // the query came between the two creates
        await flow.RunUntilStatusAsync(outOrderNo, outRefundNo, RefundStatuses.Succeeded);
    }

    [Fact]
    public async Task Abnormal_then_success_alerts_once_and_completes()
    {
        await using var flow = await RefundFlowApp.StartAsync();
        var outOrderNo = await flow.App.PaidOrderAsync(300);
        var outRefundNo = await flow.RefundAsync(outOrderNo);
        await flow.RunUntilStatusAsync(outOrderNo, outRefundNo, RefundStatuses.Pending, RefundStates.Processing);

        Assert.Equal(HttpStatusCode.NoContent, await flow.WeChat.SettleRefundAsync(outRefundNo, RefundStates.Abnormal));
        await flow.RunUntilStatusAsync(outOrderNo, outRefundNo, RefundStatuses.Pending, RefundStates.Abnormal);
        Assert.Equal(1, flow.Alerts(outRefundNo));

        Assert.Equal(HttpStatusCode.NoContent, await flow.WeChat.SettleRefundAsync(outRefundNo, RefundStates.Success));
        await flow.RunUntilStatusAsync(outOrderNo, outRefundNo, RefundStatuses.Succeeded);
        Assert.Equal(1, flow.Alerts(outRefundNo));
    }

    [Fact]
    public async Task Closed_by_WeChat_fails_the_refund_and_a_later_success_callback_changes_nothing()
    {
        await using var flow = await RefundFlowApp.StartAsync();
        var outOrderNo = await flow.App.PaidOrderAsync(300);
        var outRefundNo = await flow.RefundAsync(outOrderNo);
        await flow.RunUntilStatusAsync(outOrderNo, outRefundNo, RefundStatuses.Pending, RefundStates.Processing);

        Assert.Equal(HttpStatusCode.NoContent, await flow.WeChat.SettleRefundAsync(outRefundNo, RefundStates.Closed));
        await flow.RunUntilStatusAsync(outOrderNo, outRefundNo, RefundStatuses.Failed, RefundStates.Closed);
        Assert.Equal(0, (await flow.App.PayScoreOrderAsync(outOrderNo))!.RefundingAmount);

        // The same callback delivered again: one transition only.
        var before = await flow.App.PartitionAsync(outOrderNo);
        var callback = flow.WeChat.BuildRefundCallback(outRefundNo);
        using (var again = await flow.App.PostCallbackAsync(callback.Headers, callback.Body))
        {
            Assert.Equal(HttpStatusCode.NoContent, again.StatusCode);
        }

        await flow.App.DrainQueueAsync();
        Assert.Equal(before, await flow.App.PartitionAsync(outOrderNo));
    }

    [Fact]
    public async Task Duplicate_send_messages_and_the_safety_net_create_the_refund_once()
    {
        await using var flow = await RefundFlowApp.StartAsync(recoveryDelay: "00:00:02");
        var outOrderNo = await flow.App.PaidOrderAsync(300);
        var outRefundNo = await flow.RefundAsync(outOrderNo);
        var scheduler = Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<PayScoreRefundScheduler>(flow.App.Services);
        for (var i = 0; i < 3; i++)
        {
            await scheduler.ScheduleAsync(outOrderNo, outRefundNo, 0, null, CancellationToken.None); // redeliveries, handled in one batch
        }

        await flow.App.DrainQueueAsync();
        await Task.Delay(2500); // the safety net shows up after the refund was sent
        await flow.App.DrainQueueAsync();

        Assert.Single(flow.Creates(outRefundNo));
        Assert.Equal(1, flow.WeChat.RefundCreateCount(outRefundNo));
        Assert.Equal(RefundStages.Sent, (await flow.App.StoredRefundAsync(outOrderNo, outRefundNo))!.Stage);
    }

    [Fact]
    public async Task A_crash_before_the_send_is_queued_is_recovered_by_the_safety_net()
    {
        await using var flow = await RefundFlowApp.StartAsync(recoveryDelay: "00:00:02");
        var outOrderNo = await flow.App.PaidOrderAsync(300);
        var outRefundNo = await flow.RefundAsync(outOrderNo);

        // The immediate message is lost (the process died after storing the refund): only the delayed safety net is left.
        var visible = await flow.App.Storage.Notifications.ReceiveMessagesAsync(32);
        var sends = visible.Value.Where(m => m.Body.ToString().Contains(outRefundNo, StringComparison.Ordinal)).ToList();
        Assert.Single(sends);
        foreach (var message in sends)
        {
            await flow.App.Storage.Notifications.DeleteMessageAsync(message.MessageId, message.PopReceipt);
        }

        await flow.App.DrainQueueAsync();
        Assert.Empty(flow.Creates(outRefundNo));

        await flow.RunUntilStatusAsync(outOrderNo, outRefundNo, RefundStatuses.Pending, RefundStates.Processing);
        Assert.Single(flow.Creates(outRefundNo));
    }
}
