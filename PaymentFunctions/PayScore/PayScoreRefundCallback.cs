using System.Text.Json;
using PaymentFunctions.Http;
using PaymentFunctions.Notifications;
using PaymentFunctions.WeChatPay;

namespace PaymentFunctions.PayScore;

/// <summary>
/// The refund callbacks (REFUND.SUCCESS, REFUND.ABNORMAL, REFUND.CLOSED) on <c>POST /api/notify/wechatpay</c>: verified and
/// decrypted there like the Pay Score callbacks, checked to be for this merchant, queued as <c>wechatpay.refund</c>, and
/// only then answered 204. Whether the refund is ours, and matches, is decided by the handler (an orphan otherwise).
/// </summary>
public static class PayScoreRefundCallback
{
    /// <param name="notice">The resource as the verifier read it (a refund status it knows, an out_refund_no).</param>
    /// <param name="resourceJson">The decrypted resource exactly as WeChat sent it: what the queue keeps.</param>
    public static async Task<IResult> QueueAsync(HttpContext context, WeChatPayNotification notification, WeChatRefundNotice notice, string resourceJson,
        NotificationQueue queue, TimeProvider clock, ILogger logger, CancellationToken cancellationToken)
    {
        // A JsonElement deserialized from text owns its own copy.
        var queued = WeChatRefundNotification.From(notification.Id, notification.EventType, JsonSerializer.Deserialize<JsonElement>(resourceJson), out var error);
        if (queued is null)
        {
            return WeChatPayNotifyEndpoint.Fail(logger, StatusCodes.Status400BadRequest, error);
        }

        if (PayScoreRefundLifecycle.MerchantMismatch(notice, PayScoreHttp.Options(context)) is { } mismatch)
        {
            return WeChatPayNotifyEndpoint.Fail(logger, StatusCodes.Status403Forbidden, $"The callback is not for this app: {mismatch}.");
        }

        try
        {
            await queue.EnqueueAsync(NotificationEnvelope.For(queued, clock.GetUtcNow()), cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            logger.LogError(ex, "WeChat Pay refund callback {Id} for {OutRefundNo} could not be queued; answering 500 so WeChat retries",
                LogValue.Safe(notification.Id), LogValue.Safe(queued.Notice.OutRefundNo));
            return WeChatPayNotifyEndpoint.Fail(logger, StatusCodes.Status500InternalServerError, "temporarily unavailable, please retry");
        }

        logger.LogInformation("WeChat Pay refund callback {Id} ({EventType}) for {OutRefundNo} queued",
            LogValue.Safe(notification.Id), LogValue.Safe(notification.EventType), LogValue.Safe(queued.Notice.OutRefundNo));
        Telemetry.PaymentTelemetry.WebhookReceived("wechatpay");
        return TypedResults.NoContent();
    }
}
