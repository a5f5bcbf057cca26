using System.Text.Json;
using Azure.Data.Tables;
using PaymentFunctions.Pyun;

namespace PaymentFunctions.Orders;

/// <summary>The result of processing one P云 result against its order.</summary>
public sealed record ProcessResult(string OrderId, OrderStatus From, OrderStatus To, string Outcome, bool Duplicate);

/// <summary>A P云 pay_order that maps to no order or attempt of ours: no retry can fix it; recorded as an orphan.</summary>
public sealed class UnknownPayOrderException(string payOrder)
    : Notifications.OrphanNotificationException("pyun", payOrder, $"No order or attempt matches pay_order '{Http.LogValue.Safe(payOrder)}'.");

/// <summary>
/// Applies a P云 result (notification or query answer) to its order: read, decide with
/// <see cref="PaymentStateMachine"/>, and write the order, the attempt and the timeline row in one
/// ETag-conditional transaction. A replay finds its timeline row and changes nothing; a concurrent change
/// makes it read again and decide again.
/// </summary>
public sealed class PyunPaymentProcessor(OrderStore store, TimeProvider clock, ILogger<PyunPaymentProcessor> logger)
{
    private const int MaxConcurrencyRetries = 20;

    public async Task<ProcessResult> ApplyAsync(PyunTradeResult result, string source, DateTimeOffset receivedAt, CancellationToken cancellationToken)
    {
        if (!PayOrderNumber.TryParse(result.PayOrder, out var orderId, out var number))
        {
            throw new UnknownPayOrderException(result.PayOrder);
        }

        for (var attemptNo = 1; ; attemptNo++)
        {
            var order = await store.GetOrderAsync(orderId, cancellationToken) ?? throw new UnknownPayOrderException(result.PayOrder);
            var attempt = await store.GetAttemptAsync(orderId, number, cancellationToken) ?? throw new UnknownPayOrderException(result.PayOrder);

            var now = clock.GetUtcNow();
            var transition = PaymentStateMachine.Apply(order, attempt, result, now);
            order.UpdatedAt = now;

            var timeline = new TimelineEntity
            {
                PartitionKey = orderId,
                RowKey = OrderRows.Timeline($"{number:D3}-{result.EventKey}"),
                At = receivedAt,
                Kind = source,
                FromStatus = transition.From.ToString(),
                ToStatus = transition.To.ToString(),
                Outcome = transition.Outcome,
                Data = JsonSerializer.Serialize(result),
            };

            // The timeline row goes first so a replay is reported as its conflict; the order row is always
            // written with its ETag, so the decision above was taken on the state that is still current.
            var actions = new List<TableTransactionAction>
            {
                new(TableTransactionActionType.Add, timeline),
                new(TableTransactionActionType.UpdateMerge, order, order.ETag),
            };
            if (transition.AttemptChanged)
            {
                actions.Add(new(TableTransactionActionType.UpdateMerge, attempt, attempt.ETag));
            }

            try
            {
                if (!await store.SubmitAsync(actions, cancellationToken))
                {
                    logger.LogInformation("P云 {Source} for {PayOrder} (status {Status}) is a duplicate; nothing changed", source, result.PayOrder, result.Status);
                    return new(orderId, transition.From, transition.From, "duplicate", true);
                }
            }
            catch (ConcurrencyException) when (attemptNo < MaxConcurrencyRetries)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(5, 20 * attemptNo)), clock, cancellationToken);
                continue;
            }

            LogTransition(result, source, orderId, transition);
            return new(orderId, transition.From, transition.To, transition.Outcome, false);
        }
    }

    private void LogTransition(PyunTradeResult result, string source, string orderId, Transition transition)
    {
        if (transition.To is OrderStatus.AmountMismatch or OrderStatus.PaidAfterClose || transition.Outcome.Contains("refund", StringComparison.Ordinal))
        {
            logger.LogWarning("ALERT order {OrderId}: {Outcome} ({From} -> {To}) from P云 {Source} for {PayOrder}, value {Value} fen; a refund is needed",
                orderId, transition.Outcome, transition.From, transition.To, source, result.PayOrder, result.Value);
        }
        else
        {
            logger.LogInformation("Order {OrderId}: {Outcome} ({From} -> {To}) from P云 {Source} for {PayOrder}",
                orderId, transition.Outcome, transition.From, transition.To, source, result.PayOrder);
        }
    }
}
