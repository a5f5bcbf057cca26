using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using PaymentFunctions.Orders;
using PaymentFunctions.Pyun;
using PaymentFunctions.Tests.Infrastructure;

namespace PaymentFunctions.Tests.Orders;

/// <summary>Calls of the refund API and the rows behind it, for the refund tests.</summary>
internal static class Refunds
{
    /// <summary>An order paid <paramref name="value"/> fen on attempt 1 (applied as P云's notification would be, without the queue).</summary>
    public static async Task<(OrderView Order, PrepareOrderResponse Attempt)> PaidOrderAsync(this PaymentApp app, long amount = 1000, long? value = null)
    {
        var order = await app.CreateOrderAsync(amount: amount);
        var prepared = await app.PrepareAsync(order.OrderId);
        await app.ApplyPaymentAsync(prepared.PayOrder, value ?? amount);
        return (order, prepared);
    }

    public static Task<ProcessResult> ApplyPaymentAsync(this PaymentApp app, string payOrder, long value, string paySerial = "", DateTimeOffset? tradeTime = null) =>
        app.Services.GetRequiredService<PyunPaymentProcessor>().ApplyAsync(
            new PyunTradeResult(payOrder, PyunTradeResult.Success, value, paySerial.Length > 0 ? paySerial : "5030" + payOrder, "200201", "4200001",
                tradeTime ?? app.Clock.GetUtcNow(), 6, null),
            "pyun.notify", app.Clock.GetUtcNow(), CancellationToken.None);

    public static object Body(string refundNo, long amount = 400, string? reason = "停车费多收") => new { refundNo, amount, reason };

    public static async Task<HttpResponseMessage> PostRefundAsync(this PaymentApp app, string orderId, object body)
    {
        using var http = app.CreateBusinessClient();
        return await http.PostAsJsonAsync($"/api/orders/{orderId}/refunds", body);
    }

    public static async Task<RefundView> RefundAsync(this PaymentApp app, string orderId, string refundNo, long amount = 400, string? reason = "停车费多收")
    {
        using var response = await app.PostRefundAsync(orderId, Body(refundNo, amount, reason));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<RefundView>(Api.Json))!;
    }

    public static async Task<RefundView> GetRefundAsync(this PaymentApp app, string orderId, string refundNo)
    {
        using var http = app.CreateBusinessClient();
        using var response = await http.GetAsync($"/api/orders/{orderId}/refunds/{refundNo}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<RefundView>(Api.Json))!;
    }

    public static async Task<RefundListView> ListRefundsAsync(this PaymentApp app, string orderId)
    {
        using var http = app.CreateBusinessClient();
        using var response = await http.GetAsync($"/api/orders/{orderId}/refunds");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<RefundListView>(Api.Json))!;
    }

    /// <summary>Messages on the queue, visible or not (the safety nets wait invisible).</summary>
    public static async Task<int> AllMessagesAsync(this PaymentApp app)
    {
        await app.Storage.EnsureCreatedAsync(CancellationToken.None);
        return (await app.Storage.Notifications.GetPropertiesAsync()).Value.ApproximateMessagesCount;
    }
}

/// <summary>The manual refund API against Azurite: validation, refusals, idempotency and the amounts, before any P云 call.</summary>
public sealed class RefundApiTests(PaymentApp app) : IClassFixture<PaymentApp>
{
    public static TheoryData<string, string> BadBodies => new()
    {
        { """{"amount":100}""", "refundNo" },
        { """{"refundNo":"","amount":100}""", "refundNo" },
        { """{"refundNo":"r 1","amount":100}""", "refundNo" },
        { """{"refundNo":"r/1","amount":100}""", "refundNo" },
        { """{"refundNo":"123456789012345678901234567890123","amount":100}""", "refundNo" },
        { """{"refundNo":"auto-1","amount":100}""", "refundNo" },
        { """{"refundNo":"AUTO-1","amount":100}""", "refundNo" },
        { """{"refundNo":"r1"}""", "amount" },
        { """{"refundNo":"r1","amount":0}""", "amount" },
        { """{"refundNo":"r1","amount":-100}""", "amount" },
        { """{"refundNo":"r1","amount":100000000000}""", "amount" },
        { """{"refundNo":"r1","amount":100,"reason":"12345678901234567890123456789012345678901234567890123456789012345678901234567890x"}""", "reason" },
        { """{"refundNo":"r1","amount":100,"reason":"a\nb"}""", "reason" },
    };

    /// <summary>A refused request changed nothing: no refund row, the order row untouched, nothing queued (so nothing sent).</summary>
    private async Task AssertNothingChangedAsync(string orderId, OrderEntity before, int messagesBefore)
    {
        var after = (await app.Store.GetOrderAsync(orderId, CancellationToken.None))!;
        Assert.Equal(before.ETag, after.ETag);
        Assert.Empty((await app.ListRefundsAsync(orderId)).Refunds);
        Assert.Equal(messagesBefore, await app.AllMessagesAsync());
    }

    [Theory]
    [MemberData(nameof(BadBodies))]
    public async Task A_bad_body_is_a_400_naming_the_field_and_changes_nothing(string body, string field)
    {
        var (order, _) = await app.PaidOrderAsync();
        var before = (await app.Store.GetOrderAsync(order.OrderId, CancellationToken.None))!;
        var messages = await app.AllMessagesAsync();
        using var http = app.CreateBusinessClient();

        using var response = await http.PostJsonTextAsync($"/api/orders/{order.OrderId}/refunds", body);

        Assert.Contains(field, await response.ErrorKeysAsync());
        await AssertNothingChangedAsync(order.OrderId, before, messages);
    }

    [Fact]
    public async Task A_body_that_is_not_JSON_is_a_400_and_changes_nothing()
    {
        var (order, _) = await app.PaidOrderAsync();
        var before = (await app.Store.GetOrderAsync(order.OrderId, CancellationToken.None))!;
        var messages = await app.AllMessagesAsync();
        using var http = app.CreateBusinessClient();

        using var response = await http.PostJsonTextAsync($"/api/orders/{order.OrderId}/refunds", "{\"refundNo\":");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(400, (await response.ProblemAsync()).GetProperty("status").GetInt32());
        await AssertNothingChangedAsync(order.OrderId, before, messages);
    }

    [Fact]
    public async Task An_order_that_took_no_money_is_a_409_and_changes_nothing()
    {
        var order = await app.CreateOrderAsync();
        await app.PrepareAsync(order.OrderId);
        var before = (await app.Store.GetOrderAsync(order.OrderId, CancellationToken.None))!;
        var messages = await app.AllMessagesAsync();

        using var response = await app.PostRefundAsync(order.OrderId, Refunds.Body("r1", 100));

        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.Contains("took no money", (await response.ProblemAsync()).GetProperty("detail").GetString(), StringComparison.Ordinal);
        await AssertNothingChangedAsync(order.OrderId, before, messages);
    }

    [Fact]
    public async Task More_than_was_paid_is_a_409_and_changes_nothing()
    {
        var (order, _) = await app.PaidOrderAsync(amount: 1000);
        var before = (await app.Store.GetOrderAsync(order.OrderId, CancellationToken.None))!;
        var messages = await app.AllMessagesAsync();

        using var response = await app.PostRefundAsync(order.OrderId, Refunds.Body("r1", 1001));

        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.Contains("1000 fen", (await response.ProblemAsync()).GetProperty("detail").GetString(), StringComparison.Ordinal);
        await AssertNothingChangedAsync(order.OrderId, before, messages);
    }

    [Theory]
    [InlineData("abcdefghijklmnopqrstuvwx")] // well formed, no such order
    [InlineData("not-an-order")]
    public async Task An_unknown_order_is_a_404_for_every_refund_route(string orderId)
    {
        var messages = await app.AllMessagesAsync();
        using var http = app.CreateBusinessClient();

        using var post = await app.PostRefundAsync(orderId, Refunds.Body("r1", 100));
        using var get = await http.GetAsync($"/api/orders/{orderId}/refunds/r1");
        using var list = await http.GetAsync($"/api/orders/{orderId}/refunds");

        Assert.Equal([HttpStatusCode.NotFound, HttpStatusCode.NotFound, HttpStatusCode.NotFound], new[] { post.StatusCode, get.StatusCode, list.StatusCode });
        Assert.Equal(404, (await post.ProblemAsync()).GetProperty("status").GetInt32());
        Assert.Equal(messages, await app.AllMessagesAsync());
    }

    [Fact]
    public async Task The_refund_routes_need_the_function_key()
    {
        var (order, _) = await app.PaidOrderAsync();
        using var anonymous = app.CreateClient();

        using var post = await anonymous.PostAsJsonAsync($"/api/orders/{order.OrderId}/refunds", Refunds.Body("r1", 100));
        using var get = await anonymous.GetAsync($"/api/orders/{order.OrderId}/refunds/r1");
        using var list = await anonymous.GetAsync($"/api/orders/{order.OrderId}/refunds");

        Assert.Equal([HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized], new[] { post.StatusCode, get.StatusCode, list.StatusCode });
        Assert.Empty((await app.ListRefundsAsync(order.OrderId)).Refunds);
    }

    [Fact]
    public async Task A_refund_is_accepted_Pending_reserves_its_amount_and_queues_its_send_and_its_safety_net()
    {
        var (order, prepared) = await app.PaidOrderAsync(amount: 1000);
        var messages = await app.AllMessagesAsync();

        using var response = await app.PostRefundAsync(order.OrderId, Refunds.Body("r-1", 400));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal($"/api/orders/{order.OrderId}/refunds/r-1", response.Headers.Location?.OriginalString);
        var refund = (await response.Content.ReadFromJsonAsync<RefundView>(Api.Json))!;
        Assert.Equal(("r-1", 400L, "停车费多收", "Pending", "manual"), (refund.RefundNo, refund.Amount, refund.Reason, refund.Status, refund.Origin));
        Assert.Equal(prepared.PayOrder, refund.PayOrder);
        Assert.Equal(app.Clock.GetUtcNow(), refund.CreatedAt);
        Assert.Null(refund.CompletedAt);
        Assert.Equal(refund, await app.GetRefundAsync(order.OrderId, "r-1"));

        var view = await app.GetOrderAsync(order.OrderId);
        Assert.Equal((0L, 400L), (view.RefundedAmount, view.RefundingAmount));
        Assert.Equal($"/api/orders/{order.OrderId}/refunds", view.Refunds);
        var list = await app.ListRefundsAsync(order.OrderId);
        Assert.Equal(refund, Assert.Single(list.Refunds));
        Assert.Equal(400, list.RefundingAmount);
        var attempt = (await app.Store.GetAttemptAsync(order.OrderId, 1, CancellationToken.None))!;
        Assert.Equal((0L, 400L), (attempt.RefundedAmount, attempt.RefundingAmount));
        Assert.Contains(await app.TimelineAsync(order.OrderId), t => t.RowKey == "evt-refund-r-1-created");

        // The immediate send (visible) and the safety net (invisible until Refunds:RecoveryDelay).
        Assert.Equal(messages + 2, await app.AllMessagesAsync());
    }

    [Fact]
    public async Task The_same_refund_again_is_the_same_refund_and_other_values_under_its_number_conflict()
    {
        var (order, _) = await app.PaidOrderAsync(amount: 1000);
        var created = await app.RefundAsync(order.OrderId, "same", 300, "a");
        var before = (await app.Store.GetOrderAsync(order.OrderId, CancellationToken.None))!;
        var messages = await app.AllMessagesAsync();

        using var again = await app.PostRefundAsync(order.OrderId, Refunds.Body("same", 300, "a"));
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal(created, await again.Content.ReadFromJsonAsync<RefundView>(Api.Json));

        foreach (var other in new[] { Refunds.Body("same", 301, "a"), Refunds.Body("same", 300, "b"), Refunds.Body("same", 300, null) })
        {
            using var conflict = await app.PostRefundAsync(order.OrderId, other);
            Assert.Equal(HttpStatusCode.Conflict, conflict.StatusCode);
            Assert.Contains("refundNo 'same'", (await conflict.ProblemAsync()).GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        var after = (await app.Store.GetOrderAsync(order.OrderId, CancellationToken.None))!;
        Assert.Equal(before.ETag, after.ETag);
        Assert.Equal(300, after.RefundingAmount);
        Assert.Equal(messages, await app.AllMessagesAsync());
    }

    [Fact]
    public async Task Refunds_together_never_exceed_what_was_paid_even_when_they_race()
    {
        var (order, _) = await app.PaidOrderAsync(amount: 1000);

        var responses = await Task.WhenAll(Enumerable.Range(1, 5).Select(i => app.PostRefundAsync(order.OrderId, Refunds.Body($"race-{i}", 300))));
        var codes = responses.Select(r => r.StatusCode).ToList();
        foreach (var response in responses)
        {
            response.Dispose();
        }

        Assert.Equal(3, codes.Count(c => c == HttpStatusCode.Accepted));
        Assert.Equal(2, codes.Count(c => c == HttpStatusCode.Conflict));
        var list = await app.ListRefundsAsync(order.OrderId);
        Assert.Equal(3, list.Refunds.Count);
        Assert.Equal(900, list.RefundingAmount);
        Assert.Equal(900, (await app.Store.GetAttemptAsync(order.OrderId, 1, CancellationToken.None))!.RefundingAmount);
        // Each refund has its own P云 refund number.
        var rows = await Task.WhenAll(list.Refunds.Select(r => app.Store.GetRefundAsync(order.OrderId, r.RefundNo, CancellationToken.None)));
        Assert.Equal(3, rows.Select(r => r!.PyunOrder).Distinct().Count());
    }

    [Fact]
    public async Task The_same_refund_sent_at_once_many_times_is_stored_once()
    {
        var (order, _) = await app.PaidOrderAsync(amount: 1000);

        var responses = await Task.WhenAll(Enumerable.Range(1, 4).Select(_ => app.PostRefundAsync(order.OrderId, Refunds.Body("once", 250))));
        var codes = responses.Select(r => r.StatusCode).ToList();
        foreach (var response in responses)
        {
            response.Dispose();
        }

        Assert.Single(codes, HttpStatusCode.Accepted);
        Assert.Equal(3, codes.Count(c => c == HttpStatusCode.OK));
        Assert.Equal(250, (await app.ListRefundsAsync(order.OrderId)).RefundingAmount);
    }
}
