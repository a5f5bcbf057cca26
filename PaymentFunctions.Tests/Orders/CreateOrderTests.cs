using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using PaymentFunctions.Orders;
using PaymentFunctions.Tests.Infrastructure;

namespace PaymentFunctions.Tests.Orders;

public sealed class CreateOrderTests(PaymentApp app) : IClassFixture<PaymentApp>
{
    private static string Body(string merchantOrderNo, string amount = "1000", string scene = "\"PARKING\"", string? extra = null, string more = "") =>
        $$"""
        {"merchantOrderNo":"{{merchantOrderNo}}","subject":"停车缴费","amount":{{amount}},"scene":{{scene}},
         "extra":{{extra ?? """{"plate":"粤B12345","plate_color":"1","parking_serial":"P1","park_name":"A","enter_time":"1620621689000","parking_time":"175","free_value":0}"""}}{{more}}}
        """;

    /// <summary>Sends a bad body and proves it is a 400 ProblemDetails naming the problem, with nothing stored.</summary>
    private async Task AssertRejectedAsync(string json, string expectedInDetail, HttpStatusCode status = HttpStatusCode.BadRequest, string? merchantOrderNo = null)
    {
        using var http = app.CreateBusinessClient();
        using var response = await http.PostJsonTextAsync("/api/orders", json);

        Assert.Equal(status, response.StatusCode);
        var problem = await response.ProblemAsync();
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        Assert.Contains(expectedInDetail, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        if (merchantOrderNo is not null)
        {
            Assert.Equal(0, await app.IndexRowsAsync(merchantOrderNo));
        }
    }

    [Fact]
    public async Task Creates_an_order_with_an_unguessable_id()
    {
        var no = Api.NewMerchantOrderNo();
        using var http = app.CreateBusinessClient();

        using var response = await http.PostJsonTextAsync("/api/orders", Body(no));

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var order = (await response.Content.ReadFromJsonAsync<OrderView>(Api.Json))!;
        Assert.Equal($"/api/orders/{order.OrderId}", response.Headers.Location?.OriginalString);
        Assert.True(PayOrderNumber.IsOrderId(order.OrderId));
        Assert.Equal(no, order.MerchantOrderNo);
        Assert.Equal("Created", order.Status);
        Assert.Equal(1000, order.Amount);
        Assert.Equal(app.Clock.GetUtcNow().AddMinutes(30), order.ExpiresAt);
    }

    [Fact]
    public async Task The_same_request_returns_the_same_order_and_a_different_one_conflicts()
    {
        var no = Api.NewMerchantOrderNo();
        using var http = app.CreateBusinessClient();
        using var first = await http.PostJsonTextAsync("/api/orders", Body(no));
        var created = (await first.Content.ReadFromJsonAsync<OrderView>(Api.Json))!;

        // Same content, other key order and spacing: the same request.
        var reordered = JsonSerializer.Serialize(JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(Body(no))!.Reverse().ToDictionary());
        using var again = await http.PostJsonTextAsync("/api/orders", reordered);
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal(created.OrderId, (await again.Content.ReadFromJsonAsync<OrderView>(Api.Json))!.OrderId);

        using var different = await http.PostJsonTextAsync("/api/orders", Body(no, amount: "1001"));
        Assert.Equal(HttpStatusCode.Conflict, different.StatusCode);
        Assert.Contains(no, (await different.ProblemAsync()).GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(1000, (await app.GetOrderAsync(created.OrderId)).Amount);
    }

    [Fact]
    public async Task Concurrent_identical_requests_create_one_order()
    {
        var no = Api.NewMerchantOrderNo();
        var tasks = Enumerable.Range(0, 8).Select(async _ =>
        {
            using var http = app.CreateBusinessClient();
            using var response = await http.PostJsonTextAsync("/api/orders", Body(no));
            return (response.StatusCode, (await response.Content.ReadFromJsonAsync<OrderView>(Api.Json))!.OrderId);
        });

        var results = await Task.WhenAll(tasks);

        Assert.Single(results.Select(r => r.OrderId).Distinct());
        Assert.Single(results, r => r.StatusCode == HttpStatusCode.Created);
        Assert.Equal(1, await app.IndexRowsAsync(no));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("wrong-key-wrong-key-wrong-key")]
    [InlineData("")]
    public async Task A_call_without_the_function_key_is_refused(string? key)
    {
        var no = Api.NewMerchantOrderNo();
        using var http = app.CreateClient();
        if (key is not null)
        {
            http.DefaultRequestHeaders.Add("x-functions-key", key);
        }

        using var response = await http.PostJsonTextAsync("/api/orders", Body(no));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        await response.ProblemAsync();
        Assert.Equal(0, await app.IndexRowsAsync(no));
    }

    [Fact]
    public async Task The_key_may_also_come_as_the_code_query_parameter()
    {
        using var http = app.CreateClient();
        using var response = await http.PostJsonTextAsync($"/api/orders?code={PaymentApp.FunctionKey}", Body(Api.NewMerchantOrderNo()));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }

    [Theory]
    [InlineData("0", "'amount' must be a positive")]
    [InlineData("-1", "'amount' must be a positive")]
    [InlineData("10.5", "$.amount")]
    [InlineData("1000.0", "$.amount")]
    [InlineData("1e3", "$.amount")]
    [InlineData("\"1000\"", "$.amount")]
    [InlineData("null", "'amount' is required")]
    [InlineData("true", "$.amount")]
    [InlineData("10000001", "must not exceed 10000000")]
    [InlineData("99999999999999999999999", "$.amount")]
    public async Task Bad_amounts_are_refused(string amount, string expected)
    {
        var no = Api.NewMerchantOrderNo();
        await AssertRejectedAsync(Body(no, amount: amount), expected, merchantOrderNo: no);
    }

    [Theory]
    [InlineData("\"SHOPPING\"", "'scene' must be one of")]
    [InlineData("\"parking\"", "'scene' must be one of")]
    [InlineData("null", "'scene' must be one of")]
    [InlineData("7", "$.scene")]
    public async Task Unknown_scenes_are_refused(string scene, string expected)
    {
        var no = Api.NewMerchantOrderNo();
        await AssertRejectedAsync(Body(no, scene: scene), expected, merchantOrderNo: no);
    }

    [Theory]
    [InlineData("\"plate=1\"", "'extra' must be a JSON object")]
    [InlineData("[]", "'extra' must be a JSON object")]
    [InlineData("null", "'extra' is required")]
    [InlineData("{}", "'extra.plate' is required for scene PARKING")]
    [InlineData("""{"plate":"粤B1","plate_color":"9","parking_serial":"P","park_name":"A","enter_time":"1","parking_time":"1","free_value":0}""", "'extra.plate_color' must be one of")]
    [InlineData("""{"plate":"粤B1","plate_color":"1","parking_serial":"P","park_name":"A","enter_time":"soon","parking_time":"1","free_value":0}""", "'extra.enter_time' must be a string of digits")]
    [InlineData("""{"plate":"粤B1","plate_color":"1","parking_serial":"P","park_name":"A","enter_time":"1","parking_time":"1","free_value":1.5}""", "'extra.free_value' must be a whole")]
    [InlineData("""{"plate":"粤B1","plate_color":"1","parking_serial":"P","park_name":"A","enter_time":"1","parking_time":"1","free_value":"0"}""", "'extra.free_value' must be a whole")]
    [InlineData("""{"plate":"粤B1","plate_color":"1","parking_serial":"P","park_name":"A","enter_time":"1","parking_time":"1","free_value":0,"hack":"x"}""", "'extra.hack' is not a field of scene PARKING")]
    [InlineData("""{"plate":"粤B1","plate":"粤B2","plate_color":"1","parking_serial":"P","park_name":"A","enter_time":"1","parking_time":"1","free_value":0}""", "'extra.plate' appears more than once")]
    [InlineData("""{"plate":{"nested":1},"plate_color":"1","parking_serial":"P","park_name":"A","enter_time":"1","parking_time":"1","free_value":0}""", "'extra.plate' must be a non-empty string")]
    public async Task Malformed_extra_is_refused(string extra, string expected)
    {
        var no = Api.NewMerchantOrderNo();
        await AssertRejectedAsync(Body(no, extra: extra), expected, merchantOrderNo: no);
    }

    [Fact]
    public async Task Each_scene_validates_its_own_fields()
    {
        using var http = app.CreateBusinessClient();
        var living = Body(Api.NewMerchantOrderNo(), scene: "\"LIVING\"", extra: """{"room_no":"12栋-1单元-1301"}""");
        using var ok = await http.PostJsonTextAsync("/api/orders", living);
        Assert.Equal(HttpStatusCode.Created, ok.StatusCode);

        var generic = Body(Api.NewMerchantOrderNo(), scene: "\"GENERIC\"", extra: "{}");
        using var ok2 = await http.PostJsonTextAsync("/api/orders", generic);
        Assert.Equal(HttpStatusCode.Created, ok2.StatusCode);

        await AssertRejectedAsync(Body(Api.NewMerchantOrderNo(), scene: "\"LIVING\"", extra: """{"plate":"粤B1"}"""), "'extra.plate' is not a field of scene LIVING");
        await AssertRejectedAsync(Body(Api.NewMerchantOrderNo(), scene: "\"ENERGY\"", extra: """{"device_no":"D1"}"""), "'extra.port_no' is required for scene ENERGY");
    }

    [Theory]
    [InlineData(null, null, "\"粤B123456789012345\"", "extra.plate")]
    [InlineData(null, null, "\"粤B1\\u0000\"", "extra.plate")]
    [InlineData("has space", null, null, "merchantOrderNo")]
    [InlineData(null, "0", null, "amount")]
    public async Task Error_keys_are_the_json_paths_sent(string? merchantOrderNo, string? amount, string? plate, string key)
    {
        var no = merchantOrderNo ?? Api.NewMerchantOrderNo();
        var body = Body(no, amount: amount ?? "1000");
        if (plate is not null)
        {
            body = body.Replace("\"粤B12345\"", plate, StringComparison.Ordinal);
        }

        using var http = app.CreateBusinessClient();
        using var response = await http.PostJsonTextAsync("/api/orders", body);

        Assert.Equal([key], await response.ErrorKeysAsync());
        if (merchantOrderNo is null)
        {
            Assert.Equal(0, await app.IndexRowsAsync(no));
        }
    }

    [Fact]
    public async Task Each_missing_extra_field_has_its_own_key()
    {
        using var http = app.CreateBusinessClient();
        using var response = await http.PostJsonTextAsync("/api/orders", Body(Api.NewMerchantOrderNo(), extra: """{"plate":"粤B1","hack":"x"}"""));

        Assert.Equal(
            ["extra.hack", "extra.plate_color", "extra.parking_serial", "extra.park_name", "extra.enter_time", "extra.parking_time", "extra.free_value"],
            await response.ErrorKeysAsync());
    }

    [Theory]
    [InlineData("", "'merchantOrderNo' must be 1-32")]
    [InlineData("has space", "'merchantOrderNo' must be 1-32")]
    [InlineData("abcdefghijklmnopqrstuvwxyz0123456", "'merchantOrderNo' must be 1-32")]
    [InlineData("a/b", "'merchantOrderNo' must be 1-32")]
    public async Task Bad_merchant_order_numbers_are_refused(string no, string expected) =>
        await AssertRejectedAsync(Body(no), expected);

    [Fact]
    public async Task Missing_extra_oversized_and_unknown_fields_are_refused()
    {
        var no = Api.NewMerchantOrderNo();
        await AssertRejectedAsync(Body(no, more: ""","unexpected":1"""), "member this API does not accept", merchantOrderNo: no);
        await AssertRejectedAsync("""{"merchantOrderNo":"X1","amount":1000,"scene":"PARKING","extra":{}}""", "'subject' must be 1-128");
        await AssertRejectedAsync(Body(no).Replace("停车缴费", new string('长', 129), StringComparison.Ordinal), "'subject' must be 1-128", merchantOrderNo: no);
        await AssertRejectedAsync(Body(no, more: $$""","body":"{{new string('x', 513)}}" """), "'body' must be at most 512", merchantOrderNo: no);
        await AssertRejectedAsync(Body(no).Replace("停车缴费", "a\\u0000b", StringComparison.Ordinal), "'subject' must be 1-128", merchantOrderNo: no);
        await AssertRejectedAsync(Body(no, more: ""","expiresAt":"2020-01-01T00:00:00Z" """), "'expiresAt' must lie between", merchantOrderNo: no);
        await AssertRejectedAsync(Body(no, more: ""","expiresAt":"next week" """), "$.expiresAt", merchantOrderNo: no);
    }

    [Fact]
    public async Task Malformed_json_invalid_utf8_wrong_type_and_oversized_bodies_are_refused()
    {
        var no = Api.NewMerchantOrderNo();
        await AssertRejectedAsync("{\"merchantOrderNo\":", "not well-formed", merchantOrderNo: no);
        await AssertRejectedAsync("[]", "the body");
        await AssertRejectedAsync("", "empty");
        await AssertRejectedAsync("\"text\"", "the body");

        using var http = app.CreateBusinessClient();
        var invalid = Encoding.UTF8.GetBytes(Body(no).Replace("停车缴费", "@@", StringComparison.Ordinal));
        var at = Array.IndexOf(invalid, (byte)'@');
        invalid[at] = 0xFF; // not UTF-8 in any position
        invalid[at + 1] = 0xFE;
        using var badUtf8 = await http.PostRawAsync("/api/orders", invalid, "application/json");
        Assert.Equal(HttpStatusCode.BadRequest, badUtf8.StatusCode);
        await badUtf8.ProblemAsync();

        using var form = await http.PostRawAsync("/api/orders", Encoding.UTF8.GetBytes(Body(no)), "application/x-www-form-urlencoded");
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, form.StatusCode);
        using var text = await http.PostRawAsync("/api/orders", Encoding.UTF8.GetBytes(Body(no)), "text/plain");
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, text.StatusCode);

        using var huge = await http.PostJsonTextAsync("/api/orders", Body(no, more: $$""","body":"{{new string('x', 40_000)}}" """));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, huge.StatusCode);
        await huge.ProblemAsync();
        Assert.Equal(0, await app.IndexRowsAsync(no));
    }

    [Fact]
    public async Task Error_bodies_never_echo_the_function_key()
    {
        using var http = app.CreateBusinessClient();
        using var response = await http.PostJsonTextAsync("/api/orders", "{");
        Assert.DoesNotContain(PaymentApp.FunctionKey, await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
