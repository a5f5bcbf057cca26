using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using PaymentFunctions.PayScore;
using PaymentFunctions.Tests.Infrastructure;
using PaymentFunctions.Tests.WeChatPay;
using PaymentFunctions.WeChatPay;
using Microsoft.Extensions.DependencyInjection;

namespace PaymentFunctions.Tests.PayScore;

public sealed class PayScoreAppFixture : IAsyncLifetime
{
    public PaymentApp App { get; } = new PaymentApp().EnableWeChatPay();

    public ValueTask InitializeAsync() => App.InitializeAsync();

    public ValueTask DisposeAsync() => App.DisposeAsync();
}

/// <summary>Every bad input to the Pay Score routes: a clear error, and no stored state changes.</summary>
public sealed class PayScoreBadInputTests(PayScoreAppFixture fixture) : IClassFixture<PayScoreAppFixture>
{
    private PaymentApp App => fixture.App;

    private async Task<PayScoreOrderEntity?> StoredAsync(string outOrderNo) =>
        await App.Services.GetRequiredService<PayScoreStore>().GetAsync(outOrderNo, default);

    private static async Task AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string expected)
    {
        Assert.Equal(status, response.StatusCode);
        var problem = await response.ProblemAsync();
        Assert.Contains(expected, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("serviceIntroduction", "\"这是一个超过二十个字的服务介绍文字内容很长很长\"", "service_introduction")]
    [InlineData("serviceIntroduction", "\"充电宝😀\"", "service_introduction")]
    [InlineData("outOrderNo", "\"has space\"", "out_order_no")]
    [InlineData("outOrderNo", "\"abcdefghijklmnopqrstuvwxyz0123456789\"", "out_order_no")]
    [InlineData("riskFund", "{\"name\":\"DEPOSIT\",\"amount\":0,\"description\":\"押金\"}", "risk_fund.amount")]
    [InlineData("riskFund", "{\"name\":\"GOLD\",\"amount\":100,\"description\":\"押金\"}", "risk_fund.name")]
    [InlineData("riskFund", "{\"name\":\"DEPOSIT\",\"amount\":1.5,\"description\":\"押金\"}", "$.riskFund.amount")]
    [InlineData("riskFund", "{\"name\":\"DEPOSIT\",\"amount\":\"100\",\"description\":\"押金\"}", "$.riskFund.amount")]
    [InlineData("postPayments", "[{\"name\":\"租借费\",\"amount\":-1,\"count\":1}]", "post_payments")]
    [InlineData("timeRange", "{\"startTime\":\"tomorrow\"}", "time_range.start_time")]
    [InlineData("attach", "\"x\"", "")] // sanity: a valid field passes through to the next check
    [InlineData("unexpected", "1", "member this API does not accept")]
    public async Task Bad_create_requests_are_refused_and_nothing_is_stored(string field, string json, string expected)
    {
        var outOrderNo = PayScoreApi.NewOutOrderNo();
        var body = PayScoreApi.CreateBody(outOrderNo);
        body[field] = JsonNode.Parse(json);
        if (expected.Length == 0)
        {
            using var ok = await App.PostAsync("/api/payscore/orders", body);
            Assert.Equal(HttpStatusCode.Created, ok.StatusCode);
            return;
        }

        using var response = await App.PostAsync("/api/payscore/orders", body);

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, expected);
        var target = field == "outOrderNo" ? body["outOrderNo"]!.GetValue<string>() : outOrderNo;
        if (target.Length <= 32 && !target.Contains(' ', StringComparison.Ordinal))
        {
            Assert.Null(await StoredAsync(target));
        }

        Assert.DoesNotContain(App.WeChat!.State.Requests, r => r.Body.Contains(outOrderNo, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("riskFund", "{\"name\":\"DEPOSIT\",\"amount\":0,\"description\":\"押金\"}", "riskFund.amount")]
    [InlineData("postPayments", "[{\"name\":\"租借费\",\"amount\":300,\"count\":1},{\"name\":\"押金\",\"amount\":-1}]", "postPayments[1].amount")]
    [InlineData("timeRange", "{\"startTime\":\"tomorrow\"}", "timeRange.startTime")]
    [InlineData("location", "{\"endLocation\":\"出口\"}", "location.endLocation")]
    [InlineData("serviceIntroduction", "\"充电宝😀\"", "serviceIntroduction")]
    [InlineData("outOrderNo", "\"has space\"", "outOrderNo")]
    public async Task Create_errors_are_keyed_by_the_json_path_sent(string field, string json, string key)
    {
        var outOrderNo = PayScoreApi.NewOutOrderNo();
        var body = PayScoreApi.CreateBody(outOrderNo);
        body[field] = JsonNode.Parse(json);

        using var response = await App.PostAsync("/api/payscore/orders", body);

        Assert.Equal([key], await response.ErrorKeysAsync());
        Assert.Null(await StoredAsync(outOrderNo));
        Assert.DoesNotContain(App.WeChat!.State.Requests, r => r.Body.Contains(outOrderNo, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Create_without_the_function_key_is_refused()
    {
        var outOrderNo = PayScoreApi.NewOutOrderNo();
        using var response = await App.PostAsync("/api/payscore/orders", PayScoreApi.CreateBody(outOrderNo), withKey: false);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Null(await StoredAsync(outOrderNo));
    }

    [Fact]
    public async Task Create_is_idempotent_on_outOrderNo_and_a_different_body_conflicts()
    {
        var outOrderNo = PayScoreApi.NewOutOrderNo();
        var first = await App.CreatePayScoreOrderAsync(outOrderNo);

        using var again = await App.PostAsync("/api/payscore/orders", PayScoreApi.CreateBody(outOrderNo));
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Contains(first.OpenBusinessView!.ExtraData.Package, await again.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        var different = PayScoreApi.CreateBody(outOrderNo);
        different["attach"] = "other";
        using var conflict = await App.PostAsync("/api/payscore/orders", different);
        await AssertProblemAsync(conflict, HttpStatusCode.Conflict, outOrderNo);
        Assert.Single(App.WeChat!.State.Requests, r => r.Method == "POST" && r.Body.Contains(outOrderNo, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(400, "PARAM_ERROR", HttpStatusCode.BadGateway)]
    [InlineData(403, "NO_AUTH", HttpStatusCode.BadGateway)]
    [InlineData(429, "RATELIMIT_EXCEEDED", HttpStatusCode.ServiceUnavailable)]
    [InlineData(500, "SYSTEM_ERROR", HttpStatusCode.BadGateway)]
    public async Task WeChat_errors_on_create_are_told_clearly_and_store_nothing(int status, string code, HttpStatusCode expected)
    {
        var outOrderNo = PayScoreApi.NewOutOrderNo();
        App.WeChat!.State.FailNext((HttpStatusCode)status, code, "模拟错误");

        using var response = await App.PostAsync("/api/payscore/orders", PayScoreApi.CreateBody(outOrderNo));

        Assert.Equal(expected, response.StatusCode);
        var problem = await response.ProblemAsync();
        Assert.Equal(code, problem.GetProperty("weChatCode").GetString());
        // WeChat's Request-ID reaches our caller, for a support ticket.
        Assert.StartsWith("08", problem.GetProperty("requestId").GetString(), StringComparison.Ordinal);
        Assert.Contains("Request-ID 08", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Contains(code, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Null(await StoredAsync(outOrderNo));

        // The number is free again: the same request now succeeds.
        await App.CreatePayScoreOrderAsync(outOrderNo);
    }

    [Fact]
    public async Task A_forged_WeChat_answer_is_refused_and_stores_nothing()
    {
        var outOrderNo = PayScoreApi.NewOutOrderNo();
        App.WeChat!.State.CorruptNextResponseSignature();
        using var response = await App.PostAsync("/api/payscore/orders", PayScoreApi.CreateBody(outOrderNo));
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Null(await StoredAsync(outOrderNo));
    }

    [Theory]
    [InlineData("{}", "exactly one")]
    [InlineData("{\"queryId\":\"q1\",\"outOrderNo\":\"o1\"}", "exactly one")]
    [InlineData("{\"queryId\":\"\"}", "query_id")]
    [InlineData("{\"outOrderNo\":\"NOT-OURS-123\"}", "No such Pay Score order")]
    [InlineData("{\"outOrderNo\":\"bad space\"}", "No such Pay Score order")]
    [InlineData("{\"queryId\":1}", "$.queryId")]
    public async Task Bad_queries_are_refused(string json, string expected)
    {
        using var http = App.CreateClient();
        using var response = await http.PostJsonTextAsync("/api/payscore/orders/query", json);
        Assert.True(response.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.NotFound, response.StatusCode.ToString());
        Assert.Contains(expected, (await response.ProblemAsync()).GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{}")]
    [InlineData("{\"queryId\":\"q1\",\"outOrderNo\":\"o1\"}")]
    [InlineData("{\"queryId\":\"has space\"}")]
    public async Task Query_errors_are_keyed_by_the_json_path_sent(string json)
    {
        using var http = App.CreateClient();
        using var response = await http.PostJsonTextAsync("/api/payscore/orders/query", json);

        Assert.Equal(["queryId"], await response.ErrorKeysAsync());
    }

    [Fact]
    public async Task A_query_when_WeChat_fails_changes_nothing()
    {
        var outOrderNo = PayScoreApi.NewOutOrderNo();
        await App.CreatePayScoreOrderAsync(outOrderNo);
        var before = await StoredAsync(outOrderNo);
        App.WeChat!.State.FailNextWithSystemError();

        using var http = App.CreateClient();
        using var response = await http.PostJsonTextAsync("/api/payscore/orders/query", $"{{\"outOrderNo\":\"{outOrderNo}\"}}");

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal("SYSTEM_ERROR", (await response.ProblemAsync()).GetProperty("weChatCode").GetString());
        // Only the query claim (LastQueryAt, which throttles WeChat calls) was written; the order itself is unchanged.
        var after = (await StoredAsync(outOrderNo))!;
        Assert.Equal((before!.State, before.StateDescription, before.CollectionState, before.TotalAmount, before.PaidAmount, before.UpdatedAt),
            (after.State, after.StateDescription, after.CollectionState, after.TotalAmount, after.PaidAmount, after.UpdatedAt));
        Assert.NotNull(after.LastQueryAt);
    }

    [Fact]
    public async Task Complete_refuses_totals_that_do_not_add_up_unconfirmed_and_unknown_orders()
    {
        var outOrderNo = PayScoreApi.NewOutOrderNo();
        await App.CreatePayScoreOrderAsync(outOrderNo);
        JsonObject Body(long total) => new()
        {
            ["postPayments"] = new JsonArray(new JsonObject { ["name"] = "租借费", ["amount"] = 600, ["count"] = 1 }),
            ["postDiscounts"] = new JsonArray(new JsonObject { ["name"] = "新用户", ["description"] = "立减", ["amount"] = 100, ["count"] = 1 }),
            ["totalAmount"] = total,
        };

        using var wrongTotal = await App.PostAsync($"/api/payscore/orders/{outOrderNo}/complete", Body(600));
        await AssertProblemAsync(wrongTotal, HttpStatusCode.BadRequest, "total_amount");
        using var missingTotal = await App.PostAsync($"/api/payscore/orders/{outOrderNo}/complete", Body(500).Without("totalAmount"));
        await AssertProblemAsync(missingTotal, HttpStatusCode.BadRequest, "total_amount");
        using var notConfirmed = await App.PostAsync($"/api/payscore/orders/{outOrderNo}/complete", Body(500));
        await AssertProblemAsync(notConfirmed, HttpStatusCode.Conflict, "not confirmed");
        using var unknown = await App.PostAsync($"/api/payscore/orders/{PayScoreApi.NewOutOrderNo()}/complete", Body(500));
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        using var noKey = await App.PostAsync($"/api/payscore/orders/{outOrderNo}/complete", Body(500), withKey: false);
        Assert.Equal(HttpStatusCode.Unauthorized, noKey.StatusCode);
        Assert.Equal("CREATED", (await StoredAsync(outOrderNo))!.State);
    }

    [Fact]
    public async Task Cancel_needs_a_reason_and_cancels_a_created_order_once()
    {
        var outOrderNo = PayScoreApi.NewOutOrderNo();
        await App.CreatePayScoreOrderAsync(outOrderNo);

        using var noReason = await App.PostAsync($"/api/payscore/orders/{outOrderNo}/cancel", new JsonObject());
        await AssertProblemAsync(noReason, HttpStatusCode.BadRequest, "reason");
        using var emoji = await App.PostAsync($"/api/payscore/orders/{outOrderNo}/cancel", new JsonObject { ["reason"] = "不要了😀" });
        await AssertProblemAsync(emoji, HttpStatusCode.BadRequest, "reason");
        Assert.Equal("CREATED", (await StoredAsync(outOrderNo))!.State);

        using var cancelled = await App.PostAsync($"/api/payscore/orders/{outOrderNo}/cancel", new JsonObject { ["reason"] = "用户取消" });
        Assert.Equal(HttpStatusCode.OK, cancelled.StatusCode);
        Assert.Equal("REVOKED", (await StoredAsync(outOrderNo))!.State);
        using var again = await App.PostAsync($"/api/payscore/orders/{outOrderNo}/cancel", new JsonObject { ["reason"] = "用户取消" });
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
    }
}
