using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using PaymentFunctions.Fakes.Pyun;
using PaymentFunctions.Notifications;
using PaymentFunctions.Orders;
using PaymentFunctions.Pyun;
using PaymentFunctions.Tests.Infrastructure;

namespace PaymentFunctions.Tests.Processing;

/// <summary>Scheduled checks, end to end: delayed queue messages (real time in Azurite), the listener and the fake P云.</summary>
internal static class Checks
{
    public static int QueriesFor(this PaymentApp app, string payOrder) =>
        app.Pyun.State.QueryRequests.Count(q => q.GetValueOrDefault("pay_order") == payOrder);

    public static Task ScheduleCheckAsync(this PaymentApp app, string payOrder, int round, TimeSpan? delay = null) =>
        app.Services.GetRequiredService<PyunCheckScheduler>().ScheduleAsync(payOrder, round, delay ?? TimeSpan.Zero, CancellationToken.None);

    public static string CheckEnvelope(string payOrder, int round) =>
        NotificationEnvelope.For(new PyunCheck(payOrder, round), DateTimeOffset.UnixEpoch).ToJson();

    /// <summary>Runs the listener until <paramref name="done"/> holds or <paramref name="limit"/> (real time) passes.</summary>
    public static async Task<bool> PollUntilAsync(this PaymentApp app, Func<Task<bool>> done, TimeSpan limit)
    {
        var listener = app.CreateListener();
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < limit)
        {
            await listener.PollOnceAsync(CancellationToken.None);
            if (await done())
            {
                return true;
            }

            await Task.Delay(200);
        }

        return false;
    }

    public static async Task<OrderEntity> StoredAsync(this PaymentApp app, string orderId) =>
        (await app.Store.GetOrderAsync(orderId, CancellationToken.None))!;
}

/// <summary>Short attempts and a one-second grace, so an order resolves itself within seconds.</summary>
public sealed class ScheduledCheckTests : IAsyncLifetime
{
    private readonly PaymentApp _app = new();

    public async ValueTask InitializeAsync()
    {
        _app.Settings["Pyun:AttemptLifetime"] = "00:00:02";
        _app.Settings["Pyun:CheckGrace"] = "00:00:01";
        _app.Settings["Pyun:CheckBackoff"] = "00:00:01";
        _app.Settings["Pyun:CheckMaxRounds"] = "2";
        await _app.InitializeAsync();
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    [Fact]
    public async Task An_order_paid_at_Pyun_whose_notification_never_arrives_ends_paid_by_itself()
    {
        var order = await _app.CreateOrderAsync(amount: 1500);
        var prepared = await _app.PrepareAsync(order.OrderId);
        Assert.Null(await _app.Pyun.PayAsync(prepared.PayId, new FakePayment(Notify: false)));
        Assert.Equal(0, await _app.QueueLengthAsync()); // the check waits, invisible, until the attempt has expired

        // No GET: only the check scheduled by prepare (2 s lifetime + 1 s grace) can settle the order.
        Assert.True(await _app.PollUntilAsync(async () => (await _app.StoredAsync(order.OrderId)).StatusValue == OrderStatus.Paid, TimeSpan.FromSeconds(20)));

        var paid = await _app.StoredAsync(order.OrderId);
        Assert.Equal(1500, paid.PaidAmount);
        Assert.Equal(_app.Pyun.State.TradesByPayId[prepared.PayId].PaySerial, paid.PaySerial);
        var entry = Assert.Single(await _app.TimelineAsync(order.OrderId));
        Assert.Equal("pyun.check", entry.Kind);
        Assert.Equal("Paid", entry.ToStatus);
        Assert.Equal(1, _app.QueriesFor(prepared.PayOrder));
    }

    [Fact]
    public async Task A_check_for_an_order_already_paid_by_its_notification_asks_nothing_and_changes_nothing()
    {
        var order = await _app.CreateOrderAsync();
        var prepared = await _app.PrepareAsync(order.OrderId);
        await _app.Pyun.PayAsync(prepared.PayId);
        await _app.DrainQueueAsync();
        var before = await _app.StoredAsync(order.OrderId);
        Assert.Equal(OrderStatus.Paid, before.StatusValue);

        await _app.ScheduleCheckAsync(prepared.PayOrder, 1);
        await _app.DrainQueueAsync();

        Assert.Equal(0, _app.QueriesFor(prepared.PayOrder));
        Assert.Equal(before.ETag, (await _app.StoredAsync(order.OrderId)).ETag);
        Assert.Equal("pyun.notify", Assert.Single(await _app.TimelineAsync(order.OrderId)).Kind);
        Assert.Equal(0, await _app.QueueLengthAsync()); // and no next round
    }

    [Fact]
    public async Task The_same_check_twice_and_a_check_racing_its_notification_record_the_payment_once()
    {
        var twice = await _app.CreateOrderAsync();
        var twicePrepared = await _app.PrepareAsync(twice.OrderId);
        await _app.Pyun.PayAsync(twicePrepared.PayId, new FakePayment(Notify: false));

        var raced = await _app.CreateOrderAsync();
        var racedPrepared = await _app.PrepareAsync(raced.OrderId);
        await _app.Pyun.PayAsync(racedPrepared.PayId, new FakePayment(Notify: false));

        await _app.ScheduleCheckAsync(twicePrepared.PayOrder, 1);
        await _app.ScheduleCheckAsync(twicePrepared.PayOrder, 1);
        var delivery = await FakePyun.NotifyAsync(_app.Pyun.State, _app.Pyun.State.TradesByPayId[racedPrepared.PayId], _app.CreateClient(), CancellationToken.None);
        Assert.Equal(200, delivery.HttpStatus);
        await _app.ScheduleCheckAsync(racedPrepared.PayOrder, 1);
        // One batch: the messages are handled concurrently, as the host does.
        await _app.DrainQueueAsync();

        foreach (var orderId in new[] { twice.OrderId, raced.OrderId })
        {
            Assert.Equal(OrderStatus.Paid, (await _app.StoredAsync(orderId)).StatusValue);
            Assert.Equal("Paid", Assert.Single(await _app.TimelineAsync(orderId)).ToStatus);
        }

        Assert.Equal(0, await _app.QueueLengthAsync()); // a paid attempt schedules no next round
    }
}

/// <summary>Rounds and failures, with a backoff so short that the next round shows up at once.</summary>
public sealed class ScheduledCheckRoundTests : IAsyncLifetime
{
    private readonly PaymentApp _app = new();

    public async ValueTask InitializeAsync()
    {
        _app.Settings["Pyun:CheckBackoff"] = "00:00:00.001";
        _app.Settings["Pyun:CheckMaxRounds"] = "3";
        await _app.InitializeAsync();
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    [Fact]
    public async Task A_still_paying_attempt_is_checked_again_with_the_next_round_and_no_more_after_the_last()
    {
        var order = await _app.CreateOrderAsync();
        var prepared = await _app.PrepareAsync(order.OrderId); // its own first check is minutes away
        await _app.Pyun.PayAsync(prepared.PayId, new FakePayment("paying", Notify: false));

        await _app.ScheduleCheckAsync(prepared.PayOrder, 1);
        Assert.True(await _app.PollUntilAsync(() => Task.FromResult(_app.QueriesFor(prepared.PayOrder) >= 1), TimeSpan.FromSeconds(10)));
        var next = await ReceiveOneAsync();
        Assert.Equal(PyunCheck.Kind, next.Kind);
        Assert.Equal(new PyunCheck(prepared.PayOrder, 2), PyunCheck.FromPayload(next.Payload));

        // Round 2 schedules round 3, the last: it asks P云 and schedules nothing.
        Assert.True(await _app.PollUntilAsync(() => Task.FromResult(_app.QueriesFor(prepared.PayOrder) >= 3), TimeSpan.FromSeconds(10)));
        await _app.PollUntilAsync(() => Task.FromResult(false), TimeSpan.FromSeconds(2));
        Assert.Equal(3, _app.QueriesFor(prepared.PayOrder));
        Assert.Equal(0, await _app.QueueLengthAsync());
        Assert.Contains(_app.Logs.Entries, e => e.Message.Contains($"{prepared.PayOrder} is still undecided after 3 scheduled checks", StringComparison.Ordinal));
        Assert.Equal(OrderStatus.Pending, (await _app.StoredAsync(order.OrderId)).StatusValue);
    }

    [Fact]
    public async Task Pyun_unreachable_is_a_transient_failure_and_the_retried_check_settles_the_order()
    {
        var order = await _app.CreateOrderAsync();
        var prepared = await _app.PrepareAsync(order.OrderId);
        await _app.Pyun.PayAsync(prepared.PayId, new FakePayment(Notify: false));
        var message = Checks.CheckEnvelope(prepared.PayOrder, 1);

        _app.Pyun.State.PadNextAnswer(100_000); // an answer P云 cannot have meant: unreadable, like no answer
        await using (var scope = _app.Services.CreateAsyncScope())
        {
            // Not a PermanentMessageException: the queue retries it.
            await Assert.ThrowsAsync<PyunException>(() => scope.ServiceProvider.GetRequiredService<NotificationProcessor>().ProcessAsync(message, CancellationToken.None));
        }

        Assert.Equal(OrderStatus.Pending, (await _app.StoredAsync(order.OrderId)).StatusValue);
        Assert.Empty(await _app.TimelineAsync(order.OrderId));

        await using (var scope = _app.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<NotificationProcessor>().ProcessAsync(message, CancellationToken.None);
        }

        Assert.Equal(OrderStatus.Paid, (await _app.StoredAsync(order.OrderId)).StatusValue);
        Assert.Equal("pyun.check", Assert.Single(await _app.TimelineAsync(order.OrderId)).Kind);
    }

    [Theory]
    [InlineData("{\"payOrder\":\"nope\",\"round\":1}")]
    [InlineData("{\"payOrder\":\"abcdefghijklmnopqrstuvwx-1\",\"round\":0}")]
    [InlineData("{\"round\":1}")]
    [InlineData("[1]")]
    public void A_malformed_check_is_a_message_to_poison(string payload) =>
        Assert.Throws<InvalidMessageException>(() => PyunCheck.FromPayload(JsonDocument.Parse(payload).RootElement));

    private async Task<NotificationEnvelope> ReceiveOneAsync()
    {
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < TimeSpan.FromSeconds(5))
        {
            var peeked = (await _app.Storage.Notifications.PeekMessagesAsync(32)).Value;
            if (peeked.Length > 0)
            {
                return NotificationEnvelope.Parse(Assert.Single(peeked).Body.ToString());
            }

            await Task.Delay(100);
        }

        throw new Xunit.Sdk.XunitException("No next check was scheduled.");
    }
}
