using Azure.Data.Tables;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using PaymentFunctions.Http;
using PaymentFunctions.Pyun;

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

    /// <summary>An attempt closer than this to its expiry is not handed out again: the user needs time to pay.</summary>
    private static readonly TimeSpan ReuseMargin = TimeSpan.FromSeconds(60);

    /// <summary>An order closer than this to its expiry is not worth a new attempt.</summary>
    private static readonly TimeSpan MinimumAttempt = TimeSpan.FromSeconds(30);

    public static void MapPrepareOrder(this IEndpointRouteBuilder api) =>
        api.MapPost("/orders/{orderId}/prepare", HandleAsync).WithName("PrepareOrder").RequireRateLimiting(RateLimits.PlatformCalls);

    public static LaunchData Launch(string client, string payId) => new(
        client == Alipay ? AlipayAppId : WeChatAppId,
        $"/external/payment/trade/create/index?pay_id={Uri.EscapeDataString(payId)}");

    internal static async Task<Results<Ok<PrepareOrderResponse>, ProblemHttpResult>> HandleAsync(
        string orderId, HttpRequest http, IValidator<PrepareOrderRequest> validator, OrderStore store, PyunClient pyun,
        IOptions<PyunOptions> options, TimeProvider clock, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        var (request, problem) = await RequestBody.ReadJsonAsync<PrepareOrderRequest>(http, cancellationToken);
        if (problem is not null)
        {
            return problem;
        }

        var validation = await validator.ValidateAsync(request!, cancellationToken);
        if (!validation.IsValid)
        {
            return Problems.Validation(validation.ToDictionary());
        }

        if (!PayOrderNumber.IsOrderId(orderId))
        {
            return Problems.NotFound("No such order.");
        }

        var logger = loggers.CreateLogger("PrepareOrder");
        for (var round = 0; ; round++)
        {
            var order = await store.GetOrderAsync(orderId, cancellationToken);
            if (order is null)
            {
                return Problems.NotFound("No such order.");
            }

            var now = clock.GetUtcNow();
            var status = OrderView.EffectiveStatus(order, now);
            if (status is OrderStatus.Paid or OrderStatus.PaidAfterClose or OrderStatus.AmountMismatch)
            {
                return Problems.Conflict($"The order is {status}; it cannot be paid again.");
            }

            if (status == OrderStatus.Expired || order.ExpiresAt - now < MinimumAttempt)
            {
                return Problems.Gone("The order has expired; create a new one.");
            }

            var current = order.AttemptCount > 0 ? await store.GetAttemptAsync(orderId, order.AttemptCount, cancellationToken) : null;
            if (current is { PayId: { } payId } && current.State is AttemptStates.Prepared or AttemptStates.Paying &&
                current.ExpiresAt - now >= ReuseMargin && (request!.Payer is null || request.Payer == current.Payer))
            {
                return TypedResults.Ok(new PrepareOrderResponse(orderId, payId, current.PayOrder, current.ExpiresAt, request!.Client!, Launch(request.Client!, payId)));
            }

            if (current is { State: AttemptStates.Preparing } && now - current.CreatedAt < options.Value.RequestTimeout * 2)
            {
                return Problems.Conflict("A payment for this order is being prepared; retry in a moment.");
            }

            if (order.AttemptCount >= PayOrderNumber.MaxAttempts)
            {
                return Problems.Conflict("The order has run out of payment attempts; create a new one.");
            }

            if (current is not null && NextAttemptAllowedAt(order, current.CreatedAt) is { } allowed && allowed > now)
            {
                return TooSoon(http, allowed - now);
            }

            // Claim the next attempt number: the order row's ETag makes two concurrent prepares pick different numbers.
            var number = order.AttemptCount + 1;
            var expires = Min(now + options.Value.AttemptLifetime, order.ExpiresAt);
            var attempt = new AttemptEntity
            {
                PartitionKey = orderId,
                RowKey = OrderRows.Attempt(number),
                Number = number,
                PayOrder = PayOrderNumber.Format(orderId, number),
                Client = request!.Client!,
                Payer = request.Payer,
                CreatedAt = now,
                ExpiresAt = expires,
                State = AttemptStates.Preparing,
            };
            order.AttemptCount = number;
            order.UpdatedAt = now;
            try
            {
                await store.SubmitAsync([new(TableTransactionActionType.UpdateMerge, order, order.ETag), new(TableTransactionActionType.Add, attempt)], cancellationToken);
            }
            catch (ConcurrencyException) when (round < 5)
            {
                continue;
            }

            string newPayId;
            try
            {
                newPayId = await pyun.PrepareAsync(new PyunPrepareRequest(attempt.PayOrder, order.Subject, order.Amount, order.Body,
                    request.Payer, expires, order.Scene, order.Extra), cancellationToken);
            }
            catch (PyunException ex)
            {
                logger.LogWarning(ex, "Prepare of {PayOrder} failed", attempt.PayOrder);
                attempt.State = AttemptStates.PrepareFailed;
                await TryUpdateAsync(store, attempt, logger, cancellationToken);
                return Problems.BadGateway(ex.SeqNo is null ? ex.Message : $"{ex.Message} P云 seqno {ex.SeqNo}.");
            }

            attempt.PayId = newPayId;
            attempt.State = AttemptStates.Prepared;
            await MarkPreparedAsync(store, order, attempt, clock, cancellationToken);
            logger.LogInformation("Order {OrderId} attempt {PayOrder} prepared as pay_id {PayId}", orderId, attempt.PayOrder, newPayId);
            return TypedResults.Ok(new PrepareOrderResponse(orderId, newPayId, attempt.PayOrder, expires, request.Client!, Launch(request.Client!, newPayId)));
        }
    }

    /// <summary>
    /// Stores the pay_id and moves the order to Pending (from Created or Failed) in one transaction. The order row
    /// is written with the ETag our own claim left on it; it is read again only when someone wrote it since.
    /// </summary>
    private static async Task MarkPreparedAsync(OrderStore store, OrderEntity order, AttemptEntity attempt, TimeProvider clock, CancellationToken cancellationToken)
    {
        for (var round = 0; ; round++)
        {
            var actions = new List<TableTransactionAction> { new(TableTransactionActionType.UpdateMerge, attempt, Azure.ETag.All) };
            if (order.StatusValue is OrderStatus.Created or OrderStatus.Failed && order.AttemptCount == attempt.Number)
            {
                order.StatusValue = OrderStatus.Pending;
                order.UpdatedAt = clock.GetUtcNow();
                actions.Add(new(TableTransactionActionType.UpdateMerge, order, order.ETag));
            }

            try
            {
                await store.SubmitAsync(actions, cancellationToken);
                return;
            }
            catch (ConcurrencyException) when (round < 10)
            {
                order = (await store.GetOrderAsync(order.PartitionKey, cancellationToken))!;
            }
        }
    }

    private static async Task TryUpdateAsync(OrderStore store, AttemptEntity attempt, ILogger logger, CancellationToken cancellationToken)
    {
        try
        {
            await store.Table.UpdateEntityAsync(attempt, Azure.ETag.All, TableUpdateMode.Merge, cancellationToken);
        }
        catch (Azure.RequestFailedException ex)
        {
            logger.LogWarning(ex, "Could not mark {PayOrder} as failed to prepare", attempt.PayOrder);
        }
    }

    /// <summary>New attempts that need no spacing: enough for a user who cancels, fails or switches account a few times.</summary>
    internal const int FreeAttempts = 10;

    /// <summary>
    /// Anyone holding an order id can ask for a new attempt (a different payer forces one), and the attempt numbers
    /// are finite. Past the free ones, attempts are spaced so that the numbers left last until the order expires:
    /// no caller can use them up and leave the order unpayable. Null: no spacing needed.
    /// </summary>
    internal static DateTimeOffset? NextAttemptAllowedAt(OrderEntity order, DateTimeOffset lastAttemptAt)
    {
        if (order.AttemptCount < FreeAttempts)
        {
            return null;
        }

        var left = PayOrderNumber.MaxAttempts - order.AttemptCount;
        var remaining = order.ExpiresAt - lastAttemptAt;
        return left <= 0 || remaining <= TimeSpan.Zero ? null : lastAttemptAt + remaining / left;
    }

    private static ProblemHttpResult TooSoon(HttpRequest http, TimeSpan wait)
    {
        var seconds = Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds));
        http.HttpContext.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return Problems.Create(StatusCodes.Status429TooManyRequests, "Too many requests",
            $"This order has had many payment attempts; the next one can be prepared in {seconds} s.");
    }

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;
}
