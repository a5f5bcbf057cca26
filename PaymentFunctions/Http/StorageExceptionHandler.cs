using Azure;
using Microsoft.AspNetCore.Diagnostics;

namespace PaymentFunctions.Http;

/// <summary>
/// Storage trouble on a request path answers 503 with a ProblemDetails body (retry later), never a stack
/// trace; anything else falls through to the default 500 ProblemDetails.
/// </summary>
internal sealed class StorageExceptionHandler(ILogger<StorageExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is not (RequestFailedException or AggregateException { InnerException: RequestFailedException } or HttpRequestException or TimeoutException))
        {
            return false;
        }

        logger.LogError(exception, "Storage is unavailable for {Path}", context.Request.Path);
        await Problems.Unavailable("Storage is temporarily unavailable; retry shortly.").ExecuteAsync(context);
        return true;
    }
}
