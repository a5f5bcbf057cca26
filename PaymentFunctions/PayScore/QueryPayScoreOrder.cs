using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using PaymentFunctions.Http;
using PaymentFunctions.OpenApi;
using PaymentFunctions.WeChatPay;

namespace PaymentFunctions.PayScore;

/// <summary>Exactly one of the two: the <c>query_id</c> the Pay Score page returned, or our own number.</summary>
public sealed record QueryPayScoreOrderRequest(string? QueryId, string? OutOrderNo);

/// <summary>
/// <c>POST /api/payscore/orders/query</c> (mini program, anonymous): on return from the Pay Score page, ask
/// WeChat Pay for the truth (a <c>query_id</c> is no proof of confirmation), apply it, and answer the stored,
/// authoritative state. <c>confirmed</c> is true only from DOING/USER_CONFIRM on.
/// </summary>
public static class QueryPayScoreOrderEndpoint
{
    public static void MapQueryPayScoreOrder(this IEndpointRouteBuilder api) =>
        api.MapPost("/payscore/orders/query", HandleAsync).WithName("QueryPayScoreOrder").RequireRateLimiting(RateLimits.PlatformCalls)
            .WithSummary("The authoritative state of a Pay Score order (mini program)").AcceptsJson<QueryPayScoreOrderRequest>()
            .WithDescription("Exactly one of queryId (what the Pay Score page returned) or outOrderNo. `confirmed` is true only from DOING/USER_CONFIRM on; `paid` only for DONE with USER_PAID.")
            .Describes(StatusCodes.Status200OK, "The stored state after applying WeChat Pay's answer.")
            .Refuses(StatusCodes.Status404NotFound, "No such Pay Score order of this app.")
            .Refuses(StatusCodes.Status502BadGateway, "WeChat Pay refused (502) or is unavailable or rate limiting (503); `weChatCode` and `requestId` say which.");

    internal static async Task<Results<Ok<PayScoreOrderView>, ProblemHttpResult>> HandleAsync(
        HttpContext context, IValidator<QueryPayScoreOrderRequest> validator, PayScoreStore store, PayScoreProcessor processor, TimeProvider clock, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        var (request, problem) = await RequestBody.ReadValidJsonAsync(context.Request, validator, cancellationToken);
        if (problem is not null)
        {
            return problem;
        }

        if (request!.OutOrderNo is not null)
        {
            if (!WeChatPayFormats.IsValidOutOrderNo(request.OutOrderNo) || await store.GetAsync(request.OutOrderNo, cancellationToken) is not { IsCreated: true } stored)
            {
                return Problems.NotFound("No such Pay Score order.");
            }

            // Polling by our own number asks WeChat at most once per interval; callbacks keep the stored state current between.
            var now = clock.GetUtcNow();
            if (!PayScoreLifecycle.MayQuery(stored, now, PayScoreHttp.Options(context).QueryInterval) ||
                !await store.TryClaimQueryAsync(stored, now, cancellationToken))
            {
                return TypedResults.Ok(PayScoreOrderView.From(stored));
            }
        }

        var logger = loggers.CreateLogger("QueryPayScoreOrder");
        var client = context.RequestServices.GetRequiredService<WeChatPayClient>();
        PayScoreServiceOrder observed;
        try
        {
            observed = request.QueryId is not null
                ? await client.QueryByQueryIdAsync(request.QueryId, cancellationToken)
                : await client.QueryByOutOrderNoAsync(request.OutOrderNo!, cancellationToken);
        }
        catch (WeChatPayException ex)
        {
            return PayScoreHttp.FromWeChat(ex, logger, "query");
        }

        if (!PayScoreHttp.Matches(observed, PayScoreHttp.Options(context), out var mismatch) ||
            (request.OutOrderNo is not null && observed.OutOrderNo != request.OutOrderNo))
        {
            logger.LogWarning("WeChat Pay query answered an order that is not ours: {Problem}", mismatch);
            return Problems.BadGateway("WeChat Pay answered with an order that does not belong to this merchant.");
        }

        if (observed.OutOrderNo is null || await store.GetAsync(observed.OutOrderNo, cancellationToken) is not { IsCreated: true })
        {
            return Problems.NotFound("That query_id belongs to no Pay Score order of this app.");
        }

        var applied = await PayScoreHttp.ApplyAnswerAsync(context, processor, observed, "wechatpay.query", clock, logger, cancellationToken);
        return TypedResults.Ok(PayScoreOrderView.From(applied.Order));
    }
}
