using PaymentFunctions.Orders;
using PaymentFunctions.Pyun;

namespace PaymentFunctions.Tests.Orders;

/// <summary>The final-check rules: when it runs, what it asks, when an order is stored Expired, and what a later payment does.</summary>
public sealed class ExpiryRulesTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 25, 2, 0, 0, TimeSpan.Zero);
    private const string OrderId = "abcdefghijklmnopqrstuvwx";
    private static readonly TimeSpan Grace = TimeSpan.FromSeconds(30);

    private static OrderEntity Order(OrderStatus status, DateTimeOffset expiresAt, int attempts = 0, string? results = null) => new()
    {
        PartitionKey = OrderId,
        Amount = 1000,
        StatusValue = status,
        ExpiresAt = expiresAt,
        AttemptCount = attempts,
        AttemptResults = results,
    };

    [Theory]
    [InlineData(OrderStatus.Created)]
    [InlineData(OrderStatus.Pending)]
    [InlineData(OrderStatus.Failed)]
    public void An_unpaid_order_is_checked_its_grace_after_it_expires(OrderStatus status) =>
        Assert.Equal(TimeSpan.FromMinutes(10) + Grace, OrderLifecycle.ExpiryCheckWait(Order(status, Now.AddMinutes(10)), Now, Grace));

    [Fact]
    public void A_wait_longer_than_a_queue_message_can_hide_is_chained()
    {
        Assert.Equal(OrderLifecycle.MaxCheckDelay, OrderLifecycle.ExpiryCheckWait(Order(OrderStatus.Pending, Now.AddDays(7)), Now, Grace));
        // The chained check wakes a day early and waits again for what is left.
        Assert.Equal(TimeSpan.FromDays(1) + Grace, OrderLifecycle.ExpiryCheckWait(Order(OrderStatus.Pending, Now.AddDays(7)), Now + OrderLifecycle.MaxCheckDelay, Grace));
    }

    [Theory]
    [InlineData(OrderStatus.Paid)]
    [InlineData(OrderStatus.PaidAfterClose)]
    [InlineData(OrderStatus.AmountMismatch)]
    [InlineData(OrderStatus.Expired)]
    public void An_order_that_is_no_longer_unpaid_is_neither_waited_for_nor_expired(OrderStatus status)
    {
        var order = Order(status, Now.AddMinutes(-5));
        Assert.Null(OrderLifecycle.ExpiryCheckWait(order, Now, Grace));
        Assert.Null(OrderLifecycle.Expire(order, Now));
        Assert.Equal(status, order.StatusValue);
    }

    [Fact]
    public void A_due_check_waits_no_longer_and_an_early_one_expires_nothing()
    {
        Assert.Null(OrderLifecycle.ExpiryCheckWait(Order(OrderStatus.Pending, Now.AddMinutes(-1)), Now, Grace));
        var early = Order(OrderStatus.Pending, Now.AddSeconds(1));
        Assert.Null(OrderLifecycle.Expire(early, Now));
        Assert.Equal(OrderStatus.Pending, early.StatusValue);
    }

    [Theory]
    [InlineData(OrderStatus.Created)]
    [InlineData(OrderStatus.Pending)]
    [InlineData(OrderStatus.Failed)]
    public void An_unpaid_order_past_its_time_is_stored_expired(OrderStatus status)
    {
        var order = Order(status, Now.AddMinutes(-1));
        var transition = OrderLifecycle.Expire(order, Now);
        Assert.NotNull(transition);
        Assert.Equal((status, OrderStatus.Expired), (transition.From, transition.To));
        Assert.Equal(OrderStatus.Expired, order.StatusValue);
        Assert.Equal(Now, order.UpdatedAt);
    }

    [Fact]
    public void The_final_check_asks_about_the_newest_undecided_attempts_only()
    {
        // Attempt 2 was paid and attempt 4 failed: P云 decided them. 1, 3 and 5 are open; the limit keeps the newest two.
        var order = Order(OrderStatus.Pending, Now, attempts: 5, results: "-P-F-");
        Assert.Equal([5, 3], OrderLifecycle.UndecidedAttempts(order, 2));
        Assert.Equal([5, 3, 1], OrderLifecycle.UndecidedAttempts(order, 10));
        Assert.Empty(OrderLifecycle.UndecidedAttempts(Order(OrderStatus.Created, Now), 10));
    }

    [Theory]
    // Paid in time, heard of after the final check: the order was paid.
    [InlineData(-60, 1000, OrderStatus.Paid)]
    // Paid after the order closed: refunded, as before.
    [InlineData(60, 1000, OrderStatus.PaidAfterClose)]
    // The wrong amount, whenever: never Paid.
    [InlineData(-60, 999, OrderStatus.AmountMismatch)]
    public void A_payment_heard_of_after_the_order_was_stored_expired_counts_by_its_trade_time(int paidSecondsFromExpiry, long value, OrderStatus to)
    {
        var expiresAt = Now.AddMinutes(-10);
        var order = Order(OrderStatus.Expired, expiresAt, attempts: 1);
        var attempt = new AttemptEntity { PartitionKey = OrderId, Number = 1, PayOrder = PayOrderNumber.Format(OrderId, 1), State = AttemptStates.Prepared };
        var result = new PyunTradeResult(attempt.PayOrder, PyunTradeResult.Success, value, "5030001", "200201", "4200001", expiresAt.AddSeconds(paidSecondsFromExpiry), 6, null);

        var transition = OrderLifecycle.Apply(order, attempt, result, Now);

        Assert.Equal((OrderStatus.Expired, to), (transition.From, transition.To));
        Assert.Equal(to != OrderStatus.Paid, order.RefundRequired);
    }

    [Theory]
    [InlineData(PyunTradeResult.Paying)]
    [InlineData(PyunTradeResult.Failure)]
    public void Paying_or_failed_after_the_order_was_stored_expired_leaves_it_expired(int status)
    {
        var order = Order(OrderStatus.Expired, Now.AddMinutes(-10), attempts: 1);
        var attempt = new AttemptEntity { PartitionKey = OrderId, Number = 1, PayOrder = PayOrderNumber.Format(OrderId, 1), State = AttemptStates.Prepared };
        var result = new PyunTradeResult(attempt.PayOrder, status, 1000, null, null, null, null, null, null);

        Assert.Equal(OrderStatus.Expired, OrderLifecycle.Apply(order, attempt, result, Now).To);
        Assert.Equal(OrderStatus.Expired, order.StatusValue);
    }
}
