using Microsoft.Extensions.Options;
using PaymentFunctions.Http;
using PaymentFunctions.Notifications;
using PaymentFunctions.OpenApi;
using PaymentFunctions.Pyun;

namespace PaymentFunctions.Orders;

/// <summary>
/// <c>POST /api/notify/pyun</c>: P云's payment notification. Verify the raw form, queue it, and only then
/// answer <c>1001</c>; every refusal answers another code with a 4xx (or 5xx when storage fails) so P云
/// sends it again, and nothing is queued. The orders product's intake (P云's protocol itself is in <c>Pyun/</c>).
/// </summary>
public static class PyunNotifyEndpoint
{
    public static void MapPyunNotify(this IEndpointRouteBuilder api) =>
        api.MapPost("/notify/pyun", HandleAsync).WithName("PyunNotify").DisableAntiforgery().DescribedAsPyunNotification();

    public sealed record PyunAnswer(string Code, string Message);

    internal static async Task<IResult> HandleAsync(HttpContext context, IOptions<PyunOptions> options, NotificationQueue queue,
        TimeProvider clock, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        var logger = loggers.CreateLogger("PyunNotify");
        var request = context.Request;
        var body = await RequestBody.ReadAsync(request, "application/x-www-form-urlencoded", RequestBody.FormLimitBytes, cancellationToken);
        if (!body.Ok)
        {
            var status = body.Problem!.StatusCode;
            return Refuse(logger, status, status switch { 413 => "1413", 415 => "1415", _ => "1400" }, body.Problem.ProblemDetails.Detail!);
        }

        if (!FormBody.TryParse(body.Bytes, out var fields, out var formError))
        {
            return Refuse(logger, StatusCodes.Status400BadRequest, "1400", formError);
        }

        // Raw values are signed unescaped, so '&' or '=' inside a field could re-split it into other fields with the same sign.
        if (PyunSignature.FirstUnsignable(fields!) is { } unsignable)
        {
            return Refuse(logger, StatusCodes.Status400BadRequest, "1400",
                $"Field '{RequestBody.Clip(unsignable)}' has '&' or '=' in its name or value, so its sign cannot be checked unambiguously.");
        }

        var o = options.Value;
        if (!fields.TryGetValue(PyunSignature.SignField, out var sign) || sign.Length == 0)
        {
            return Refuse(logger, StatusCodes.Status401Unauthorized, "1401", "sign is missing");
        }

        if (!PyunSignature.Verify(fields!, sign, o.AppSecret))
        {
            return Refuse(logger, StatusCodes.Status401Unauthorized, "1401", "sign error");
        }

        if (fields.GetValueOrDefault("app_id") != o.AppId)
        {
            return Refuse(logger, StatusCodes.Status403Forbidden, "1403", "app_id is not this application");
        }

        if (fields.TryGetValue("merchant", out var merchant) && merchant != o.Merchant)
        {
            return Refuse(logger, StatusCodes.Status403Forbidden, "1403", "merchant is not this application's merchant");
        }

        if (!PyunTradeNotification.TryFrom(fields, out var notification, out var fieldError))
        {
            return Refuse(logger, StatusCodes.Status400BadRequest, "1400", fieldError);
        }

        var result = notification!.Result;
        var envelope = NotificationEnvelope.For(notification, clock.GetUtcNow());
        try
        {
            await queue.EnqueueAsync(envelope, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            logger.LogError(ex, "P云 notification for {PayOrder} could not be queued; answering 503 so P云 retries", LogValue.Safe(result.PayOrder));
            Telemetry.PaymentTelemetry.WebhookRefused("pyun", StatusCodes.Status503ServiceUnavailable);
            return TypedResults.Json(new PyunAnswer("1500", "temporarily unavailable, please retry"), statusCode: StatusCodes.Status503ServiceUnavailable);
        }

        logger.LogInformation("P云 notification for {PayOrder} (status {Status}, value {Value}) queued", LogValue.Safe(result.PayOrder), result.Status, result.Value);
        Telemetry.PaymentTelemetry.WebhookReceived("pyun");
        return TypedResults.Json(new PyunAnswer("1001", "通知成功"));
    }

    private static Microsoft.AspNetCore.Http.HttpResults.JsonHttpResult<PyunAnswer> Refuse(ILogger logger, int status, string code, string message)
    {
        logger.LogWarning("P云 notification refused ({Status} {Code}): {Reason}", status, code, LogValue.Safe(message, 256));
        Telemetry.PaymentTelemetry.WebhookRefused("pyun", status);
        return TypedResults.Json(new PyunAnswer(code, message), statusCode: status);
    }
}
