using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using PaymentFunctions.Orders;
using PaymentFunctions.Pyun;

namespace PaymentFunctions.Tests.Infrastructure;

/// <summary>Calls the API the way its callers do, and reads the answers back as the public contract.</summary>
public static class Api
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static object ParkingExtra(string plate = "粤B12345") => new Dictionary<string, object>
    {
        ["plate"] = plate,
        ["plate_color"] = "1",
        ["parking_serial"] = "01009970545516206225805859659",
        ["park_name"] = "P云支付体验-停车场",
        ["enter_time"] = "1620621689000",
        ["parking_time"] = "175",
        ["free_value"] = 0,
    };

    public static object OrderRequest(string? merchantOrderNo = null, long amount = 1000, DateTimeOffset? expiresAt = null) => new Dictionary<string, object?>
    {
        ["merchantOrderNo"] = merchantOrderNo ?? NewMerchantOrderNo(),
        ["subject"] = "停车缴费",
        ["body"] = "粤B12345 停车 2 小时",
        ["amount"] = amount,
        ["scene"] = "PARKING",
        ["extra"] = ParkingExtra(),
        ["expiresAt"] = expiresAt,
    };

    public static string NewMerchantOrderNo() => "M" + Guid.NewGuid().ToString("N")[..20];

    public static async Task<OrderView> CreateOrderAsync(this PaymentApp app, long amount = 1000, DateTimeOffset? expiresAt = null)
    {
        using var client = app.CreateBusinessClient();
        using var response = await client.PostAsJsonAsync("/api/orders", OrderRequest(amount: amount, expiresAt: expiresAt ?? app.Clock.GetUtcNow().AddHours(1)));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<OrderView>(Json))!;
    }

    public static async Task<PrepareOrderResponse> PrepareAsync(this PaymentApp app, string orderId, string client = "wechat", string? payer = null)
    {
        using var http = app.CreateClient();
        using var response = await http.PostAsJsonAsync($"/api/orders/{orderId}/prepare", new { client, payer });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<PrepareOrderResponse>(Json))!;
    }

    public static async Task<OrderView> GetOrderAsync(this PaymentApp app, string orderId)
    {
        using var http = app.CreateClient();
        using var response = await http.GetAsync($"/api/orders/{orderId}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<OrderView>(Json))!;
    }

    /// <summary>A P云 notification as P云 would send it, signed unless told otherwise.</summary>
    public static Dictionary<string, string> Notification(string payOrder, int status, long value, string? paySerial = null, DateTimeOffset? tradeTime = null)
    {
        var form = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["app_id"] = PaymentApp.AppId,
            ["merchant"] = PaymentApp.Merchant,
            ["pay_order"] = payOrder,
            ["channel"] = "200201",
            ["pay_serial"] = status == 0 ? "" : paySerial ?? "503020261125" + payOrder.GetHashCode(StringComparison.Ordinal).ToString("x8", CultureInfo.InvariantCulture),
            ["trade_no"] = status == 1 ? "4200002026112500001" : "",
            ["value"] = value.ToString(CultureInfo.InvariantCulture),
            ["status"] = status.ToString(CultureInfo.InvariantCulture),
            ["trade_time"] = (tradeTime ?? new DateTimeOffset(2026, 11, 25, 2, 1, 0, TimeSpan.Zero)).ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture),
            ["pay_mode"] = "99",
            ["pay_mode_desc"] = "微信",
            ["fee"] = "6",
        };
        return form;
    }

    public static Dictionary<string, string> WithSign(this Dictionary<string, string> form, string secret = PaymentApp.AppSecret)
    {
        form.Remove("sign");
        form["sign"] = PyunSignature.Sign(form!, secret);
        return form;
    }

    public static async Task<HttpResponseMessage> PostNotifyAsync(this PaymentApp app, Dictionary<string, string> form)
    {
        using var http = app.CreateClient();
        return await http.PostAsync("/api/notify/pyun", new FormUrlEncodedContent(form));
    }

    public static async Task<HttpResponseMessage> PostRawAsync(this HttpClient http, string url, byte[] body, string contentType)
    {
        var content = new ByteArrayContent(body);
        content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        return await http.PostAsync(url, content);
    }

    public static async Task<HttpResponseMessage> PostJsonTextAsync(this HttpClient http, string url, string json) =>
        await http.PostRawAsync(url, Encoding.UTF8.GetBytes(json), "application/json");

    public static async Task<string> PyunCodeAsync(this HttpResponseMessage response)
    {
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return doc.RootElement.GetProperty("code").GetString()!;
    }

    public static async Task<JsonElement> ProblemAsync(this HttpResponseMessage response)
    {
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return doc.RootElement.Clone();
    }
}
