using System.Net;
using System.Net.Http.Json;
using PaymentFunctions.Fakes.Pyun;
using PaymentFunctions.Orders;
using PaymentFunctions.Tests.Infrastructure;

namespace PaymentFunctions.Tests.Pyun;

/// <summary>The whole P云 flow through HTTP, the queue and the table, against Azurite and the fake P云.</summary>
public sealed class PaymentFlowTests(PaymentApp app) : IClassFixture<PaymentApp>
{
    [Fact]
    public async Task Create_prepare_pay_and_read_paid()
    {
        var order = await app.CreateOrderAsync(amount: 1234);
        Assert.Equal("Created", order.Status);
        Assert.Equal(PayOrderNumber.OrderIdLength, order.OrderId.Length);

        var prepared = await app.PrepareAsync(order.OrderId, "wechat");
        Assert.Equal(new LaunchData("wxa204074068ad40ef", $"/external/payment/trade/create/index?pay_id={prepared.PayId}"), prepared.Launch);
        Assert.Equal("Pending", (await app.GetOrderAsync(order.OrderId)).Status);

        var delivery = await app.Pyun.PayAsync(prepared.PayId);
        Assert.Equal(200, delivery!.HttpStatus);
        Assert.Contains("\"code\":\"1001\"", delivery.ResponseBody, StringComparison.Ordinal);

        // Acknowledged means queued: until the processor runs, the order is not paid yet.
        Assert.Equal("Pending", (await app.GetOrderAsync(order.OrderId)).Status);
        await app.DrainQueueAsync();

        var paid = await app.GetOrderAsync(order.OrderId);
        Assert.Equal("Paid", paid.Status);
        Assert.Equal(1234, paid.PaidAmount);
        Assert.Equal(app.Pyun.State.TradesByPayId[prepared.PayId].PaySerial, paid.PaySerial);
        Assert.Equal("200201", paid.Channel);
        Assert.NotNull(paid.PaidAt);
        Assert.False(paid.RefundRequired);
    }

    [Fact]
    public async Task Prepare_sends_a_signed_trade_prepare_with_scene_extra_utc_expiry_and_notify_url()
    {
        var order = await app.CreateOrderAsync(amount: 500);

        var prepared = await app.PrepareAsync(order.OrderId, "alipay", payer: "o1kTSt3wG76-vZh_ORgd9Ef6MXYQ");

        Assert.Equal(new LaunchData("2021004130621008", $"/external/payment/trade/create/index?pay_id={prepared.PayId}"), prepared.Launch);
        var sent = app.Pyun.State.PrepareRequests.Single(r => r["pay_order"] == prepared.PayOrder);
        Assert.Equal(PaymentApp.AppId, sent["app_id"]);
        Assert.Equal(PaymentApp.Merchant, sent["merchant"]);
        Assert.Equal("500", sent["value"]);
        Assert.Equal("PARKING", sent["trade_scene"]);
        Assert.Equal("http://localhost/api/notify/pyun", sent["notify_url"]);
        Assert.Equal("o1kTSt3wG76-vZh_ORgd9Ef6MXYQ", sent["payer"]);
        Assert.Matches(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$", sent["expire_time"]);
        Assert.Contains("\"plate\":\"粤B12345\"", sent["extra"], StringComparison.Ordinal);
        Assert.False(sent.ContainsKey("callback_url"));
        Assert.Equal($"{order.OrderId}-1", prepared.PayOrder);
    }

    [Fact]
    public async Task A_still_valid_attempt_is_reused_and_a_stale_one_gets_a_fresh_pay_order()
    {
        var order = await app.CreateOrderAsync();
        var first = await app.PrepareAsync(order.OrderId);
        var again = await app.PrepareAsync(order.OrderId, "alipay");

        Assert.Equal(first.PayId, again.PayId);
        Assert.Equal("2021004130621008", again.Launch.AppId);
        Assert.Single(app.Pyun.State.PrepareRequests, r => r["pay_order"].StartsWith(order.OrderId, StringComparison.Ordinal));

        app.Clock.Advance(TimeSpan.FromMinutes(5));
        var fresh = await app.PrepareAsync(order.OrderId);
        app.Clock.Advance(-TimeSpan.FromMinutes(5));

        Assert.NotEqual(first.PayId, fresh.PayId);
        Assert.Equal($"{order.OrderId}-2", fresh.PayOrder);
    }

    [Fact]
    public async Task A_failed_payment_can_be_retried_with_a_new_attempt()
    {
        var order = await app.CreateOrderAsync();
        var first = await app.PrepareAsync(order.OrderId);
        await app.Pyun.PayAsync(first.PayId, new FakePayment("failure"));
        await app.DrainQueueAsync();
        Assert.Equal("Failed", (await app.GetOrderAsync(order.OrderId)).Status);

        var second = await app.PrepareAsync(order.OrderId);
        Assert.NotEqual(first.PayOrder, second.PayOrder);
        Assert.Equal("Pending", (await app.GetOrderAsync(order.OrderId)).Status);

        await app.Pyun.PayAsync(second.PayId);
        await app.DrainQueueAsync();
        Assert.Equal("Paid", (await app.GetOrderAsync(order.OrderId)).Status);
    }

    [Fact]
    public async Task A_wrong_amount_ends_in_AmountMismatch_and_never_Paid()
    {
        var order = await app.CreateOrderAsync(amount: 1000);
        var prepared = await app.PrepareAsync(order.OrderId);

        await app.Pyun.PayAsync(prepared.PayId, new FakePayment(Value: 1));
        await app.DrainQueueAsync();

        var view = await app.GetOrderAsync(order.OrderId);
        Assert.Equal("AmountMismatch", view.Status);
        Assert.Equal(1, view.PaidAmount);
        Assert.True(view.RefundRequired);
    }

    [Theory]
    [InlineData("{\"client\":\"weixin\"}", "client")]
    [InlineData("{}", "client")]
    [InlineData("{\"client\":\"wechat\",\"payer\":\"has space\"}", "payer")]
    public async Task Prepare_errors_are_keyed_by_the_json_path_sent_and_prepare_nothing(string json, string key)
    {
        var order = await app.CreateOrderAsync();
        using var http = app.CreateClient();

        using var response = await http.PostJsonTextAsync($"/api/orders/{order.OrderId}/prepare", json);

        Assert.Equal([key], await response.ErrorKeysAsync());
        Assert.Equal("Created", (await app.GetOrderAsync(order.OrderId)).Status);
    }

    [Fact]
    public async Task Paid_expired_and_unknown_orders_cannot_be_prepared()
    {
        using var http = app.CreateClient();

        var paid = await app.CreateOrderAsync();
        var prepared = await app.PrepareAsync(paid.OrderId);
        await app.Pyun.PayAsync(prepared.PayId);
        await app.DrainQueueAsync();
        using var paidResponse = await http.PostAsJsonAsync($"/api/orders/{paid.OrderId}/prepare", new { client = "wechat" });
        Assert.Equal(HttpStatusCode.Conflict, paidResponse.StatusCode);
        Assert.Contains("Paid", (await paidResponse.ProblemAsync()).GetProperty("detail").GetString(), StringComparison.Ordinal);

        var expiring = await app.CreateOrderAsync(expiresAt: app.Clock.GetUtcNow().AddMinutes(2));
        app.Clock.Advance(TimeSpan.FromMinutes(3));
        using var expiredResponse = await http.PostAsJsonAsync($"/api/orders/{expiring.OrderId}/prepare", new { client = "wechat" });
        app.Clock.Advance(-TimeSpan.FromMinutes(3));
        Assert.Equal(HttpStatusCode.Gone, expiredResponse.StatusCode);

        using var unknown = await http.PostAsJsonAsync($"/api/orders/{PayOrderNumber.NewOrderId()}/prepare", new { client = "wechat" });
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        using var malformedId = await http.PostAsJsonAsync("/api/orders/..%2f..%2fetc/prepare", new { client = "wechat" });
        Assert.Equal(HttpStatusCode.NotFound, malformedId.StatusCode);
    }

    [Theory]
    [InlineData("abcdefghijklmnopqrstuvwx")] // well-formed, never created
    [InlineData("short")]
    [InlineData("ABCDEFGHIJKLMNOPQRSTUVWX")]
    [InlineData("abcdefghijklmnopqrstuvw%27")]
    public async Task Reading_an_unknown_order_is_a_404_problem(string orderId)
    {
        using var http = app.CreateClient();
        using var response = await http.GetAsync($"/api/orders/{orderId}");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("No such order.", (await response.ProblemAsync()).GetProperty("detail").GetString());
    }

    [Fact]
    public async Task An_order_past_its_expiry_reads_Expired()
    {
        var order = await app.CreateOrderAsync(expiresAt: app.Clock.GetUtcNow().AddMinutes(2));
        app.Clock.Advance(TimeSpan.FromMinutes(3));
        var view = await app.GetOrderAsync(order.OrderId);
        app.Clock.Advance(-TimeSpan.FromMinutes(3));

        Assert.Equal("Expired", view.Status);
    }

    [Fact]
    public async Task A_platform_refusal_answers_502_and_leaves_the_order_as_it_was()
    {
        var order = await app.CreateOrderAsync();
        app.Pyun.State.FailNextPrepareWithCode = "500";
        using var http = app.CreateClient();

        using var response = await http.PostAsJsonAsync($"/api/orders/{order.OrderId}/prepare", new { client = "wechat" });

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Contains("code 500", (await response.ProblemAsync()).GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal("Created", (await app.GetOrderAsync(order.OrderId)).Status);

        // The next try uses a new pay_order: P云 never accepts one twice.
        var retried = await app.PrepareAsync(order.OrderId);
        Assert.Equal($"{order.OrderId}-2", retried.PayOrder);
    }
}
