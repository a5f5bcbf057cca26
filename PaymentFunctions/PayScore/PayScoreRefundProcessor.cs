using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;
using PaymentFunctions.Events;
using PaymentFunctions.Http;
using PaymentFunctions.Notifications;
using PaymentFunctions.Orders;
using PaymentFunctions.Refunds;
using PaymentFunctions.Storage;
using PaymentFunctions.WeChatPay;

namespace PaymentFunctions.PayScore;

/// <summary>A refund callback (or answer) for a refund we never asked for, or one that contradicts ours: recorded as an orphan, never applied.</summary>
public sealed class UnknownPayScoreRefundException(string outRefundNo, string reason)
    : OrphanNotificationException("wechatpay", outRefundNo, reason);

/// <summary>
/// Sends Pay Score refunds to WeChat Pay and applies what WeChat says about them (create and query answers,
/// callbacks), as <see cref="PayScoreRefundLifecycle"/> decides; every write goes through <see cref="PayScoreStore"/>
/// with the order row's ETag. A refund is created with the identical body on every send; a send whose outcome is
/// unknown (no answer, 429, 5xx, a crash) is followed by a query before any second create.
/// </summary>
public sealed class PayScoreRefundProcessor(PayScoreStore store, PayScoreRefundScheduler scheduler, OrphanStore orphans, EventOutbox outbox, IServiceProvider services,
    IOptions<RefundsOptions> refundOptions, TimeProvider clock, ILogger<PayScoreRefundProcessor> logger)
{
    private WeChatPayOptions WeChat => services.GetRequiredService<IOptions<WeChatPayOptions>>().Value;

    /// <summary>A send claim older than this belongs to a sender that died or never got its answer.</summary>
    private TimeSpan StaleAfter => WeChat.RequestTimeout * 2;

    public async Task<string> RunAsync(PayScoreRefundCheck check, CancellationToken cancellationToken)
    {
        var name = $"refund {check.OutRefundNo} of {check.OutOrderNo} (round {check.Round})";
        for (var attempt = 1; ; attempt++)
        {
            var (order, refund) = await ReadAsync(check.OutOrderNo, check.OutRefundNo, cancellationToken);
            if (order is null || refund is null)
            {
                return $"{name}: no such refund (never stored)";
            }

            var step = PayScoreRefundLifecycle.Step(refund, check.Round, clock.GetUtcNow(), StaleAfter, out var wait);
            switch (step)
            {
                case RefundStep.Nothing:
                    // A round after the refund ended (or its replay): the write that ended it may have died before queueing its event.
                    await outbox.EnsureDispatchedAsync(EventProducts.PayScore, check.OutOrderNo, order.EventCount, cancellationToken);
                    return $"{name}: nothing to do ({Describe(refund)})";
                case RefundStep.Wait:
                    await scheduler.ScheduleAsync(check.OutOrderNo, check.OutRefundNo, check.Round, wait + TimeSpan.FromSeconds(1), cancellationToken);
                    return $"{name}: another sender holds it; looking again in {wait}";
                case RefundStep.Send:
                    if (PayScoreRefundLifecycle.SpacingWait(order, refund, clock.GetUtcNow()) is { } spacing)
                    {
                        await scheduler.ScheduleAsync(check.OutOrderNo, check.OutRefundNo, check.Round, spacing + TimeSpan.FromSeconds(1), cancellationToken);
                        return $"{name}: another refund of the order was sent less than a minute ago; sending in {spacing}";
                    }

                    if (!await TryClaimAsync(order, refund, "send", cancellationToken))
                    {
                        continue; // changed meanwhile: decide again on what is stored now
                    }

                    return $"{name}: {await CreateAsync(refund, check.Round, cancellationToken)}";
                case RefundStep.QueryFirst:
                case RefundStep.Query:
                    var client = services.GetRequiredService<WeChatPayClient>();
                    WeChatRefund answer;
                    try
                    {
                        answer = await client.QueryRefundAsync(refund.OutRefundNo, cancellationToken);
                    }
                    catch (WeChatPayException ex) when (step == RefundStep.QueryFirst && ex.IsNotFound)
                    {
                        // WeChat never got the create: send it again, identical, under a fresh claim.
                        if (PayScoreRefundLifecycle.SpacingWait(order, refund, clock.GetUtcNow()) is { } resendWait)
                        {
                            await scheduler.ScheduleAsync(check.OutOrderNo, check.OutRefundNo, check.Round, resendWait + TimeSpan.FromSeconds(1), cancellationToken);
                            return $"{name}: not at WeChat Pay; another refund of the order was sent less than a minute ago; sending in {resendWait}";
                        }

                        if (!await TryClaimAsync(order, refund, "resend", cancellationToken))
                        {
                            continue;
                        }

                        return $"{name}: not at WeChat Pay, sent again: {await CreateAsync(refund, check.Round, cancellationToken)}";
                    }
                    catch (WeChatPayException ex)
                    {
                        return $"{name}: {await RetryLaterAsync(check.OutOrderNo, check.OutRefundNo, check.Round, "query", ex, cancellationToken)}";
                    }

                    return $"{name}: {await ObserveAsync(check.OutOrderNo, refund.OutRefundNo, answer, "wechatpay.refund.query", check.Round, cancellationToken)}";
                default:
                    throw new InvalidOperationException($"Unknown refund step {step}.");
            }
        }
    }

    /// <summary>Applies a verified refund callback. An unknown refund, or one that contradicts ours, is an orphan.</summary>
    public async Task<string> ApplyNoticeAsync(WeChatRefundNotification notification, DateTimeOffset receivedAt, CancellationToken cancellationToken)
    {
        var notice = notification.Notice;
        var outRefundNo = notice.OutRefundNo!;
        var index = (PayScoreRefundRules.IsValidOutRefundNo(outRefundNo) ? await store.GetRefundIndexAsync(outRefundNo, cancellationToken) : null)
                    ?? throw new UnknownPayScoreRefundException(outRefundNo, $"No Pay Score refund '{LogValue.Safe(outRefundNo)}'.");
        var (order, refund) = await ReadAsync(index.OutOrderNo, outRefundNo, cancellationToken);
        if (order is null || refund is null)
        {
            throw new UnknownPayScoreRefundException(outRefundNo, $"No Pay Score refund '{LogValue.Safe(outRefundNo)}' was stored.");
        }

        var problem = PayScoreRefundLifecycle.MerchantMismatch(notice, WeChat)
                      ?? PayScoreRefundLifecycle.Mismatch(refund, notice.OutRefundNo, notice.TransactionId, notice.Amount?.Refund);
        if (problem is not null)
        {
            logger.LogWarning("ALERT Pay Score refund {OutRefundNo}: callback {Id} not applied: {Problem}", outRefundNo, LogValue.Safe(notification.Id), problem);
            throw new UnknownPayScoreRefundException(outRefundNo, $"The refund callback contradicts refund '{outRefundNo}': {problem}.");
        }

        return await DecideAndWriteAsync(index.OutOrderNo, outRefundNo, "wechatpay.refund.notify", receivedAt, null, (o, r, now) =>
            PayScoreRefundLifecycle.Apply(o, r, notice.RefundStatus, notice.RefundId, notice.SuccessTime, now),
            new { notification.Id, notification.EventType, notice.RefundStatus, notice.RefundId }, cancellationToken);
    }

    /// <summary>Creates the refund at WeChat (the caller holds the claim) and applies the outcome.</summary>
    private async Task<string> CreateAsync(PayScoreRefundEntity refund, int round, CancellationToken cancellationToken)
    {
        var client = services.GetRequiredService<WeChatPayClient>();
        WeChatRefund answer;
        try
        {
            answer = await client.CreateRefundAsync(PayScoreRefundLifecycle.CreateRequest(refund), cancellationToken);
        }
        catch (WeChatPayException ex) when (ex.IsFinalRefusal)
        {
            var code = ex.Code ?? $"HTTP_{(int?)ex.StatusCode}";
            logger.LogWarning("Pay Score refund {OutRefundNo} refused by WeChat Pay: {Code} {Message} (Request-ID {RequestId})",
                refund.OutRefundNo, code, LogValue.Safe(ex.WeChatMessage, 256), LogValue.Safe(ex.RequestId));
            return await DecideAndWriteAsync(refund.PartitionKey, refund.OutRefundNo, "wechatpay.refund.create", clock.GetUtcNow(), round,
                (o, r, now) => PayScoreRefundLifecycle.Refuse(o, r, code, ex.WeChatMessage, now), new { code, ex.RequestId }, cancellationToken);
        }
        catch (WeChatPayException ex)
        {
            // No answer, 429/5xx, an answer we cannot trust, or a refusal we do not know to be final: the refund may
            // exist at WeChat, so the next round asks before it sends again.
            return await RetryLaterAsync(refund.PartitionKey, refund.OutRefundNo, round, "create", ex, cancellationToken);
        }

        return await ObserveAsync(refund.PartitionKey, refund.OutRefundNo, answer, "wechatpay.refund.create", round, cancellationToken);
    }

    /// <summary>Applies a create or query answer, after checking it is the refund we asked for.</summary>
    private async Task<string> ObserveAsync(string outOrderNo, string outRefundNo, WeChatRefund answer, string source, int round, CancellationToken cancellationToken)
    {
        var (_, stored) = await ReadAsync(outOrderNo, outRefundNo, cancellationToken);
        var problem = stored is null ? "no such refund" : PayScoreRefundLifecycle.Mismatch(stored, answer.OutRefundNo, answer.TransactionId, answer.Amount?.Refund);
        if (problem is not null)
        {
            var payload = JsonSerializer.Serialize(answer, WeChatPayJson.Options);
            logger.LogWarning("ALERT Pay Score refund {OutRefundNo}: WeChat Pay's {Source} answer is not applied: {Problem}", outRefundNo, source, problem);
            await orphans.RecordAsync(new OrphanNotification("wechatpay", source, outRefundNo, Hash(payload), clock.GetUtcNow(),
                $"The {source} answer contradicts refund '{outRefundNo}': {problem}.", payload), cancellationToken);
            return $"answer not applied ({problem}); recorded as an orphan";
        }

        return await DecideAndWriteAsync(outOrderNo, outRefundNo, source, clock.GetUtcNow(), round,
            (o, r, now) => PayScoreRefundLifecycle.Apply(o, r, answer.Status, answer.RefundId, answer.SuccessTime, now),
            new { answer.Status, answer.RefundId }, cancellationToken);
    }

    /// <summary>The outcome is unknown: keep the stage (a Sending claim makes the next round query first) and schedule the next round.</summary>
    private async Task<string> RetryLaterAsync(string outOrderNo, string outRefundNo, int round, string call, WeChatPayException ex, CancellationToken cancellationToken)
    {
        logger.LogWarning("Pay Score refund {OutRefundNo}: WeChat Pay {Call} failed ({Status} {Code}: {Message}); retrying later",
            outRefundNo, call, (int?)ex.StatusCode, LogValue.Safe(ex.Code), LogValue.Safe(ex.Message, 256));
        return await DecideAndWriteAsync(outOrderNo, outRefundNo, $"wechatpay.refund.{call}", clock.GetUtcNow(), round,
            (_, _, _) => new RefundDecision($"{call} failed ({(int?)ex.StatusCode} {ex.Code}), retrying", false, false),
            new { status = (int?)ex.StatusCode, ex.Code, ex.RequestId }, cancellationToken);
    }

    /// <summary>
    /// Re-reads the rows, decides, queues the next round when the refund stays open (before the write: a crash after
    /// the write could otherwise end the follow-ups) and writes the change with a timeline row, and with the
    /// payscore.refund.succeeded/failed event when the refund ends (queued after the commit). With <paramref name="round"/>
    /// null (a callback) no round is scheduled: the follow-ups already running see the change. Nothing to write (a
    /// replayed callback or answer) makes sure an event an earlier write committed is queued.
    /// </summary>
    private async Task<string> DecideAndWriteAsync(string outOrderNo, string outRefundNo, string source, DateTimeOffset at, int? round,
        Func<PayScoreOrderEntity, PayScoreRefundEntity, DateTimeOffset, RefundDecision> decide, object data, CancellationToken cancellationToken)
    {
        var options = refundOptions.Value;
        var (result, staged, eventCount) = await ConcurrencyRetry.RunAsync<(string, IReadOnlyList<StagedEvent>?, long)>(async _ =>
        {
            var (order, refund) = await ReadAsync(outOrderNo, outRefundNo, cancellationToken);
            if (order is null || refund is null)
            {
                return ("no such refund", null, 0);
            }

            var from = Describe(refund);
            var statusBefore = refund.Status;
            var now = clock.GetUtcNow();
            var decision = decide(order, refund, now);
            var outcome = decision.Outcome;
            var write = decision.Changed;
            if (round is { } r && !PayScoreRefundLifecycle.IsFinal(refund) && r >= refund.Rounds)
            {
                if (PayScoreRefundLifecycle.NextRound(refund, r, options.CheckMaxRounds, options.CheckBackoff) is { } next)
                {
                    await scheduler.ScheduleAsync(outOrderNo, outRefundNo, next.Round, next.Delay, cancellationToken);
                    refund.Rounds = next.Round;
                    outcome += $"; round {next.Round} in {next.Delay}";
                }
                else
                {
                    logger.LogWarning("ALERT Pay Score refund {OutRefundNo} of {OutOrderNo} is still {State} after {Rounds} rounds; no more are scheduled. Check it in the merchant platform",
                        outRefundNo, outOrderNo, from, options.CheckMaxRounds);
                    outcome += "; no rounds left (alerted)";
                }

                write = true;
            }

            if (!write)
            {
                Alert(decision, outRefundNo, outOrderNo, source, from, refund);
                logger.LogInformation("Pay Score refund {OutRefundNo}: {Outcome} from {Source}; nothing to write", outRefundNo, outcome, source);
                return ($"{outcome} ({from})", [], order.EventCount); // nothing to write: maybe a replay of the write that ended it
            }

            refund.Version++;
            var events = PayScoreEvents.Stage(outbox, order,
                PayScoreRefundLifecycle.EventFor(statusBefore, refund.Status) is { } type ? [type] : []);
            await store.WriteRefundAsync(order, refund, Timeline(refund, source, from, outcome, at, data), isNew: false, events, cancellationToken);
            Telemetry.PaymentTelemetry.RefundChanged(Events.EventProducts.PayScore, from.Split('/')[0], refund.Status, PayScoreRefundLifecycle.IsFinal(refund));
            Alert(decision, outRefundNo, outOrderNo, source, from, refund); // after the write: a racing writer that lost re-decides, and alerts only if still due
            logger.LogInformation("Pay Score refund {OutRefundNo} of {OutOrderNo}: {Outcome} from {Source} ({From} -> {To})",
                outRefundNo, outOrderNo, outcome, source, from, Describe(refund));
            // A write that ends nothing stages nothing and has nothing to make sure of: refund events come only at the end.
            return ($"{outcome} ({from} -> {Describe(refund)})", events.Count > 0 ? events : null, order.EventCount);
        }, clock, cancellationToken);

        if (staged is not null)
        {
            // Queues the event just committed, or (nothing staged) whatever an earlier write left undispatched. A failure
            // lets the message be retried: its replay finds nothing to write and queues the event then.
            await PayScoreEvents.DispatchAsync(outbox, outOrderNo, eventCount, staged, cancellationToken);
        }

        return result;
    }

    private void Alert(RefundDecision decision, string outRefundNo, string outOrderNo, string source, string from, PayScoreRefundEntity refund)
    {
        if (decision.Alert)
        {
            logger.LogWarning("ALERT Pay Score refund {OutRefundNo} of {OutOrderNo}: {Outcome} from {Source} ({From} -> {To})",
                outRefundNo, outOrderNo, decision.Outcome, source, from, Describe(refund));
        }
    }

    /// <summary>Claims the send (Stage Sending now) with both ETags: false when the rows changed since they were read.</summary>
    private async Task<bool> TryClaimAsync(PayScoreOrderEntity order, PayScoreRefundEntity refund, string what, CancellationToken cancellationToken)
    {
        var from = Describe(refund);
        var now = clock.GetUtcNow();
        PayScoreRefundLifecycle.Claim(order, refund, now);
        refund.Version++;
        try
        {
            await store.WriteRefundAsync(order, refund, Timeline(refund, "payscore.refund", from, what, now, new { refund.SendStartedAt }), isNew: false, [], cancellationToken);
            return true;
        }
        catch (ConcurrencyException)
        {
            return false;
        }
    }

    private async Task<(PayScoreOrderEntity? Order, PayScoreRefundEntity? Refund)> ReadAsync(string outOrderNo, string outRefundNo, CancellationToken cancellationToken)
    {
        var refund = await store.GetRefundAsync(outOrderNo, outRefundNo, cancellationToken);
        return refund is null ? (null, null) : (await store.GetAsync(outOrderNo, cancellationToken), refund);
    }

    private static TimelineEntity Timeline(PayScoreRefundEntity refund, string kind, string from, string outcome, DateTimeOffset at, object data) => new()
    {
        PartitionKey = refund.PartitionKey,
        RowKey = OrderRows.Timeline($"refund-{refund.OutRefundNo}-{refund.Version:D3}"),
        At = at,
        Kind = kind,
        FromStatus = from,
        ToStatus = Describe(refund),
        Outcome = outcome,
        Data = JsonSerializer.Serialize(data),
    };

    public static string Describe(PayScoreRefundEntity r) =>
        string.Join('/', new[] { r.Status, r.Stage, r.WeChatStatus }.Where(s => !string.IsNullOrEmpty(s)));

    private static string Hash(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)).AsSpan(0, 12));
}
