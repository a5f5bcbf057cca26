using System.Text.Json;
using PaymentFunctions.Notifications;
using PaymentFunctions.PayScore;
using PaymentFunctions.WeChatPay;

namespace PaymentFunctions.Tests.PayScore;

/// <summary>The two refund message kinds read back what they queued, and refuse a payload of the wrong shape as an invalid message.</summary>
public sealed class PayScoreRefundMessageTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 25, 2, 0, 0, TimeSpan.Zero);

    private static JsonElement Payload(string json) => JsonSerializer.Deserialize<JsonElement>(json);

    [Fact]
    public void A_send_or_follow_up_reads_back_as_queued()
    {
        var check = new PayScoreRefundCheck("PS1", "RF-1_a", 3);
        var envelope = NotificationEnvelope.Parse(NotificationEnvelope.For(check, Now).ToJson());
        Assert.Equal(PayScoreRefundCheck.Kind, envelope.Kind);
        Assert.Equal(check, PayScoreRefundCheck.FromPayload(envelope.Payload));
    }

    [Theory]
    [InlineData("""{"outOrderNo":"PS1","outRefundNo":"RF1","round":-1}""")]
    [InlineData("""{"outOrderNo":"PS1","outRefundNo":"RF1","round":21}""")]
    [InlineData("""{"outOrderNo":"PS1","outRefundNo":"RF#1","round":0}""")]
    [InlineData("""{"outOrderNo":"PS 1","outRefundNo":"RF1","round":0}""")]
    [InlineData("""{"outOrderNo":"PS1","round":0}""")]
    [InlineData("""{"outOrderNo":"PS1","outRefundNo":7,"round":0}""")]
    public void A_malformed_send_payload_is_an_invalid_message(string payload) =>
        Assert.Throws<InvalidMessageException>(() => PayScoreRefundCheck.FromPayload(Payload(payload)));

    [Fact]
    public void A_refund_callback_keeps_wechats_resource_and_reads_the_notice_from_it()
    {
        var resource = Payload("""{"mchid":"1900000001","out_refund_no":"RF1","transaction_id":"42","refund_status":"CLOSE","amount":{"total":300,"refund":100},"extra":1}""");
        var queued = WeChatRefundNotification.From("EV-1", RefundStates.ClosedEvent, resource, out _)!;
        var envelope = NotificationEnvelope.Parse(NotificationEnvelope.For(queued, Now).ToJson());
        var read = WeChatRefundNotification.FromPayload(envelope.Payload);

        Assert.Equal(("EV-1", RefundStates.ClosedEvent, RefundStates.Closed, 100L), (read.Id, read.EventType, read.Notice.RefundStatus, read.Notice.Amount!.Refund));
        Assert.Equal(resource.GetRawText(), read.Resource.GetRawText());
    }

    [Theory]
    [InlineData("""{"id":"EV-1","resource":{"refund_status":"SUCCESS"}}""")]
    [InlineData("""{"id":"EV-1","resource":{"out_refund_no":"RF1","refund_status":"PROCESSING"}}""")]
    [InlineData("""{"id":"","resource":{"out_refund_no":"RF1","refund_status":"SUCCESS"}}""")]
    [InlineData("""{"id":"EV-1","resource":[1]}""")]
    [InlineData("""{"id":"EV-1"}""")]
    public void A_malformed_refund_callback_payload_is_an_invalid_message(string payload) =>
        Assert.Throws<InvalidMessageException>(() => WeChatRefundNotification.FromPayload(Payload(payload)));
}
