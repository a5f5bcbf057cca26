using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using PaymentFunctions.PayScore;
using PaymentFunctions.Tests.Infrastructure;
using PaymentFunctions.Tests.WeChatPay;
using PaymentFunctions.WeChatPay;

namespace PaymentFunctions.Tests.PayScore;

/// <summary>Calls the Pay Score API as its callers do, and builds callbacks as WeChat Pay would send them.</summary>
internal static class PayScoreApi
{
    public static string NewOutOrderNo() => "PS" + Guid.NewGuid().ToString("N")[..24];

    public static JsonObject CreateBody(string outOrderNo) => new()
    {
        ["outOrderNo"] = outOrderNo,
        ["serviceIntroduction"] = "充电宝租借",
        ["postPayments"] = new JsonArray(new JsonObject { ["name"] = "租借费", ["amount"] = 300, ["description"] = "每小时 3 元", ["count"] = 1 }),
        ["timeRange"] = new JsonObject { ["startTime"] = "OnAccept" },
        ["location"] = new JsonObject { ["startLocation"] = "深圳湾店" },
        ["riskFund"] = new JsonObject { ["name"] = "DEPOSIT", ["amount"] = 9900, ["description"] = "充电宝押金" },
        ["attach"] = "demo",
    };

    public static async Task<HttpResponseMessage> PostAsync(this PaymentApp app, string url, JsonNode body, bool withKey = true)
    {
        using var http = withKey ? app.CreateBusinessClient() : app.CreateClient();
        return await http.PostJsonTextAsync(url, body.ToJsonString());
    }

    public static async Task<PayScoreOrderView> CreatePayScoreOrderAsync(this PaymentApp app, string outOrderNo)
    {
        using var response = await app.PostAsync("/api/payscore/orders", CreateBody(outOrderNo));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<PayScoreOrderView>(Api.Json))!;
    }

    public static async Task<PayScoreOrderView> QueryAsync(this PaymentApp app, string? queryId = null, string? outOrderNo = null)
    {
        using var response = await app.PostAsync("/api/payscore/orders/query", new JsonObject { ["queryId"] = queryId, ["outOrderNo"] = outOrderNo }.Without(queryId is null ? "queryId" : "outOrderNo"), withKey: false);
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<PayScoreOrderView>(Api.Json))!;
    }

    public static JsonObject Without(this JsonObject o, string key)
    {
        o.Remove(key);
        return o;
    }

    /// <summary>Posts a callback exactly as built (headers and bytes) to our notify route.</summary>
    public static async Task<HttpResponseMessage> PostCallbackAsync(this PaymentApp app, IReadOnlyDictionary<string, string> headers, byte[] body, string contentType = "application/json")
    {
        using var http = app.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/notify/wechatpay") { Content = new ByteArrayContent(body) };
        request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return await http.SendAsync(request);
    }

    /// <summary>A callback as WeChat Pay builds it: the resource encrypted with the APIv3 key, the envelope signed.</summary>
    public static (Dictionary<string, string> Headers, byte[] Body) Callback(JsonObject resource, string eventType, string id, DateTimeOffset now,
        string apiV3Key = WeChatPayTestData.ApiV3Key, string? serial = null, string? privatePem = null)
    {
        var nonce = RandomNumberGenerator.GetString("abcdefghijklmnopqrstuvwxyz0123456789", 12);
        var envelope = new JsonObject
        {
            ["id"] = id,
            ["create_time"] = now.ToOffset(TimeSpan.FromHours(8)).ToString("yyyy-MM-dd'T'HH:mm:sszzz", System.Globalization.CultureInfo.InvariantCulture),
            ["resource_type"] = "encrypt-resource",
            ["event_type"] = eventType,
            ["summary"] = "test",
            ["resource"] = new JsonObject
            {
                ["algorithm"] = "AEAD_AES_256_GCM",
                ["ciphertext"] = WeChatPayAesGcm.Encrypt(Encoding.UTF8.GetBytes(apiV3Key), nonce, "payscore", Encoding.UTF8.GetBytes(resource.ToJsonString())),
                ["nonce"] = nonce,
                ["associated_data"] = "payscore",
                ["original_type"] = "payscore",
            },
        };
        var body = Encoding.UTF8.GetBytes(envelope.ToJsonString());
        var signed = WeChatPayTestData.Sign(body, privatePem ?? WeChatPayTestData.WeChatPayPrivatePem, serial ?? WeChatPayTestData.PublicKeyId, now.ToUnixTimeSeconds());
        return (new Dictionary<string, string>
        {
            [WeChatPaySignatureHeaders.TimestampHeader] = signed.Timestamp!,
            [WeChatPaySignatureHeaders.NonceHeader] = signed.Nonce!,
            [WeChatPaySignatureHeaders.SignatureHeader] = signed.Signature!,
            [WeChatPaySignatureHeaders.SerialHeader] = signed.Serial!,
        }, body);
    }

    /// <summary>The decrypted resource of a callback for one of our orders in the given state.</summary>
    public static JsonObject Resource(string outOrderNo, string state, string? description = null, string? collection = null, long total = 300) => new()
    {
        ["appid"] = WeChatPayTestData.AppId,
        ["mchid"] = WeChatPayTestData.MchId,
        ["out_order_no"] = outOrderNo,
        ["service_id"] = WeChatPayTestData.ServiceId,
        ["service_introduction"] = "充电宝租借",
        ["state"] = state,
        ["state_description"] = description,
        ["total_amount"] = total,
        ["openid"] = "oUser1",
        ["collection"] = collection is null ? null : new JsonObject
        {
            ["state"] = collection,
            ["total_amount"] = total,
            ["paid_amount"] = collection == PayScoreStates.UserPaid ? total : 0,
            ["details"] = new JsonArray(new JsonObject { ["seq"] = 1, ["amount"] = total, ["paid_type"] = "NEWTON", ["transaction_id"] = "4200000001" }),
        },
    };

    public static async Task<string> FailCodeAsync(this HttpResponseMessage response)
    {
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return doc.RootElement.GetProperty("code").GetString()!;
    }
}
