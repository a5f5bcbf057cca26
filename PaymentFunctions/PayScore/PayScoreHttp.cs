using System.Net;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using PaymentFunctions.Hosting;
using PaymentFunctions.Http;
using PaymentFunctions.WeChatPay;

namespace PaymentFunctions.PayScore;

/// <summary>Whether the WeChat Pay section was configured; without it the Pay Score routes answer 503.</summary>
public sealed record PayScoreFeature(bool Enabled)
{
    public const string Disabled = "WeChat Pay Score is not configured on this app: add the 'WeChatPay' settings section to enable it.";
}

/// <summary>
/// Answers 503 on every Pay Score route while WeChat Pay is not configured: ProblemDetails, or the route's own
/// <see cref="PayScoreDisabledAnswer"/> when its caller reads another shape (WeChat's callback).
/// </summary>
public sealed class PayScoreEnabledFilter(PayScoreFeature feature) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        if (feature.Enabled)
        {
            return await next(context);
        }

        var answer = context.HttpContext.GetEndpoint()?.Metadata.GetMetadata<PayScoreDisabledAnswer>();
        return answer is null ? Problems.Unavailable(PayScoreFeature.Disabled) : answer.Create(context.HttpContext);
    }
}

/// <summary>Route metadata: how the route says 503 "Pay Score is off" when its caller does not read ProblemDetails.</summary>
public sealed record PayScoreDisabledAnswer(Func<HttpContext, IResult> Create);

public static class PayScoreRouteGroup
{
    /// <summary>Every route of the group answers 503 while WeChat Pay is not configured.</summary>
    public static RouteGroupBuilder RequirePayScore(this RouteGroupBuilder group) =>
        group.AddRegisteredFilter<PayScoreEnabledFilter>();
}

internal static class PayScoreHttp
{
    /// <summary>
    /// WeChat's refusal, told to our caller clearly and with WeChat's Request-ID for support; never a 5xx of ours.
    /// 404 ORDER_NOT_EXIST stays 404, rate limiting and outages ask for a retry, anything else is WeChat's word (502).
    /// </summary>
    public static ProblemHttpResult FromWeChat(WeChatPayException ex, ILogger logger, string what)
    {
        logger.LogWarning("WeChat Pay {What} failed: HTTP {Status}, code {Code}, message {Message}, Request-ID {RequestId}",
            what, (int?)ex.StatusCode, LogValue.Safe(ex.Code), LogValue.Safe(ex.WeChatMessage, 256), LogValue.Safe(ex.RequestId));
        var (status, title) = ex.StatusCode switch
        {
            HttpStatusCode.NotFound => (StatusCodes.Status404NotFound, "Not found at WeChat Pay"),
            HttpStatusCode.TooManyRequests => (StatusCodes.Status503ServiceUnavailable, "WeChat Pay is rate limiting"),
            >= HttpStatusCode.InternalServerError or null => (StatusCodes.Status502BadGateway, "WeChat Pay is unavailable"),
            _ => (StatusCodes.Status502BadGateway, "WeChat Pay refused the request"),
        };
        var detail = ex.Code is null
            ? $"WeChat Pay {what} failed: {ex.Message}"
            : $"WeChat Pay {what} failed: {ex.Code} {ex.WeChatMessage}".TrimEnd();
        if (ex.RequestId is not null)
        {
            detail += $" (Request-ID {ex.RequestId})";
        }

        var problem = new ProblemDetails { Status = status, Title = title, Detail = detail };
        problem.Extensions["weChatCode"] = ex.Code;
        problem.Extensions["requestId"] = ex.RequestId;
        return TypedResults.Problem(problem);
    }

    public static bool Matches(PayScoreServiceOrder order, WeChatPayOptions options, out string problem)
    {
        problem = order.MchId != options.MchId ? "mchid is not this merchant's"
            : order.ServiceId is not null && order.ServiceId != options.ServiceId ? "service_id is not this app's"
            : options.IsPartner && order.SubMchId != options.SubMchId ? "sub_mchid is not this app's sub-merchant"
            : !options.IsPartner && order.AppId != options.AppId ? "appid is not this app's"
            : "";
        return problem.Length == 0;
    }

    /// <summary>
    /// Applies WeChat's answer to our own call (query, complete, cancel) through the processor. Should its events fail to
    /// queue after the commit, the change stands and is answered as it is (a 5xx would tell the caller nothing happened,
    /// and its retry would only be refused): the warning says so, and a check one <see cref="WeChatPayOptions.CheckBackoff"/>
    /// later queues them.
    /// </summary>
    public static async Task<PayScoreProcessResult> ApplyAnswerAsync(HttpContext context, PayScoreProcessor processor, PayScoreServiceOrder observed, string source,
        TimeProvider clock, ILogger logger, CancellationToken cancellationToken)
    {
        try
        {
            return await processor.ApplyAsync(observed, source, null, clock.GetUtcNow(), cancellationToken);
        }
        catch (PayScoreEventsNotDispatchedException ex)
        {
            var delay = Options(context).CheckBackoff;
            logger.LogWarning(ex.InnerException, "Pay Score order {OutOrderNo}: WeChat Pay's {Source} answer is applied ({Outcome}), but its events could not be queued; a check in {Delay} queues them",
                ex.Result.Order.PartitionKey, source, ex.Result.Outcome, delay);
            await context.RequestServices.GetRequiredService<PayScoreCheckScheduler>().TryScheduleRedispatchAsync(ex.Result.Order.PartitionKey, delay, cancellationToken);
            return ex.Result;
        }
    }

    public static WeChatPayOptions Options(HttpContext context) => context.RequestServices.GetRequiredService<IOptions<WeChatPayOptions>>().Value;
}
