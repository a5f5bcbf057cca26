using System.Globalization;
using PaymentFunctions.Fakes.Pyun;
using PaymentFunctions.Tests.Infrastructure;

namespace PaymentFunctions.Tests.Pyun;

/// <summary>
/// A trade query answer is believed only when every field the decision needs is there, readable, and about what we
/// asked. Anything else is "P云 answered something we cannot read": GET keeps the stored status and asks again later.
/// Each bad shape comes from the fake P云 over loopback, through the real client.
/// </summary>
public sealed class TradeQueryAnswerTests(PaymentApp app) : IClassFixture<PaymentApp>
{
    private static readonly Dictionary<string, Action<Dictionary<string, object?>>> BadShapes = new()
    {
        ["value missing"] = f => f.Remove("value"),
        ["value with decimals"] = f => f["value"] = "25.00",
        ["status missing"] = f => f.Remove("status"),
        ["pay_order missing"] = f => f.Remove("pay_order"),
        ["pay_order of another trade"] = f => f["pay_order"] = "P0000000000000000000001",
        ["merchant of another car park"] = f => f["merchant"] = "99999999",
        ["pay_serial missing on success"] = f => f["pay_serial"] = "",
        ["trade_time missing on success"] = f => f.Remove("trade_time"),
        ["trade_time empty on success"] = f => f["trade_time"] = "",
        ["trade_time without an offset"] = f => f["trade_time"] = "2026-11-25T02:00:00",
        ["trade_time in Beijing time with a space"] = f => f["trade_time"] = "2026-11-25 10:00:00",
        ["trade_time as epoch milliseconds"] = f => f["trade_time"] = 1795658400000L,
        ["trade_time as text epoch milliseconds"] = f => f["trade_time"] = "1795658400000",
    };

    public static TheoryData<string, QueryLayout> Cases()
    {
        var data = new TheoryData<string, QueryLayout>();
        foreach (var name in BadShapes.Keys)
        {
            data.Add(name, QueryLayout.Flat);
            data.Add(name, QueryLayout.Payload);
        }

        return data;
    }

    private int QueriesFor(string payOrder) => app.Pyun.State.QueryRequests.Count(q => q.GetValueOrDefault("pay_order") == payOrder);

    /// <summary>A pending order whose payment P云 knows of but never notified, old enough to be queried.</summary>
    private async Task<(string OrderId, string PayOrder, DateTimeOffset ExpiresAt)> PaidWithoutNotificationAsync(long? tradeTimeMs = null)
    {
        var order = await app.CreateOrderAsync(amount: 2500);
        var prepared = await app.PrepareAsync(order.OrderId);
        await app.Pyun.PayAsync(prepared.PayId, new FakePayment(Notify: false, TradeTimeMs: tradeTimeMs));
        app.Clock.Advance(TimeSpan.FromSeconds(6));
        return (order.OrderId, prepared.PayOrder, order.ExpiresAt);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task An_answer_missing_or_contradicting_what_a_decision_needs_changes_nothing(string shape, QueryLayout layout)
    {
        app.Pyun.State.QueryLayout = layout;
        try
        {
            var (orderId, payOrder, _) = await PaidWithoutNotificationAsync();
            app.Pyun.State.TamperNextQueryAnswer(BadShapes[shape]);

            var view = await app.GetOrderAsync(orderId);

            Assert.Equal(1, QueriesFor(payOrder));
            Assert.Equal("Pending", view.Status);
            Assert.Null(view.PaidAt);
            Assert.Empty(await app.TimelineAsync(orderId));

            // The stored status was kept, not lost: the next query after the interval, answered properly, settles it.
            app.Clock.Advance(TimeSpan.FromSeconds(11));
            Assert.Equal("Paid", (await app.GetOrderAsync(orderId)).Status);
            Assert.Equal(2, QueriesFor(payOrder));
        }
        finally
        {
            app.Pyun.State.QueryLayout = QueryLayout.Flat;
        }
    }

    [Theory]
    [InlineData("Z", false)]
    [InlineData("+08:00", false)]
    [InlineData("+0800", false)]
    [InlineData("Z", true)]
    [InlineData("+08:00", true)]
    public async Task A_trade_time_with_an_offset_dates_the_payment_and_judges_lateness(string offset, bool late)
    {
        var created = app.Clock.GetUtcNow();
        // Orders from CreateOrderAsync close an hour after creation.
        var paidAt = new DateTimeOffset(created.Year, created.Month, created.Day, created.Hour, created.Minute, created.Second, TimeSpan.Zero)
            .AddMinutes(late ? 61 : 1);
        var (orderId, _, expiresAt) = await PaidWithoutNotificationAsync(paidAt.ToUnixTimeMilliseconds());
        Assert.Equal(late, paidAt > expiresAt);
        var text = offset == "Z"
            ? paidAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture)
            : paidAt.ToOffset(TimeSpan.FromHours(8)).ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture) + offset;
        app.Pyun.State.TamperNextQueryAnswer(f => f["trade_time"] = text);

        var view = await app.GetOrderAsync(orderId);

        Assert.Equal(late ? "PaidAfterClose" : "Paid", view.Status);
        Assert.Equal(paidAt, view.PaidAt);
        Assert.Equal(late, view.RefundRequired);
    }

    [Fact]
    public async Task A_still_paying_answer_needs_no_serial_or_time()
    {
        var order = await app.CreateOrderAsync(amount: 2500);
        var prepared = await app.PrepareAsync(order.OrderId);
        app.Clock.Advance(TimeSpan.FromSeconds(6));

        Assert.Equal("Pending", (await app.GetOrderAsync(order.OrderId)).Status);
        Assert.Equal(1, QueriesFor(prepared.PayOrder));
        Assert.Single(await app.TimelineAsync(order.OrderId));
    }
}
