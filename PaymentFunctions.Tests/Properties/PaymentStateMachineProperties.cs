using CsCheck;
using PaymentFunctions.Orders;
using PaymentFunctions.Pyun;

namespace PaymentFunctions.Tests.Properties;

/// <summary>
/// P云 facts arrive in any order and any number of times (retries, the trade query, the queue's redelivery):
/// the order must end in the same state whatever the order, since nothing tells us which came first.
/// </summary>
public sealed class PaymentStateMachineProperties
{
    private static Gen<(PyunScenario Scenario, PyunFact[] First, PyunFact[] Second)> Orderings(Gen<PyunScenario> scenarios) =>
        from s in scenarios
        from repeats in Gen.Int[0, s.Facts.Length - 1].Array[0, 2 * s.Facts.Length]
        let all = s.Facts.Concat(repeats.Select(i => s.Facts[i])).ToArray()
        from first in Gen.Shuffle(all.ToArray())
        from second in Gen.Shuffle(all.ToArray())
        select (s, first, second);

    private static string Print((PyunScenario Scenario, PyunFact[] First, PyunFact[] Second) t) =>
        $"{t.Scenario}\n  in order {string.Join("; ", t.First)}\n    ends {PyunOrderModel.Run(t.Scenario, t.First)}" +
        $"\n  in order {string.Join("; ", t.Second)}\n    ends {PyunOrderModel.Run(t.Scenario, t.Second)}";

    private static bool IsCorrectPayment(PyunScenario s, PyunFact f) => f.Status == PyunTradeResult.Success && f.Value == s.Amount;

    private static void AssertSameEnd((PyunScenario Scenario, PyunFact[] First, PyunFact[] Second) t)
    {
        var once = PyunOrderModel.Run(t.Scenario, t.Scenario.Facts);
        Assert.Equal(once, PyunOrderModel.Run(t.Scenario, t.First));
        Assert.Equal(once, PyunOrderModel.Run(t.Scenario, t.Second));
    }

    /// <summary>
    /// Every field of the order and its attempts, for all orders where at most one payment had the right
    /// amount (any number of wrong amounts, failures, "paying", late or early, on 1-3 attempts).
    /// </summary>
    [Fact]
    public void Any_order_and_multiplicity_ends_in_the_same_state_when_at_most_one_payment_was_right() =>
        Orderings(PyunOrderModel.Scenarios.Where(s => s.Facts.Count(f => IsCorrectPayment(s, f)) <= 1))
            .Sample(AssertSameEnd, iter: 3000, print: Print);

    /// <summary>The same, for any set of facts: two right-amount payments on different attempts included.</summary>
    [Fact]
    public void Any_order_and_multiplicity_ends_in_the_same_state() =>
        Orderings(PyunOrderModel.Scenarios).Sample(AssertSameEnd, iter: 3000, print: Print);

    /// <summary>
    /// What must hold whatever the order, two right payments included: the refund flag and the attempts' states
    /// are the same, no payment is lost (each is the order's payment or flagged for refund), and Paid means a
    /// right payment in time that is not flagged.
    /// </summary>
    [Fact]
    public void No_payment_is_ever_lost_whatever_the_order() =>
        Orderings(PyunOrderModel.Scenarios).Sample(t =>
        {
            var (s, first, second) = t;
            var a = PyunOrderModel.Run(s, first);
            var b = PyunOrderModel.Run(s, second);
            Assert.Equal(a.RefundRequired, b.RefundRequired);
            Assert.Equal(a.Attempts.Replace(" refund", "", StringComparison.Ordinal), b.Attempts.Replace(" refund", "", StringComparison.Ordinal));

            foreach (var end in new[] { a, b })
            {
                var payments = s.Facts.Where(f => f.Status == PyunTradeResult.Success).ToArray();
                Assert.Equal(payments.Length > 0, end.Status is OrderStatus.Paid or OrderStatus.PaidAfterClose or OrderStatus.AmountMismatch);
                foreach (var payment in payments)
                {
                    var payOrder = PayOrderNumber.Format(PyunOrderModel.OrderId, payment.Attempt);
                    var kept = end.Status == OrderStatus.Paid && end.PaidPayOrder == payOrder;
                    var refunded = end.Attempts.Contains($"#{payment.Attempt} {AttemptStates.Paid} refund", StringComparison.Ordinal);
                    Assert.True(kept != refunded, $"payment of #{payment.Attempt} is {(kept ? "kept and refunded" : "neither kept nor refunded")}");
                }

                if (end.Status == OrderStatus.Paid)
                {
                    Assert.Equal(s.Amount, end.PaidAmount);
                    Assert.True(end.PaidAt <= s.ExpiresAt);
                }

                // Money goes back unless exactly one payment was made, for the right amount, in time.
                Assert.Equal(payments.Length > 1 || payments.Any(p => !IsCorrectPayment(s, p) || (p.TradeTime ?? PyunOrderModel.Now) > s.ExpiresAt),
                    end.RefundRequired);
            }
        }, iter: 3000, print: Print);

    /// <summary>The shrunk counterexample that was fixed: a late payment heard of first used to get the in-time one refunded.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_payment_in_time_makes_the_order_Paid_even_when_a_late_payment_of_another_attempt_is_processed_first(bool lateFirst)
    {
        var late = new PyunFact(1, PyunTradeResult.Success, PyunOrderModel.Amount, PyunOrderModel.Now.AddMinutes(31));
        var inTime = new PyunFact(2, PyunTradeResult.Success, PyunOrderModel.Amount, PyunOrderModel.Now.AddMinutes(-1));
        var scenario = new PyunScenario(PyunOrderModel.Amount, PyunOrderModel.Now.AddMinutes(30), OrderStatus.Pending,
            [AttemptStates.Prepared, AttemptStates.Prepared], [late, inTime]);

        var end = PyunOrderModel.Run(scenario, lateFirst ? [late, inTime] : [inTime, late]);

        Assert.Equal(OrderStatus.Paid, end.Status);
        Assert.Equal(PayOrderNumber.Format(PyunOrderModel.OrderId, 2), end.PaidPayOrder);
        Assert.Equal("#1 Paid refund, #2 Paid", end.Attempts);
    }

    /// <summary>The shrunk counterexample that was fixed: the first right payment heard of used to be kept, whatever its time.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Of_two_right_payments_in_time_the_earlier_is_kept_whichever_is_processed_first(bool laterFirst)
    {
        var earlier = new PyunFact(1, PyunTradeResult.Success, PyunOrderModel.Amount, PyunOrderModel.Now.AddMinutes(-2));
        var later = new PyunFact(2, PyunTradeResult.Success, PyunOrderModel.Amount, PyunOrderModel.Now.AddMinutes(-1));
        var scenario = new PyunScenario(PyunOrderModel.Amount, PyunOrderModel.Now.AddMinutes(30), OrderStatus.Pending,
            [AttemptStates.Prepared, AttemptStates.Prepared], [earlier, later]);

        var end = PyunOrderModel.Run(scenario, laterFirst ? [later, earlier] : [earlier, later]);

        Assert.Equal(OrderStatus.Paid, end.Status);
        Assert.Equal(PayOrderNumber.Format(PyunOrderModel.OrderId, 1), end.PaidPayOrder);
        Assert.Equal("#1 Paid, #2 Paid refund", end.Attempts);
    }

    /// <summary>The shrunk counterexample that was fixed: two wrong amounts used to leave the last one processed on the order row.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Of_two_wrong_payments_the_order_shows_the_earlier_whichever_is_processed_first(bool laterFirst)
    {
        var earlier = new PyunFact(1, PyunTradeResult.Success, 1001, PyunOrderModel.Now.AddMinutes(-20));
        var later = new PyunFact(2, PyunTradeResult.Success, 999, PyunOrderModel.Now.AddMinutes(-19));
        var scenario = new PyunScenario(PyunOrderModel.Amount, PyunOrderModel.Now.AddMinutes(30), OrderStatus.Pending,
            [AttemptStates.Prepared, AttemptStates.Prepared], [earlier, later]);

        var end = PyunOrderModel.Run(scenario, laterFirst ? [later, earlier] : [earlier, later]);

        Assert.Equal(OrderStatus.AmountMismatch, end.Status);
        Assert.Equal(1001, end.PaidAmount);
        Assert.Equal(PayOrderNumber.Format(PyunOrderModel.OrderId, 1), end.PaidPayOrder);
        Assert.Equal("#1 Paid refund, #2 Paid refund", end.Attempts);
    }

    [Fact]
    public void A_fact_applied_twice_in_a_row_changes_nothing_the_second_time() =>
        Gen.Select(PyunOrderModel.Scenarios, Gen.Int.Positive).Sample((s, pick) =>
        {
            var facts = s.Facts;
            var prefix = facts.Take(pick % facts.Length + 1).ToArray();
            Assert.Equal(PyunOrderModel.Run(s, prefix), PyunOrderModel.Run(s, [.. prefix, prefix[^1]]));
        }, iter: 2000);
}
