using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using PaymentFunctions.Http;
using PaymentFunctions.OpenApi;
using PaymentFunctions.Pyun;

namespace PaymentFunctions.Orders;

/// <summary>
/// <c>GET /api/orders/{orderId}</c>: the authoritative status. While an order is pending and the notification
/// is late, ask P云's trade query (at most once per order per interval, across instances) and feed the
/// answer through the same processor as the notifications.
/// </summary>
public static class GetOrderEndpoint
{
    public static void MapGetOrder(this IEndpointRouteBuilder api) =>
        api.MapGet("/orders/{orderId}", HandleAsync).WithName("GetOrder")
            .WithSummary("The authoritative status of an order (mini program)")
            .WithDescription("`status` is one of Created, Pending, Paid, Failed, Expired, AmountMismatch, PaidAfterClose. While a payment is pending and its notification is late, the app asks P云 first.")
            .Describes(StatusCodes.Status200OK, "The order.").Refuses(StatusCodes.Status404NotFound, "No such order.");

    internal static async Task<Results<Ok<OrderView>, ProblemHttpResult>> HandleAsync(
        string orderId, OrderStore store, PyunAttemptQuery query, IOptions<PyunOptions> options,
        TimeProvider clock, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        if (!PayOrderNumber.IsOrderId(orderId))
        {
            return Problems.NotFound("No such order.");
        }

        var order = await store.GetOrderAsync(orderId, cancellationToken);
        if (order is null)
        {
            return Problems.NotFound("No such order.");
        }

        if (await ShouldQueryAsync(store, order, options.Value, clock, cancellationToken))
        {
            var logger = loggers.CreateLogger("GetOrder");
            var payOrder = PayOrderNumber.Format(orderId, order.AttemptCount);
            try
            {
                var (_, applied) = await query.QueryAndApplyAsync(payOrder, "pyun.query", cancellationToken);
                if (applied is not null)
                {
                    order = await store.GetOrderAsync(orderId, cancellationToken) ?? order;
                }
            }
            catch (PyunException ex)
            {
                // The stored status is still the truth we have; the next poll after the interval asks again.
                logger.LogWarning(ex, "Trade query for {PayOrder} failed", payOrder);
            }
            catch (OrderEventsNotDispatchedException ex)
            {
                // The answer is applied and committed: show it. Its event is queued by the attempt's scheduled check or
                // the order's final check, which find the change applied and queue what is undispatched.
                logger.LogWarning(ex, "Order {OrderId}: the trade query's answer was applied, but its event could not be queued yet", orderId);
                order = await store.GetOrderAsync(orderId, cancellationToken) ?? order;
            }
        }

        return TypedResults.Ok(OrderView.From(order, clock.GetUtcNow()));
    }

    /// <summary>
    /// True when the order is pending, has been quiet for a while, and we won the conditional write of
    /// <c>LastQueryAt</c>, which is what limits queries to one per interval however many callers poll.
    /// </summary>
    private static async Task<bool> ShouldQueryAsync(OrderStore store, OrderEntity order, PyunOptions options, TimeProvider clock, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        return OrderLifecycle.ShouldQuery(order, now, options.QueryAfter, options.QueryInterval) &&
               await store.TryClaimQueryAsync(order, now, cancellationToken);
    }
}
