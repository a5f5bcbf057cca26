using PaymentFunctions.Orders;
using PaymentFunctions.Pyun;

namespace PaymentFunctions.Tests.Orders;

public sealed class PaymentStateMachineTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 25, 2, 0, 0, TimeSpan.Zero);
    private const string OrderId = "abcdefghijklmnopqrstuvwx";

    private static (OrderEntity Order, AttemptEntity Attempt) Rows(OrderStatus status, int attempt = 1, int attempts = 1, string attemptState = AttemptStates.Prepared) =>
        (new OrderEntity { PartitionKey = OrderId, Amount = 1000, StatusValue = status, ExpiresAt = Now.AddHours(1), AttemptCount = attempts },
         new AttemptEntity { PartitionKey = OrderId, Number = attempt, PayOrder = PayOrderNumber.Format(OrderId, attempt), State = attemptState });

    private static PyunTradeResult Result(int status, long value = 1000, int attempt = 1, DateTimeOffset? tradeTime = null) =>
        new(PayOrderNumber.Format(OrderId, attempt), status, value, status == 1 ? "5030001" : null, "200201", "4200001", tradeTime ?? Now, 6, null);

    [Theory]
    [InlineData(OrderStatus.Created, 1, OrderStatus.Paid)]
    [InlineData(OrderStatus.Pending, 1, OrderStatus.Paid)]
    [InlineData(OrderStatus.Failed, 1, OrderStatus.Paid)]
    [InlineData(OrderStatus.Created, 0, OrderStatus.Pending)]
    [InlineData(OrderStatus.Pending, 0, OrderStatus.Pending)]
    [InlineData(OrderStatus.Created, -1, OrderStatus.Failed)]
    [InlineData(OrderStatus.Pending, -1, OrderStatus.Failed)]
    [InlineData(OrderStatus.Failed, 0, OrderStatus.Failed)]
    [InlineData(OrderStatus.AmountMismatch, 0, OrderStatus.AmountMismatch)]
    [InlineData(OrderStatus.AmountMismatch, -1, OrderStatus.AmountMismatch)]
    public void Transitions_follow_the_design(OrderStatus from, int status, OrderStatus to)
    {
        var (order, attempt) = Rows(from);

        var transition = OrderLifecycle.Apply(order, attempt, Result(status), Now);

        Assert.Equal(to, transition.To);
        Assert.Equal(to, order.StatusValue);
    }

    [Fact]
    public void Paid_records_the_payment()
    {
        var (order, attempt) = Rows(OrderStatus.Pending);

        OrderLifecycle.Apply(order, attempt, Result(1), Now);

        Assert.Equal(1000, order.PaidAmount);
        Assert.Equal("5030001", order.PaySerial);
        Assert.Equal("4200001", order.TradeNo);
        Assert.Equal("200201", order.Channel);
        Assert.Equal(Now, order.PaidAt);
        Assert.False(order.RefundRequired);
        Assert.Equal(AttemptStates.Paid, attempt.State);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(1)]
    public void Nothing_said_after_a_payment_undoes_it(int status)
    {
        var (order, attempt) = Rows(OrderStatus.Pending);
        OrderLifecycle.Apply(order, attempt, Result(1), Now);

        var transition = OrderLifecycle.Apply(order, attempt, Result(status), Now);

        Assert.Equal(OrderStatus.Paid, order.StatusValue);
        Assert.Equal(OrderStatus.Paid, transition.To);
        Assert.False(transition.AttemptChanged);
        Assert.False(order.RefundRequired);
    }

    [Theory]
    [InlineData(OrderStatus.Created)]
    [InlineData(OrderStatus.Pending)]
    [InlineData(OrderStatus.Failed)]
    public void A_wrong_amount_is_never_paid(OrderStatus from)
    {
        var (order, attempt) = Rows(from);

        var transition = OrderLifecycle.Apply(order, attempt, Result(1, value: 999), Now);

        Assert.Equal(OrderStatus.AmountMismatch, transition.To);
        Assert.True(order.RefundRequired);
        Assert.True(attempt.RefundRequired);
        Assert.Equal(999, order.PaidAmount);
    }

    [Fact]
    public void A_payment_after_the_order_closed_is_flagged()
    {
        var (order, attempt) = Rows(OrderStatus.Pending);

        var transition = OrderLifecycle.Apply(order, attempt, Result(1, tradeTime: Now.AddHours(2)), Now.AddHours(2));

        Assert.Equal(OrderStatus.PaidAfterClose, transition.To);
        Assert.True(order.RefundRequired);
    }

    [Fact]
    public void A_second_attempt_paid_on_a_paid_order_stays_paid_and_is_flagged_for_refund()
    {
        var (order, first) = Rows(OrderStatus.Pending, attempt: 1, attempts: 2);
        OrderLifecycle.Apply(order, first, Result(1, attempt: 1), Now);
        var second = new AttemptEntity { PartitionKey = OrderId, Number = 2, PayOrder = PayOrderNumber.Format(OrderId, 2), State = AttemptStates.Prepared };

        var transition = OrderLifecycle.Apply(order, second, Result(1, attempt: 2) with { PaySerial = "5030002" }, Now);

        Assert.Equal(OrderStatus.Paid, transition.To);
        Assert.Equal("5030001", order.PaySerial); // the first payment stays the order's payment
        Assert.True(second.RefundRequired);
        Assert.True(order.RefundRequired);
    }

    [Fact]
    public void A_superseded_attempt_failing_does_not_fail_the_order()
    {
        var (order, old) = Rows(OrderStatus.Pending, attempt: 1, attempts: 2);

        var transition = OrderLifecycle.Apply(order, old, Result(-1, attempt: 1), Now);

        Assert.Equal(OrderStatus.Pending, transition.To);
        Assert.Equal(AttemptStates.Failed, old.State);
    }

    [Fact]
    public void A_correct_payment_after_a_mismatch_pays_and_keeps_the_refund_flag()
    {
        var (order, first) = Rows(OrderStatus.Pending, attempt: 1, attempts: 2);
        OrderLifecycle.Apply(order, first, Result(1, value: 1, attempt: 1), Now);
        var second = new AttemptEntity { PartitionKey = OrderId, Number = 2, PayOrder = PayOrderNumber.Format(OrderId, 2), State = AttemptStates.Prepared };

        var transition = OrderLifecycle.Apply(order, second, Result(1, attempt: 2), Now);

        Assert.Equal(OrderStatus.Paid, transition.To);
        Assert.True(order.RefundRequired);
        Assert.False(second.RefundRequired);
    }
}
