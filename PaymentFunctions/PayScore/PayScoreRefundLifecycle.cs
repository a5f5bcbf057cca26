using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using PaymentFunctions.WeChatPay;

namespace PaymentFunctions.PayScore;

/// <summary>A refund request refused before anything is stored or sent: the HTTP status and why (429 carries when to retry).</summary>
public sealed record RefundRefusal(int Status, string Detail, TimeSpan? RetryAfter = null);

/// <summary>What a queued send/check message does with the refund it names.</summary>
public enum RefundStep
{
    /// <summary>Final, superseded, or handled by another message.</summary>
    Nothing,

    /// <summary>Stored, never sent: claim it (Stage Sending) and create it at WeChat.</summary>
    Send,

    /// <summary>A send was interrupted (no answer, 429/5xx, a crash): ask WeChat first; create again only if it has none.</summary>
    QueryFirst,

    /// <summary>WeChat has the refund and it is not final yet: ask how it stands.</summary>
    Query,

    /// <summary>Another sender holds a fresh claim: look again once it may have gone stale.</summary>
    Wait,
}

/// <summary>What an observation did to a refund: a one-word outcome, whether rows change, whether to alert an operator.</summary>
public sealed record RefundDecision(string Outcome, bool Changed, bool Alert);

/// <summary>
/// Every Pay Score refund rule, pure (WeChat Pay API v3 申请退款/查询单笔退款/退款结果通知 as used for 支付分; see
/// docs/protocols.md): what may be refunded (a paid order's 支付分 deduction, within its amount, 50 refunds, one a
/// minute, 365 days), the refund budget on the order row, what a queued message does, and how WeChat's answers and
/// callbacks move a refund. A refund only moves forward: Pending → Succeeded | Failed, both final.
/// </summary>
public static class PayScoreRefundLifecycle
{
    public const int MaxRefunds = 50;
    public const int MaxReasonBytes = 80;
    public static readonly TimeSpan MinSpacing = TimeSpan.FromSeconds(60);
    public static readonly TimeSpan Window = TimeSpan.FromDays(365);

    /// <summary>A queued round waits at most this long (the queue's limit is 7 days).</summary>
    public static readonly TimeSpan MaxRoundDelay = TimeSpan.FromDays(6);

    private static readonly TimeSpan ChinaOffset = TimeSpan.FromHours(8);

    /// <summary>
    /// Records the 支付分 deduction (the collection detail with paid_type NEWTON and a transaction_id) the first time WeChat
    /// reports it: refunds go by that transaction_id (never by out_order_no), for at most its amount, within 365 days of its paid_time.
    /// </summary>
    /// <param name="replace">Whether the detail may replace a different transaction_id already on the row (only while the state moves forward).</param>
    public static void RecordDeduction(PayScoreOrderEntity order, PayScoreCollection collection, bool replace)
    {
        if (order.TransactionAmount is not null)
        {
            return;
        }

        var detail = collection.Details?.LastOrDefault(d => d.PaidType == "NEWTON" && !string.IsNullOrEmpty(d.TransactionId) && d.Amount > 0);
        if (detail is null || (!replace && !string.IsNullOrEmpty(order.TransactionId) && order.TransactionId != detail.TransactionId))
        {
            return;
        }

        order.TransactionId = detail.TransactionId;
        order.TransactionAmount = detail.Amount;
        order.PaidTime = ParsePaidTime(detail.PaidTime) ?? order.PaidTime;
    }

    /// <summary><c>paid_time</c>: <c>yyyyMMddHHmmss</c> in China Standard Time, or RFC 3339; null when neither.</summary>
    public static DateTimeOffset? ParsePaidTime(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return null;
        }

        if (DateTime.TryParseExact(value, "yyyyMMddHHmmss", CultureInfo.InvariantCulture, DateTimeStyles.None, out var local))
        {
            return new DateTimeOffset(local, ChinaOffset).ToUniversalTime();
        }

        return DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.None, out var parsed) && value.Contains('T', StringComparison.Ordinal)
            ? parsed.ToUniversalTime()
            : null;
    }

    /// <summary>The same request (order, amount, reason) has the same fingerprint; another one under the same number does not.</summary>
    public static string Fingerprint(string outOrderNo, long amount, string? reason) =>
        Convert.ToHexStringLower(SHA256.HashData(JsonSerializer.SerializeToUtf8Bytes(new object?[] { outOrderNo, amount, reason })));

    /// <summary>
    /// Whether <paramref name="amount"/> may be refunded from the order now; null when it may. Permanent refusals come
    /// before the one-minute spacing, so a caller is told to wait only when waiting helps.
    /// </summary>
    public static RefundRefusal? CanRefund(PayScoreOrderEntity order, long amount, DateTimeOffset now)
    {
        if (!PayScoreLifecycle.IsPaid(order))
        {
            return new(StatusCodes.Status409Conflict,
                $"The order is {PayScoreLifecycle.Describe(order)}; only a paid order (DONE/USER_PAID) can be refunded. An unpaid order is cancelled or completed with a lower amount instead.");
        }

        if (order.TransactionAmount is not { } paid || string.IsNullOrEmpty(order.TransactionId))
        {
            return new(StatusCodes.Status409Conflict,
                "WeChat Pay reported no 支付分 deduction (collection detail with paid_type NEWTON and a transaction_id) for this order; money collected through the merchant's own channel is refunded there.");
        }

        if (order.PaidTime is { } paidTime && now > paidTime + Window)
        {
            return new(StatusCodes.Status409Conflict,
                $"The deduction was paid at {paidTime:O}; WeChat Pay refunds only within 365 days of payment.");
        }

        if (order.RefundCount >= MaxRefunds)
        {
            return new(StatusCodes.Status409Conflict, $"This order already has {MaxRefunds} refunds, WeChat Pay's limit per transaction.");
        }

        var remaining = paid - order.RefundedAmount - order.RefundingAmount;
        if (amount > remaining)
        {
            return new(StatusCodes.Status409Conflict, string.Create(CultureInfo.InvariantCulture,
                $"amount {amount} fen exceeds what is left to refund: {remaining} fen of {paid} paid ({order.RefundedAmount} refunded, {order.RefundingAmount} pending)."));
        }

        if (order.LastRefundAt is { } last && now - last < MinSpacing)
        {
            var wait = MinSpacing - (now - last);
            return new(StatusCodes.Status429TooManyRequests, "", wait);
        }

        return null;
    }

    /// <summary>The detail of the 429 for a refund within a minute of the last one, given the whole seconds to wait.</summary>
    public static string SpacingDetail(int seconds) => string.Create(CultureInfo.InvariantCulture,
        $"WeChat Pay needs at least 1 minute between two refunds of the same order; retry in {seconds} s.");

    /// <summary>A new refund as accepted: Pending, Stage New, and its amount reserved on the order row.</summary>
    public static PayScoreRefundEntity Accept(PayScoreOrderEntity order, string outRefundNo, long amount, string? reason, string fingerprint, DateTimeOffset now)
    {
        order.RefundingAmount += amount;
        order.RefundCount++;
        order.LastRefundAt = now;
        order.UpdatedAt = now;
        return new PayScoreRefundEntity
        {
            PartitionKey = order.PartitionKey,
            RowKey = PayScoreRefundEntity.Row(outRefundNo),
            OutRefundNo = outRefundNo,
            Amount = amount,
            Total = order.TransactionAmount!.Value,
            TransactionId = order.TransactionId!,
            Reason = reason,
            Fingerprint = fingerprint,
            CreatedAt = now,
            Version = 1,
        };
    }

    /// <summary>The create request, identical on every send of this refund.</summary>
    public static CreateRefundRequest CreateRequest(PayScoreRefundEntity refund) =>
        new(refund.OutRefundNo, refund.TransactionId, refund.Amount, refund.Total, refund.Reason);

    public static bool IsFinal(PayScoreRefundEntity refund) => refund.Status is RefundStatuses.Succeeded or RefundStatuses.Failed;

    /// <summary>
    /// The event a change of a refund's status causes: payscore.refund.succeeded or payscore.refund.failed when it ends
    /// now (it was not final before), none otherwise (a final refund never changes again).
    /// </summary>
    public static string? EventFor(string? statusBefore, string? statusAfter) =>
        statusBefore is RefundStatuses.Succeeded or RefundStatuses.Failed ? null
        : statusAfter switch
        {
            RefundStatuses.Succeeded => Events.EventTypes.PayScoreRefundSucceeded,
            RefundStatuses.Failed => Events.EventTypes.PayScoreRefundFailed,
            _ => null,
        };

    /// <summary>
    /// What message round <paramref name="round"/> does (0: a send message, the immediate one or the safety net; 1+:
    /// a follow-up). A claim older than <paramref name="staleAfter"/> belongs to a sender that died or got no answer.
    /// </summary>
    public static RefundStep Step(PayScoreRefundEntity refund, int round, DateTimeOffset now, TimeSpan staleAfter, out TimeSpan wait)
    {
        wait = TimeSpan.Zero;
        if (IsFinal(refund) || (round > 0 && round < refund.Rounds))
        {
            return RefundStep.Nothing;
        }

        switch (refund.Stage)
        {
            case RefundStages.New:
                return RefundStep.Send;
            case RefundStages.Sending:
                var age = now - (refund.SendStartedAt ?? DateTimeOffset.MinValue);
                if (age >= staleAfter)
                {
                    return RefundStep.QueryFirst;
                }

                wait = staleAfter - age;
                return RefundStep.Wait;
            default:
                return round == 0 ? RefundStep.Nothing : RefundStep.Query; // a send message after the send: the follow-ups own it
        }
    }

    /// <summary>
    /// How long a create of <paramref name="refund"/> must wait for WeChat's minute between two refunds of one order, when another
    /// refund of the order was sent less than a minute ago (a retried or recovered send can come late); null when it may go now.
    /// </summary>
    public static TimeSpan? SpacingWait(PayScoreOrderEntity order, PayScoreRefundEntity refund, DateTimeOffset now) =>
        order.LastRefundSentAt is { } last && order.LastRefundSentNo != refund.OutRefundNo && now - last < MinSpacing
            ? MinSpacing - (now - last)
            : null;

    /// <summary>Claims the send: only the writer of this (ETag-conditional) change calls WeChat. The order row remembers the send.</summary>
    public static void Claim(PayScoreOrderEntity order, PayScoreRefundEntity refund, DateTimeOffset now)
    {
        refund.Stage = RefundStages.Sending;
        refund.SendStartedAt = now;
        order.LastRefundSentAt = now;
        order.LastRefundSentNo = refund.OutRefundNo;
    }

    /// <summary>CLOSE (one SDK's spelling) is CLOSED.</summary>
    public static string? NormalizeStatus(string? status) => RefundStates.Normalize(status) ?? status;

    /// <summary>
    /// Applies WeChat's status for the refund (a create or query answer, or a callback). Final states never change: the
    /// same final again is unchanged, a contradicting one is ignored with an alert (SUCCESS after CLOSED). ABNORMAL
    /// keeps the refund Pending and alerts once.
    /// </summary>
    public static RefundDecision Apply(PayScoreOrderEntity order, PayScoreRefundEntity refund, string? status, string? refundId, string? successTime, DateTimeOffset now)
    {
        status = NormalizeStatus(status);
        if (IsFinal(refund))
        {
            var same = (refund.Status, status) is (RefundStatuses.Succeeded, RefundStates.Success) or (RefundStatuses.Failed, RefundStates.Closed);
            return same || status is RefundStates.Processing
                ? new("unchanged", false, false)
                : new($"ignored: {status} after {refund.Status} ({refund.WeChatStatus})", false, status is RefundStates.Success or RefundStates.Closed or RefundStates.Abnormal);
        }

        var before = (refund.Stage, refund.WeChatStatus, refund.RefundId);
        refund.Stage = RefundStages.Sent;
        refund.RefundId ??= string.IsNullOrEmpty(refundId) ? null : refundId;
        switch (status)
        {
            case RefundStates.Success:
                refund.Status = RefundStatuses.Succeeded;
                refund.WeChatStatus = status;
                refund.CompletedAt = ParseTime(successTime) ?? now;
                order.RefundingAmount -= refund.Amount;
                order.RefundedAmount += refund.Amount;
                return new("succeeded", true, false);
            case RefundStates.Closed:
                Close(order, refund, status, "CLOSED: WeChat Pay closed the refund; the money was not refunded.", now);
                return new("closed", true, false);
            case RefundStates.Abnormal:
                refund.WeChatStatus = status;
                return before.WeChatStatus == RefundStates.Abnormal
                    ? new("abnormal", before != (refund.Stage, refund.WeChatStatus, refund.RefundId), false)
                    : new("abnormal", true, true);
            default:
                // PROCESSING, or a status this code does not know: not final, keep following it.
                refund.WeChatStatus = status ?? refund.WeChatStatus;
                return new(status == RefundStates.Processing ? "processing" : $"pending: unknown status {status}",
                    before != (refund.Stage, refund.WeChatStatus, refund.RefundId), status != RefundStates.Processing);
        }
    }

    /// <summary>WeChat refused the create for good: Failed with its code and message, and the amount back in the budget.</summary>
    public static RefundDecision Refuse(PayScoreOrderEntity order, PayScoreRefundEntity refund, string code, string? message, DateTimeOffset now)
    {
        if (IsFinal(refund))
        {
            return new("unchanged", false, false);
        }

        Close(order, refund, code, string.IsNullOrEmpty(message) ? code : $"{code}: {message}", now);
        return new("refused", true, false);
    }

    /// <summary>Why WeChat's refund object is not the refund we asked for; null when it is.</summary>
    public static string? Mismatch(PayScoreRefundEntity refund, string? outRefundNo, string? transactionId, long? amount)
    {
        var problems = new List<string>();
        if (outRefundNo != refund.OutRefundNo)
        {
            problems.Add("out_refund_no");
        }

        if (!string.IsNullOrEmpty(transactionId) && transactionId != refund.TransactionId)
        {
            problems.Add("transaction_id");
        }

        if (amount is { } a && a != refund.Amount)
        {
            problems.Add("amount.refund");
        }

        return problems.Count == 0 ? null : $"{string.Join(", ", problems)} differ from the refund we asked for";
    }

    /// <summary>Why a refund callback is not for this merchant (direct: mchid; partner: sp_mchid and sub_mchid); null when it is.</summary>
    public static string? MerchantMismatch(WeChatRefundNotice notice, WeChatPayOptions options) =>
        options.IsPartner
            ? notice.SpMchId != options.MchId ? "sp_mchid is not this merchant's"
            : notice.SubMchId != options.SubMchId ? "sub_mchid is not this app's sub-merchant"
            : null
            : notice.MchId != options.MchId ? "mchid is not this merchant's" : null;

    /// <summary>
    /// The follow-up after <paramref name="round"/>: its number and delay (<paramref name="backoff"/> doubled each round),
    /// or null once <paramref name="maxRounds"/> are used up.
    /// </summary>
    public static (int Round, TimeSpan Delay)? NextRound(PayScoreRefundEntity refund, int round, int maxRounds, TimeSpan backoff)
    {
        var next = Math.Max(round, refund.Rounds) + 1;
        if (next > maxRounds)
        {
            return null;
        }

        var delay = backoff * Math.Pow(2, next - 1);
        return (next, delay > MaxRoundDelay ? MaxRoundDelay : delay);
    }

    private static void Close(PayScoreOrderEntity order, PayScoreRefundEntity refund, string weChatStatus, string reason, DateTimeOffset now)
    {
        refund.Status = RefundStatuses.Failed;
        refund.Stage = RefundStages.Sent;
        refund.WeChatStatus = weChatStatus;
        refund.FailureReason = reason.Length > 512 ? reason[..512] : reason;
        refund.CompletedAt = now;
        order.RefundingAmount -= refund.Amount;
    }

    private static DateTimeOffset? ParseTime(string? value) =>
        DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.None, out var t) ? t.ToUniversalTime() : null;
}
