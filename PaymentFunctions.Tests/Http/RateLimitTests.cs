using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using PaymentFunctions.Tests.Infrastructure;
using PaymentFunctions.Tests.PayScore;

namespace PaymentFunctions.Tests.Http;

/// <summary>Anonymous callers cannot burn the merchant's platform quotas, nor make an order unpayable.</summary>
public sealed class RateLimitTests : IAsyncLifetime
{
    private readonly PaymentApp _app = new PaymentApp().EnableWeChatPay();

    public async ValueTask InitializeAsync()
    {
        _app.Settings["RateLimits:PerClientPermits"] = "5";
        _app.Settings["RateLimits:Window"] = "00:10:00";
        _app.Settings["RateLimits:TotalPerSecond"] = "1000";
        await _app.InitializeAsync();
    }

    [Fact]
    public async Task Random_query_ids_stop_reaching_wechat_pay_after_the_clients_allowance_with_429_and_retry_after()
    {
        using var http = _app.CreateClient();
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 20; i++)
        {
            using var response = await http.PostAsJsonAsync("/api/payscore/orders/query", new { queryId = $"Q{Guid.NewGuid():N}"[..30] });
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                Assert.True(int.Parse(response.Headers.GetValues("Retry-After").Single(), System.Globalization.CultureInfo.InvariantCulture) >= 1);
                Assert.Equal(429, (await response.ProblemAsync()).GetProperty("status").GetInt32());
            }
        }

        Assert.Equal(5, statuses.Count(s => s != HttpStatusCode.TooManyRequests));
        Assert.Equal(15, statuses.Count(s => s == HttpStatusCode.TooManyRequests));
        Assert.True(_app.WeChat!.State.Requests.Count <= 5, $"{_app.WeChat.State.Requests.Count} calls reached WeChat Pay");
    }

    [Fact]
    public async Task The_business_api_and_the_webhooks_are_not_limited()
    {
        for (var i = 0; i < 10; i++)
        {
            await _app.CreateOrderAsync();
        }

        for (var i = 0; i < 10; i++)
        {
            using var response = await _app.PostNotifyAsync(Api.Notification("nobody-1", 1, 1000).WithSign());
            Assert.NotEqual(HttpStatusCode.TooManyRequests, response.StatusCode);
        }
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();
}

/// <summary>A new payer on every prepare forces a new attempt; past a few, they are spaced so the numbers last as long as the order.</summary>
public sealed class AttemptBudgetTests : IAsyncLifetime
{
    private readonly PaymentApp _app = new();

    public ValueTask InitializeAsync() => _app.InitializeAsync();

    [Fact]
    public async Task A_caller_switching_payers_cannot_use_up_the_orders_attempts()
    {
        var order = await _app.CreateOrderAsync();
        using var http = _app.CreateClient();
        var prepared = 0;
        HttpResponseMessage? refused = null;
        for (var i = 0; i < 30; i++)
        {
            var response = await http.PostAsJsonAsync($"/api/orders/{order.OrderId}/prepare", new { client = "wechat", payer = $"oPayer{i}" });
            if (response.StatusCode == HttpStatusCode.OK)
            {
                prepared++;
                response.Dispose();
                continue;
            }

            refused = response;
            break;
        }

        Assert.Equal(PaymentFunctions.Orders.OrderLifecycle.FreeAttempts, prepared);
        Assert.NotNull(refused);
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        var wait = int.Parse(refused.Headers.GetValues("Retry-After").Single(), System.Globalization.CultureInfo.InvariantCulture);
        // An hour left, 989 numbers left: about 3.6 s apart, so the numbers outlast the order.
        Assert.Equal(4, wait);
        refused.Dispose();

        // Once the spacing has passed, the next payer is served; the order is never left unpayable.
        _app.Clock.Advance(TimeSpan.FromSeconds(wait));
        using var later = await http.PostAsJsonAsync($"/api/orders/{order.OrderId}/prepare", new { client = "wechat", payer = "oLegit" });
        Assert.Equal(HttpStatusCode.OK, later.StatusCode);
    }

    [Fact]
    public void Spacing_lets_the_numbers_left_last_until_the_order_expires()
    {
        var now = new DateTimeOffset(2026, 11, 25, 2, 0, 0, TimeSpan.Zero);
        var order = new PaymentFunctions.Orders.OrderEntity { AttemptCount = 9, ExpiresAt = now.AddDays(7) };
        Assert.Null(PaymentFunctions.Orders.OrderLifecycle.NextAttemptAllowedAt(order, now));

        order.AttemptCount = 10;
        var next = PaymentFunctions.Orders.OrderLifecycle.NextAttemptAllowedAt(order, now)!.Value;
        Assert.Equal(now + TimeSpan.FromDays(7) / 989, next);

        // Spaced like that, the last number is reached no earlier than the expiry.
        var at = now;
        for (order.AttemptCount = 10; order.AttemptCount < PaymentFunctions.Orders.PayOrderNumber.MaxAttempts; order.AttemptCount++)
        {
            at = PaymentFunctions.Orders.OrderLifecycle.NextAttemptAllowedAt(order, at)!.Value;
        }

        Assert.True(at >= order.ExpiresAt - TimeSpan.FromSeconds(1), $"last attempt at {at}, order expires {order.ExpiresAt}");
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();
}

/// <summary>Polling a Pay Score order by our own number asks WeChat at most once per interval.</summary>
public sealed class PayScoreQueryThrottleTests : IAsyncLifetime
{
    private readonly PaymentApp _app = new PaymentApp().EnableWeChatPay();

    public ValueTask InitializeAsync() => _app.InitializeAsync();

    [Fact]
    public async Task Twenty_polls_within_the_interval_make_one_wechat_call_and_the_next_interval_another()
    {
        var outOrderNo = PayScoreApi.NewOutOrderNo();
        await _app.CreatePayScoreOrderAsync(outOrderNo);
        int Queries() => _app.WeChat!.State.Requests.Count(r => r.Method == "GET" && r.Target.Contains(outOrderNo, StringComparison.Ordinal));

        for (var i = 0; i < 20; i++)
        {
            var view = await _app.QueryAsync(outOrderNo: outOrderNo);
            Assert.Equal("CREATED", view.State);
        }

        Assert.Equal(1, Queries());

        _app.Clock.Advance(TimeSpan.FromSeconds(5));
        await _app.QueryAsync(outOrderNo: outOrderNo);
        Assert.Equal(2, Queries());
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();
}
