using System.Net;
using System.Net.Http.Json;
using PaymentFunctions.Fakes.Pyun;
using PaymentFunctions.Http;
using PaymentFunctions.Tests.Infrastructure;

namespace PaymentFunctions.Tests.Pyun;

/// <summary>P云's answers are read up to <see cref="OutboundHttp.MaxResponseBytes"/>; a bigger one is P云's failure, not our memory's.</summary>
public sealed class ResponseSizeCapTests(PaymentApp app) : IClassFixture<PaymentApp>
{
    private int QueriesFor(string payOrder) => app.Pyun.State.QueryRequests.Count(q => q.GetValueOrDefault("pay_order") == payOrder);

    [Fact]
    public async Task An_oversize_prepare_answer_is_a_502_and_the_next_attempt_works()
    {
        var order = await app.CreateOrderAsync();
        app.Pyun.State.PadNextAnswer(100_000);

        using var http = app.CreateClient();
        using var response = await http.PostAsJsonAsync($"/api/orders/{order.OrderId}/prepare", new { client = "wechat" });

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Contains("answered more than 64 KiB", (await response.ProblemAsync()).GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal("Created", (await app.GetOrderAsync(order.OrderId)).Status);

        var prepared = await app.PrepareAsync(order.OrderId);
        Assert.False(string.IsNullOrEmpty(prepared.PayId));
    }

    [Fact]
    public async Task An_answer_just_under_the_cap_is_read()
    {
        var order = await app.CreateOrderAsync();
        app.Pyun.State.PadNextAnswer(OutboundHttp.MaxResponseBytes - 1024);

        var prepared = await app.PrepareAsync(order.OrderId);

        Assert.False(string.IsNullOrEmpty(prepared.PayId));
    }

    [Fact]
    public async Task An_oversize_query_answer_keeps_the_stored_status()
    {
        var order = await app.CreateOrderAsync(amount: 2500);
        var prepared = await app.PrepareAsync(order.OrderId);
        await app.Pyun.PayAsync(prepared.PayId, new FakePayment(Notify: false));
        app.Clock.Advance(TimeSpan.FromSeconds(6));
        app.Pyun.State.PadNextAnswer(1_000_000);

        Assert.Equal("Pending", (await app.GetOrderAsync(order.OrderId)).Status);
        Assert.Equal(1, QueriesFor(prepared.PayOrder));
        Assert.Empty(await app.TimelineAsync(order.OrderId));

        app.Clock.Advance(TimeSpan.FromSeconds(11));
        Assert.Equal("Paid", (await app.GetOrderAsync(order.OrderId)).Status);
    }
}
