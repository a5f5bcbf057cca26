using System.Text.Json;
using System.Text.Json.Serialization;
using PaymentFunctions.Notifications;
using PaymentFunctions.WeChatPay;

namespace PaymentFunctions.PayScore;

/// <summary>
/// Our own message to send or follow up one refund: round 0 sends (the immediate message, and the delayed safety net
/// queued before the refund was stored), rounds 1+ follow up. It carries no facts: its handler reads the stored refund
/// and trusts only what WeChat Pay answers.
/// </summary>
public sealed record PayScoreRefundCheck(
    [property: JsonPropertyName("outOrderNo")] string OutOrderNo,
    [property: JsonPropertyName("outRefundNo")] string OutRefundNo,
    [property: JsonPropertyName("round")] int Round) : INotification<PayScoreRefundCheck>
{
    public const int MaxRound = 20;

    public static string Kind => "payscore.refund";

    public string EventKey => $"refund-{OutRefundNo}-{Round}";

    public JsonElement ToPayload() => JsonSerializer.SerializeToElement(this);

    public static PayScoreRefundCheck FromPayload(JsonElement payload)
    {
        var check = NotificationHandlers.ReadPayload(() => payload.Deserialize<PayScoreRefundCheck>())
                    ?? throw new InvalidMessageException("The refund payload is empty.");
        if (!WeChatPayFormats.IsValidOutOrderNo(check.OutOrderNo) || !PayScoreRefundRules.IsValidOutRefundNo(check.OutRefundNo) || check.Round is < 0 or > MaxRound)
        {
            throw new InvalidMessageException($"The refund payload needs an outOrderNo, an outRefundNo and a round from 0 to {MaxRound}.");
        }

        return check;
    }
}

/// <summary>Queues refund sends and follow-ups: a message that shows up after the delay.</summary>
public sealed class PayScoreRefundScheduler(NotificationQueue queue, TimeProvider clock)
{
    public Task ScheduleAsync(string outOrderNo, string outRefundNo, int round, TimeSpan? delay, CancellationToken cancellationToken) =>
        queue.EnqueueAsync(NotificationEnvelope.For(new PayScoreRefundCheck(outOrderNo, outRefundNo, round), clock.GetUtcNow()),
            delay is { } d ? TimeSpan.FromSeconds(Math.Ceiling(d.TotalSeconds)) : null, cancellationToken);
}

/// <summary>
/// A verified, decrypted REFUND.SUCCESS / REFUND.ABNORMAL / REFUND.CLOSED callback: its <c>id</c>, event, the decrypted
/// resource as WeChat sent it (what the queue keeps, so an orphan record holds WeChat's own data) and that resource read.
/// </summary>
public sealed record WeChatRefundNotification(string Id, string? EventType, JsonElement Resource, WeChatRefundNotice Notice)
    : INotification<WeChatRefundNotification>
{
    public static string Kind => "wechatpay.refund";

    public string EventKey => Id;

    /// <summary>
    /// A notification with an id and a refund resource WeChat's client reads (an out_refund_no, a known refund_status); null (with
    /// the reason) otherwise. Whether the number is ours is the handler's question: a stranger's is recorded as an orphan.
    /// </summary>
    public static WeChatRefundNotification? From(string? id, string? eventType, JsonElement resource, out string error)
    {
        if (string.IsNullOrEmpty(id))
        {
            error = "The refund callback has no id.";
            return null;
        }

        if (!WeChatRefundNotice.TryParse(resource.ValueKind == JsonValueKind.Object ? resource.GetRawText() : null, out var notice, out var problem))
        {
            error = $"The refund callback is malformed: {problem}.";
            return null;
        }

        error = "";
        return new(id, eventType, resource, notice!);
    }

    public JsonElement ToPayload() => JsonSerializer.SerializeToElement(new Dictionary<string, object?>
    {
        ["id"] = Id,
        ["eventType"] = EventType,
        ["resource"] = Resource,
    });

    public static WeChatRefundNotification FromPayload(JsonElement payload)
    {
        var (id, eventType, resource) = NotificationHandlers.ReadPayload(() =>
            (payload.GetProperty("id").GetString(),
                payload.TryGetProperty("eventType", out var e) && e.ValueKind == JsonValueKind.String ? e.GetString() : null,
                payload.GetProperty("resource")));
        return From(id, eventType, resource, out var error) ?? throw new InvalidMessageException(error);
    }
}

/// <summary>Sends or follows up a refund.</summary>
public sealed class PayScoreRefundCheckHandler(PayScoreRefundProcessor processor) : NotificationHandler<PayScoreRefundCheck>
{
    protected override Task<string> HandleAsync(PayScoreRefundCheck check, DateTimeOffset receivedAt, CancellationToken cancellationToken) =>
        processor.RunAsync(check, cancellationToken);
}

/// <summary>Applies a queued refund callback to its refund.</summary>
public sealed class WeChatRefundNotificationHandler(PayScoreRefundProcessor processor) : NotificationHandler<WeChatRefundNotification>
{
    protected override Task<string> HandleAsync(WeChatRefundNotification notification, DateTimeOffset receivedAt, CancellationToken cancellationToken) =>
        processor.ApplyNoticeAsync(notification, receivedAt, cancellationToken);
}
