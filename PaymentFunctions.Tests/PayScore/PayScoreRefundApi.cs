using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Azure.Data.Tables;
using Microsoft.Extensions.DependencyInjection;
using PaymentFunctions.PayScore;
using PaymentFunctions.Tests.Infrastructure;
using PaymentFunctions.WeChatPay;

namespace PaymentFunctions.Tests.PayScore;

/// <summary>Paid Pay Score orders to refund, and the refund API as the business system calls it.</summary>
internal static class PayScoreRefundApi
{
    public static string NewOutRefundNo() => "RF" + Guid.NewGuid().ToString("N")[..20];

    public static JsonObject RefundBody(string outRefundNo, long amount = 100, string? reason = "服务未完成")
    {
        var body = new JsonObject { ["outRefundNo"] = outRefundNo, ["amount"] = amount };
        if (reason is not null)
        {
            body["reason"] = reason;
        }

        return body;
    }

    /// <summary>An order taken all the way to DONE/USER_PAID with <paramref name="amount"/> deducted by 支付分.</summary>
    public static async Task<string> PaidOrderAsync(this PaymentApp app, long amount = 300)
    {
        var outOrderNo = PayScoreApi.NewOutOrderNo();
        await app.CreatePayScoreOrderAsync(outOrderNo);
        var notify = new Uri(app.Server.BaseAddress, "/api/notify/wechatpay");
        Assert.Equal(HttpStatusCode.NoContent, await app.WeChat!.State.SendCallbackAsync(outOrderNo, PayScoreStates.UserConfirmEvent, notify, app.CreateClient()));
        await app.DrainQueueAsync();
        using (var complete = await app.PostAsync($"/api/payscore/orders/{outOrderNo}/complete", new JsonObject
               {
                   ["postPayments"] = new JsonArray(new JsonObject { ["name"] = "租借费", ["amount"] = amount, ["count"] = 1 }),
                   ["totalAmount"] = amount,
               }))
        {
            Assert.True(complete.StatusCode == HttpStatusCode.OK, await complete.Content.ReadAsStringAsync());
        }

        Assert.Equal(HttpStatusCode.NoContent, await app.WeChat.State.SendCallbackAsync(outOrderNo, PayScoreStates.UserPaidEvent, notify, app.CreateClient()));
        await app.DrainQueueAsync();
        var paid = (await app.PayScoreOrderAsync(outOrderNo))!;
        Assert.Equal((amount, PayScoreStates.UserPaid), (paid.TransactionAmount!.Value, paid.CollectionState));
        return outOrderNo;
    }

    public static Task<HttpResponseMessage> RefundAsync(this PaymentApp app, string outOrderNo, JsonNode body, bool withKey = true) =>
        app.PostAsync($"/api/payscore/orders/{outOrderNo}/refunds", body, withKey);

    public static async Task<PayScoreRefundView> ReadRefundAsync(this HttpResponseMessage response) =>
        (await response.Content.ReadFromJsonAsync<PayScoreRefundView>(Api.Json))!;

    public static async Task<HttpResponseMessage> GetRefundAsync(this PaymentApp app, string outOrderNo, string outRefundNo, bool withKey = true)
    {
        using var http = withKey ? app.CreateBusinessClient() : app.CreateClient();
        return await http.GetAsync($"/api/payscore/orders/{outOrderNo}/refunds/{outRefundNo}");
    }

    public static Task<PayScoreOrderEntity?> PayScoreOrderAsync(this PaymentApp app, string outOrderNo) =>
        app.Services.GetRequiredService<PayScoreStore>().GetAsync(outOrderNo, CancellationToken.None);

    public static Task<PayScoreRefundEntity?> StoredRefundAsync(this PaymentApp app, string outOrderNo, string outRefundNo) =>
        app.Services.GetRequiredService<PayScoreStore>().GetRefundAsync(outOrderNo, outRefundNo, CancellationToken.None);

    /// <summary>Every row of the order's partition, by row key with its ETag: any write changes this.</summary>
    public static async Task<string> PartitionAsync(this PaymentApp app, string outOrderNo)
    {
        await app.Storage.EnsureCreatedAsync(CancellationToken.None);
        var rows = new List<string>();
        await foreach (var row in app.Storage.PayScoreOrders.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"PartitionKey eq {outOrderNo}")))
        {
            rows.Add($"{row.RowKey}:{row.ETag}");
        }

        return string.Join(",", rows);
    }

    /// <summary>The refund requests the fake WeChat Pay received (create and query) for this refund number, or for any refund.</summary>
    public static List<FakeRequest> RefundCalls(this PaymentApp app, string? outRefundNo = null) =>
        [.. app.WeChat!.State.Requests
            .Where(r => r.Target.StartsWith("/v3/refund/", StringComparison.Ordinal))
            .Where(r => outRefundNo is null || r.Target.Contains(outRefundNo, StringComparison.Ordinal) || r.Body.Contains(outRefundNo, StringComparison.Ordinal))
            .Select(r => new FakeRequest(r.Method, r.Target, r.Body))];

    public sealed record FakeRequest(string Method, string Target, string Body);
}
