using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using PaymentFunctions.PayScore;
using PaymentFunctions.Tests.Infrastructure;
using PaymentFunctions.WeChatPay;

namespace PaymentFunctions.Tests.PayScore;

/// <summary>Complete and cancel against the fake WeChat Pay, judged by what the order was created with and where it stands.</summary>
public sealed class PayScoreCompleteCancelTests(PayScoreAppFixture fixture) : IClassFixture<PayScoreAppFixture>
{
    private PaymentApp App => fixture.App;

    /// <summary>docs/api.md's create example (with a fresh number).</summary>
    private static JsonObject ReadmeCreate(string outOrderNo) => new()
    {
        ["outOrderNo"] = outOrderNo,
        ["serviceIntroduction"] = "充电宝租借",
        ["postPayments"] = new JsonArray(new JsonObject { ["name"] = "租借费", ["amount"] = 300, ["description"] = "每小时 3 元", ["count"] = 1 }),
        ["postDiscounts"] = new JsonArray(new JsonObject { ["name"] = "新用户", ["description"] = "首单立减", ["amount"] = 100, ["count"] = 1 }),
        ["timeRange"] = new JsonObject { ["startTime"] = "OnAccept", ["endTime"] = "20261126120000" },
        ["location"] = new JsonObject { ["startLocation"] = "深圳湾店" },
        ["riskFund"] = new JsonObject { ["name"] = "DEPOSIT", ["amount"] = 9900, ["description"] = "充电宝押金" },
        ["attach"] = "anything you want echoed back",
    };

    /// <summary>docs/api.md's complete example: end time and end location only, the start was given at create.</summary>
    private static JsonObject ReadmeComplete() => new()
    {
        ["postPayments"] = new JsonArray(new JsonObject { ["name"] = "租借费", ["amount"] = 600, ["description"] = "2 小时", ["count"] = 1 }),
        ["postDiscounts"] = new JsonArray(new JsonObject { ["name"] = "新用户", ["description"] = "首单立减", ["amount"] = 100, ["count"] = 1 }),
        ["totalAmount"] = 500,
        ["timeRange"] = new JsonObject { ["endTime"] = "20261125100000" },
        ["location"] = new JsonObject { ["endLocation"] = "深圳湾店" },
    };

    private async Task<PayScoreOrderEntity> StoredAsync(string outOrderNo) =>
        (await App.Services.GetRequiredService<PayScoreStore>().GetAsync(outOrderNo, default))!;

    private async Task<string> ConfirmedAsync(JsonObject? create = null)
    {
        var outOrderNo = create?["outOrderNo"]!.GetValue<string>() ?? PayScoreApi.NewOutOrderNo();
        using (var created = await App.PostAsync("/api/payscore/orders", create ?? PayScoreApi.CreateBody(outOrderNo)))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        var notify = new Uri(App.Server.BaseAddress, "/api/notify/wechatpay");
        Assert.Equal(HttpStatusCode.NoContent, await App.WeChat!.State.SendCallbackAsync(outOrderNo, PayScoreStates.UserConfirmEvent, notify, App.CreateClient()));
        await App.DrainQueueAsync();
        Assert.Equal(PayScoreStates.UserConfirm, (await StoredAsync(outOrderNo)).StateDescription);
        return outOrderNo;
    }

    private int WeChatCalls(string outOrderNo, string action) =>
        App.WeChat!.State.Requests.Count(r => r.Target.Contains($"/{outOrderNo}/{action}", StringComparison.Ordinal));

    [Fact]
    public async Task The_README_complete_example_completes_an_order_created_with_a_start_location()
    {
        var outOrderNo = await ConfirmedAsync(ReadmeCreate(PayScoreApi.NewOutOrderNo()));

        using var response = await App.PostAsync($"/api/payscore/orders/{outOrderNo}/complete", ReadmeComplete());

        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        var stored = await StoredAsync(outOrderNo);
        Assert.Equal(PayScoreStates.MchComplete, stored.StateDescription);
        Assert.Equal(PayScoreStates.UserPaying, stored.CollectionState);
        Assert.Equal(500, stored.TotalAmount);
        // WeChat got the end location, and its order now has both ends.
        var sent = App.WeChat!.State.Requests.Single(r => r.Target.Contains($"/{outOrderNo}/complete", StringComparison.Ordinal));
        Assert.Contains("\"location\":{\"end_location\":\"深圳湾店\"}", sent.Body, StringComparison.Ordinal);
        var location = App.WeChat.State.GetOrder(outOrderNo)["location"]!;
        Assert.Equal("深圳湾店", location["start_location"]!.GetValue<string>());
        Assert.Equal("深圳湾店", location["end_location"]!.GetValue<string>());
    }

    [Fact]
    public async Task An_end_location_for_an_order_created_without_a_start_location_is_refused_before_WeChat()
    {
        var create = PayScoreApi.CreateBody(PayScoreApi.NewOutOrderNo());
        create.Remove("location");
        var outOrderNo = await ConfirmedAsync(create);
        var before = await StoredAsync(outOrderNo);
        var complete = ReadmeComplete();
        complete.Remove("timeRange");

        using var response = await App.PostAsync($"/api/payscore/orders/{outOrderNo}/complete", complete);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.ProblemAsync();
        Assert.Contains("location.end_location: is only allowed when the order was created with location.start_location",
            problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(["location.endLocation"], problem.GetProperty("errors").EnumerateObject().Select(e => e.Name));
        Assert.Equal(0, WeChatCalls(outOrderNo, "complete"));
        Assert.Equal(before.ETag, (await StoredAsync(outOrderNo)).ETag);
    }

    [Fact]
    public async Task Complete_errors_are_keyed_by_the_json_path_sent_and_change_nothing()
    {
        var outOrderNo = await ConfirmedAsync(ReadmeCreate(PayScoreApi.NewOutOrderNo()));
        var before = await StoredAsync(outOrderNo);
        var complete = ReadmeComplete();
        complete["postPayments"]!.AsArray().Add(new JsonObject { ["name"] = "超时费", ["amount"] = -100, ["count"] = 1 });
        complete["timeRange"] = new JsonObject { ["endTime"] = "soon" };

        using var response = await App.PostAsync($"/api/payscore/orders/{outOrderNo}/complete", complete);

        Assert.Equal(["postPayments[1].amount", "timeRange.endTime"], await response.ErrorKeysAsync());
        using var noTotal = await App.PostAsync($"/api/payscore/orders/{outOrderNo}/complete", ReadmeComplete().Without("totalAmount"));
        Assert.Equal(["totalAmount"], await noTotal.ErrorKeysAsync());
        using var badNumber = await App.PostAsync("/api/payscore/orders/has%20space/complete", ReadmeComplete());
        Assert.Equal(["outOrderNo"], await badNumber.ErrorKeysAsync());
        Assert.Equal(0, WeChatCalls(outOrderNo, "complete"));
        Assert.Equal(before.ETag, (await StoredAsync(outOrderNo)).ETag);
    }

    [Fact]
    public async Task Cancel_errors_are_keyed_by_the_json_path_sent_and_change_nothing()
    {
        var outOrderNo = await ConfirmedAsync();
        var before = await StoredAsync(outOrderNo);

        using var response = await App.PostAsync($"/api/payscore/orders/{outOrderNo}/cancel", new JsonObject { ["reason"] = "" });

        Assert.Equal(["reason"], await response.ErrorKeysAsync());
        Assert.Equal(0, WeChatCalls(outOrderNo, "cancel"));
        Assert.Equal(before.ETag, (await StoredAsync(outOrderNo)).ETag);
    }

    [Fact]
    public async Task The_fake_WeChat_refuses_an_end_location_without_any_start_location_as_WeChat_does()
    {
        var create = PayScoreApi.CreateBody(PayScoreApi.NewOutOrderNo());
        create.Remove("location");
        var outOrderNo = await ConfirmedAsync(create);
        var client = App.Services.GetRequiredService<WeChatPayClient>();

        var refused = await Assert.ThrowsAsync<WeChatPayException>(() => client.CompleteServiceOrderAsync(outOrderNo, new CompleteServiceOrderRequest
        {
            PostPayments = [new PostPayment { Name = "租借费", Amount = 300, Count = 1 }],
            TotalAmount = 300,
            Location = new PayScoreLocation { EndLocation = "深圳湾店" },
        }, default));

        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Equal("PARAM_ERROR", refused.Code);
        Assert.Equal(PayScoreStates.UserConfirm, App.WeChat!.State.GetOrder(outOrderNo)["state_description"]!.GetValue<string>());
    }

    [Fact]
    public async Task Cancel_while_the_deduction_is_pending_revokes_the_order()
    {
        var outOrderNo = await ConfirmedAsync(ReadmeCreate(PayScoreApi.NewOutOrderNo()));
        using (var completed = await App.PostAsync($"/api/payscore/orders/{outOrderNo}/complete", ReadmeComplete()))
        {
            Assert.Equal(HttpStatusCode.OK, completed.StatusCode);
        }

        Assert.Equal(PayScoreStates.UserPaying, (await StoredAsync(outOrderNo)).CollectionState);

        using var response = await App.PostAsync($"/api/payscore/orders/{outOrderNo}/cancel", new JsonObject { ["reason"] = "设备故障，免单" });

        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        using var answer = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(PayScoreStates.Revoked, answer.RootElement.GetProperty("state").GetString());
        Assert.Equal(PayScoreStates.Revoked, (await StoredAsync(outOrderNo)).State);
        Assert.Equal(PayScoreStates.Revoked, App.WeChat!.State.GetOrder(outOrderNo)["state"]!.GetValue<string>());
        Assert.Equal(1, WeChatCalls(outOrderNo, "cancel"));
    }

    [Fact]
    public async Task Cancel_of_a_paid_order_is_a_conflict_that_says_to_refund_and_does_not_call_WeChat()
    {
        var outOrderNo = await ConfirmedAsync(ReadmeCreate(PayScoreApi.NewOutOrderNo()));
        using (var completed = await App.PostAsync($"/api/payscore/orders/{outOrderNo}/complete", ReadmeComplete()))
        {
            Assert.Equal(HttpStatusCode.OK, completed.StatusCode);
        }

        var notify = new Uri(App.Server.BaseAddress, "/api/notify/wechatpay");
        Assert.Equal(HttpStatusCode.NoContent, await App.WeChat!.State.SendCallbackAsync(outOrderNo, PayScoreStates.UserPaidEvent, notify, App.CreateClient()));
        await App.DrainQueueAsync();
        Assert.Equal(PayScoreStates.Done, (await StoredAsync(outOrderNo)).State);

        using var response = await App.PostAsync($"/api/payscore/orders/{outOrderNo}/cancel", new JsonObject { ["reason"] = "用户取消" });

        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.Contains("refund", (await response.ProblemAsync()).GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, WeChatCalls(outOrderNo, "cancel"));
        Assert.Equal(PayScoreStates.Done, (await StoredAsync(outOrderNo)).State);
    }

    [Fact]
    public async Task Only_the_create_answer_carries_openBusinessView()
    {
        var outOrderNo = PayScoreApi.NewOutOrderNo();
        using (var created = await App.PostAsync("/api/payscore/orders", PayScoreApi.CreateBody(outOrderNo)))
        {
            Assert.Contains("\"openBusinessView\":{", await created.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using var query = await App.PostAsync("/api/payscore/orders/query", new JsonObject { ["outOrderNo"] = outOrderNo }, withKey: false);
        Assert.Equal(HttpStatusCode.OK, query.StatusCode);
        using (var answer = JsonDocument.Parse(await query.Content.ReadAsStringAsync()))
        {
            Assert.False(answer.RootElement.TryGetProperty("openBusinessView", out _));
            Assert.Equal(JsonValueKind.Null, answer.RootElement.GetProperty("stateDescription").ValueKind); // the other nulls stay, as documented
        }

        using var cancel = await App.PostAsync($"/api/payscore/orders/{outOrderNo}/cancel", new JsonObject { ["reason"] = "用户取消" });
        Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        Assert.DoesNotContain("openBusinessView", await cancel.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
