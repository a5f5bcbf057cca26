using System.Text.Json;
using System.Text.Json.Serialization;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using PaymentFunctions.Events;
using PaymentFunctions.Http;
using PaymentFunctions.OpenApi;
using PaymentFunctions.WeChatPay;

namespace PaymentFunctions.PayScore;

/// <summary>The service is over: what the user owes. <c>totalAmount</c> must equal Σpayments − Σdiscounts.</summary>
public sealed record CompletePayScoreOrderRequest(
    IReadOnlyList<PostPayment>? PostPayments,
    IReadOnlyList<PostDiscount>? PostDiscounts,
    long? TotalAmount,
    PayScoreTimeRange? TimeRange,
    PayScoreLocation? Location)
{
    /// <summary>From the route, not the body; set before validation.</summary>
    [JsonIgnore]
    public string? OutOrderNo { get; init; }
}

public sealed record CancelPayScoreOrderRequest(string? Reason)
{
    /// <summary>From the route, not the body; set before validation.</summary>
    [JsonIgnore]
    public string? OutOrderNo { get; init; }
}

/// <summary>
/// <c>POST /api/payscore/orders/{outOrderNo}/complete</c> and <c>/cancel</c> (function key): the business
/// system ends a service order. Each answer from WeChat goes through the same processor as the callbacks.
/// </summary>
public static class CompleteCancelPayScoreOrderEndpoints
{
    public static void MapCompleteCancelPayScoreOrder(this IEndpointRouteBuilder api)
    {
        api.MapPost("/payscore/orders/{outOrderNo}/complete", CompleteAsync).WithName("CompletePayScoreOrder")
            .WithSummary("Complete a confirmed Pay Score order (business system)").AcceptsJson<CompletePayScoreOrderRequest>()
            .WithDescription("totalAmount (fen) must equal the sum of postPayments.amount minus the sum of postDiscounts.amount.")
            .Describes(StatusCodes.Status200OK, "The new state.").Refuses(StatusCodes.Status404NotFound, "No such Pay Score order.")
            .Refuses(StatusCodes.Status409Conflict, "The order is not confirmed (DOING/USER_CONFIRM).")
            .Refuses(StatusCodes.Status502BadGateway, "WeChat Pay refused (502) or is unavailable or rate limiting (503); `weChatCode` and `requestId` say which.");
        api.MapPost("/payscore/orders/{outOrderNo}/cancel", CancelAsync).WithName("CancelPayScoreOrder")
            .WithSummary("Cancel a Pay Score order (business system)").AcceptsJson<CancelPayScoreOrderRequest>()
            .Describes(StatusCodes.Status200OK, "The new state.").Refuses(StatusCodes.Status404NotFound, "No such Pay Score order.")
            .Refuses(StatusCodes.Status409Conflict, "WeChat Pay can no longer cancel it (a DONE order is refunded instead).")
            .Refuses(StatusCodes.Status502BadGateway, "WeChat Pay refused (502) or is unavailable or rate limiting (503); `weChatCode` and `requestId` say which.");
    }

    internal static async Task<Results<Ok<PayScoreOrderView>, ProblemHttpResult>> CompleteAsync(
        string outOrderNo, HttpContext context, IValidator<CompletePayScoreOrderRequest> validator, PayScoreStore store, PayScoreProcessor processor, TimeProvider clock,
        ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        var (request, problem) = await RequestBody.ReadValidJsonAsync(context.Request, validator, cancellationToken, body => body with { OutOrderNo = outOrderNo });
        if (problem is not null)
        {
            return problem;
        }

        var wechat = new CompleteServiceOrderRequest
        {
            PostPayments = request!.PostPayments ?? [],
            PostDiscounts = request.PostDiscounts,
            TotalAmount = request.TotalAmount!.Value,
            TimeRange = request.TimeRange,
            Location = request.Location,
        };
        var order = await store.GetAsync(outOrderNo, cancellationToken);
        if (order is not { IsCreated: true })
        {
            return Problems.NotFound("No such Pay Score order.");
        }

        // Spec §5.1/§5.5: an end location needs a start location, given at create or in this complete request.
        if (request.Location?.EndLocation is not null && request.Location.StartLocation is null && CreatedWith(order)?.Location?.StartLocation is null)
        {
            return Problems.Validation(new Dictionary<string, string[]>
            {
                ["location.endLocation"] =
                    ["location.end_location: is only allowed when the order was created with location.start_location, or together with start_location."],
            });
        }

        if (!PayScoreLifecycle.CanComplete(order, out var notCompletable))
        {
            // A repeat of a complete that was applied by a process that died before queueing its events: queue them.
            await context.RequestServices.GetRequiredService<EventOutbox>().EnsureDispatchedAsync(EventProducts.PayScore, outOrderNo, order.EventCount, cancellationToken);
            return Problems.Conflict(notCompletable);
        }

        var logger = loggers.CreateLogger("CompletePayScoreOrder");
        PayScoreServiceOrder answer;
        try
        {
            answer = await context.RequestServices.GetRequiredService<WeChatPayClient>().CompleteServiceOrderAsync(outOrderNo, wechat, cancellationToken);
        }
        catch (WeChatPayException ex)
        {
            return PayScoreHttp.FromWeChat(ex, logger, "complete");
        }

        var applied = await PayScoreHttp.ApplyAnswerAsync(context, processor, PayScoreObservation.AfterComplete(answer, outOrderNo, wechat.TotalAmount),
            "wechatpay.complete", clock, logger, cancellationToken);
        // The checks that end it DONE if the USER_PAID callback never arrives; failing to schedule them fails nothing.
        await context.RequestServices.GetRequiredService<PayScoreCheckScheduler>().TryScheduleFirstAsync(applied.Order, cancellationToken);
        return TypedResults.Ok(PayScoreOrderView.From(applied.Order));
    }

    internal static async Task<Results<Ok<PayScoreOrderView>, ProblemHttpResult>> CancelAsync(
        string outOrderNo, HttpContext context, IValidator<CancelPayScoreOrderRequest> validator, PayScoreStore store, PayScoreProcessor processor, TimeProvider clock,
        ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        var (request, problem) = await RequestBody.ReadValidJsonAsync(context.Request, validator, cancellationToken, body => body with { OutOrderNo = outOrderNo });
        if (problem is not null)
        {
            return problem;
        }

        var order = await store.GetAsync(outOrderNo, cancellationToken);
        if (order is not { IsCreated: true })
        {
            return Problems.NotFound("No such Pay Score order.");
        }

        if (!PayScoreLifecycle.CanCancel(order, out var notCancellable))
        {
            // A repeat of a cancel that was applied by a process that died before queueing its events: queue them.
            await context.RequestServices.GetRequiredService<EventOutbox>().EnsureDispatchedAsync(EventProducts.PayScore, outOrderNo, order.EventCount, cancellationToken);
            return Problems.Conflict(notCancellable);
        }

        var logger = loggers.CreateLogger("CancelPayScoreOrder");
        PayScoreServiceOrder answer;
        try
        {
            answer = await context.RequestServices.GetRequiredService<WeChatPayClient>().CancelServiceOrderAsync(outOrderNo, request!.Reason!, cancellationToken);
        }
        catch (WeChatPayException ex)
        {
            return PayScoreHttp.FromWeChat(ex, logger, "cancel");
        }

        var applied = await PayScoreHttp.ApplyAnswerAsync(context, processor, PayScoreObservation.AfterCancel(answer, outOrderNo),
            "wechatpay.cancel", clock, logger, cancellationToken);
        return TypedResults.Ok(PayScoreOrderView.From(applied.Order));
    }

    /// <summary>The create request as it was sent to WeChat (stored with the order).</summary>
    private static CreateServiceOrderRequest? CreatedWith(PayScoreOrderEntity order) =>
        string.IsNullOrEmpty(order.CreateRequest) ? null : JsonSerializer.Deserialize<CreateServiceOrderRequest>(order.CreateRequest, WeChatPayJson.Options);
}
