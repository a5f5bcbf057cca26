using System.Text.Json;
using Azure;
using Azure.Data.Tables;
using Microsoft.Extensions.Options;
using PaymentFunctions.Events;
using PaymentFunctions.Pyun;
using PaymentFunctions.Refunds;
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
/// Money the result makes refundable (see <see cref="RefundLifecycle.AutomaticRefunds"/>) is refunded automatically
/// (unless <see cref="RefundsOptions.Automatic"/> is off): its refund rows go into the same transaction, with a
/// safety-net round queued before it and the immediate send after it, as for a manual refund.
/// A change of the order's status stages its event (<see cref="OrderEvents.ForStatusChange"/>) in the same transaction;
/// it is queued after the commit, and a duplicate result queues whatever a crash left undispatched.
/// </summary>
public sealed partial class PyunPaymentProcessor(OrderStore store, PyunRefundScheduler refunds, IOptions<RefundsOptions> refundOptions,
    EventOutbox outbox, TimeProvider clock, ILogger<PyunPaymentProcessor> logger)
{
    /// <summary>
    /// Applies the result. Throws <see cref="OrderEventsNotDispatchedException"/> when the change was committed but its
    /// event could not be queued: the caller's cause (a queued notification or check) is then retried, finds the
    /// result applied, and queues it.
    /// </summary>
    public async Task<ProcessResult> ApplyAsync(PyunTradeResult result, string source, DateTimeOffset receivedAt, CancellationToken cancellationToken)
    {
        if (!PayOrderNumber.TryParse(result.PayOrder, out var orderId, out var number))
        {
            throw new UnknownPayOrderException(result.PayOrder);
        }

        var eventRow = OrderRows.Timeline($"{number:D3}-{result.EventKey}");
        var safetyNets = new HashSet<string>(StringComparer.Ordinal);
        OrderEntity? appliedBefore = null; // the row that says this result was its last one applied
        // Racing writers of one order back off by a few random milliseconds before they read again.
        var (processed, staged) = await ConcurrencyRetry.RunAsync(async _ =>
        {
            var order = await store.GetOrderAsync(orderId, cancellationToken);
            // An attempt row is added in the same transaction that counts it, so the order row says which exist.
            if (order is null || number > order.AttemptCount)
            {
                throw new UnknownPayOrderException(result.PayOrder);
            }

            Telemetry.PaymentTelemetry.TagOrder(orderId, order.MerchantOrderNo);
            if (order.LastEvent == eventRow)
            {
                appliedBefore = order;
                LogDuplicate(result, source);
                return (new ProcessResult(orderId, order.StatusValue, order.StatusValue, "duplicate", true), (StagedEvent?)null);
            }

            var (attempt, attemptRead) = await AttemptAsync(order, number, result, cancellationToken);
            var now = clock.GetUtcNow();
            var transition = OrderLifecycle.Apply(order, attempt, result, now);
            order.RecordAttemptResult(number, attempt.State);
            order.LastEvent = eventRow;
            order.UpdatedAt = now;
            var (automatic, displacedRow) = await AutomaticRefundsAsync(order, attempt, transition, now, cancellationToken);
            var outcome = transition.Outcome + string.Concat(automatic.Select(r => $"; automatic refund {r.RefundNo} of {r.Amount} fen"));

            var timeline = new TimelineEntity
            {
                PartitionKey = orderId,
                RowKey = eventRow,
                At = receivedAt,
                Kind = source,
                FromStatus = transition.From.ToString(),
                ToStatus = transition.To.ToString(),
                Outcome = outcome,
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

            // The status change's event, numbered on the order row this transaction writes with its ETag, and showing
            // the order as written (the automatic refunds' amounts included).
            var staged = OrderEvents.ForStatusChange(transition.From, transition.To) is { } type ? outbox.StageOrderEvent(order, type, now) : null;
            if (staged is not null)
            {
                actions.Add(staged.Action);
            }

            if (transition.DisplacedAttempt is { } displaced)
            {
                // A merge of just the flag (and the refund amounts, when its refund is added): the displaced
                // attempt's row is paid and otherwise unchanged. Its amounts change only under the order row's ETag.
                var changes = displacedRow is null ? new TableEntity(orderId, OrderRows.Attempt(displaced)) : OrderStore.RefundAmounts(displacedRow);
                changes[nameof(AttemptEntity.RefundRequired)] = true;
                changes[nameof(AttemptEntity.RefundReason)] = Transition.DisplacedReason;
                actions.Add(new(TableTransactionActionType.UpdateMerge, changes, ETag.All));
            }

            foreach (var refund in automatic)
            {
                actions.Add(new(TableTransactionActionType.Add, refund));
                if (safetyNets.Add(refund.RefundNo))
                {
                    // Before the write: if we die after it, this round finds the refund and sends it.
                    await refunds.ScheduleAsync(orderId, refund.RefundNo, 0, refundOptions.Value.RecoveryDelay, cancellationToken);
                }
            }

            if (!await store.SubmitAsync(actions, cancellationToken))
            {
                LogDuplicate(result, source);
                return (new ProcessResult(orderId, transition.From, transition.From, "duplicate", true), null);
            }

            LogTransition(result, source, orderId, transition);
            Telemetry.PaymentTelemetry.OrderTransition(Events.EventProducts.Order, transition.From, transition.To);
            foreach (var refund in automatic)
            {
                LogAutomaticRefund(logger, refund.RefundNo, orderId, refund.Amount, refund.PayOrder, refund.Reason ?? "");
            }

            await refunds.SendNowAsync(orderId, automatic.Select(r => r.RefundNo), logger, cancellationToken);
            return (new ProcessResult(orderId, transition.From, transition.To, outcome, false), staged);
        }, backoff: clock, cancellationToken);

        try
        {
            if (processed.Duplicate)
            {
                // Applied before, perhaps by a run that died between its commit and its dispatch.
                await outbox.EnsureOrderDispatchedAsync(orderId, appliedBefore, cancellationToken);
            }
            else if (staged is not null)
            {
                await outbox.DispatchAsync(staged, cancellationToken);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw new OrderEventsNotDispatchedException(processed, ex);
        }

        return processed;
    }

    /// <summary>
    /// The refunds of the money this result made refundable, begun on the rows (amounts reserved on the order and on
    /// <paramref name="attempt"/> or the displaced attempt's row, which is read and returned for the write): none when
    /// automatic refunds are off, or when the displaced payment already has its automatic refund.
    /// </summary>
    private async Task<(IReadOnlyList<RefundEntity> Refunds, AttemptEntity? DisplacedRow)> AutomaticRefundsAsync(OrderEntity order, AttemptEntity attempt,
        Transition transition, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (!refundOptions.Value.Automatic || !transition.AttemptChanged)
        {
            return ([], null);
        }

        AttemptEntity? displacedRow = null;
        if (transition.DisplacedAttempt is { } displaced &&
            await store.GetRefundAsync(order.PartitionKey, RefundLifecycle.AutomaticRefundNo(displaced), cancellationToken) is null)
        {
            // Read after the order row: its amounts change only with the order row, whose ETag this write carries.
            displacedRow = await store.GetAttemptAsync(order.PartitionKey, displaced, cancellationToken);
        }

        var planned = RefundLifecycle.AutomaticRefunds(transition, attempt, displacedRow);
        var rows = new List<RefundEntity>(planned.Count);
        foreach (var refund in planned)
        {
            var paid = refund.AttemptNumber == attempt.Number ? attempt : displacedRow!;
            rows.Add(RefundLifecycle.Begin(order, paid, refund.RefundNo, refund.Amount, refund.Reason, RefundOrigins.Automatic, now));
        }

        return (rows, displacedRow);
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

        if (attempt.RefundingAmount != 0)
        {
            // Its automatic refund, added in this transaction (the attempt was unpaid until now: nothing else was refunded).
            changes[nameof(AttemptEntity.RefundingAmount)] = attempt.RefundingAmount;
            changes[nameof(AttemptEntity.RefundedAmount)] = attempt.RefundedAmount;
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

    [LoggerMessage(Level = LogLevel.Warning, Message = "Automatic refund {RefundNo} of order {OrderId}: {Amount} fen of {PayOrder} goes back ({Reason})")]
    private static partial void LogAutomaticRefund(ILogger logger, string refundNo, string orderId, long amount, string payOrder, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Order {OrderId}: {Outcome} ({From} -> {To}) from P云 {Source} for {PayOrder}")]
    private static partial void LogApplied(ILogger logger, string orderId, string outcome, OrderStatus from, OrderStatus to, string source, string payOrder);
}
