using Microsoft.AspNetCore.Diagnostics;

namespace PaymentFunctions.Http;

/// <summary>
/// What the API answers when a handler throws: a client's unreadable body is the client's 4xx (no stack trace);
/// storage or network trouble, or a passed deadline, is 503 (retry later). On the webhook routes the answer has
/// the platform's own shape, so the platform sees a refusal it understands and sends the notification again.
/// Anything else falls through to the default 500 ProblemDetails.
/// </summary>
internal sealed class ApiExceptionHandler(ILogger<ApiExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is BadHttpRequestException bad)
        {
            // Truncated, badly chunked or too slow bodies: Kestrel says which (400, 408, 413).
            logger.LogInformation("Unreadable request to {Path}: {Status} {Reason}", LogValue.Safe(context.Request.Path.Value), bad.StatusCode, bad.Message);
            await AnswerAsync(context, bad.StatusCode, RequestBody.Unreadable(bad.StatusCode));
            return true;
        }

        if (RequestDeadline.Expired(context))
        {
            var limit = context.Features.Get<RequestDeadlineFeature>()!.Limit;
            logger.LogError("Request to {Path} did not complete within its {Deadline} deadline ({Error})", LogValue.Safe(context.Request.Path.Value), limit, exception.GetType().Name);
            await AnswerAsync(context, StatusCodes.Status503ServiceUnavailable, "The service is temporarily unavailable; retry shortly.");
            return true;
        }

        if (RequestDeadline.ClientGone(context) || !FailureKinds.IsTransient(exception))
        {
            return false;
        }

        logger.LogError(exception, "Storage is unavailable for {Path}", LogValue.Safe(context.Request.Path.Value));
        await AnswerAsync(context, StatusCodes.Status503ServiceUnavailable, "Storage is temporarily unavailable; retry shortly.");
        return true;
    }

    private static Task AnswerAsync(HttpContext context, int status, string detail)
    {
        if (context.Request.Path.StartsWithSegments("/api/notify/pyun", StringComparison.OrdinalIgnoreCase))
        {
            var code = status >= 500 ? "1500" : "1400";
            return TypedResults.Json(new Orders.PyunNotifyEndpoint.PyunAnswer(code, detail), statusCode: status).ExecuteAsync(context);
        }

        if (context.Request.Path.StartsWithSegments("/api/notify/wechatpay", StringComparison.OrdinalIgnoreCase))
        {
            return TypedResults.Json(new PayScore.WeChatPayNotifyEndpoint.FailAnswer("FAIL", detail), statusCode: status).ExecuteAsync(context);
        }

        return Problems.Create(status, Problems.TitleFor(status), detail).ExecuteAsync(context);
    }
}
