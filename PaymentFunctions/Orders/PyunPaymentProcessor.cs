using System.Text.Json;
using Azure;
using Azure.Data.Tables;
using PaymentFunctions.Pyun;
using PaymentFunctions.Storage;

namespace PaymentFunctions.Orders;

/// <summary>The result of processing one P云 result against its order.</summary>
public sealed record ProcessResult(string OrderId, OrderStatus From, OrderStatus To, string Outcome, bool Duplicate);

/// <summary>A P云 pay_order that maps to no order or attempt of ours: no retry can fix it; recorded as an orphan.</summary>
public sealed class UnknownPayOrderException(string payOrder)
    : Notifications.OrphanNotificationException("pyun", payOrder, $"No order or attempt matches pay_order '{Http.LogValue.Safe(payOrder)}'.");

/// <summary>
/// Applies a P云 result (notification or query answer) to its order: read the order row, decide with
/// <see cref="OrderLifecycle.Apply"/>, and write the order, the attempt and the timeline row in one
/// ETag-conditional transaction. A replay finds its timeline row (or the order row's <c>LastEvent</c>) and
/// changes nothing; a concurrent change makes it read again and decide again.
/// </summary>
public sealed partial class PyunPaymentProcessor(OrderStore store, TimeProvider clock, ILogger<PyunPaymentProcessor> logger)
{
    public async Task<ProcessResult> ApplyAsync(PyunTradeResult result, string source, DateTimeOffset receivedAt, CancellationToken cancellationToken)
    {
        if (!PayOrderNumber.TryParse(result.PayOrder, out var orderId, out var number))
        {
            throw new UnknownPayOrderException(result.PayOrder);
        }

        var eventRow = OrderRows.Timeline($"{number:D3}-{result.EventKey}");
        // Racing writers of one order back off by a few random milliseconds before they read again.
        return await ConcurrencyRetry.RunAsync(async _ =>
        {
            var order = await store.GetOrderAsync(orderId, cancellationToken);
            // An attempt row is added in the same transaction that counts it, so the order row says which exist.
            if (order is null || number > order.AttemptCount)
            {
                throw new UnknownPayOrderException(result.PayOrder);
            }

            if (order.LastEvent == eventRow)
            {
                LogDuplicate(result, source);
                return new ProcessResult(orderId, order.StatusValue, order.StatusValue, "duplicate", true);
            }

            var (attempt, attemptRead) = await AttemptAsync(order, number, result, cancellationToken);
            var now = clock.GetUtcNow();
            var transition = OrderLifecycle.Apply(order, attempt, result, now);
            order.RecordAttemptResult(number, attempt.State);
            order.LastEvent = eventRow;
            order.UpdatedAt = now;

            var timeline = new TimelineEntity
            {
                PartitionKey = orderId,
                RowKey = eventRow,
                At = receivedAt,
                Kind = source,
                FromStatus = transition.From.ToString(),
                ToStatus = transition.To.ToString(),
                Outcome = transition.Outcome,
                Data = JsonSerializer.Serialize(result),
            };

            // The timeline row goes first so a replay is reported as its conflict; the order row is always
            // written with its ETag, so the decision above was taken on the state that is still current.
            var actions = new List<TableTransactionAction>(3)
            {
                new(TableTransactionActionType.Add, timeline),
                new(TableTransactionActionType.UpdateMerge, order, order.ETag),
            };
            if (transition.AttemptChanged)
            {
                actions.Add(new(TableTransactionActionType.UpdateMerge, AttemptChanges(attempt), attemptRead ? attempt.ETag : ETag.All));
            }

            if (transition.DisplacedAttempt is { } displaced)
            {
                // A merge of just the flag: the displaced attempt's row is paid and otherwise unchanged.
                actions.Add(new(TableTransactionActionType.UpdateMerge, new TableEntity(orderId, OrderRows.Attempt(displaced))
                {
                    [nameof(AttemptEntity.RefundRequired)] = true,
                    [nameof(AttemptEntity.RefundReason)] = Transition.DisplacedReason,
                }, ETag.All));
            }

            if (!await store.SubmitAsync(actions, cancellationToken))
            {
                LogDuplicate(result, source);
                return new ProcessResult(orderId, transition.From, transition.From, "duplicate", true);
            }

            LogTransition(result, source, orderId, transition);
            return new ProcessResult(orderId, transition.From, transition.To, transition.Outcome, false);
        }, backoff: clock, cancellationToken);
    }

    /// <summary>
    /// The attempt as far as the decision needs it. The order row knows the states P云 results set (Paying, Paid,
    /// Failed); of the others (Preparing, Prepared, PrepareFailed) only "paying" cares which it is, so only a first
    /// "paying" for an attempt reads the attempt row, and its write is then conditional on that row's ETag.
    /// </summary>
    private async Task<(AttemptEntity Attempt, bool Read)> AttemptAsync(OrderEntity order, int number, PyunTradeResult result, CancellationToken cancellationToken)
    {
        var known = order.AttemptResult(number);
        if (known is null && result.Status == PyunTradeResult.Paying)
        {
            var row = await store.GetAttemptAsync(order.PartitionKey, number, cancellationToken) ?? throw new UnknownPayOrderException(result.PayOrder);
            return (row, true);
        }

        return (new AttemptEntity
        {
            PartitionKey = order.PartitionKey,
            RowKey = OrderRows.Attempt(number),
            Number = number,
            PayOrder = result.PayOrder,
            // Not Paid and not Failed is all that "failed" and "paid" ask of a state P云 has not set.
            State = known ?? AttemptStates.Prepared,
        }, false);
    }

    /// <summary>Only what the state machine may change on an attempt, so a merge without a read overwrites nothing else.</summary>
    private static TableEntity AttemptChanges(AttemptEntity attempt)
    {
        var changes = new TableEntity(attempt.PartitionKey, attempt.RowKey) { [nameof(AttemptEntity.State)] = attempt.State };
        if (attempt.PaidAmount is { } paid)
        {
            changes[nameof(AttemptEntity.PaidAmount)] = paid;
        }

        if (attempt.PaySerial is { } serial)
        {
            changes[nameof(AttemptEntity.PaySerial)] = serial;
        }

        if (attempt.RefundRequired)
        {
            changes[nameof(AttemptEntity.RefundRequired)] = true;
            changes[nameof(AttemptEntity.RefundReason)] = attempt.RefundReason;
        }

        return changes;
    }

    private void LogDuplicate(PyunTradeResult result, string source) => LogDuplicate(logger, source, result.PayOrder, result.Status);

    private void LogTransition(PyunTradeResult result, string source, string orderId, Transition transition)
    {
        if (transition.To is OrderStatus.AmountMismatch or OrderStatus.PaidAfterClose || transition.Outcome.Contains("refund", StringComparison.Ordinal))
        {
            LogRefundAlert(logger, orderId, transition.Outcome, transition.From, transition.To, source, result.PayOrder, result.Value);
        }
        else
        {
            LogApplied(logger, orderId, transition.Outcome, transition.From, transition.To, source, result.PayOrder);
        }
    }

    // Source-generated: one line per notification is the hot path's main cost after storage itself.
    [LoggerMessage(Level = LogLevel.Information, Message = "P云 {Source} for {PayOrder} (status {Status}) is a duplicate; nothing changed")]
    private static partial void LogDuplicate(ILogger logger, string source, string payOrder, int status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "ALERT order {OrderId}: {Outcome} ({From} -> {To}) from P云 {Source} for {PayOrder}, value {Value} fen; a refund is needed")]
    private static partial void LogRefundAlert(ILogger logger, string orderId, string outcome, OrderStatus from, OrderStatus to, string source, string payOrder, long value);

    [LoggerMessage(Level = LogLevel.Information, Message = "Order {OrderId}: {Outcome} ({From} -> {To}) from P云 {Source} for {PayOrder}")]
    private static partial void LogApplied(ILogger logger, string orderId, string outcome, OrderStatus from, OrderStatus to, string source, string payOrder);
}
