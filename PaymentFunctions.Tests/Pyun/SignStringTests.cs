using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using PaymentFunctions.Pyun;
using PaymentFunctions.Tests.Infrastructure;

namespace PaymentFunctions.Tests.Pyun;

/// <summary>
/// P云's sign string joins raw names and values with '&amp;' and '=', so a field holding either could be re-split into
/// other fields with the same sign. Such fields are refused on the way in and never sent on the way out.
/// </summary>
public sealed class SignStringTests(PaymentApp app) : IClassFixture<PaymentApp>
{
    /// <summary>Ways to re-split a genuine notification's sign string: (fields to drop, fields to set).</summary>
    public static TheoryData<string> Forgeries => ["trade_no swallows trade_time", "channel swallows fee", "a name carries '=' and '&'"];

    private static Dictionary<string, string> Forge(Dictionary<string, string> genuine, string how)
    {
        var forged = new Dictionary<string, string>(genuine, StringComparer.Ordinal);
        forged.Remove("sign");
        switch (how)
        {
            case "trade_no swallows trade_time":
                forged["trade_no"] = $"{genuine["trade_no"]}&trade_time={genuine["trade_time"]}";
                forged.Remove("trade_time");
                break;
            case "channel swallows fee":
                forged["channel"] = $"{genuine["channel"]}&fee={genuine["fee"]}";
                forged.Remove("fee");
                break;
            default:
                forged[$"trade_no={genuine["trade_no"]}&trade_time"] = genuine["trade_time"];
                forged.Remove("trade_no");
                forged.Remove("trade_time");
                break;
        }

        return forged;
    }

    [Theory]
    [MemberData(nameof(Forgeries))]
    public async Task A_notification_whose_fields_re_split_a_genuine_sign_string_is_refused(string how)
    {
        var order = await app.CreateOrderAsync(amount: 1000);
        var prepared = await app.PrepareAsync(order.OrderId);
        var genuine = Api.Notification(prepared.PayOrder, 1, 1000).WithSign();
        var forged = Forge(genuine, how);

        // The forgery needs no secret: it carries the genuine sign, which matches its fields' sign string exactly.
        Assert.Equal(PyunSignature.StringToSign(genuine!, PaymentApp.AppSecret), PyunSignature.StringToSign(forged!, PaymentApp.AppSecret));
        forged["sign"] = genuine["sign"];

        using var response = await app.PostNotifyAsync(forged);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var answer = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("1400", answer.RootElement.GetProperty("code").GetString());
        Assert.Contains("'&' or '='", answer.RootElement.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, await app.QueueLengthAsync());
        await app.DrainQueueAsync();
        Assert.Equal("Pending", (await app.GetOrderAsync(order.OrderId)).Status);
        Assert.Empty(await app.TimelineAsync(order.OrderId));

        // The genuine one still goes through.
        using var real = await app.PostNotifyAsync(genuine);
        Assert.Equal("1001", await real.PyunCodeAsync());
        await app.DrainQueueAsync();
        Assert.Equal("Paid", (await app.GetOrderAsync(order.OrderId)).Status);
    }

    [Theory]
    [InlineData("pay_mode_desc", "微信=WeChat")]
    [InlineData("payer", "o1kT&x")]
    [InlineData("x&y", "1")]
    [InlineData("x=y", "1")]
    public async Task Any_field_with_amp_or_equals_is_refused_even_when_signed_over_as_is(string name, string value)
    {
        var order = await app.CreateOrderAsync(amount: 1000);
        var prepared = await app.PrepareAsync(order.OrderId);
        var form = Api.Notification(prepared.PayOrder, 1, 1000);
        form[name] = value;

        using var response = await app.PostNotifyAsync(form.WithSign());

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("1400", await response.PyunCodeAsync());
        Assert.Equal(0, await app.QueueLengthAsync());
        Assert.Equal("Pending", (await app.GetOrderAsync(order.OrderId)).Status);
    }

    [Theory]
    [InlineData("subject", "停车费&value=1", "'subject' must not contain '&' or '='")]
    [InlineData("subject", "a=b", "'subject' must not contain '&' or '='")]
    [InlineData("body", "粤B12345 & 2 小时", "'body' must not contain '&' or '='")]
    [InlineData("park_name", "A&B 停车场", "'extra.park_name' must not contain '&' or '='")]
    [InlineData("plate", "粤B1=345", "'extra.plate' must not contain '&' or '='")]
    [InlineData("parking_serial", "P1&value=1", "'extra.parking_serial' must not contain '&' or '='")]
    public async Task Order_text_that_P云_cannot_sign_is_refused_at_creation(string field, string value, string expected)
    {
        var request = (Dictionary<string, object?>)Api.OrderRequest();
        var merchantOrderNo = (string)request["merchantOrderNo"]!;
        if (field is "subject" or "body")
        {
            request[field] = value;
        }
        else
        {
            var extra = (Dictionary<string, object>)Api.ParkingExtra();
            extra[field] = value;
            request["extra"] = extra;
        }

        using var http = app.CreateBusinessClient();
        using var response = await http.PostAsJsonAsync("/api/orders", request);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(expected, (await response.ProblemAsync()).GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, await app.IndexRowsAsync(merchantOrderNo));
    }

    [Fact]
    public async Task Escaped_amp_in_extra_json_is_refused_too_because_it_is_the_decoded_text_that_counts()
    {
        var no = Api.NewMerchantOrderNo();
        var json = $$$"""
            {"merchantOrderNo":"{{{no}}}","subject":"停车缴费","amount":1000,"scene":"PARKING",
             "extra":{"plate":"粤B12345","plate_color":"1","parking_serial":"P1","park_name":"A\u0026B","enter_time":"1620621689000","parking_time":"175","free_value":0}}
            """;
        using var http = app.CreateBusinessClient();
        using var response = await http.PostJsonTextAsync("/api/orders", json);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("'extra.park_name' must not contain", (await response.ProblemAsync()).GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, await app.IndexRowsAsync(no));
    }

    [Theory]
    [InlineData("subject")]
    [InlineData("body")]
    [InlineData("extra")]
    [InlineData("payer")]
    public async Task The_client_refuses_to_send_a_parameter_it_cannot_sign(string field)
    {
        using var http = new HttpClient { BaseAddress = new Uri(app.Pyun.BaseUrl) };
        var client = new PyunClient(http, Options.Create(new PyunOptions
        {
            BaseUrl = app.Pyun.BaseUrl,
            AppId = PaymentApp.AppId,
            AppSecret = PaymentApp.AppSecret,
            Merchant = PaymentApp.Merchant,
            NotifyUrl = "http://localhost/api/notify/pyun",
        }), NullLogger<PyunClient>.Instance);
        var payOrder = "P" + Guid.NewGuid().ToString("N")[..20] + "01";
        var request = new PyunPrepareRequest(payOrder, "停车缴费", 1000, "粤B12345", null, app.Clock.GetUtcNow().AddMinutes(5), "PARKING",
            JsonSerializer.Serialize(Api.ParkingExtra()));
        request = field switch
        {
            "subject" => request with { Subject = "停车缴费&value=1" },
            "body" => request with { Body = "a=b" },
            "extra" => request with { Extra = """{"park_name":"A&B"}""" },
            _ => request with { Payer = "o1kT&x" },
        };

        var ex = await Assert.ThrowsAsync<PyunException>(() => client.PrepareAsync(request, TestContext.Current.CancellationToken));

        Assert.Contains($"'{field}'", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(app.Pyun.State.PrepareRequests, r => r.GetValueOrDefault("pay_order") == payOrder);
        Assert.False(app.Pyun.State.TradesByPayOrder.ContainsKey(payOrder));

        // The same request without the character is sent and accepted.
        var clean = await client.PrepareAsync(request with { Subject = "停车缴费", Body = "粤B12345", Extra = JsonSerializer.Serialize(Api.ParkingExtra()), Payer = null },
            TestContext.Current.CancellationToken);
        Assert.False(string.IsNullOrEmpty(clean));
    }
}
