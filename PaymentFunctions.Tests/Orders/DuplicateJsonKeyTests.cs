using System.Net;
using Microsoft.Extensions.DependencyInjection;
using PaymentFunctions.PayScore;
using PaymentFunctions.Tests.Infrastructure;
using PaymentFunctions.Tests.PayScore;

namespace PaymentFunctions.Tests.Orders;

/// <summary>
/// A key repeated in one JSON object is refused on every JSON route, at any depth, with a 400 naming its path,
/// and nothing changes ("last wins" would let two readers of the same body disagree).
/// </summary>
public sealed class DuplicateJsonKeyTests(PayScoreAppFixture fixture) : IClassFixture<PayScoreAppFixture>
{
    private PaymentApp App => fixture.App;

    private const string Extra = """{"plate":"粤B12345","plate_color":"1","parking_serial":"P1","park_name":"A","enter_time":"1620621689000","parking_time":"175","free_value":0}""";

    private static string PayScoreCreate(string outOrderNo, string riskFund = """{"name":"DEPOSIT","amount":9900,"description":"押金"}""",
        string payments = """[{"name":"租借费","amount":300,"count":1}]""", string more = "") =>
        $$"""
        {"outOrderNo":"{{outOrderNo}}","serviceIntroduction":"充电宝租借","postPayments":{{payments}},
         "timeRange":{"startTime":"OnAccept"},"location":{"startLocation":"深圳湾店"},"riskFund":{{riskFund}}{{more}}}
        """;

    private static async Task AssertDuplicateAsync(HttpResponseMessage response, string path)
    {
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var detail = (await response.ProblemAsync()).GetProperty("detail").GetString()!;
        Assert.Contains($"at {path}:", detail, StringComparison.Ordinal);
        Assert.Contains("appears more than once", detail, StringComparison.Ordinal);
    }

    private async Task<PayScoreOrderEntity?> StoredAsync(string outOrderNo) =>
        await App.Services.GetRequiredService<PayScoreStore>().GetAsync(outOrderNo, default);

    [Theory]
    [InlineData(""" ,"amount":1 """, "$.amount")]
    [InlineData(""" ,"extra":{"plate":"粤B1","plate":"粤B2"} """, "$.extra")]
    [InlineData(""" ,"subject":"停车缴费" """, "$.subject")]
    public async Task Create_order_refuses_a_repeated_key(string more, string path)
    {
        var no = Api.NewMerchantOrderNo();
        var body = $$"""{"merchantOrderNo":"{{no}}","subject":"停车缴费","amount":1000,"scene":"PARKING","extra":{{Extra}}{{more}}}""";
        using var http = App.CreateBusinessClient();

        using var response = await http.PostJsonTextAsync("/api/orders", body);

        await AssertDuplicateAsync(response, path);
        Assert.Equal(0, await App.IndexRowsAsync(no));
    }

    [Fact]
    public async Task A_repeated_key_deep_inside_extra_and_an_escaped_repeat_are_refused()
    {
        var no = Api.NewMerchantOrderNo();
        using var http = App.CreateBusinessClient();
        var nested = Extra.Replace("\"free_value\":0", "\"free_value\":0,\"x\":[{\"k\":1,\"k\":2}]", StringComparison.Ordinal);
        using var deep = await http.PostJsonTextAsync("/api/orders",
            $$"""{"merchantOrderNo":"{{no}}","subject":"停车缴费","amount":1000,"scene":"PARKING","extra":{{nested}}}""");
        await AssertDuplicateAsync(deep, "$.extra.x[0].k");

        // "\u0061mount" is "amount": keys are compared as the text they stand for.
        using var escaped = await http.PostJsonTextAsync("/api/orders",
            $$"""{"merchantOrderNo":"{{no}}","subject":"停车缴费","amount":1000,"\u0061mount":1,"scene":"PARKING","extra":{{Extra}}}""");
        await AssertDuplicateAsync(escaped, "$.amount");

        // Member names are case-insensitive, so "Amount" repeats "amount" as well.
        using var cased = await http.PostJsonTextAsync("/api/orders",
            $$"""{"merchantOrderNo":"{{no}}","subject":"停车缴费","amount":1000,"Amount":1,"scene":"PARKING","extra":{{Extra}}}""");
        Assert.Equal(HttpStatusCode.BadRequest, cased.StatusCode);
        Assert.Contains("appears more than once", (await cased.ProblemAsync()).GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, await App.IndexRowsAsync(no));
    }

    [Fact]
    public async Task Prepare_refuses_a_repeated_key()
    {
        var order = await App.CreateOrderAsync();
        using var http = App.CreateClient();

        using var response = await http.PostJsonTextAsync($"/api/orders/{order.OrderId}/prepare", """{"client":"wechat","client":"alipay"}""");

        await AssertDuplicateAsync(response, "$.client");
        Assert.Equal(0, (await App.Store.GetOrderAsync(order.OrderId, default))!.AttemptCount);
    }

    [Theory]
    [InlineData("outOrderNo", "$.outOrderNo")]
    [InlineData("riskFund", "$.riskFund.amount")]
    [InlineData("postPayments", "$.postPayments[0].name")]
    public async Task Pay_Score_create_refuses_a_repeated_key(string where, string path)
    {
        var outOrderNo = PayScoreApi.NewOutOrderNo();
        var body = where switch
        {
            "outOrderNo" => PayScoreCreate(outOrderNo, more: $$""","outOrderNo":"{{outOrderNo}}" """),
            "riskFund" => PayScoreCreate(outOrderNo, riskFund: """{"name":"DEPOSIT","amount":9900,"amount":1,"description":"押金"}"""),
            _ => PayScoreCreate(outOrderNo, payments: """[{"name":"租借费","name":"免费","amount":300,"count":1}]"""),
        };
        using var http = App.CreateBusinessClient();

        using var response = await http.PostJsonTextAsync("/api/payscore/orders", body);

        await AssertDuplicateAsync(response, path);
        Assert.Null(await StoredAsync(outOrderNo));
        Assert.DoesNotContain(App.WeChat!.State.Requests, r => r.Body.Contains(outOrderNo, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Pay_Score_query_complete_and_cancel_refuse_a_repeated_key()
    {
        var outOrderNo = PayScoreApi.NewOutOrderNo();
        await App.CreatePayScoreOrderAsync(outOrderNo);
        var calls = App.WeChat!.State.Requests.Count;
        using var anonymous = App.CreateClient();
        using var business = App.CreateBusinessClient();

        using var query = await anonymous.PostJsonTextAsync("/api/payscore/orders/query", $$"""{"outOrderNo":"{{outOrderNo}}","outOrderNo":"PSother"}""");
        await AssertDuplicateAsync(query, "$.outOrderNo");

        using var complete = await business.PostJsonTextAsync($"/api/payscore/orders/{outOrderNo}/complete",
            """{"postPayments":[{"name":"租借费","amount":300,"count":1}],"totalAmount":300,"location":{"endLocation":"A","endLocation":"B"}}""");
        await AssertDuplicateAsync(complete, "$.location.endLocation");

        using var cancel = await business.PostJsonTextAsync($"/api/payscore/orders/{outOrderNo}/cancel", """{"reason":"用户取消","reason":"不要了"}""");
        await AssertDuplicateAsync(cancel, "$.reason");

        Assert.Equal(calls, App.WeChat.State.Requests.Count);
        Assert.Equal("CREATED", (await StoredAsync(outOrderNo))!.State);
    }
}
