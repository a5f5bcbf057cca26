using System.Net;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using PaymentFunctions.Notifications;
using PaymentFunctions.Orders;
using PaymentFunctions.PayScore;
using PaymentFunctions.Tests.Infrastructure;
using PaymentFunctions.Tests.Processing;
using PaymentFunctions.WeChatPay;

namespace PaymentFunctions.Tests.PayScore;

/// <summary>Driving a Pay Score order through the app and the fake WeChat Pay, and reading what the checks did.</summary>
internal static class PayScoreChecks
{
    public static async Task<PayScoreOrderEntity> StoredAsync(this PaymentApp app, string outOrderNo) =>
        (await app.Services.GetRequiredService<PayScoreStore>().GetAsync(outOrderNo, CancellationToken.None))!;

    /// <summary>The order's timeline rows in PayScoreOrders.</summary>
    public static async Task<List<TimelineEntity>> PayScoreTimelineAsync(this PaymentApp app, string outOrderNo)
    {
        var rows = new List<TimelineEntity>();
        await foreach (var row in app.Storage.PayScoreOrders.QueryAsync<TimelineEntity>(r => r.PartitionKey == outOrderNo && r.RowKey != OrderRows.Order))
        {
            rows.Add(row);
        }

        return rows;
    }

    /// <summary>How often WeChat Pay was asked about the order (queries by out_order_no).</summary>
    public static int WeChatQueriesFor(this PaymentApp app, string outOrderNo) =>
        app.WeChat!.State.Requests.Count(r => r.Method == "GET" && r.Target.Contains($"out_order_no={outOrderNo}", StringComparison.Ordinal));

    public static Task ScheduleCheckAsync(this PaymentApp app, string outOrderNo, PayScoreCheckStage stage, int round = 1) =>
        app.Services.GetRequiredService<PayScoreCheckScheduler>().ScheduleAsync(new PayScoreCheck(outOrderNo, stage, round), TimeSpan.Zero, CancellationToken.None);

    /// <summary>All messages, the invisible (scheduled) ones included.</summary>
    public static async Task<int> QueuedMessagesAsync(this PaymentApp app) =>
        (await app.Storage.Notifications.GetPropertiesAsync()).Value.ApproximateMessagesCount;

    /// <summary>Created, confirmed by the user (callback delivered and processed), completed at 500 fen: collecting.</summary>
    public static async Task<string> CompletedOrderAsync(this PaymentApp app)
    {
        var outOrderNo = PayScoreApi.NewOutOrderNo();
        await app.CreatePayScoreOrderAsync(outOrderNo);
        Assert.Equal(HttpStatusCode.NoContent, await app.WeChat!.State.SendCallbackAsync(outOrderNo, PayScoreStates.UserConfirmEvent,
            new Uri(app.Server.BaseAddress, "/api/notify/wechatpay"), app.CreateClient()));
        await app.DrainQueueAsync();
        using var complete = await app.PostAsync($"/api/payscore/orders/{outOrderNo}/complete", CompleteBody());
        Assert.True(complete.StatusCode == HttpStatusCode.OK, await complete.Content.ReadAsStringAsync());
        Assert.Equal(PayScoreStates.MchComplete, (await app.StoredAsync(outOrderNo)).StateDescription);
        return outOrderNo;
    }

    public static JsonObject CompleteBody() => new()
    {
        ["postPayments"] = new JsonArray(new JsonObject { ["name"] = "租借费", ["amount"] = 500, ["description"] = "2 小时", ["count"] = 1 }),
        ["totalAmount"] = 500,
    };
}

/// <summary>
/// End to end with real queue delays (seconds, in Azurite): an unconfirmed lifetime of 2 s and a 1 s backoff, so an
/// order settles itself within seconds, with no query from anyone and no callback.
/// </summary>
public sealed class PayScoreScheduledCheckTests : IAsyncLifetime
{
    private readonly PaymentApp _app = new PaymentApp().EnableWeChatPay();

    public async ValueTask InitializeAsync()
    {
        _app.Settings["WeChatPay:UnconfirmedLifetime"] = "00:00:02";
        _app.Settings["WeChatPay:CheckBackoff"] = "00:00:01";
        _app.Settings["WeChatPay:CheckMaxRounds"] = "3";
        await _app.InitializeAsync();
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    [Fact]
    public async Task A_completed_order_whose_paid_callback_is_lost_ends_DONE_by_itself()
    {
        var outOrderNo = await _app.CompletedOrderAsync();
        Assert.Equal(0, _app.WeChatQueriesFor(outOrderNo));

        // Round 1 (1 s after complete) finds the deduction still running, and schedules round 2 (2 s later).
        Assert.True(await _app.PollUntilAsync(() => Task.FromResult(_app.WeChatQueriesFor(outOrderNo) >= 1), TimeSpan.FromSeconds(15)));
        Assert.Equal(PayScoreStates.UserPaying, (await _app.StoredAsync(outOrderNo)).CollectionState);

        // The deduction succeeds at WeChat; its USER_PAID callback never arrives, and nobody queries.
        _app.WeChat!.State.MoveWithoutCallback(outOrderNo, PayScoreStates.UserPaidEvent);
        Assert.True(await _app.PollUntilAsync(async () => (await _app.StoredAsync(outOrderNo)).State == PayScoreStates.Done, TimeSpan.FromSeconds(15)));

        var done = await _app.StoredAsync(outOrderNo);
        Assert.True(PayScoreLifecycle.IsPaid(done));
        Assert.Equal(500, done.PaidAmount);
        Assert.NotNull(done.TransactionId);
        var paid = Assert.Single(await _app.PayScoreTimelineAsync(outOrderNo), r => r.Outcome == "paid");
        Assert.Equal(PayScoreCheck.Kind, paid.Kind);
        Assert.Equal(2, _app.WeChatQueriesFor(outOrderNo));

        // DONE is final: no round 3.
        await _app.PollUntilAsync(() => Task.FromResult(false), TimeSpan.FromSeconds(5));
        Assert.Equal(2, _app.WeChatQueriesFor(outOrderNo));
    }

    [Fact]
    public async Task An_order_never_confirmed_ends_EXPIRED_by_itself_when_WeChat_expires_it()
    {
        var outOrderNo = PayScoreApi.NewOutOrderNo();
        await _app.CreatePayScoreOrderAsync(outOrderNo);
        Assert.Equal(1, await _app.QueuedMessagesAsync()); // the check waits, invisible, for the order's lifetime

        // Its lifetime passes (the app's clock, and the 2 s the message waits); WeChat ends it, with no callback.
        _app.Clock.Advance(TimeSpan.FromSeconds(2));
        _app.WeChat!.State.Expire(outOrderNo);
        Assert.True(await _app.PollUntilAsync(async () => (await _app.StoredAsync(outOrderNo)).State == PayScoreStates.Expired, TimeSpan.FromSeconds(15)));

        var expired = Assert.Single(await _app.PayScoreTimelineAsync(outOrderNo), r => r.Kind == PayScoreCheck.Kind);
        Assert.Equal("expired", expired.Outcome);
        Assert.Equal("EXPIRED", expired.ToStatus);
        Assert.Equal(1, _app.WeChatQueriesFor(outOrderNo));
        Assert.Equal(0, await _app.QueuedMessagesAsync()); // final: nothing more scheduled
    }
}

/// <summary>Rounds, races, replays and failures, with a backoff so short that the next round shows up at once.</summary>
public sealed class PayScoreScheduledCheckRoundTests : IAsyncLifetime
{
    private readonly PaymentApp _app = new PaymentApp().EnableWeChatPay();

    public async ValueTask InitializeAsync()
    {
        _app.Settings["WeChatPay:UnconfirmedLifetime"] = "01:00:00"; // the checks made at create stay invisible
        _app.Settings["WeChatPay:CheckBackoff"] = "00:00:00.001";
        _app.Settings["WeChatPay:CheckMaxRounds"] = "3";
        await _app.InitializeAsync();
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    [Fact]
    public async Task The_same_check_twice_and_a_check_racing_the_paid_callback_record_the_payment_once()
    {
        // Paid at WeChat without a callback; complete's own check and the same check twice more.
        var twice = await _app.CompletedOrderAsync();
        _app.WeChat!.State.MoveWithoutCallback(twice, PayScoreStates.UserPaidEvent);
        await _app.ScheduleCheckAsync(twice, PayScoreCheckStage.Collecting);
        await _app.ScheduleCheckAsync(twice, PayScoreCheckStage.Collecting);

        // Paid at WeChat with its callback queued, and a check next to it.
        var raced = await _app.CompletedOrderAsync();
        Assert.Equal(HttpStatusCode.NoContent, await _app.WeChat.State.SendCallbackAsync(raced, PayScoreStates.UserPaidEvent,
            new Uri(_app.Server.BaseAddress, "/api/notify/wechatpay"), _app.CreateClient()));
        await _app.ScheduleCheckAsync(raced, PayScoreCheckStage.Collecting);

        // One batch: the messages are handled concurrently, as the host does.
        await _app.DrainQueueAsync();

        foreach (var outOrderNo in new[] { twice, raced })
        {
            var stored = await _app.StoredAsync(outOrderNo);
            Assert.True(PayScoreLifecycle.IsPaid(stored), PayScoreLifecycle.Describe(stored));
            Assert.Equal(500, stored.PaidAmount);
            Assert.Single(await _app.PayScoreTimelineAsync(outOrderNo), r => r.Outcome == "paid");
        }

        await Task.Delay(200);
        Assert.Equal(0, await _app.QueueLengthAsync()); // a paid order schedules no next round
        Assert.Equal(2, await _app.QueuedMessagesAsync()); // only the two orders' create-time checks, still waiting
    }

    [Fact]
    public async Task A_check_for_an_order_that_no_longer_needs_one_asks_nothing_and_changes_nothing()
    {
        var paid = await _app.CompletedOrderAsync();
        Assert.Equal(HttpStatusCode.NoContent, await _app.WeChat!.State.SendCallbackAsync(paid, PayScoreStates.UserPaidEvent,
            new Uri(_app.Server.BaseAddress, "/api/notify/wechatpay"), _app.CreateClient()));
        await _app.DrainQueueAsync();
        Assert.True(PayScoreLifecycle.IsPaid(await _app.StoredAsync(paid)));

        var confirmed = PayScoreApi.NewOutOrderNo();
        await _app.CreatePayScoreOrderAsync(confirmed);
        Assert.Equal(HttpStatusCode.NoContent, await _app.WeChat.State.SendCallbackAsync(confirmed, PayScoreStates.UserConfirmEvent,
            new Uri(_app.Server.BaseAddress, "/api/notify/wechatpay"), _app.CreateClient()));
        await _app.DrainQueueAsync();

        var before = new Dictionary<string, (Azure.ETag ETag, int Rows, int Queries)>();
        foreach (var outOrderNo in new[] { paid, confirmed })
        {
            before[outOrderNo] = ((await _app.StoredAsync(outOrderNo)).ETag, (await _app.PayScoreTimelineAsync(outOrderNo)).Count, _app.WeChatQueriesFor(outOrderNo));
        }

        await _app.ScheduleCheckAsync(paid, PayScoreCheckStage.Collecting, round: 2);
        await _app.ScheduleCheckAsync(paid, PayScoreCheckStage.Unconfirmed);
        await _app.ScheduleCheckAsync(confirmed, PayScoreCheckStage.Unconfirmed); // confirmed: the merchant completes it, not WeChat
        await _app.ScheduleCheckAsync(confirmed, PayScoreCheckStage.Collecting);
        await _app.ScheduleCheckAsync(PayScoreApi.NewOutOrderNo(), PayScoreCheckStage.Collecting); // no such order
        await _app.DrainQueueAsync();

        foreach (var outOrderNo in new[] { paid, confirmed })
        {
            Assert.Equal(before[outOrderNo], ((await _app.StoredAsync(outOrderNo)).ETag, (await _app.PayScoreTimelineAsync(outOrderNo)).Count, _app.WeChatQueriesFor(outOrderNo)));
        }

        Assert.Equal(0, await _app.QueueLengthAsync());
        Assert.Equal(0, await _app.QueueLengthAsync(poison: true));
        Assert.Equal(2, await _app.QueuedMessagesAsync()); // only the two orders' create-time checks, still waiting
    }

    [Fact]
    public async Task An_unconfirmed_check_that_shows_up_early_waits_another_hop_without_asking_WeChat()
    {
        var outOrderNo = PayScoreApi.NewOutOrderNo();
        await _app.CreatePayScoreOrderAsync(outOrderNo);
        Assert.Equal(1, await _app.QueuedMessagesAsync());

        await _app.ScheduleCheckAsync(outOrderNo, PayScoreCheckStage.Unconfirmed); // shows up an hour early
        await _app.DrainQueueAsync();

        Assert.Equal(0, _app.WeChatQueriesFor(outOrderNo));
        Assert.Equal(0, await _app.QueueLengthAsync());
        Assert.Equal(2, await _app.QueuedMessagesAsync()); // create's check, and the early one waiting out the hour
        Assert.Equal(PayScoreStates.Created, (await _app.StoredAsync(outOrderNo)).State);

        // Once the hour has passed, the same check asks WeChat.
        _app.Clock.Advance(TimeSpan.FromHours(1));
        _app.WeChat!.State.Expire(outOrderNo);
        await _app.ScheduleCheckAsync(outOrderNo, PayScoreCheckStage.Unconfirmed);
        await _app.DrainQueueAsync();

        Assert.Equal(1, _app.WeChatQueriesFor(outOrderNo));
        Assert.Equal(PayScoreStates.Expired, (await _app.StoredAsync(outOrderNo)).State);
    }

    [Fact]
    public async Task A_still_collecting_order_is_checked_each_round_and_no_more_after_the_last()
    {
        var outOrderNo = await _app.CompletedOrderAsync(); // complete scheduled round 1

        Assert.True(await _app.PollUntilAsync(() => Task.FromResult(_app.WeChatQueriesFor(outOrderNo) >= 3), TimeSpan.FromSeconds(15)));
        await _app.PollUntilAsync(() => Task.FromResult(false), TimeSpan.FromSeconds(2));

        Assert.Equal(3, _app.WeChatQueriesFor(outOrderNo));
        Assert.Equal(0, await _app.QueueLengthAsync());
        Assert.Contains(_app.Logs.Entries, e => e.Level == LogLevel.Warning &&
            e.Message.Contains($"{outOrderNo} is still DOING/MCH_COMPLETE/USER_PAYING after 3 scheduled checks", StringComparison.Ordinal));
        var stored = await _app.StoredAsync(outOrderNo);
        Assert.Equal(PayScoreStates.UserPaying, stored.CollectionState);
        Assert.DoesNotContain(await _app.PayScoreTimelineAsync(outOrderNo), r => r.Kind == PayScoreCheck.Kind); // same state each time: deduplicated
    }

    [Fact]
    public async Task WeChat_failing_a_check_is_a_transient_failure_and_the_retried_check_settles_the_order()
    {
        var outOrderNo = await _app.CompletedOrderAsync();
        _app.WeChat!.State.MoveWithoutCallback(outOrderNo, PayScoreStates.UserPaidEvent);
        var message = NotificationEnvelope.For(new PayScoreCheck(outOrderNo, PayScoreCheckStage.Collecting, 1), _app.Clock.GetUtcNow()).ToJson();

        _app.WeChat.State.FailNextWithSystemError();
        await using (var scope = _app.Services.CreateAsyncScope())
        {
            // Not a PermanentMessageException: the queue retries it.
            await Assert.ThrowsAsync<WeChatPayException>(() => scope.ServiceProvider.GetRequiredService<NotificationProcessor>().ProcessAsync(message, CancellationToken.None));
        }

        Assert.Equal(PayScoreStates.UserPaying, (await _app.StoredAsync(outOrderNo)).CollectionState);

        await using (var scope = _app.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<NotificationProcessor>().ProcessAsync(message, CancellationToken.None);
        }

        Assert.True(PayScoreLifecycle.IsPaid(await _app.StoredAsync(outOrderNo)));
        Assert.Equal(PayScoreCheck.Kind, Assert.Single(await _app.PayScoreTimelineAsync(outOrderNo), r => r.Outcome == "paid").Kind);
    }
}

/// <summary>The queue going away after WeChat accepted: create and complete still answer, and say what is missing.</summary>
public sealed class PayScoreCheckSchedulingFailureTests : IAsyncLifetime
{
    private readonly TcpProxy _queue = new(10001);
    private readonly PaymentApp _app = new PaymentApp().EnableWeChatPay();

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
    public async Task Create_and_complete_whose_check_cannot_be_scheduled_still_answer_with_the_order()
    {
        await _app.Storage.EnsureCreatedAsync(CancellationToken.None); // so only the send is left to fail
        var outOrderNo = PayScoreApi.NewOutOrderNo();

        _queue.Cut();
        try
        {
            var created = await _app.CreatePayScoreOrderAsync(outOrderNo); // asserts 201
            Assert.Equal(PayScoreStates.Created, created.State);
            Assert.NotNull(created.OpenBusinessView);
        }
        finally
        {
            _queue.Restore();
        }

        Assert.Contains(_app.Logs.Entries, e => e.Level == LogLevel.Warning &&
            e.Message.Contains($"Could not schedule the Unconfirmed check of Pay Score order {outOrderNo}", StringComparison.Ordinal));
        Assert.Equal(PayScoreStates.Created, (await _app.StoredAsync(outOrderNo)).State);

        Assert.Equal(HttpStatusCode.NoContent, await _app.WeChat!.State.SendCallbackAsync(outOrderNo, PayScoreStates.UserConfirmEvent,
            new Uri(_app.Server.BaseAddress, "/api/notify/wechatpay"), _app.CreateClient()));
        await _app.DrainQueueAsync();

        _queue.Cut();
        try
        {
            using var complete = await _app.PostAsync($"/api/payscore/orders/{outOrderNo}/complete", PayScoreChecks.CompleteBody());
            Assert.True(complete.StatusCode == HttpStatusCode.OK, await complete.Content.ReadAsStringAsync());
        }
        finally
        {
            _queue.Restore();
        }

        Assert.Contains(_app.Logs.Entries, e => e.Level == LogLevel.Warning &&
            e.Message.Contains($"Could not schedule the Collecting check of Pay Score order {outOrderNo}", StringComparison.Ordinal));
        Assert.Equal(PayScoreStates.UserPaying, (await _app.StoredAsync(outOrderNo)).CollectionState);
        Assert.Equal(0, await _app.QueuedMessagesAsync());
    }
}
