using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using PaymentFunctions.Hosting;
using PaymentFunctions.PayScore;
using PaymentFunctions.Tests.Infrastructure;
using PaymentFunctions.Tests.WeChatPay;
using PaymentFunctions.WeChatPay;

namespace PaymentFunctions.Tests.PayScore;

/// <summary>
/// POST /api/notify/wechatpay: only a verified, decrypted callback for this merchant is queued and answered
/// 204; every refusal is a 4xx with {"code":"FAIL"}, queues nothing and changes nothing.
/// </summary>
public sealed class WeChatPayNotifyTests(PayScoreAppFixture fixture) : IClassFixture<PayScoreAppFixture>
{
    private PaymentApp App => fixture.App;

    private async Task<PayScoreOrderEntity?> StoredAsync(string outOrderNo) =>
        await App.Services.GetRequiredService<PayScoreStore>().GetAsync(outOrderNo, default);

    private async Task<string> CreatedAsync()
    {
        var outOrderNo = PayScoreApi.NewOutOrderNo();
        await App.CreatePayScoreOrderAsync(outOrderNo);
        return outOrderNo;
    }

    private (Dictionary<string, string> Headers, byte[] Body) Confirm(string outOrderNo, string? id = null) =>
        PayScoreApi.Callback(PayScoreApi.Resource(outOrderNo, PayScoreStates.Doing, PayScoreStates.UserConfirm),
            PayScoreStates.UserConfirmEvent, id ?? "EV-" + Guid.NewGuid().ToString("N"), App.Clock.GetUtcNow());

    private async Task AssertRefusedAsync(HttpResponseMessage response, HttpStatusCode status, string outOrderNo)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("FAIL", await response.FailCodeAsync());
        Assert.Equal(0, await App.QueueLengthAsync());
        Assert.Equal("CREATED", (await StoredAsync(outOrderNo))!.State);
    }

    [Fact]
    public async Task A_verified_callback_is_queued_then_answered_204_and_applied()
    {
        var outOrderNo = await CreatedAsync();
        var (headers, body) = Confirm(outOrderNo);

        using var response = await App.PostCallbackAsync(headers, body);

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal(1, await App.QueueLengthAsync());
        await App.DrainQueueAsync();
        Assert.Equal("USER_CONFIRM", (await StoredAsync(outOrderNo))!.StateDescription);
    }

    [Theory]
    [InlineData(WeChatPaySignatureHeaders.TimestampHeader)]
    [InlineData(WeChatPaySignatureHeaders.NonceHeader)]
    [InlineData(WeChatPaySignatureHeaders.SignatureHeader)]
    [InlineData(WeChatPaySignatureHeaders.SerialHeader)]
    public async Task A_missing_header_is_refused(string header)
    {
        var outOrderNo = await CreatedAsync();
        var (headers, body) = Confirm(outOrderNo);
        headers.Remove(header);

        using var response = await App.PostCallbackAsync(headers, body);
        await AssertRefusedAsync(response, HttpStatusCode.Unauthorized, outOrderNo);
    }

    [Theory]
    [InlineData(-301)]
    [InlineData(301)]
    [InlineData(-86400)]
    public async Task A_stale_or_future_timestamp_is_refused(int offsetSeconds)
    {
        var outOrderNo = await CreatedAsync();
        var (headers, body) = PayScoreApi.Callback(PayScoreApi.Resource(outOrderNo, PayScoreStates.Doing, PayScoreStates.UserConfirm),
            PayScoreStates.UserConfirmEvent, "EV-stale", App.Clock.GetUtcNow().AddSeconds(offsetSeconds));

        using var response = await App.PostCallbackAsync(headers, body);
        await AssertRefusedAsync(response, HttpStatusCode.Unauthorized, outOrderNo);
    }

    [Fact]
    public async Task Unknown_serial_bad_signature_and_probe_signature_are_refused()
    {
        var outOrderNo = await CreatedAsync();
        var resource = PayScoreApi.Resource(outOrderNo, PayScoreStates.Doing, PayScoreStates.UserConfirm);
        var now = App.Clock.GetUtcNow();

        var (unknownSerial, body1) = PayScoreApi.Callback(resource, PayScoreStates.UserConfirmEvent, "EV-1", now, serial: "PUB_KEY_ID_9999");
        using (var r = await App.PostCallbackAsync(unknownSerial, body1))
        {
            await AssertRefusedAsync(r, HttpStatusCode.Unauthorized, outOrderNo);
        }

        // Signed with the merchant's key, not WeChat Pay's.
        var (wrongKey, body2) = PayScoreApi.Callback(resource, PayScoreStates.UserConfirmEvent, "EV-2", now, privatePem: WeChatPayTestData.MerchantPrivatePem);
        using (var r = await App.PostCallbackAsync(wrongKey, body2))
        {
            await AssertRefusedAsync(r, HttpStatusCode.Unauthorized, outOrderNo);
        }

        var (probe, body3) = PayScoreApi.Callback(resource, PayScoreStates.UserConfirmEvent, "EV-3", now);
        probe[WeChatPaySignatureHeaders.SignatureHeader] = "WECHATPAY/SIGNTEST/" + probe[WeChatPaySignatureHeaders.SignatureHeader];
        using (var r = await App.PostCallbackAsync(probe, body3))
        {
            await AssertRefusedAsync(r, HttpStatusCode.Unauthorized, outOrderNo);
        }

        // A body changed after signing.
        var (tampered, body4) = PayScoreApi.Callback(resource, PayScoreStates.UserConfirmEvent, "EV-4", now);
        var changed = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(body4).Replace("EV-4", "EV-5", StringComparison.Ordinal));
        using (var r = await App.PostCallbackAsync(tampered, changed))
        {
            await AssertRefusedAsync(r, HttpStatusCode.Unauthorized, outOrderNo);
        }
    }

    [Fact]
    public async Task Ciphertext_under_another_APIv3_key_is_refused()
    {
        var outOrderNo = await CreatedAsync();
        var (headers, body) = PayScoreApi.Callback(PayScoreApi.Resource(outOrderNo, PayScoreStates.Doing, PayScoreStates.UserConfirm),
            PayScoreStates.UserConfirmEvent, "EV-key", App.Clock.GetUtcNow(), apiV3Key: "ZYXWVUTSRQPONMLKJIHGFEDCBA987654");

        using var response = await App.PostCallbackAsync(headers, body);
        await AssertRefusedAsync(response, HttpStatusCode.Unauthorized, outOrderNo);
    }

    [Theory]
    [InlineData("mchid", "1900009999")]
    [InlineData("service_id", "9999999999999999")]
    [InlineData("appid", "wx0000000000000000")]
    public async Task A_callback_for_another_merchant_or_service_is_refused(string field, string value)
    {
        var outOrderNo = await CreatedAsync();
        var resource = PayScoreApi.Resource(outOrderNo, PayScoreStates.Doing, PayScoreStates.UserConfirm);
        resource[field] = value;
        var (headers, body) = PayScoreApi.Callback(resource, PayScoreStates.UserConfirmEvent, "EV-other", App.Clock.GetUtcNow());

        using var response = await App.PostCallbackAsync(headers, body);
        await AssertRefusedAsync(response, HttpStatusCode.Forbidden, outOrderNo);
    }

    [Fact]
    public async Task Malformed_bodies_wrong_content_type_and_unsupported_events_are_refused()
    {
        var outOrderNo = await CreatedAsync();
        var (headers, body) = Confirm(outOrderNo);
        using (var form = await App.PostCallbackAsync(headers, body, "application/x-www-form-urlencoded"))
        {
            await AssertRefusedAsync(form, HttpStatusCode.UnsupportedMediaType, outOrderNo);
        }

        var big = new byte[WeChatPayNotifyEndpoint.LimitBytes + 1];
        using (var oversized = await App.PostCallbackAsync(headers, big))
        {
            await AssertRefusedAsync(oversized, HttpStatusCode.RequestEntityTooLarge, outOrderNo);
        }

        var (refundHeaders, refundBody) = PayScoreApi.Callback(PayScoreApi.Resource(outOrderNo, PayScoreStates.Doing, PayScoreStates.UserConfirm),
            "REFUND.SUCCESS", "EV-refund", App.Clock.GetUtcNow());
        using (var unsupported = await App.PostCallbackAsync(refundHeaders, refundBody))
        {
            await AssertRefusedAsync(unsupported, HttpStatusCode.BadRequest, outOrderNo);
        }
    }

    [Fact]
    public async Task Duplicated_and_reordered_callbacks_end_in_DONE_once()
    {
        var outOrderNo = await CreatedAsync();
        var now = App.Clock.GetUtcNow();
        var confirm = PayScoreApi.Callback(PayScoreApi.Resource(outOrderNo, PayScoreStates.Doing, PayScoreStates.UserConfirm), PayScoreStates.UserConfirmEvent, "EV-confirm", now);
        var paid = PayScoreApi.Callback(PayScoreApi.Resource(outOrderNo, PayScoreStates.Done, collection: PayScoreStates.UserPaid), PayScoreStates.UserPaidEvent, "EV-paid", now);

        // Paid arrives (twice) and is processed before the confirm (also twice).
        foreach (var (headers, body) in new[] { paid, paid })
        {
            using var response = await App.PostCallbackAsync(headers, body);
            Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        }

        await App.DrainQueueAsync();
        foreach (var (headers, body) in new[] { confirm, confirm })
        {
            using var response = await App.PostCallbackAsync(headers, body);
            Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        }

        await App.DrainQueueAsync();
        var stored = (await StoredAsync(outOrderNo))!;
        Assert.Equal("DONE", stored.State);
        Assert.Equal(PayScoreStates.UserPaid, stored.CollectionState);
        Assert.Equal(300, stored.PaidAmount);
        var timeline = await App.TimelineAsync(outOrderNo);
        // Rows are in PayScoreOrders, not PaymentOrders.
        Assert.Empty(timeline);
        var rows = new List<PaymentFunctions.Orders.TimelineEntity>();
        // The timeline rows (evt-…), not the order row nor its event rows (event-…, the outbox: confirmed, completed, paid).
        await foreach (var row in App.Storage.PayScoreOrders.QueryAsync<PaymentFunctions.Orders.TimelineEntity>(
                           Azure.Data.Tables.TableClient.CreateQueryFilter($"PartitionKey eq {outOrderNo} and RowKey ge {"evt-"} and RowKey lt {"evt."}")))
        {
            rows.Add(row);
        }

        Assert.Equal(3, rows.Count); // created, paid, the late confirm (ignored); each duplicate added nothing
        Assert.Single(rows, r => r.Outcome == "paid");
        Assert.Single(rows, r => r.Outcome.StartsWith("ignored", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_callback_for_an_order_we_never_created_is_recorded_as_an_orphan_once_and_completed()
    {
        var outOrderNo = "NEVER-CREATED-" + Guid.NewGuid().ToString("N")[..8];
        var (headers, body) = Confirm(outOrderNo, id: "EV-" + Guid.NewGuid().ToString("N"));
        var receivedAt = App.Clock.GetUtcNow();
        using (var response = await App.PostCallbackAsync(headers, body))
        {
            Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        }

        // One delivery settles it: no retry can make the order appear, so none is spent and nothing is poisoned.
        var listener = App.CreateListener(QueueSettings.Defaults with { VisibilityTimeout = TimeSpan.Zero, MaxDequeueCount = 5 });
        Assert.Equal(1, await listener.PollOnceAsync(default));
        Assert.Equal(0, await listener.PollOnceAsync(default));
        Assert.Equal(0, await App.QueueLengthAsync(poison: true));
        Assert.Null(await StoredAsync(outOrderNo));

        var orphan = Assert.Single(await Orphans(outOrderNo));
        Assert.Equal("wechatpay", orphan.PartitionKey);
        Assert.Equal("wechatpay.payscore", orphan.Kind);
        Assert.Equal(receivedAt, orphan.ReceivedAt);
        Assert.Contains(outOrderNo, orphan.Reason, StringComparison.Ordinal);
        Assert.Contains(outOrderNo, JsonNode.Parse(orphan.Payload)!["resource"]!["out_order_no"]!.GetValue<string>(), StringComparison.Ordinal);

        // WeChat Pay sends the same callback again: acknowledged, completed, and still one row.
        using (var again = await App.PostCallbackAsync(headers, body))
        {
            Assert.Equal(HttpStatusCode.NoContent, again.StatusCode);
        }

        await App.DrainQueueAsync(listener);
        Assert.Single(await Orphans(outOrderNo));
        Assert.Equal(0, await App.QueueLengthAsync(poison: true));
    }

    private async Task<List<PaymentFunctions.Notifications.OrphanEntity>> Orphans(string reference)
    {
        var rows = new List<PaymentFunctions.Notifications.OrphanEntity>();
        await foreach (var row in App.Storage.Orphans.QueryAsync<PaymentFunctions.Notifications.OrphanEntity>(r => r.Reference == reference))
        {
            rows.Add(row);
        }

        return rows;
    }
}

/// <summary>Partner mode: the callback must be for this service provider's sub-merchant.</summary>
public sealed class PartnerNotifyTests : IAsyncLifetime
{
    private readonly PaymentApp _app = new PaymentApp().EnableWeChatPay("Partner");

    public ValueTask InitializeAsync() => _app.InitializeAsync();

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    [Theory]
    [InlineData(PaymentApp.SubMchId, HttpStatusCode.NoContent)]
    [InlineData("1239999999", HttpStatusCode.Forbidden)]
    [InlineData(null, HttpStatusCode.Forbidden)]
    public async Task A_callback_for_another_sub_merchant_is_refused(string? subMchId, HttpStatusCode expected)
    {
        var outOrderNo = PayScoreApi.NewOutOrderNo();
        await _app.CreatePayScoreOrderAsync(outOrderNo);
        var resource = PayScoreApi.Resource(outOrderNo, PayScoreStates.Doing, PayScoreStates.UserConfirm);
        resource.Remove("appid");
        resource["sub_mchid"] = subMchId;
        var (headers, body) = PayScoreApi.Callback(resource, PayScoreStates.UserConfirmEvent, "EV-" + Guid.NewGuid().ToString("N"), _app.Clock.GetUtcNow());

        using var response = await _app.PostCallbackAsync(headers, body);

        Assert.Equal(expected, response.StatusCode);
        Assert.Equal(expected == HttpStatusCode.NoContent ? 1 : 0, await _app.QueueLengthAsync());
        await _app.DrainQueueAsync();
        var stored = await _app.Services.GetRequiredService<PayScoreStore>().GetAsync(outOrderNo, default);
        Assert.Equal(expected == HttpStatusCode.NoContent ? "DOING" : "CREATED", stored!.State);
    }
}

/// <summary>Without a WeChatPay section the app runs P云 alone and says so on every Pay Score route.</summary>
public sealed class PayScoreDisabledTests(PaymentApp app) : IClassFixture<PaymentApp>
{
    [Theory]
    [InlineData("/api/payscore/orders")]
    [InlineData("/api/payscore/orders/query")]
    [InlineData("/api/payscore/orders/X1/complete")]
    [InlineData("/api/payscore/orders/X1/cancel")]
    public async Task Pay_Score_routes_answer_503_with_a_clear_message(string url)
    {
        using var response = await app.PostAsync(url, new JsonObject());
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Contains("'WeChatPay'", (await response.ProblemAsync()).GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_WeChat_Pay_notify_route_answers_503_FAIL()
    {
        using var response = await app.PostCallbackAsync(new Dictionary<string, string>(), "{}"u8.ToArray());
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("FAIL", await response.FailCodeAsync());
    }
}
