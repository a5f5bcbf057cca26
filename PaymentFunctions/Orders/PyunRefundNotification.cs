using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;
using PaymentFunctions.Events;
using PaymentFunctions.Notifications;
using PaymentFunctions.Pyun;
using PaymentFunctions.Refunds;
using PaymentFunctions.Storage;

namespace PaymentFunctions.Orders;

/// <summary>
/// One round of a refund's life at P云: round 0 sends it (queued twice when it is stored: a delayed safety net before
/// the write, the immediate send after), each later round asks P云's refund query (P云 has no refund webhook). We
/// produce it ourselves; it carries no facts, only which refund and which round.
/// </summary>
public sealed partial record PyunRefund(
    [property: JsonPropertyName("orderId")] string OrderId,
    [property: JsonPropertyName("refundNo")] string RefundNo,
    [property: JsonPropertyName("round")] int Round) : INotification<PyunRefund>
{
    public static string Kind => "pyun.refund";

    public string EventKey => $"refund-{RefundNo}-{Round}";

    public JsonElement ToPayload() => JsonSerializer.SerializeToElement(this);

    public static PyunRefund FromPayload(JsonElement payload)
    {
        var refund = NotificationHandlers.ReadPayload(() => payload.Deserialize<PyunRefund>())
                     ?? throw new InvalidMessageException("The refund payload is empty.");
        if (!PayOrderNumber.IsOrderId(refund.OrderId) || !IsRefundNo(refund.RefundNo) || refund.Round is < 0 or > PyunOptions.MaxCheckRounds)
        {
            throw new InvalidMessageException($"The refund payload needs an order id, a refund number and a round from 0 to {PyunOptions.MaxCheckRounds}.");
        }

        return refund;
    }

    /// <summary>A refund number: 1-32 letters, digits, '_' or '-'.</summary>
    public static bool IsRefundNo(string? value) => value is { Length: >= 1 and <= RefundLifecycle.MaxRefundNoLength } && RefundNoPattern().IsMatch(value);

    [GeneratedRegex("^[A-Za-z0-9_-]+$")]
    private static partial Regex RefundNoPattern();
}

/// <summary>Queues refund rounds: immediately, or invisible for a delay (the safety net, the next query).</summary>
public sealed class PyunRefundScheduler(NotificationQueue queue, TimeProvider clock)
{
    /// <summary>
    /// Tests only: runs after a refund was stored, just before its immediate send is queued, so a test can cut storage
    /// at exactly that point (the crash the safety net is for). Null in the app.
    /// </summary>
    internal Func<Task>? BeforeSendNow { get; set; }

    public Task ScheduleAsync(string orderId, string refundNo, int round, TimeSpan? delay, CancellationToken cancellationToken) =>
        queue.EnqueueAsync(NotificationEnvelope.For(new PyunRefund(orderId, refundNo, round), clock.GetUtcNow()), delay, cancellationToken);

    /// <summary>
    /// Queues the immediate send of refunds just stored. A failure is only logged: the safety net queued before the
    /// write sends them after <see cref="RefundsOptions.RecoveryDelay"/>.
    /// </summary>
    public async Task SendNowAsync(string orderId, IEnumerable<string> refundNos, ILogger logger, CancellationToken cancellationToken)
    {
        foreach (var refundNo in refundNos)
        {
            try
            {
                if (BeforeSendNow is { } beforeSend)
                {
                    await beforeSend();
                }

                await ScheduleAsync(orderId, refundNo, 0, null, cancellationToken);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                logger.LogWarning(ex, "Could not queue the send of refund {RefundNo} of order {OrderId}; its safety net sends it", refundNo, orderId);
            }
        }
    }
}

/// <summary>
/// Runs one round of a refund. Only the round the refund row expects runs (a stale or duplicate message does nothing),
/// and it is claimed on the refund row with its ETag, so two handlers never both send. The next round is queued
/// BEFORE the claim, so a crash anywhere after it still leaves a round to come. A round after a send asks P云's refund
/// query first: P云 never got it → the identical request again (same refund number); P云 has it → its state is
/// adopted. P云 unreachable → nothing decided, the next round asks again. Refused or failed → Failed with P云's reason.
/// The end of a refund stages order.refund.succeeded or order.refund.failed in its transaction; a round that finds its
/// refund final (its own replay after a crash, or the next round queued before the claim) queues what is undispatched.
/// </summary>
public sealed partial class PyunRefundHandler(OrderStore store, IServiceProvider services, PyunRefundScheduler scheduler,
    IOptions<RefundsOptions> refundOptions, IOptions<PyunOptions> pyunOptions, EventOutbox outbox, TimeProvider clock, ILogger<PyunRefundHandler> logger)
    : NotificationHandler<PyunRefund>
{
    protected override async Task<string> HandleAsync(PyunRefund message, DateTimeOffset receivedAt, CancellationToken cancellationToken)
    {
        var what = $"refund {message.RefundNo} of order {message.OrderId}, round {message.Round}";
        var refund = await store.GetRefundAsync(message.OrderId, message.RefundNo, cancellationToken);
        if (refund is null)
        {
            // The safety net of a write that never happened.
            return $"{what}: no such refund";
        }

        if (refund.IsFinal)
        {
            // Its end may have been committed by a run that died before queuing the event.
            await outbox.EnsureOrderDispatchedAsync(message.OrderId, null, cancellationToken);
            return $"{what}: already {refund.Status}";
        }

        if (message.Round != refund.Rounds)
        {
            return $"{what}: stale (the refund is at round {refund.Rounds})";
        }

        var now = clock.GetUtcNow();
        var sendWindow = pyunOptions.Value.RequestTimeout + RefundLifecycle.SendMargin;
        if (refund.Stage == RefundStages.Sending && refund.SendStartedAt is { } started && started + sendWindow > now)
        {
            // A send may still be in flight: asking now could see "not found" and send it twice. Same round, later.
            var wait = started + sendWindow - now;
            await scheduler.ScheduleAsync(message.OrderId, message.RefundNo, message.Round, wait, cancellationToken);
            return $"{what}: a send may be in flight; again in {wait}";
        }

        var o = refundOptions.Value;
        var nextDelay = RefundLifecycle.NextRoundDelay(message.Round + 1, o.CheckMaxRounds, o.CheckBackoff, sendWindow);
        if (nextDelay is { } delay)
        {
            await scheduler.ScheduleAsync(message.OrderId, message.RefundNo, message.Round + 1, delay, cancellationToken);
        }

        var queryFirst = RefundLifecycle.QueryFirst(refund);
        if (!RefundLifecycle.TryClaimRound(refund, message.Round, now) || !await store.TrySaveRefundAsync(refund, cancellationToken))
        {
            return $"{what}: another handler has this round";
        }

        // Transient (it holds a typed HttpClient) while handlers are singletons: resolved per round.
        var pyun = services.GetRequiredService<PyunClient>();
        var (step, answer, sent) = await AskAsync(pyun, refund, queryFirst, cancellationToken);
        var outcome = await ApplyAsync(refund, step, answer, message.Round, cancellationToken);
        var summary = $"{what}: {(queryFirst ? "queried" : "sent")}{(sent && queryFirst ? " and sent again" : "")}: {outcome}";
        if (outcome == nameof(RefundStatus.Pending) && nextDelay is null)
        {
            LogStillPending(logger, refund.RefundNo, refund.PartitionKey, refund.Amount, message.Round + 1);
            Telemetry.PaymentTelemetry.Refund(Events.EventProducts.Order, "still_pending");
            return summary + "; no more rounds";
        }

        return nextDelay is { } next && outcome == nameof(RefundStatus.Pending) ? $"{summary}; next round in {next}" : summary;
    }

    /// <summary>Sends the refund, or asks about it first (and sends it again only when P云 never got it).</summary>
    private async Task<(RefundStep Step, PyunRefundAnswer? Answer, bool Sent)> AskAsync(PyunClient pyun, RefundEntity refund, bool queryFirst, CancellationToken cancellationToken)
    {
        try
        {
            if (queryFirst)
            {
                var found = await pyun.QueryRefundAsync(refund.PyunOrder, cancellationToken);
                var step = RefundLifecycle.Next(refund, found, toCreate: false);
                if (step != RefundStep.Resend)
                {
                    return (step, found, false);
                }

                RefundLifecycle.MarkSending(refund, clock.GetUtcNow());
                if (!await store.TrySaveRefundAsync(refund, cancellationToken))
                {
                    return (RefundStep.Retry, null, false);
                }
            }

            var answer = await pyun.CreateRefundAsync(new PyunRefundRequest(refund.PyunOrder, refund.PaySerial, refund.Amount, refund.Reason), cancellationToken);
            return (RefundLifecycle.Next(refund, answer, toCreate: true), answer, true);
        }
        catch (PyunException ex)
        {
            // No answer, or one we cannot read: P云 may or may not have acted; the next round asks first.
            logger.LogWarning(ex, "P云 did not answer about refund {RefundNo} of order {OrderId}; the next round asks again", refund.RefundNo, refund.PartitionKey);
            return (RefundStep.Retry, null, false);
        }
    }

    private async Task<string> ApplyAsync(RefundEntity refund, RefundStep step, PyunRefundAnswer? answer, int round, CancellationToken cancellationToken)
    {
        switch (step)
        {
            case RefundStep.Sent:
                await MarkSentAsync(refund, cancellationToken);
                return nameof(RefundStatus.Pending);
            case RefundStep.Succeeded:
                return await CompleteAsync(refund.PartitionKey, refund.RefundNo, RefundStatus.Succeeded, null, answer, cancellationToken);
            case RefundStep.Failed:
                return await CompleteAsync(refund.PartitionKey, refund.RefundNo, RefundStatus.Failed, RefundLifecycle.FailureReason(answer!), answer, cancellationToken);
            case RefundStep.Foreign:
                await RecordForeignAsync(refund, answer!, round, cancellationToken);
                return nameof(RefundStatus.Pending);
            default:
                return nameof(RefundStatus.Pending);
        }
    }

    /// <summary>P云 took the refund: Stage Sent, so no later round sends it again. Forward only.</summary>
    private async Task MarkSentAsync(RefundEntity refund, CancellationToken cancellationToken)
    {
        for (var i = 0; i < ConcurrencyRetry.MaxRounds; i++)
        {
            if (refund.IsFinal || refund.Stage == RefundStages.Sent)
            {
                return;
            }

            refund.Stage = RefundStages.Sent;
            if (await store.TrySaveRefundAsync(refund, cancellationToken))
            {
                return;
            }

            refund = await store.GetRefundAsync(refund.PartitionKey, refund.RefundNo, cancellationToken) ?? throw new InvalidOperationException("A refund row vanished.");
        }
    }

    /// <summary>
    /// Ends the refund and moves its amount, on the rows as they are now (re-read on a conflict), with its event in the
    /// same transaction; the event is queued after the commit (a failure there fails the round's message: its retry
    /// finds the refund final and queues it).
    /// </summary>
    private async Task<string> CompleteAsync(string orderId, string refundNo, RefundStatus status, string? failureReason, PyunRefundAnswer? answer,
        CancellationToken cancellationToken)
    {
        var (final, staged) = await ConcurrencyRetry.RunAsync(async _ =>
        {
            var order = await store.GetOrderAsync(orderId, cancellationToken) ?? throw new InvalidOperationException("The order of a refund vanished.");
            var refund = await store.GetRefundAsync(orderId, refundNo, cancellationToken) ?? throw new InvalidOperationException("A refund row vanished.");
            if (refund.IsFinal)
            {
                return (refund.Status, (StagedEvent?)null);
            }

            var attempt = await store.GetAttemptAsync(orderId, refund.AttemptNumber, cancellationToken) ?? throw new InvalidOperationException("The attempt of a refund vanished.");
            var now = clock.GetUtcNow();
            RefundLifecycle.Complete(order, attempt, refund, status, failureReason, answer?.RefundSerial, now);
            var timeline = new TimelineEntity
            {
                PartitionKey = orderId,
                RowKey = OrderRows.Timeline($"refund-{refundNo}-{status}"),
                At = now,
                Kind = PyunRefund.Kind,
                FromStatus = order.Status,
                ToStatus = order.Status,
                Outcome = status == RefundStatus.Succeeded
                    ? $"refund {refundNo} of {refund.Amount} fen succeeded"
                    : $"refund {refundNo} of {refund.Amount} fen failed: {failureReason}",
                Data = answer is null ? null : JsonSerializer.Serialize(answer),
            };
            // The order as GET shows it after the refund (refundedAmount, refundingAmount); the refund itself is in its list.
            var staged = outbox.StageOrderEvent(order, status == RefundStatus.Succeeded ? EventTypes.OrderRefundSucceeded : EventTypes.OrderRefundFailed, now);
            if (!await store.CompleteRefundAsync(order, attempt, refund, timeline, staged.Action, cancellationToken))
            {
                // Its timeline row (named after this very end) exists: committed before, by a run whose dispatch may have been lost.
                return (refund.Status, null);
            }

            Telemetry.PaymentTelemetry.Refund(Events.EventProducts.Order, status);

            if (status == RefundStatus.Succeeded)
            {
                LogSucceeded(logger, refundNo, orderId, refund.Amount, refund.RefundSerial);
            }
            else
            {
                LogFailed(logger, refundNo, orderId, refund.Amount, failureReason ?? "");
            }

            return (refund.Status, staged);
        }, clock, cancellationToken);

        if (staged is not null)
        {
            await outbox.DispatchAsync(staged, cancellationToken);
        }
        else
        {
            // Ended by another run (a racing handler, or one that died after its commit): make sure its event is queued.
            await outbox.EnsureOrderDispatchedAsync(orderId, null, cancellationToken);
        }

        return final;
    }

    /// <summary>An answer about a refund that is not the one we asked for: kept on the timeline, alerted, never applied.</summary>
    private async Task RecordForeignAsync(RefundEntity refund, PyunRefundAnswer answer, int round, CancellationToken cancellationToken)
    {
        var order = await store.GetOrderAsync(refund.PartitionKey, cancellationToken);
        await store.TryAddTimelineAsync(new TimelineEntity
        {
            PartitionKey = refund.PartitionKey,
            RowKey = OrderRows.Timeline($"refund-{refund.RefundNo}-foreign-{round}"),
            At = clock.GetUtcNow(),
            Kind = PyunRefund.Kind,
            FromStatus = order?.Status,
            ToStatus = order?.Status,
            Outcome = $"ignored: P云 answered about refund {refund.RefundNo} with a payment or amount that is not ours",
            Data = JsonSerializer.Serialize(answer),
        }, cancellationToken);
        LogForeign(logger, refund.RefundNo, refund.PartitionKey, refund.PaySerial, refund.Amount, answer.PaySerial, answer.Value);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Refund {RefundNo} of order {OrderId} succeeded: {Amount} fen, refund serial {RefundSerial}")]
    private static partial void LogSucceeded(ILogger logger, string refundNo, string orderId, long amount, string? refundSerial);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refund {RefundNo} of order {OrderId} ({Amount} fen) failed: {Reason}")]
    private static partial void LogFailed(ILogger logger, string refundNo, string orderId, long amount, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "ALERT refund {RefundNo} of order {OrderId} ({Amount} fen) is still pending after {Rounds} rounds; no more are scheduled")]
    private static partial void LogStillPending(ILogger logger, string refundNo, string orderId, long amount, int rounds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "ALERT P云 answered about refund {RefundNo} of order {OrderId} (pay_serial {PaySerial}, {Amount} fen) with pay_serial {TheirSerial}, {TheirValue} fen; not applied")]
    private static partial void LogForeign(ILogger logger, string refundNo, string orderId, string paySerial, long amount, string? theirSerial, long? theirValue);
}
