using PaymentFunctions.OpenApi;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using PaymentFunctions.Http;
using PaymentFunctions.Refunds;
using PaymentFunctions.Storage;

namespace PaymentFunctions.Orders;

/// <summary>What the business system sends to refund (part of) an order's payment. Amounts are whole fen.</summary>
public sealed record OrderRefundRequest(string? RefundNo, long? Amount, string? Reason);

public sealed class OrderRefundValidator : AbstractValidator<OrderRefundRequest>
{
    public OrderRefundValidator(IOptions<OrdersOptions> options)
    {
        var max = options.Value.MaxAmount;
        RuleFor(r => r.RefundNo).Cascade(CascadeMode.Stop)
            .Must(PyunRefund.IsRefundNo).WithMessage($"'refundNo' must be 1-{RefundLifecycle.MaxRefundNoLength} letters, digits, '_' or '-'.")
            .Must(v => !v!.StartsWith(RefundLifecycle.AutomaticPrefix, StringComparison.OrdinalIgnoreCase))
            .WithMessage($"'refundNo' must not start with '{RefundLifecycle.AutomaticPrefix}': those are the automatic refunds' numbers.");
        RuleFor(r => r.Amount).Cascade(CascadeMode.Stop)
            .NotNull().WithMessage("'amount' is required, in fen.")
            .GreaterThan(0).WithMessage("'amount' must be a positive whole number of fen.")
            .LessThanOrEqualTo(max).WithMessage($"'amount' must not exceed {max} fen.");
        RuleFor(r => r.Reason).Must(v => v is null || (v.Length <= RefundLifecycle.MaxReasonLength && !v.Any(char.IsControl)))
            .WithMessage($"'reason' must be at most {RefundLifecycle.MaxReasonLength} characters, without control characters.");
    }
}

/// <summary>
/// <c>POST /api/orders/{orderId}/refunds</c> (function key): refunds part or all of the order's recorded payment,
/// idempotent on <c>refundNo</c>; <c>GET …/refunds/{refundNo}</c> and <c>GET …/refunds</c> read them. The refund is
/// stored Pending and answered 202 at once; P云 is called by the <c>pyun.refund</c> handler, which follows it to the end.
/// Order of writes (crash-safe): a delayed safety-net round is queued first, then the one transaction that stores the
/// refund and reserves its amount, then the immediate round. A crash before the transaction leaves a safety net that
/// finds no refund; after it, the safety net sends it; the round protocol makes sure it is sent once.
/// </summary>
public static class RefundEndpoints
{
    public static void MapRefunds(this IEndpointRouteBuilder api)
    {
        api.MapPost("/orders/{orderId}/refunds", CreateAsync).WithName("CreateRefund")
            .WithSummary("Refund (part of) an order's payment (business system)").AcceptsJson<OrderRefundRequest>()
            .WithDescription("Idempotent on refundNo. Sent to P云 by a queued round and followed by scheduled refund queries (P云 has no refund webhook).")
            .Describes(StatusCodes.Status202Accepted, "Accepted: the refund, Pending.").Describes(StatusCodes.Status200OK, "The same request again: the refund as it stands.")
            .Refuses(StatusCodes.Status404NotFound, "No such order.")
            .Refuses(StatusCodes.Status409Conflict, "The order took no money, the amount exceeds what is left, or refundNo names another refund.");
        api.MapGet("/orders/{orderId}/refunds", ListAsync).WithName("ListRefunds")
            .WithSummary("An order's refunds, oldest first (business system)").Refuses(StatusCodes.Status404NotFound, "No such order.");
        api.MapGet("/orders/{orderId}/refunds/{refundNo}", GetAsync).WithName("GetRefund")
            .WithSummary("One refund of an order (business system)").Refuses(StatusCodes.Status404NotFound, "No such order or refund.");
    }

    public static string ListPath(string orderId) => $"/api/orders/{orderId}/refunds";

    internal static async Task<Results<Accepted<RefundView>, Ok<RefundView>, ProblemHttpResult>> CreateAsync(
        string orderId, HttpRequest http, IValidator<OrderRefundRequest> validator, OrderStore store, PyunRefundScheduler scheduler,
        IOptions<RefundsOptions> options, TimeProvider clock, ILoggerFactory loggers, CancellationToken cancellationToken)
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

        var refundNo = request!.RefundNo!;
        var amount = request.Amount!.Value;
        var fingerprint = RefundLifecycle.Fingerprint(amount, request.Reason);
        var safetyNetQueued = false;
        var logger = loggers.CreateLogger("CreateRefund");
        return await ConcurrencyRetry.RunAsync<Results<Accepted<RefundView>, Ok<RefundView>, ProblemHttpResult>>(async round =>
        {
            var order = await store.GetOrderAsync(orderId, cancellationToken);
            if (order is null)
            {
                return Problems.NotFound("No such order.");
            }

            if (await store.GetRefundAsync(orderId, refundNo, cancellationToken) is { } existing)
            {
                return existing.Fingerprint == fingerprint && existing.Origin == RefundOrigins.Manual
                    ? TypedResults.Ok(RefundView.From(existing))
                    : Problems.Conflict($"refundNo '{refundNo}' already names a different refund of this order.");
            }

            var paid = RefundLifecycle.TookMoney(order) && PayOrderNumber.TryParse(order.PaidPayOrder, out _, out int number)
                ? await store.GetAttemptAsync(orderId, number, cancellationToken)
                : null;
            if (RefundLifecycle.RefuseManual(order, paid, amount) is { } refusal)
            {
                return Problems.Conflict(refusal);
            }

            if (!safetyNetQueued)
            {
                // Before the write: if we die after it, this round finds the refund and sends it.
                await scheduler.ScheduleAsync(orderId, refundNo, 0, options.Value.RecoveryDelay, cancellationToken);
                safetyNetQueued = true;
            }

            var now = clock.GetUtcNow();
            var refund = RefundLifecycle.Begin(order, paid!, refundNo, amount, request.Reason, RefundOrigins.Manual, now);
            var timeline = new TimelineEntity
            {
                PartitionKey = orderId,
                RowKey = OrderRows.Timeline($"refund-{refundNo}-created"),
                At = now,
                Kind = "refund",
                FromStatus = order.Status,
                ToStatus = order.Status,
                Outcome = $"refund {refundNo} of {amount} fen requested (manual) for {refund.PayOrder}",
            };
            await store.AddRefundAsync(order, paid!, refund, timeline, cancellationToken);
            logger.LogInformation("Refund {RefundNo} of order {OrderId} stored: {Amount} fen of {PayOrder}", refundNo, orderId, amount, refund.PayOrder);
            await scheduler.SendNowAsync(orderId, [refundNo], logger, cancellationToken);
            return TypedResults.Accepted($"{ListPath(orderId)}/{refundNo}", RefundView.From(refund));
        }, clock, cancellationToken);
    }

    internal static async Task<Results<Ok<RefundView>, ProblemHttpResult>> GetAsync(string orderId, string refundNo, OrderStore store, CancellationToken cancellationToken)
    {
        if (!PayOrderNumber.IsOrderId(orderId) || !PyunRefund.IsRefundNo(refundNo))
        {
            return Problems.NotFound("No such refund.");
        }

        return await store.GetRefundAsync(orderId, refundNo, cancellationToken) is { } refund
            ? TypedResults.Ok(RefundView.From(refund))
            : Problems.NotFound("No such refund.");
    }

    internal static async Task<Results<Ok<RefundListView>, ProblemHttpResult>> ListAsync(string orderId, OrderStore store, CancellationToken cancellationToken)
    {
        if (!PayOrderNumber.IsOrderId(orderId) || await store.GetOrderAsync(orderId, cancellationToken) is not { } order)
        {
            return Problems.NotFound("No such order.");
        }

        var refunds = await store.ListRefundsAsync(orderId, cancellationToken);
        return TypedResults.Ok(new RefundListView(orderId, order.RefundedAmount, order.RefundingAmount, [.. refunds.Select(RefundView.From)]));
    }
}
