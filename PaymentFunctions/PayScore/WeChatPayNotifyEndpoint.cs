using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using PaymentFunctions.Http;
using PaymentFunctions.Notifications;
using PaymentFunctions.OpenApi;
using PaymentFunctions.WeChatPay;

namespace PaymentFunctions.PayScore;

/// <summary>
/// <c>POST /api/notify/wechatpay</c>: WeChat Pay's Pay Score callbacks. Verify (headers, timestamp, key by
/// serial, signature over the raw bytes, then decrypt), check the order is for this merchant, queue it, and
/// only then answer 204. Every refusal answers 4xx (5xx when storage fails) with <c>{"code":"FAIL","message":…}</c>.
/// </summary>
public static class WeChatPayNotifyEndpoint
{
    public const int LimitBytes = 64 * 1024;

    public sealed record FailAnswer(string Code, string Message);

    public static void MapWeChatPayNotify(this IEndpointRouteBuilder api) =>
        api.MapPost("/notify/wechatpay", HandleAsync).WithName("WeChatPayNotify").DescribedAsWeChatPayCallback()
            .WithMetadata(new PayScoreDisabledAnswer(context => Fail(Logger(context.RequestServices.GetRequiredService<ILoggerFactory>()),
                StatusCodes.Status503ServiceUnavailable, PayScoreFeature.Disabled)));

    internal static async Task<IResult> HandleAsync(HttpContext context, NotificationQueue queue, TimeProvider clock,
        ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        var logger = Logger(loggers);
        var body = await RequestBody.ReadAsync(context.Request, "application/json", LimitBytes, cancellationToken);
        if (!body.Ok)
        {
            return Fail(logger, body.Problem!.StatusCode, body.Problem.ProblemDetails.Detail!);
        }

        var verifier = context.RequestServices.GetRequiredService<WeChatPayCallbackVerifier>();
        var result = verifier.Verify(WeChatPaySignatureHeaders.From(context.Request.Headers), body.Bytes);
        if (!result.IsValid)
        {
            var status = result.Rejection is WeChatPayRejection.MalformedEnvelope or WeChatPayRejection.MalformedResource or WeChatPayRejection.UnsupportedAlgorithm
                ? StatusCodes.Status400BadRequest
                : StatusCodes.Status401Unauthorized;
            return Fail(logger, status, result.Message, context.Request.Headers["Request-ID"]);
        }

        var notification = result.Notification!;
        if (result.IsRefund)
        {
            return await PayScoreRefundCallback.QueueAsync(context, notification, result.RefundNotice!, result.ResourceJson!, queue, clock, logger, cancellationToken);
        }

        var order = result.ServiceOrder!;
        if (notification.EventType is not (PayScoreStates.UserConfirmEvent or PayScoreStates.UserPaidEvent))
        {
            return Fail(logger, StatusCodes.Status400BadRequest, $"Unsupported event type '{notification.EventType}'.");
        }

        // The queue keeps the resource as WeChat sent it; a JsonElement deserialized from text owns its own copy.
        var queued = PayScoreNotification.From(notification.Id, notification.EventType, notification.CreateTime,
            JsonSerializer.Deserialize<JsonElement>(result.ResourceJson!), order, out _);
        if (queued is null)
        {
            return Fail(logger, StatusCodes.Status400BadRequest, "The callback has no id or no out_order_no.");
        }

        if (!PayScoreHttp.Matches(order, PayScoreHttp.Options(context), out var mismatch))
        {
            return Fail(logger, StatusCodes.Status403Forbidden, $"The callback is not for this app: {mismatch}.");
        }

        var envelope = NotificationEnvelope.For(queued, clock.GetUtcNow());
        try
        {
            await queue.EnqueueAsync(envelope, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            logger.LogError(ex, "WeChat Pay callback {Id} for {OutOrderNo} could not be queued; answering 500 so WeChat retries", LogValue.Safe(notification.Id), LogValue.Safe(order.OutOrderNo));
            return Fail(logger, StatusCodes.Status500InternalServerError, "temporarily unavailable, please retry");
        }

        logger.LogInformation("WeChat Pay callback {Id} ({EventType}) for {OutOrderNo} queued", LogValue.Safe(notification.Id), LogValue.Safe(notification.EventType), LogValue.Safe(order.OutOrderNo));
        Telemetry.PaymentTelemetry.WebhookReceived("wechatpay");
        return TypedResults.NoContent();
    }

    private static ILogger Logger(ILoggerFactory loggers) => loggers.CreateLogger("WeChatPayNotify");

    internal static JsonHttpResult<FailAnswer> Fail(ILogger logger, int status, string message, string? requestId = null)
    {
        logger.LogWarning("WeChat Pay callback refused ({Status}): {Reason} {RequestId}", status, LogValue.Safe(message, 256), LogValue.Safe(requestId));
        Telemetry.PaymentTelemetry.WebhookRefused("wechatpay", status);
        return TypedResults.Json(new FailAnswer("FAIL", message), statusCode: status);
    }
}
