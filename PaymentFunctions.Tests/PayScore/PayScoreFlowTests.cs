using System.Net;
using PaymentFunctions.Tests.Infrastructure;
using PaymentFunctions.WeChatPay;

namespace PaymentFunctions.Tests.PayScore;

/// <summary>The whole confirm-order flow, in both modes and with both kinds of WeChat Pay keys.</summary>
public sealed class PayScoreFlowTests
{
    [Theory]
    [InlineData("Direct", "PublicKey")]
    [InlineData("Direct", "Certificate")]
    [InlineData("Partner", "PublicKey")]
    [InlineData("Partner", "Both")]
    public async Task Create_confirm_query_complete_pay_done(string mode, string keyKind)
    {
        await using var app = new PaymentApp().EnableWeChatPay(mode, keyKind);
        await app.InitializeAsync();
        var outOrderNo = PayScoreApi.NewOutOrderNo();
        var notify = new Uri(app.Server.BaseAddress, "/api/notify/wechatpay");

        var created = await app.CreatePayScoreOrderAsync(outOrderNo);
        Assert.Equal("CREATED", created.State);
        Assert.False(created.Confirmed);
        Assert.Equal("wxpayScoreUse", created.OpenBusinessView!.BusinessType);
        Assert.StartsWith("fake-package-", created.OpenBusinessView.ExtraData.Package, StringComparison.Ordinal);
        var sent = app.WeChat!.State.Requests.Single(r => r.Method == "POST" && r.Body.Contains(outOrderNo, StringComparison.Ordinal));
        Assert.StartsWith(mode == "Partner" ? "/v3/payscore/partner/serviceorder" : "/v3/payscore/serviceorder", sent.Target, StringComparison.Ordinal);
        Assert.Contains(mode == "Partner" ? $"\"sub_mchid\":\"{PaymentApp.SubMchId}\"" : "\"appid\":", sent.Body, StringComparison.Ordinal);

        // The user returns with query_id before confirming: not confirmed.
        var early = await app.QueryAsync(queryId: app.WeChat.State.GetQueryId(outOrderNo));
        Assert.False(early.Confirmed);

        Assert.Equal(HttpStatusCode.NoContent, await app.WeChat.State.SendCallbackAsync(outOrderNo, PayScoreStates.UserConfirmEvent, notify, app.CreateClient()));
        await app.DrainQueueAsync();
        var confirmed = await app.QueryAsync(queryId: app.WeChat.State.GetQueryId(outOrderNo));
        Assert.True(confirmed.Confirmed);
        Assert.Equal("DOING", confirmed.State);
        Assert.Equal("USER_CONFIRM", confirmed.StateDescription);

        using (var complete = await app.PostAsync($"/api/payscore/orders/{outOrderNo}/complete", new System.Text.Json.Nodes.JsonObject
        {
            ["postPayments"] = new System.Text.Json.Nodes.JsonArray(new System.Text.Json.Nodes.JsonObject { ["name"] = "租借费", ["amount"] = 600, ["description"] = "2 小时", ["count"] = 1 }),
            ["postDiscounts"] = new System.Text.Json.Nodes.JsonArray(new System.Text.Json.Nodes.JsonObject { ["name"] = "新用户", ["description"] = "首单立减", ["amount"] = 100, ["count"] = 1 }),
            ["totalAmount"] = 500,
        }))
        {
            Assert.True(complete.StatusCode == HttpStatusCode.OK, await complete.Content.ReadAsStringAsync());
        }

        Assert.Equal(HttpStatusCode.NoContent, await app.WeChat.State.SendCallbackAsync(outOrderNo, PayScoreStates.UserPaidEvent, notify, app.CreateClient()));
        await app.DrainQueueAsync();

        var done = await app.QueryAsync(outOrderNo: outOrderNo);
        Assert.Equal("DONE", done.State);
        Assert.Null(done.StateDescription);
        Assert.Equal("USER_PAID", done.CollectionState);
        Assert.True(done.Paid);
        Assert.True(done.Confirmed);
        Assert.Equal(500, done.PaidAmount);
        Assert.NotNull(done.TransactionId);
    }
}
