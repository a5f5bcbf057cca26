using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using PaymentFunctions.Http;
using PaymentFunctions.OpenApi;
using PaymentFunctions.Pyun;
using PaymentFunctions.Storage;

namespace PaymentFunctions.Orders;

public sealed record PrepareOrderRequest(string? Client, string? Payer);

/// <summary>Exactly what <c>wx.openEmbeddedMiniProgram</c> / <c>my.openEmbeddedMiniProgram</c> take.</summary>
public sealed record LaunchData(string AppId, string Path);

public sealed record PrepareOrderResponse(string OrderId, string PayId, string PayOrder, DateTimeOffset ExpiresAt, string Client, LaunchData Launch);

public sealed class PrepareOrderValidator : AbstractValidator<PrepareOrderRequest>
{
    public PrepareOrderValidator()
    {
        RuleFor(r => r.Client).Must(c => c is PrepareOrderEndpoint.WeChat or PrepareOrderEndpoint.Alipay)
            .WithMessage("'client' must be \"wechat\" or \"alipay\".");
        RuleFor(r => r.Payer).Must(p => p is null || (p.Length is >= 1 and <= 64 && p.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-')))
            .WithMessage("'payer' must be an openid: up to 64 letters, digits, '_' or '-'.");
    }
}

/// <summary>
/// <c>POST /api/orders/{orderId}/prepare</c>: get a P云 <c>pay_id</c> for the order and the launch data for
/// the half-screen payment mini program. Each attempt gets a fresh <c>pay_order</c>; a still-valid attempt is reused.
/// </summary>
public static class PrepareOrderEndpoint
{
    public const string WeChat = "wechat";
    public const string Alipay = "alipay";
    public const string WeChatAppId = "wxa204074068ad40ef";
    public const string AlipayAppId = "2021004130621008";

    public static void MapPrepareOrder(this IEndpointRouteBuilder api) =>
        api.MapPost("/orders/{orderId}/prepare", HandleAsync).WithName("PrepareOrder").RequireRateLimiting(RateLimits.PlatformCalls)
            .WithSummary("Get the launch data of the half-screen payment (mini program)").AcceptsJson<PrepareOrderRequest>()
            .WithDescription("Gets a P云 pay_id for a fresh attempt (or reuses one still valid for a minute with the same payer). `launch` is exactly what wx.openEmbeddedMiniProgram / my.openEmbeddedMiniProgram take.")
            .Describes(StatusCodes.Status200OK, "The attempt and its launch data.").Refuses(StatusCodes.Status404NotFound, "No such order.")
            .Refuses(StatusCodes.Status409Conflict, "The order is Paid, PaidAfterClose or AmountMismatch, or a prepare of it is in flight (retry).")
            .Refuses(StatusCodes.Status410Gone, "The order has expired.")
            .Refuses(StatusCodes.Status429TooManyRequests, "Too many attempts on this order (retry after Retry-After), or too many requests from this client or from everyone.")
            .Refuses(StatusCodes.Status502BadGateway, "P云 refused or could not be reached; `detail` has P云's code and seqno.");

    public static LaunchData Launch(string client, string payId) => new(
        client == Alipay ? AlipayAppId : WeChatAppId,
        $"/external/payment/trade/create/index?pay_id={Uri.EscapeDataString(payId)}");

    internal static async Task<Results<Ok<PrepareOrderResponse>, ProblemHttpResult>> HandleAsync(
        string orderId, HttpRequest http, IValidator<PrepareOrderRequest> validator, OrderStore store, PyunClient pyun,
        IOptions<PyunOptions> options, PyunCheckScheduler checks, TimeProvider clock, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        var (request, problem) = await RequestBody.ReadValidJsonAsync(http, validator, cancellationToken);
        if (problem is not null)
        {
            return problem;
        }

        if (!PayOrderNumber.IsOrderId(orderId))
        {
            return Problems.NotFound("No such order.");
        }

        var logger = loggers.CreateLogger("PrepareOrder");
        // Read, decide, claim the next attempt number: the order row's ETag makes two concurrent prepares pick
        // different numbers, and the loser decides again on what the winner wrote.
        var (decision, found, claimed) = await ConcurrencyRetry.RunAsync<(PrepareDecision?, OrderEntity?, AttemptEntity?)>(async _ =>
        {
            var order = await store.GetOrderAsync(orderId, cancellationToken);
            if (order is null)
            {
                return (null, null, null);
            }

            var now = clock.GetUtcNow();
            // Checked before the attempt row is read, so a refused order costs one read.
            if (OrderLifecycle.RefusePrepare(order, now) is { } refusal)
            {
                return (refusal, order, null);
            }

            var current = order.AttemptCount > 0 ? await store.GetAttemptAsync(orderId, order.AttemptCount, cancellationToken) : null;
            var decision = OrderLifecycle.DecidePrepare(order, current, request!.Payer, now, options.Value.RequestTimeout * 2, options.Value.AttemptLifetime);
            if (decision is not PrepareDecision.NewAttempt next)
            {
                return (decision, order, null);
            }

            var attempt = OrderLifecycle.BeginAttempt(order, next, request.Client!, request.Payer, now);
            await store.ClaimAttemptAsync(order, attempt, cancellationToken);
            return (decision, order, attempt);
        }, backoff: null, cancellationToken);

        switch (decision)
        {
            case null:
                return Problems.NotFound("No such order.");
            case PrepareDecision.Refuse { Kind: PrepareRefusalKind.Gone } gone:
                return Problems.Gone(gone.Detail);
            case PrepareDecision.Refuse refuse:
                return Problems.Conflict(refuse.Detail);
            case PrepareDecision.Reuse reuse:
                return TypedResults.Ok(new PrepareOrderResponse(orderId, reuse.PayId, reuse.Attempt.PayOrder, reuse.Attempt.ExpiresAt, request!.Client!,
                    Launch(request.Client!, reuse.PayId)));
            case PrepareDecision.TooSoon tooSoon:
                return TooSoon(http, tooSoon.Wait);
        }

        // Only a claimed new attempt is left: it has both rows.
        var (order, attempt) = (found!, claimed!);
        string newPayId;
        try
        {
            newPayId = await pyun.PrepareAsync(new PyunPrepareRequest(attempt.PayOrder, order.Subject, order.Amount, order.Body,
                request!.Payer, attempt.ExpiresAt, order.Scene, order.Extra), cancellationToken);
        }
        catch (PyunException ex)
        {
            logger.LogWarning(ex, "Prepare of {PayOrder} failed", attempt.PayOrder);
            OrderLifecycle.PrepareFailed(attempt);
            await TryMarkFailedAsync(store, attempt, logger, cancellationToken);
            return Problems.BadGateway(ex.SeqNo is null ? ex.Message : $"{ex.Message} P云 seqno {ex.SeqNo}.");
        }

        await MarkPreparedAsync(store, order, attempt, newPayId, clock, cancellationToken);
        logger.LogInformation("Order {OrderId} attempt {PayOrder} prepared as pay_id {PayId}", orderId, attempt.PayOrder, newPayId);
        await ScheduleCheckAsync(checks, attempt, options.Value, clock, logger, cancellationToken);
        return TypedResults.Ok(new PrepareOrderResponse(orderId, newPayId, attempt.PayOrder, attempt.ExpiresAt, request.Client!, Launch(request.Client!, newPayId)));
    }

    /// <summary>
    /// Stores the pay_id and moves the order to Pending (from Created or Failed) in one transaction. The order row
    /// is written with the ETag our own claim left on it; it is read again only when someone wrote it since.
    /// </summary>
    private static async Task MarkPreparedAsync(OrderStore store, OrderEntity order, AttemptEntity attempt, string payId, TimeProvider clock, CancellationToken cancellationToken) =>
        await ConcurrencyRetry.RunAsync(async round =>
        {
            if (round > 1)
            {
                order = (await store.GetOrderAsync(order.PartitionKey, cancellationToken))!;
            }

            var orderChanged = OrderLifecycle.MarkPrepared(order, attempt, payId, clock.GetUtcNow());
            await store.SavePreparedAsync(attempt, orderChanged ? order : null, cancellationToken);
            return true;
        }, backoff: null, cancellationToken);

    /// <summary>
    /// Schedules the attempt's first check for just after its pay_id expires, so a payment whose notification is lost
    /// still ends the order Paid. Failing to schedule it does not fail the prepare: the pay_id is valid and handed out,
    /// and P云's notification and the status poll's trade query (GET) still settle the order; only the safety net for a
    /// lost notification nobody polls for is missing, which the warning says.
    /// </summary>
    private static async Task ScheduleCheckAsync(PyunCheckScheduler checks, AttemptEntity attempt, PyunOptions options, TimeProvider clock, ILogger logger,
        CancellationToken cancellationToken)
    {
        var delay = OrderLifecycle.FirstCheckDelay(attempt.ExpiresAt, clock.GetUtcNow(), options.CheckGrace);
        try
        {
            await checks.ScheduleAsync(attempt.PayOrder, 1, delay, cancellationToken);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            // Any failure of storage (an error answer, a network timeout): only the caller going away is not ours to swallow.
            logger.LogWarning(ex, "Could not schedule the check of {PayOrder}; its notification and the status poll still settle it", attempt.PayOrder);
        }
    }

    private static async Task TryMarkFailedAsync(OrderStore store, AttemptEntity attempt, ILogger logger, CancellationToken cancellationToken)
    {
        try
        {
            await store.MergeAttemptAsync(attempt, cancellationToken);
        }
        catch (Azure.RequestFailedException ex)
        {
            logger.LogWarning(ex, "Could not mark {PayOrder} as failed to prepare", attempt.PayOrder);
        }
    }

    private static ProblemHttpResult TooSoon(HttpRequest http, TimeSpan wait) =>
        Problems.TooManyRequests(http.HttpContext, wait, seconds => $"This order has had many payment attempts; the next one can be prepared in {seconds} s.");
}
