using System.Net;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using PaymentFunctions.PayScore;
using PaymentFunctions.Tests.Infrastructure;
using PaymentFunctions.Tests.Processing;
using PaymentFunctions.Tests.WeChatPay;
using PaymentFunctions.WeChatPay;

namespace PaymentFunctions.Tests.PayScore;

/// <summary>
/// Refund callbacks on /api/notify/wechatpay, built as WeChat Pay builds them: verified, checked to be for this merchant,
/// queued, and applied only to the refund they match; never backwards, once per transition.
/// </summary>
public sealed class PayScoreRefundCallbackTests(PayScoreRefundAppFixture fixture) : IClassFixture<PayScoreRefundAppFixture>
{
    private PaymentApp App => fixture.App;

    /// <summary>A stored refund of 100 fen that no message will send (its messages are removed): only callbacks move it.</summary>
    private async Task<(string OutOrderNo, string OutRefundNo, string TransactionId)> StoredRefundAsync()
    {
        var outOrderNo = await App.PaidOrderAsync(300);
        var outRefundNo = PayScoreRefundApi.NewOutRefundNo();
        using (var response = await App.RefundAsync(outOrderNo, PayScoreRefundApi.RefundBody(outRefundNo, 100)))
        {
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        await App.Storage.Notifications.ClearMessagesAsync();
        return (outOrderNo, outRefundNo, (await App.PayScoreOrderAsync(outOrderNo))!.TransactionId!);
    }

    private static JsonObject Resource(string outRefundNo, string transactionId, string status, long refund = 100, string mchId = WeChatPayTestData.MchId) => new()
    {
        ["mchid"] = mchId,
        ["out_trade_no"] = "1217752501201407033233368018",
        ["transaction_id"] = transactionId,
        ["out_refund_no"] = outRefundNo,
        ["refund_id"] = "50300002272025010212345678901",
        ["refund_status"] = status,
        ["success_time"] = status == RefundStates.Success ? "2026-11-25T10:01:30+08:00" : null,
        ["user_received_account"] = "支付用户零钱",
        ["amount"] = new JsonObject { ["total"] = 300, ["refund"] = refund, ["payer_total"] = 300, ["payer_refund"] = refund },
    };

    private async Task<HttpStatusCode> SendAsync(JsonObject resource, string eventType, string? id = null)
    {
        var (headers, body) = PayScoreApi.Callback(resource, eventType, id ?? "EV-" + Guid.NewGuid().ToString("N"), App.Clock.GetUtcNow());
        using var response = await App.PostCallbackAsync(headers, body);
        return response.StatusCode;
    }

    private int Alerts(string outRefundNo) =>
        App.Logs.Entries.Count(e => e.Level == LogLevel.Warning && e.Message.Contains("ALERT", StringComparison.Ordinal) && e.Message.Contains(outRefundNo, StringComparison.Ordinal));

    [Fact]
    public async Task Success_completes_the_refund_once_and_moves_the_amount_to_refunded()
    {
        var (outOrderNo, outRefundNo, transactionId) = await StoredRefundAsync();
        var resource = Resource(outRefundNo, transactionId, RefundStates.Success);

        Assert.Equal(HttpStatusCode.NoContent, await SendAsync(resource, RefundStates.SuccessEvent, "EV-dup-" + outRefundNo));
        await App.DrainQueueAsync();

        var refund = (await App.StoredRefundAsync(outOrderNo, outRefundNo))!;
        Assert.Equal((RefundStatuses.Succeeded, RefundStates.Success, "50300002272025010212345678901"), (refund.Status, refund.WeChatStatus, refund.RefundId));
        Assert.Equal(new DateTimeOffset(2026, 11, 25, 2, 1, 30, TimeSpan.Zero), refund.CompletedAt);
        var order = (await App.PayScoreOrderAsync(outOrderNo))!;
        Assert.Equal((0L, 100L), (order.RefundingAmount, order.RefundedAmount));

        // WeChat sends it again, and again under another id: nothing more happens.
        var after = await App.PartitionAsync(outOrderNo);
        Assert.Equal(HttpStatusCode.NoContent, await SendAsync(resource, RefundStates.SuccessEvent, "EV-dup-" + outRefundNo));
        Assert.Equal(HttpStatusCode.NoContent, await SendAsync(resource, RefundStates.SuccessEvent));
        await App.DrainQueueAsync();
        Assert.Equal(after, await App.PartitionAsync(outOrderNo));

        using var read = await App.GetRefundAsync(outOrderNo, outRefundNo);
        var view = await read.ReadRefundAsync();
        Assert.Equal((RefundStatuses.Succeeded, "50300002272025010212345678901", RefundStates.Success), (view.Status, view.RefundId, view.WeChatStatus));
    }

    [Fact]
    public async Task Closed_fails_the_refund_releases_its_amount_and_a_later_success_is_ignored_with_an_alert()
    {
        var (outOrderNo, outRefundNo, transactionId) = await StoredRefundAsync();
        Assert.Equal(HttpStatusCode.NoContent, await SendAsync(Resource(outRefundNo, transactionId, RefundStates.Closed), RefundStates.ClosedEvent));
        await App.DrainQueueAsync();

        var refund = (await App.StoredRefundAsync(outOrderNo, outRefundNo))!;
        Assert.Equal((RefundStatuses.Failed, RefundStates.Closed), (refund.Status, refund.WeChatStatus));
        Assert.Contains("CLOSED", refund.FailureReason, StringComparison.Ordinal);
        Assert.Equal((0L, 0L), ((await App.PayScoreOrderAsync(outOrderNo))!.RefundingAmount, (await App.PayScoreOrderAsync(outOrderNo))!.RefundedAmount));

        var after = await App.PartitionAsync(outOrderNo);
        Assert.Equal(HttpStatusCode.NoContent, await SendAsync(Resource(outRefundNo, transactionId, RefundStates.Success), RefundStates.SuccessEvent));
        await App.DrainQueueAsync();
        Assert.Equal(after, await App.PartitionAsync(outOrderNo));
        Assert.Equal(1, Alerts(outRefundNo));
    }

    [Fact]
    public async Task Abnormal_keeps_the_refund_pending_and_alerts_once()
    {
        var (outOrderNo, outRefundNo, transactionId) = await StoredRefundAsync();
        Assert.Equal(HttpStatusCode.NoContent, await SendAsync(Resource(outRefundNo, transactionId, RefundStates.Abnormal), RefundStates.AbnormalEvent));
        Assert.Equal(HttpStatusCode.NoContent, await SendAsync(Resource(outRefundNo, transactionId, RefundStates.Abnormal), RefundStates.AbnormalEvent));
        await App.DrainQueueAsync();

        var refund = (await App.StoredRefundAsync(outOrderNo, outRefundNo))!;
        Assert.Equal((RefundStatuses.Pending, RefundStates.Abnormal), (refund.Status, refund.WeChatStatus));
        Assert.Equal(100, (await App.PayScoreOrderAsync(outOrderNo))!.RefundingAmount);
        Assert.Equal(1, Alerts(outRefundNo));
    }

    [Fact]
    public async Task A_callback_for_a_refund_we_never_asked_for_is_an_orphan()
    {
        var outRefundNo = PayScoreRefundApi.NewOutRefundNo();
        Assert.Equal(HttpStatusCode.NoContent, await SendAsync(Resource(outRefundNo, "4200000001", RefundStates.Success), RefundStates.SuccessEvent));
        await App.DrainQueueAsync();

        var orphan = Assert.Single(await App.OrphansAsync(outRefundNo));
        Assert.Equal(("wechatpay", WeChatRefundNotification.Kind), (orphan.PartitionKey, orphan.Kind));
        Assert.Contains(outRefundNo, orphan.Payload, StringComparison.Ordinal);
        Assert.Null(await App.Services.GetRequiredServiceStore().GetRefundIndexAsync(outRefundNo, CancellationToken.None));
        Assert.Equal(0, await App.QueueLengthAsync(poison: true));
    }

    [Theory]
    [InlineData("transaction_id")]
    [InlineData("amount.refund")]
    public async Task A_callback_that_contradicts_our_refund_is_an_orphan_and_not_applied(string differs)
    {
        var (outOrderNo, outRefundNo, transactionId) = await StoredRefundAsync();
        var before = await App.PartitionAsync(outOrderNo);
        var resource = differs == "transaction_id"
            ? Resource(outRefundNo, "4200009999", RefundStates.Success)
            : Resource(outRefundNo, transactionId, RefundStates.Success, refund: 200);

        Assert.Equal(HttpStatusCode.NoContent, await SendAsync(resource, RefundStates.SuccessEvent));
        await App.DrainQueueAsync();

        Assert.Equal(before, await App.PartitionAsync(outOrderNo));
        Assert.Contains(differs, Assert.Single(await App.OrphansAsync(outRefundNo)).Reason, StringComparison.Ordinal);
        Assert.Equal(1, Alerts(outRefundNo));
    }

    [Fact]
    public async Task A_callback_for_another_merchant_or_without_a_refund_number_is_refused_and_not_queued()
    {
        var (outOrderNo, outRefundNo, transactionId) = await StoredRefundAsync();
        var before = await App.PartitionAsync(outOrderNo);

        Assert.Equal(HttpStatusCode.Forbidden, await SendAsync(Resource(outRefundNo, transactionId, RefundStates.Success, mchId: "1900000002"), RefundStates.SuccessEvent));
        var noNumber = Resource(outRefundNo, transactionId, RefundStates.Success);
        noNumber.Remove("out_refund_no");
        Assert.Equal(HttpStatusCode.BadRequest, await SendAsync(noNumber, RefundStates.SuccessEvent));
        Assert.Equal(HttpStatusCode.BadRequest, await SendAsync(Resource(outRefundNo, transactionId, "PROCESSING"), "REFUND.PROCESSING"));

        Assert.Equal(0, await App.QueueLengthAsync());
        Assert.Equal(before, await App.PartitionAsync(outOrderNo));
    }
}
