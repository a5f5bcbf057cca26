using System.Text;
using PaymentFunctions.PayScore;
using PaymentFunctions.WeChatPay;

namespace PaymentFunctions.Tests.PayScore;

/// <summary>Every Pay Score refund rule, pure: what may be refunded, the budget, what a queued round does, and how answers and callbacks move a refund.</summary>
public sealed class PayScoreRefundLifecycleTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 25, 2, 0, 0, TimeSpan.Zero);

    private static PayScoreOrderEntity Paid(long amount = 500, DateTimeOffset? paidTime = null) => new()
    {
        PartitionKey = "PS1", State = PayScoreStates.Done, StateDescription = "", CollectionState = PayScoreStates.UserPaid,
        TotalAmount = amount, PaidAmount = amount, TransactionId = "4200000001", TransactionAmount = amount, PaidTime = paidTime ?? Now.AddDays(-1),
    };

    private static PayScoreCollection Collection(params PayScoreCollectionDetail[] details) =>
        new() { State = PayScoreStates.UserPaid, TotalAmount = 500, PaidAmount = 500, Details = details };

    [Fact]
    public void The_deduction_is_the_NEWTON_detail_with_its_amount_and_paid_time_in_China_time()
    {
        var order = new PayScoreOrderEntity { TransactionId = "from-before" };
        PayScoreRefundLifecycle.RecordDeduction(order, Collection(
            new PayScoreCollectionDetail { Seq = 1, Amount = 200, PaidType = "MCH", TransactionId = "4200000MCH" },
            new PayScoreCollectionDetail { Seq = 2, Amount = 300, PaidType = "NEWTON", PaidTime = "20261125100000", TransactionId = "4200000NEWTON" }), replace: true);

        Assert.Equal("4200000NEWTON", order.TransactionId);
        Assert.Equal(300, order.TransactionAmount);
        Assert.Equal(new DateTimeOffset(2026, 11, 25, 2, 0, 0, TimeSpan.Zero), order.PaidTime);
    }

    [Fact]
    public void A_recorded_deduction_is_kept_and_a_merchant_channel_payment_records_none()
    {
        var order = Paid();
        PayScoreRefundLifecycle.RecordDeduction(order, Collection(new PayScoreCollectionDetail { Amount = 1, PaidType = "NEWTON", TransactionId = "other" }), replace: true);
        Assert.Equal(("4200000001", 500L), (order.TransactionId, order.TransactionAmount!.Value));

        var mch = new PayScoreOrderEntity();
        PayScoreRefundLifecycle.RecordDeduction(mch, Collection(new PayScoreCollectionDetail { Amount = 500, PaidType = "MCH", TransactionId = "4200000MCH" }), replace: true);
        Assert.Null(mch.TransactionAmount);
    }

    [Fact]
    public void A_USER_PAID_callback_after_DONE_without_details_records_the_deduction()
    {
        var order = Paid();
        order.TransactionId = null;
        order.TransactionAmount = null;
        var observed = new PayScoreServiceOrder
        {
            OutOrderNo = "PS1", State = PayScoreStates.Done,
            Collection = Collection(new PayScoreCollectionDetail { Amount = 500, PaidType = "NEWTON", TransactionId = "4200000009", PaidTime = "20261125100000" }),
        };

        Assert.Equal("unchanged", PayScoreLifecycle.Decide(order, observed));
        Assert.Equal(("4200000009", 500L), (order.TransactionId, order.TransactionAmount!.Value));
    }

    [Theory]
    [InlineData("unpaid", 409, "only a paid order")]
    [InlineData("mch", 409, "paid_type NEWTON")]
    [InlineData("old", 409, "365 days")]
    [InlineData("fifty", 409, "50 refunds")]
    [InlineData("over", 409, "exceeds what is left to refund: 100 fen")]
    [InlineData("spacing", 429, "")]
    public void What_cannot_be_refunded_is_refused_with_a_reason(string setup, int status, string reason)
    {
        var order = Paid();
        var amount = 100L;
        switch (setup)
        {
            case "unpaid":
                order.State = PayScoreStates.Doing;
                order.StateDescription = PayScoreStates.MchComplete;
                order.CollectionState = PayScoreStates.UserPaying;
                break;
            case "mch":
                order.TransactionAmount = null;
                break;
            case "old":
                order.PaidTime = Now - TimeSpan.FromDays(365) - TimeSpan.FromSeconds(1);
                break;
            case "fifty":
                order.RefundCount = 50;
                break;
            case "over":
                order.RefundedAmount = 300;
                order.RefundingAmount = 100;
                amount = 101;
                break;
            case "spacing":
                order.LastRefundAt = Now.AddSeconds(-59);
                break;
        }

        var refusal = PayScoreRefundLifecycle.CanRefund(order, amount, Now);
        Assert.NotNull(refusal);
        Assert.Equal(status, refusal.Status);
        Assert.Contains(reason, refusal.Detail, StringComparison.Ordinal);
        if (setup == "spacing")
        {
            Assert.Equal(TimeSpan.FromSeconds(1), refusal.RetryAfter);
        }
    }

    [Fact]
    public void Exactly_the_rest_a_minute_later_within_the_year_is_allowed()
    {
        var order = Paid(paidTime: Now - TimeSpan.FromDays(365));
        order.RefundedAmount = 300;
        order.RefundingAmount = 100;
        order.RefundCount = 49;
        order.LastRefundAt = Now.AddSeconds(-60);
        Assert.Null(PayScoreRefundLifecycle.CanRefund(order, 100, Now));
    }

    [Fact]
    public void Accepting_reserves_the_amount_and_success_or_failure_releases_it()
    {
        var order = Paid();
        var refund = PayScoreRefundLifecycle.Accept(order, "R1", 200, "test", "fp", Now);
        Assert.Equal((200L, 0L, 1, Now), (order.RefundingAmount, order.RefundedAmount, order.RefundCount, order.LastRefundAt!.Value));
        Assert.Equal((RefundStatuses.Pending, RefundStages.New, 500L, "4200000001"), (refund.Status, refund.Stage, refund.Total, refund.TransactionId));
        Assert.Equal(new CreateRefundRequest("R1", "4200000001", 200, 500, "test"), PayScoreRefundLifecycle.CreateRequest(refund));

        var succeeded = PayScoreRefundLifecycle.Apply(order, refund, RefundStates.Success, "5030001", "2026-11-25T10:01:30+08:00", Now);
        Assert.Equal(("succeeded", true), (succeeded.Outcome, succeeded.Changed));
        Assert.Equal((0L, 200L), (order.RefundingAmount, order.RefundedAmount));
        Assert.Equal((RefundStatuses.Succeeded, "5030001", new DateTimeOffset(2026, 11, 25, 2, 1, 30, TimeSpan.Zero)), (refund.Status, refund.RefundId, refund.CompletedAt!.Value));

        var other = PayScoreRefundLifecycle.Accept(order, "R2", 100, null, "fp2", Now);
        var refused = PayScoreRefundLifecycle.Refuse(order, other, "NOT_ENOUGH", "基本账户余额不足", Now);
        Assert.True(refused.Changed);
        Assert.Equal((RefundStatuses.Failed, "NOT_ENOUGH: 基本账户余额不足", "NOT_ENOUGH"), (other.Status, other.FailureReason, other.WeChatStatus));
        Assert.Equal((0L, 200L, 2), (order.RefundingAmount, order.RefundedAmount, order.RefundCount));
    }

    [Theory]
    [InlineData("CLOSED")]
    [InlineData("CLOSE")]
    public void Closed_fails_the_refund_and_releases_its_amount(string status)
    {
        var order = Paid();
        var refund = PayScoreRefundLifecycle.Accept(order, "R1", 200, null, "fp", Now);
        var decision = PayScoreRefundLifecycle.Apply(order, refund, status, null, null, Now);
        Assert.Equal(("closed", true, false), (decision.Outcome, decision.Changed, decision.Alert));
        Assert.Equal((RefundStatuses.Failed, RefundStates.Closed), (refund.Status, refund.WeChatStatus));
        Assert.Equal(0, order.RefundingAmount);
    }

    [Fact]
    public void A_final_refund_never_moves_and_a_contradiction_alerts()
    {
        var order = Paid();
        var refund = PayScoreRefundLifecycle.Accept(order, "R1", 200, null, "fp", Now);
        PayScoreRefundLifecycle.Apply(order, refund, RefundStates.Closed, null, null, Now);

        var late = PayScoreRefundLifecycle.Apply(order, refund, RefundStates.Success, null, null, Now);
        Assert.False(late.Changed);
        Assert.True(late.Alert);
        Assert.Equal(RefundStatuses.Failed, refund.Status);
        Assert.Equal((0L, 0L), (order.RefundingAmount, order.RefundedAmount));

        var again = PayScoreRefundLifecycle.Apply(order, refund, RefundStates.Closed, null, null, Now);
        Assert.Equal(("unchanged", false, false), (again.Outcome, again.Changed, again.Alert));
        Assert.False(PayScoreRefundLifecycle.Refuse(order, refund, "NOT_ENOUGH", null, Now).Changed);
    }

    [Fact]
    public void Abnormal_stays_pending_and_alerts_once()
    {
        var order = Paid();
        var refund = PayScoreRefundLifecycle.Accept(order, "R1", 200, null, "fp", Now);
        var first = PayScoreRefundLifecycle.Apply(order, refund, RefundStates.Abnormal, "5030001", null, Now);
        Assert.Equal((true, true), (first.Changed, first.Alert));
        Assert.Equal((RefundStatuses.Pending, RefundStates.Abnormal, RefundStages.Sent), (refund.Status, refund.WeChatStatus, refund.Stage));
        Assert.Equal(200, order.RefundingAmount);

        var second = PayScoreRefundLifecycle.Apply(order, refund, RefundStates.Abnormal, "5030001", null, Now);
        Assert.Equal((false, false), (second.Changed, second.Alert));

        var later = PayScoreRefundLifecycle.Apply(order, refund, RefundStates.Success, "5030001", null, Now);
        Assert.Equal(RefundStatuses.Succeeded, refund.Status);
        Assert.True(later.Changed);
    }

    [Theory]
    [InlineData(RefundStages.New, 0, 0, 0, RefundStep.Send)]
    [InlineData(RefundStages.New, 1, 1, 0, RefundStep.Send)]
    [InlineData(RefundStages.Sending, 0, 0, 5, RefundStep.Wait)]
    [InlineData(RefundStages.Sending, 0, 0, 20, RefundStep.QueryFirst)]
    [InlineData(RefundStages.Sending, 2, 2, 60, RefundStep.QueryFirst)]
    [InlineData(RefundStages.Sent, 0, 1, 60, RefundStep.Nothing)]
    [InlineData(RefundStages.Sent, 1, 1, 60, RefundStep.Query)]
    [InlineData(RefundStages.Sent, 1, 2, 60, RefundStep.Nothing)]
    [InlineData(RefundStages.Sent, 3, 2, 60, RefundStep.Query)]
    public void A_queued_round_sends_queries_waits_or_does_nothing(string stage, int round, int rounds, int claimAgeSeconds, RefundStep expected)
    {
        var refund = new PayScoreRefundEntity { Stage = stage, Rounds = rounds, SendStartedAt = Now.AddSeconds(-claimAgeSeconds) };
        Assert.Equal(expected, PayScoreRefundLifecycle.Step(refund, round, Now, TimeSpan.FromSeconds(20), out var wait));
        Assert.Equal(expected == RefundStep.Wait ? TimeSpan.FromSeconds(15) : TimeSpan.Zero, wait);
    }

    [Fact]
    public void A_send_keeps_a_minute_after_another_refund_of_the_order_was_sent()
    {
        var order = Paid();
        var first = PayScoreRefundLifecycle.Accept(order, "R1", 100, null, "fp1", Now);
        var second = PayScoreRefundLifecycle.Accept(order, "R2", 100, null, "fp2", Now);
        Assert.Null(PayScoreRefundLifecycle.SpacingWait(order, first, Now));
        PayScoreRefundLifecycle.Claim(order, first, Now);
        Assert.Equal((RefundStages.Sending, Now, Now, "R1"), (first.Stage, first.SendStartedAt!.Value, order.LastRefundSentAt!.Value, order.LastRefundSentNo));

        Assert.Null(PayScoreRefundLifecycle.SpacingWait(order, first, Now.AddSeconds(5))); // its own resend
        Assert.Equal(TimeSpan.FromSeconds(20), PayScoreRefundLifecycle.SpacingWait(order, second, Now.AddSeconds(40)));
        Assert.Null(PayScoreRefundLifecycle.SpacingWait(order, second, Now.AddSeconds(60)));
    }

    [Theory]
    [InlineData(RefundStatuses.Succeeded)]
    [InlineData(RefundStatuses.Failed)]
    public void A_final_refund_needs_no_round(string status)
    {
        var refund = new PayScoreRefundEntity { Status = status, Stage = RefundStages.New };
        Assert.Equal(RefundStep.Nothing, PayScoreRefundLifecycle.Step(refund, 0, Now, TimeSpan.FromSeconds(20), out _));
    }

    [Fact]
    public void Rounds_double_and_stop_at_the_maximum()
    {
        var refund = new PayScoreRefundEntity();
        var backoff = TimeSpan.FromSeconds(30);
        Assert.Equal((1, TimeSpan.FromSeconds(30)), PayScoreRefundLifecycle.NextRound(refund, 0, 3, backoff));
        refund.Rounds = 2;
        Assert.Equal((3, TimeSpan.FromSeconds(120)), PayScoreRefundLifecycle.NextRound(refund, 2, 3, backoff));
        Assert.Null(PayScoreRefundLifecycle.NextRound(refund, 3, 3, backoff));
        Assert.Equal(PayScoreRefundLifecycle.MaxRoundDelay, PayScoreRefundLifecycle.NextRound(new PayScoreRefundEntity(), 19, 20, backoff)!.Value.Delay);
    }

    [Fact]
    public void An_answer_for_another_transaction_or_amount_is_a_mismatch()
    {
        var refund = new PayScoreRefundEntity { OutRefundNo = "R1", TransactionId = "4200000001", Amount = 200 };
        Assert.Null(PayScoreRefundLifecycle.Mismatch(refund, "R1", "4200000001", 200));
        Assert.Null(PayScoreRefundLifecycle.Mismatch(refund, "R1", null, null));
        Assert.Contains("transaction_id", PayScoreRefundLifecycle.Mismatch(refund, "R1", "4200000002", 200), StringComparison.Ordinal);
        Assert.Contains("amount.refund", PayScoreRefundLifecycle.Mismatch(refund, "R1", "4200000001", 201), StringComparison.Ordinal);
        Assert.Contains("out_refund_no", PayScoreRefundLifecycle.Mismatch(refund, "R2", "4200000001", 200), StringComparison.Ordinal);
    }

    [Fact]
    public void A_callback_must_name_this_merchant_in_either_mode()
    {
        var direct = new WeChatPayOptions { Mode = "Direct", MchId = "1900000001" };
        var partner = new WeChatPayOptions { Mode = "Partner", MchId = "1900000100", SubMchId = "1900000109" };
        Assert.Null(PayScoreRefundLifecycle.MerchantMismatch(new WeChatRefundNotice { MchId = "1900000001" }, direct));
        Assert.NotNull(PayScoreRefundLifecycle.MerchantMismatch(new WeChatRefundNotice { MchId = "1900000002" }, direct));
        Assert.Null(PayScoreRefundLifecycle.MerchantMismatch(new WeChatRefundNotice { SpMchId = "1900000100", SubMchId = "1900000109" }, partner));
        Assert.NotNull(PayScoreRefundLifecycle.MerchantMismatch(new WeChatRefundNotice { SpMchId = "1900000100", SubMchId = "1900000110" }, partner));
        Assert.NotNull(PayScoreRefundLifecycle.MerchantMismatch(new WeChatRefundNotice { MchId = "1900000100", SubMchId = "1900000109" }, partner));
    }

    [Fact]
    public void The_fingerprint_covers_order_amount_and_reason()
    {
        var fp = PayScoreRefundLifecycle.Fingerprint("PS1", 100, "a");
        Assert.Equal(fp, PayScoreRefundLifecycle.Fingerprint("PS1", 100, "a"));
        Assert.NotEqual(fp, PayScoreRefundLifecycle.Fingerprint("PS2", 100, "a"));
        Assert.NotEqual(fp, PayScoreRefundLifecycle.Fingerprint("PS1", 101, "a"));
        Assert.NotEqual(fp, PayScoreRefundLifecycle.Fingerprint("PS1", 100, null));
    }

    [Theory]
    [InlineData("R1", true)]
    [InlineData("abc_DEF-123", true)]
    [InlineData("", false)]
    [InlineData("R|1", false)]
    [InlineData("R*1", false)]
    [InlineData("R 1", false)]
    [InlineData("退款1", false)]
    public void Refund_numbers_are_the_safe_subset(string value, bool valid)
    {
        Assert.Equal(valid, PayScoreRefundRules.IsValidOutRefundNo(value));
        Assert.True(PayScoreRefundRules.IsValidOutRefundNo(new string('a', 64)));
        Assert.False(PayScoreRefundRules.IsValidOutRefundNo(new string('a', 65)));
    }

    [Fact]
    public void A_reason_is_at_most_80_UTF8_bytes()
    {
        Assert.Null(PayScoreRefundRules.Reason(null));
        Assert.Null(PayScoreRefundRules.Reason(new string('退', 26) + "ab")); // 80 bytes
        Assert.Equal(80, Encoding.UTF8.GetByteCount(new string('退', 26) + "ab"));
        Assert.Contains("80 UTF-8 bytes", PayScoreRefundRules.Reason(new string('退', 27)), StringComparison.Ordinal); // 81 bytes, 27 characters
        Assert.NotNull(PayScoreRefundRules.Reason(""));
        Assert.NotNull(PayScoreRefundRules.Reason("退款😀"));
    }
}
