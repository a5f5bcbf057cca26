using PaymentFunctions.Orders;
using PaymentFunctions.Pyun;

namespace PaymentFunctions.Tests.Orders;

/// <summary>The refund rules, pure: what may be refunded, the amounts, what P云's answers do, automatic refunds, rounds.</summary>
public sealed class RefundLifecycleTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 25, 2, 0, 0, TimeSpan.Zero);
    private const string OrderId = "abcdefghijklmnopqrstuvwx";

    private static (OrderEntity Order, AttemptEntity Attempt) Paid(long paid = 1000, OrderStatus status = OrderStatus.Paid)
    {
        var payOrder = PayOrderNumber.Format(OrderId, 1);
        return (new OrderEntity
            {
                PartitionKey = OrderId, Amount = 1000, StatusValue = status, ExpiresAt = Now.AddHours(1), AttemptCount = 1,
                PaidAmount = paid, PaidPayOrder = payOrder, PaySerial = "S1", PaidAt = Now,
            },
            new AttemptEntity { PartitionKey = OrderId, RowKey = OrderRows.Attempt(1), Number = 1, PayOrder = payOrder, State = AttemptStates.Paid, PaidAmount = paid, PaySerial = "S1" });
    }

    private static RefundEntity Refund(string stage = RefundStages.New, long amount = 400) =>
        new() { PartitionKey = OrderId, RefundNo = "r1", Amount = amount, PaySerial = "S1", PyunOrder = OrderId + "-r1", Stage = stage };

    [Theory]
    [InlineData(OrderStatus.Created)]
    [InlineData(OrderStatus.Pending)]
    [InlineData(OrderStatus.Failed)]
    public void An_order_that_took_no_money_cannot_be_refunded(OrderStatus status)
    {
        var order = new OrderEntity { PartitionKey = OrderId, StatusValue = status };

        Assert.False(RefundLifecycle.TookMoney(order));
        Assert.Contains("took no money", RefundLifecycle.RefuseManual(order, null, 1), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(OrderStatus.Paid)]
    [InlineData(OrderStatus.AmountMismatch)]
    [InlineData(OrderStatus.PaidAfterClose)]
    public void An_order_that_took_money_can_be_refunded_up_to_what_is_left(OrderStatus status)
    {
        var (order, attempt) = Paid(status: status);
        attempt.RefundedAmount = 300;
        attempt.RefundingAmount = 200;

        Assert.Null(RefundLifecycle.RefuseManual(order, attempt, 500));
        Assert.Contains("500 fen", RefundLifecycle.RefuseManual(order, attempt, 501), StringComparison.Ordinal);
    }

    [Fact]
    public void Begin_reserves_the_amount_on_order_and_attempt_and_numbers_the_refund_at_Pyun()
    {
        var (order, attempt) = Paid();

        var first = RefundLifecycle.Begin(order, attempt, "a", 300, "why", RefundOrigins.Manual, Now);
        var second = RefundLifecycle.Begin(order, attempt, "b", 700, null, RefundOrigins.Manual, Now);

        Assert.Equal(1000, order.RefundingAmount);
        Assert.Equal(1000, attempt.RefundingAmount);
        Assert.Equal(0, RefundLifecycle.Remaining(attempt));
        Assert.Equal(RefundLifecycle.Row("a"), first.RowKey);
        Assert.Equal(OrderId + "-r1", first.PyunOrder);
        Assert.Equal(OrderId + "-r2", second.PyunOrder);
        Assert.Equal("S1", second.PaySerial);
        Assert.Equal(RefundStatus.Pending, second.StatusValue);
        Assert.Equal(RefundStages.New, second.Stage);
        Assert.True(RefundLifecycle.PyunOrder(OrderId, 999).Length <= 32);
        Assert.Throws<InvalidOperationException>(() => RefundLifecycle.Begin(order, attempt, "c", 1, null, RefundOrigins.Manual, Now));
    }

    [Fact]
    public void Success_moves_the_amount_to_refunded_failure_releases_it_and_a_final_refund_never_moves_again()
    {
        var (order, attempt) = Paid();
        var ok = RefundLifecycle.Begin(order, attempt, "a", 300, null, RefundOrigins.Manual, Now);
        var ko = RefundLifecycle.Begin(order, attempt, "b", 200, null, RefundOrigins.Manual, Now);

        Assert.True(RefundLifecycle.Complete(order, attempt, ok, RefundStatus.Succeeded, null, "RS1", Now));
        Assert.True(RefundLifecycle.Complete(order, attempt, ko, RefundStatus.Failed, "P云 1003: 余额不足", null, Now));

        Assert.Equal((300, 0), (order.RefundedAmount, order.RefundingAmount));
        Assert.Equal((300, 0), (attempt.RefundedAmount, attempt.RefundingAmount));
        Assert.Equal("RS1", ok.RefundSerial);
        Assert.Equal(Now, ok.CompletedAt);
        Assert.Equal("P云 1003: 余额不足", ko.FailureReason);
        Assert.Equal(700, RefundLifecycle.Remaining(attempt));

        // Forward only: neither a late success of the failed one nor a late failure of the succeeded one changes anything.
        Assert.False(RefundLifecycle.Complete(order, attempt, ko, RefundStatus.Succeeded, null, "RS2", Now));
        Assert.False(RefundLifecycle.Complete(order, attempt, ok, RefundStatus.Failed, "late", null, Now));
        Assert.Equal((300, 0), (order.RefundedAmount, order.RefundingAmount));
        Assert.Equal(RefundStatus.Failed, ko.StatusValue);
        Assert.Equal(RefundStatus.Succeeded, ok.StatusValue);
    }

    public static TheoryData<string, PyunRefundAnswerKind, PyunRefundProcess?, bool, RefundStep> Answers => new()
    {
        { RefundStages.Sending, PyunRefundAnswerKind.Accepted, null, true, RefundStep.Sent },
        { RefundStages.Sending, PyunRefundAnswerKind.Refused, null, true, RefundStep.Failed },
        { RefundStages.Sending, PyunRefundAnswerKind.Refused, null, false, RefundStep.Failed },
        // A query refusal after P云 took the create says nothing of the money.
        { RefundStages.Sent, PyunRefundAnswerKind.Refused, null, false, RefundStep.Retry },
        { RefundStages.Sending, PyunRefundAnswerKind.NotFound, null, false, RefundStep.Resend },
        // Never sent again once P云 accepted it.
        { RefundStages.Sent, PyunRefundAnswerKind.NotFound, null, false, RefundStep.Retry },
        { RefundStages.Sending, PyunRefundAnswerKind.Found, PyunRefundProcess.Refunding, false, RefundStep.Sent },
        { RefundStages.Sent, PyunRefundAnswerKind.Found, PyunRefundProcess.Succeeded, false, RefundStep.Succeeded },
        { RefundStages.Sent, PyunRefundAnswerKind.Found, PyunRefundProcess.Failed, false, RefundStep.Failed },
    };

    [Theory]
    [MemberData(nameof(Answers))]
    public void Each_Pyun_answer_moves_the_refund_as_designed(string stage, PyunRefundAnswerKind kind, PyunRefundProcess? process, bool toCreate, RefundStep expected)
    {
        var answer = new PyunRefundAnswer(kind, kind == PyunRefundAnswerKind.Refused ? "1003" : "1001", null, process, PaySerial: "S1", Value: 400);

        Assert.Equal(expected, RefundLifecycle.Next(Refund(stage), answer, toCreate));
    }

    [Theory]
    [InlineData("S2", 400L)]
    [InlineData("S1", 399L)]
    public void An_answer_about_another_payment_or_amount_is_foreign_and_never_applied(string paySerial, long value)
    {
        var answer = new PyunRefundAnswer(PyunRefundAnswerKind.Found, "1001", null, PyunRefundProcess.Succeeded, PaySerial: paySerial, Value: value);

        Assert.Equal(RefundStep.Foreign, RefundLifecycle.Next(Refund(RefundStages.Sent), answer, toCreate: false));
    }

    [Fact]
    public void The_failure_reason_carries_Pyuns_code_and_message()
    {
        Assert.Equal("P云 1405: [INVALID_REQUEST]订单已全额退款",
            RefundLifecycle.FailureReason(new PyunRefundAnswer(PyunRefundAnswerKind.Refused, "1405", "[INVALID_REQUEST]订单已全额退款")));
        Assert.Equal("P云 1003: the refund failed", RefundLifecycle.FailureReason(new PyunRefundAnswer(PyunRefundAnswerKind.Refused, "1003", null)));
    }

    [Fact]
    public void Only_the_round_the_refund_expects_is_claimed_and_a_first_claim_marks_it_Sending()
    {
        var refund = Refund();

        Assert.False(RefundLifecycle.QueryFirst(refund));
        Assert.False(RefundLifecycle.TryClaimRound(refund, 1, Now)); // not yet
        Assert.True(RefundLifecycle.TryClaimRound(refund, 0, Now));
        Assert.Equal((1, RefundStages.Sending, (DateTimeOffset?)Now), (refund.Rounds, refund.Stage, refund.SendStartedAt));
        Assert.True(RefundLifecycle.QueryFirst(refund));
        Assert.False(RefundLifecycle.TryClaimRound(refund, 0, Now)); // the safety net, or a redelivery: stale

        refund.StatusValue = RefundStatus.Succeeded;
        Assert.False(RefundLifecycle.TryClaimRound(refund, 1, Now)); // final
    }

    [Fact]
    public void Rounds_back_off_doubling_never_sooner_than_a_send_can_last_and_stop_after_the_last()
    {
        var backoff = TimeSpan.FromSeconds(30);
        var minimum = TimeSpan.FromSeconds(12);

        Assert.Equal(TimeSpan.FromSeconds(30), RefundLifecycle.NextRoundDelay(1, 3, backoff, minimum));
        Assert.Equal(TimeSpan.FromSeconds(60), RefundLifecycle.NextRoundDelay(2, 3, backoff, minimum));
        Assert.Equal(TimeSpan.FromSeconds(120), RefundLifecycle.NextRoundDelay(3, 3, backoff, minimum));
        Assert.Null(RefundLifecycle.NextRoundDelay(4, 3, backoff, minimum));
        Assert.Equal(minimum, RefundLifecycle.NextRoundDelay(1, 3, TimeSpan.FromSeconds(1), minimum));
        Assert.Equal(OrderLifecycle.MaxCheckDelay, RefundLifecycle.NextRoundDelay(20, 20, TimeSpan.FromDays(1), minimum));
    }

    [Fact]
    public void The_fingerprint_tells_requests_apart_by_amount_and_reason()
    {
        Assert.Equal(RefundLifecycle.Fingerprint(100, "a"), RefundLifecycle.Fingerprint(100, "a"));
        Assert.NotEqual(RefundLifecycle.Fingerprint(100, "a"), RefundLifecycle.Fingerprint(101, "a"));
        Assert.NotEqual(RefundLifecycle.Fingerprint(100, "a"), RefundLifecycle.Fingerprint(100, null));
        Assert.NotEqual(RefundLifecycle.Fingerprint(100, ""), RefundLifecycle.Fingerprint(100, null));
    }

    private static PyunTradeResult Success(int attempt, long value, DateTimeOffset? tradeTime = null, string serial = "S") =>
        new(PayOrderNumber.Format(OrderId, attempt), PyunTradeResult.Success, value, $"{serial}{attempt}", "200201", "4200001", tradeTime ?? Now, 6, null);

    private static AttemptEntity Unpaid(int number) =>
        new() { PartitionKey = OrderId, RowKey = OrderRows.Attempt(number), Number = number, PayOrder = PayOrderNumber.Format(OrderId, number), State = AttemptStates.Prepared };

    [Fact]
    public void A_wrong_amount_is_refunded_in_full_under_its_attempts_number()
    {
        var order = new OrderEntity { PartitionKey = OrderId, Amount = 1000, StatusValue = OrderStatus.Pending, ExpiresAt = Now.AddHours(1), AttemptCount = 2 };
        var attempt = Unpaid(2);
        var transition = OrderLifecycle.Apply(order, attempt, Success(2, 1001), Now);

        var refund = Assert.Single(RefundLifecycle.AutomaticRefunds(transition, attempt, null));

        Assert.Equal(new AutomaticRefund(2, attempt.PayOrder, "S2", 1001, "paid 1001 fen for an order of 1000 fen"), refund);
        Assert.Equal("auto-2", refund.RefundNo);
    }

    [Fact]
    public void A_payment_after_close_and_a_second_payment_are_refunded_in_full()
    {
        var closed = new OrderEntity { PartitionKey = OrderId, Amount = 1000, StatusValue = OrderStatus.Pending, ExpiresAt = Now.AddMinutes(-1), AttemptCount = 1 };
        var late = Unpaid(1);
        var afterClose = RefundLifecycle.AutomaticRefunds(OrderLifecycle.Apply(closed, late, Success(1, 1000), Now), late, null);
        Assert.Equal(1000, Assert.Single(afterClose).Amount);

        var (paid, _) = Paid();
        paid.AttemptCount = 2;
        var second = Unpaid(2);
        var extra = RefundLifecycle.AutomaticRefunds(OrderLifecycle.Apply(paid, second, Success(2, 1000, Now.AddSeconds(1)), Now), second, null);
        Assert.Equal(("auto-2", 1000L, "S2"), (Assert.Single(extra).RefundNo, extra[0].Amount, extra[0].PaySerial));
    }

    [Fact]
    public void A_displaced_payment_is_refunded_for_what_is_left_of_it_and_the_new_one_is_kept()
    {
        var (order, displaced) = Paid();
        order.AttemptCount = 2;
        displaced.RefundedAmount = 100; // a manual refund of the payment the order had
        var earlier = Unpaid(2);

        var transition = OrderLifecycle.Apply(order, earlier, Success(2, 1000, Now.AddMinutes(-1)), Now);
        var refund = Assert.Single(RefundLifecycle.AutomaticRefunds(transition, earlier, displaced));

        Assert.Equal(1, transition.DisplacedAttempt);
        Assert.Equal(new AutomaticRefund(1, displaced.PayOrder, "S1", 900, Transition.DisplacedReason), refund);
    }

    [Fact]
    public void A_right_payment_and_a_replayed_one_refund_nothing()
    {
        var order = new OrderEntity { PartitionKey = OrderId, Amount = 1000, StatusValue = OrderStatus.Pending, ExpiresAt = Now.AddHours(1), AttemptCount = 1 };
        var attempt = Unpaid(1);
        Assert.Empty(RefundLifecycle.AutomaticRefunds(OrderLifecycle.Apply(order, attempt, Success(1, 1000), Now), attempt, null));

        // The same payment again: the attempt is already paid, the result is ignored.
        Assert.Empty(RefundLifecycle.AutomaticRefunds(OrderLifecycle.Apply(order, attempt, Success(1, 1000), Now), attempt, null));

        var mismatch = new OrderEntity { PartitionKey = OrderId, Amount = 1000, StatusValue = OrderStatus.Pending, ExpiresAt = Now.AddHours(1), AttemptCount = 1 };
        var wrong = Unpaid(1);
        Assert.Single(RefundLifecycle.AutomaticRefunds(OrderLifecycle.Apply(mismatch, wrong, Success(1, 999), Now), wrong, null));
        Assert.Empty(RefundLifecycle.AutomaticRefunds(OrderLifecycle.Apply(mismatch, wrong, Success(1, 999), Now), wrong, null));
    }

    [Fact]
    public void A_refund_round_message_reads_back_what_was_queued()
    {
        var message = new PyunRefund(OrderId, "auto-2", 3);

        Assert.Equal(message, PyunRefund.FromPayload(message.ToPayload()));
        Assert.Equal("pyun.refund", PyunRefund.Kind);
    }

    [Theory]
    [InlineData("""{"orderId":"not-an-order","refundNo":"r1","round":0}""")]
    [InlineData("""{"orderId":"abcdefghijklmnopqrstuvwx","refundNo":"r&1","round":0}""")]
    [InlineData("""{"orderId":"abcdefghijklmnopqrstuvwx","refundNo":"r1","round":-1}""")]
    [InlineData("""{"orderId":"abcdefghijklmnopqrstuvwx","refundNo":"r1","round":21}""")]
    [InlineData("""{"orderId":"abcdefghijklmnopqrstuvwx","refundNo":"r1","round":"1"}""")]
    [InlineData("""{"orderId":"abcdefghijklmnopqrstuvwx","round":1}""")]
    public void A_malformed_refund_round_message_is_refused(string payload)
    {
        using var json = System.Text.Json.JsonDocument.Parse(payload);

        Assert.Throws<PaymentFunctions.Notifications.InvalidMessageException>(() => PyunRefund.FromPayload(json.RootElement));
    }
}
