using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using PaymentFunctions.Notifications;
using PaymentFunctions.Orders;
using PaymentFunctions.PayScore;
using PaymentFunctions.Tests.Infrastructure;
using PaymentFunctions.WeChatPay;

namespace PaymentFunctions.Tests.Processing;

/// <summary>Handlers are registered per notification kind; the envelope's payload is read back by each kind's record.</summary>
public sealed class NotificationHandlerTests(PaymentApp app) : IClassFixture<PaymentApp>
{
    [Fact]
    public void Every_kind_has_exactly_one_handler_and_it_is_that_kinds_handler()
    {
        var registered = app.Services.GetServices<INotificationHandler>().Select(h => h.Kind).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(new[] { PyunTradeNotification.Kind, PyunCheck.Kind, PyunExpiryCheck.Kind, PyunRefund.Kind, PayScoreNotification.Kind, PayScoreRefundCheck.Kind, WeChatRefundNotification.Kind, PayScoreCheck.Kind }.Order(StringComparer.Ordinal), registered);

        var handlers = app.Services.GetRequiredService<NotificationHandlers>();
        Assert.IsType<PyunTradeNotificationHandler>(handlers.For(PyunTradeNotification.Kind));
        Assert.IsType<PyunCheckHandler>(handlers.For(PyunCheck.Kind));
        Assert.IsType<PyunExpiryHandler>(handlers.For(PyunExpiryCheck.Kind));
        Assert.IsType<PyunRefundHandler>(handlers.For(PyunRefund.Kind));
        Assert.IsType<PayScoreNotificationHandler>(handlers.For(PayScoreNotification.Kind));
        Assert.IsType<PayScoreCheckHandler>(handlers.For(PayScoreCheck.Kind));
        Assert.IsType<PayScoreRefundCheckHandler>(handlers.For(PayScoreRefundCheck.Kind));
        Assert.IsType<WeChatRefundNotificationHandler>(handlers.For(WeChatRefundNotification.Kind));
    }

    [Fact]
    public void Two_handlers_for_one_kind_are_refused_rather_than_one_chosen()
    {
        var pyun = app.Services.GetServices<INotificationHandler>().Single(h => h.Kind == PyunTradeNotification.Kind);
        var error = Assert.Throws<InvalidOperationException>(() => new NotificationHandlers([pyun, pyun]));
        Assert.Contains(PyunTradeNotification.Kind, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("nope.kind")]
    [InlineData("PYUN.TRADE")]
    public async Task An_unknown_kind_is_an_invalid_message_to_poison_at_once(string kind)
    {
        var text = new NotificationEnvelope(NotificationEnvelope.CurrentVersion, kind, app.Clock.GetUtcNow(),
            JsonSerializer.SerializeToElement(Api.Notification("P1", 1, 100))).ToJson();
        using var scope = app.Services.CreateScope();
        var processor = scope.ServiceProvider.GetRequiredService<NotificationProcessor>();

        var error = await Assert.ThrowsAsync<InvalidMessageException>(() => processor.ProcessAsync(text, CancellationToken.None));
        Assert.Contains("Unknown notification kind", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_pyun_notification_reads_back_from_its_payload_as_it_was_queued()
    {
        var fields = Api.Notification("PO-1", 1, 1234, paySerial: "S-9").WithSign();
        Assert.True(PyunTradeNotification.TryFrom(fields, out var notification, out _));

        var read = PyunTradeNotification.FromPayload(NotificationEnvelope.For(notification!, app.Clock.GetUtcNow()).Payload);

        Assert.Equal(notification!.Result, read.Result);
        Assert.Equal(fields, read.Fields);
        Assert.Equal(notification.EventKey, read.EventKey);
    }

    [Fact]
    public void A_pay_score_notification_keeps_wechats_resource_and_reads_the_order_from_it()
    {
        var resource = JsonSerializer.Deserialize<JsonElement>("""{"out_order_no":"PS1","state":"DOING","state_description":"USER_CONFIRM","unknown_member":7}""");
        var notification = PayScoreNotification.From("EV-1", "PAYSCORE.USER_CONFIRM", "2026-01-01T00:00:00+08:00", resource,
            resource.Deserialize<PayScoreServiceOrder>(WeChatPayJson.Options), out _)!;

        var read = PayScoreNotification.FromPayload(NotificationEnvelope.For(notification, app.Clock.GetUtcNow()).Payload);

        Assert.Equal(("EV-1", "PAYSCORE.USER_CONFIRM", "2026-01-01T00:00:00+08:00"), (read.Id, read.EventType, read.CreateTime));
        Assert.Equal(resource.GetRawText(), read.Resource.GetRawText());
        Assert.Equal(("PS1", "DOING", "USER_CONFIRM"), (read.Order.OutOrderNo, read.Order.State, read.Order.StateDescription));
        Assert.Equal("EV-1", read.EventKey);
    }

    [Fact]
    public void A_version_1_pay_score_payload_without_event_type_or_create_time_still_reads()
    {
        var read = PayScoreNotification.FromPayload(JsonSerializer.SerializeToElement(new { id = "EV-2", resource = new { out_order_no = "PS2", state = "DONE" } }));
        Assert.Equal(("EV-2", null, null, "PS2"), (read.Id, read.EventType, read.CreateTime, read.Order.OutOrderNo));
    }

    [Theory]
    [InlineData("""{"id":"EV","resource":{"state":"DOING"}}""")]
    [InlineData("""{"id":"","resource":{"out_order_no":"PS"}}""")]
    [InlineData("""{"resource":{"out_order_no":"PS"}}""")]
    [InlineData("""{"id":5,"resource":{"out_order_no":"PS"}}""")]
    [InlineData("""{"id":"EV","eventType":5,"resource":{"out_order_no":"PS"}}""")]
    [InlineData("""{"id":"EV","resource":null}""")]
    [InlineData("""{"id":"EV","resource":[1]}""")]
    [InlineData("""[]""")]
    public void A_malformed_pay_score_payload_is_an_invalid_message(string payload) =>
        Assert.Throws<InvalidMessageException>(() => PayScoreNotification.FromPayload(JsonSerializer.Deserialize<JsonElement>(payload)));

    [Theory]
    [InlineData("""{"pay_order":"PO","status":"7","value":"100"}""")]
    [InlineData("""{"status":"1","value":"100"}""")]
    [InlineData("""{"pay_order":"PO","status":1,"value":"100"}""")]
    [InlineData("""null""")]
    [InlineData("""[]""")]
    public void A_malformed_pyun_payload_is_an_invalid_message(string payload) =>
        Assert.Throws<InvalidMessageException>(() => PyunTradeNotification.FromPayload(JsonSerializer.Deserialize<JsonElement>(payload)));
}
