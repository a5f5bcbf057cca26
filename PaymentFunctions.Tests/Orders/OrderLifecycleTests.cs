using System.Globalization;
using PaymentFunctions.Orders;

namespace PaymentFunctions.Tests.Orders;

/// <summary>
/// The order rules outside the P云 results (those are in PaymentStateMachineTests): expiry, whether and how an
/// order is prepared, prepare's move to Pending, and when a status poll asks P云. Each row is one case.
/// </summary>
public sealed class OrderLifecycleTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 25, 2, 0, 0, TimeSpan.Zero);
    private const string OrderId = "abcdefghijklmnopqrstuvwx";
    private static readonly TimeSpan PreparingTimeout = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan AttemptLifetime = TimeSpan.FromMinutes(5);

    private static OrderEntity Order(OrderStatus status, int attempts = 0, double minutesLeft = 60) => new()
    {
        PartitionKey = OrderId,
        Amount = 1000,
        StatusValue = status,
        AttemptCount = attempts,
        CreatedAt = Now.AddHours(-1),
        UpdatedAt = Now.AddHours(-1),
        ExpiresAt = Now.AddMinutes(minutesLeft),
    };

    [Theory]
    [InlineData(OrderStatus.Created, 1, OrderStatus.Created)]
    [InlineData(OrderStatus.Created, 0, OrderStatus.Expired)]
    [InlineData(OrderStatus.Created, -1, OrderStatus.Expired)]
    [InlineData(OrderStatus.Pending, 1, OrderStatus.Pending)]
    [InlineData(OrderStatus.Pending, -1, OrderStatus.Expired)]
    [InlineData(OrderStatus.Failed, 1, OrderStatus.Failed)]
    [InlineData(OrderStatus.Failed, -1, OrderStatus.Expired)]
    [InlineData(OrderStatus.Paid, -1, OrderStatus.Paid)]
    [InlineData(OrderStatus.AmountMismatch, -1, OrderStatus.AmountMismatch)]
    [InlineData(OrderStatus.PaidAfterClose, -1, OrderStatus.PaidAfterClose)]
    public void Only_an_unpaid_order_past_its_expiry_reads_as_expired(OrderStatus stored, double minutesLeft, OrderStatus effective)
    {
        var order = Order(stored, minutesLeft: minutesLeft);

        Assert.Equal(effective, OrderLifecycle.EffectiveStatus(order, Now));
        Assert.Equal(stored, order.StatusValue); // the row is never changed by reading it
    }

    [Theory]
    // Paid in any form: never again, expired or not.
    [InlineData(OrderStatus.Paid, 1, 60, "409 The order is Paid; it cannot be paid again.")]
    [InlineData(OrderStatus.Paid, 1, -60, "409 The order is Paid; it cannot be paid again.")]
    [InlineData(OrderStatus.PaidAfterClose, 1, -60, "409 The order is PaidAfterClose; it cannot be paid again.")]
    [InlineData(OrderStatus.AmountMismatch, 1, 60, "409 The order is AmountMismatch; it cannot be paid again.")]
    // Expired, or too close to expiry to be worth an attempt.
    [InlineData(OrderStatus.Created, 0, 0, "410 The order has expired; create a new one.")]
    [InlineData(OrderStatus.Failed, 1, -1, "410 The order has expired; create a new one.")]
    [InlineData(OrderStatus.Pending, 1, 29.0 / 60, "410 The order has expired; create a new one.")]
    [InlineData(OrderStatus.Created, 0, 0.5, "new 1 until +30s")]
    // A first attempt; its lifetime is cut to the order's.
    [InlineData(OrderStatus.Created, 0, 60, "new 1 until +300s")]
    [InlineData(OrderStatus.Created, 0, 2, "new 1 until +120s")]
    public void Prepare_refuses_paid_and_expired_orders_and_starts_a_first_attempt(OrderStatus status, int attempts, double minutesLeft, string expected)
    {
        var order = Order(status, attempts, minutesLeft);

        var decision = OrderLifecycle.DecidePrepare(order, null, null, Now, PreparingTimeout, AttemptLifetime);

        Assert.Equal(expected, Describe(decision));
        var refusal = OrderLifecycle.RefusePrepare(order, Now);
        Assert.Equal(expected.StartsWith("new", StringComparison.Ordinal) ? null : expected, refusal is null ? null : Describe(refusal));
    }

    [Theory]
    // A prepared (or paying) attempt with a minute left is handed out again, to its payer or to a caller naming none.
    [InlineData(AttemptStates.Prepared, true, 60, 10, "oA", "oA", "reuse 1")]
    [InlineData(AttemptStates.Prepared, true, 60, 10, "oA", null, "reuse 1")]
    [InlineData(AttemptStates.Paying, true, 120, 10, null, null, "reuse 1")]
    [InlineData(AttemptStates.Prepared, true, 60, 10, "oA", "oB", "new 2 until +300s")]
    [InlineData(AttemptStates.Prepared, true, 59, 10, "oA", "oA", "new 2 until +300s")]
    [InlineData(AttemptStates.Prepared, false, 120, 10, null, null, "new 2 until +300s")]
    [InlineData(AttemptStates.PrepareFailed, true, 120, 10, null, null, "new 2 until +300s")]
    [InlineData(AttemptStates.Failed, true, 120, 10, null, null, "new 2 until +300s")]
    [InlineData(AttemptStates.Paid, true, 120, 10, null, null, "new 2 until +300s")]
    // An attempt still being prepared blocks another until its prepare has surely timed out.
    [InlineData(AttemptStates.Preparing, false, 300, 19, null, null, "409 A payment for this order is being prepared; retry in a moment.")]
    [InlineData(AttemptStates.Preparing, false, 300, 20, null, null, "new 2 until +300s")]
    public void Prepare_reuses_a_valid_attempt_or_claims_the_next(string state, bool hasPayId, double secondsLeft, double ageSeconds,
        string? attemptPayer, string? payer, string expected)
    {
        var order = Order(OrderStatus.Pending, attempts: 1);
        var current = new AttemptEntity
        {
            PartitionKey = OrderId,
            Number = 1,
            PayOrder = PayOrderNumber.Format(OrderId, 1),
            PayId = hasPayId ? "pay-1" : null,
            Payer = attemptPayer,
            State = state,
            CreatedAt = Now.AddSeconds(-ageSeconds),
            ExpiresAt = Now.AddSeconds(secondsLeft),
        };

        var decision = OrderLifecycle.DecidePrepare(order, current, payer, Now, PreparingTimeout, AttemptLifetime);

        Assert.Equal(expected, Describe(decision));
        if (decision is PrepareDecision.Reuse reuse)
        {
            Assert.Same(current, reuse.Attempt);
            Assert.Equal("pay-1", reuse.PayId);
        }
    }

    [Theory]
    [InlineData(9, 0, "new 10 until +300s")]          // the free attempts need no spacing
    [InlineData(10, 0, "wait 612s")]                 // 7 days over 989 numbers left: one per 611.5 s
    [InlineData(10, 611, "wait 1s")]
    [InlineData(10, 612, "new 11 until +300s")]
    [InlineData(998, 0, "wait 604800s")]             // the last number: only at the expiry
    [InlineData(999, 0, "409 The order has run out of payment attempts; create a new one.")]
    [InlineData(999, 100000, "409 The order has run out of payment attempts; create a new one.")]
    public void Past_the_free_attempts_new_ones_are_spaced_and_capped(int attempts, double lastAttemptAgeSeconds, string expected)
    {
        var order = Order(OrderStatus.Failed, attempts, minutesLeft: 7 * 24 * 60);
        var lastAt = Now.AddSeconds(-lastAttemptAgeSeconds);
        order.ExpiresAt = lastAt.AddDays(7);
        var current = new AttemptEntity { PartitionKey = OrderId, Number = attempts, State = AttemptStates.Failed, CreatedAt = lastAt, ExpiresAt = lastAt.AddMinutes(5) };

        var decision = OrderLifecycle.DecidePrepare(order, current, null, Now, PreparingTimeout, AttemptLifetime);

        Assert.Equal(expected, Describe(decision));
    }

    [Fact]
    public void Beginning_an_attempt_counts_it_on_the_order_and_names_its_pay_order()
    {
        var order = Order(OrderStatus.Failed, attempts: 4);

        var attempt = OrderLifecycle.BeginAttempt(order, new PrepareDecision.NewAttempt(5, Now.AddMinutes(5)), "alipay", "oA", Now);

        Assert.Equal(5, order.AttemptCount);
        Assert.Equal(Now, order.UpdatedAt);
        Assert.Equal(OrderStatus.Failed, order.StatusValue); // Pending only once P云 gave a pay_id
        Assert.Equal((OrderId, OrderRows.Attempt(5), 5, PayOrderNumber.Format(OrderId, 5)), (attempt.PartitionKey, attempt.RowKey, attempt.Number, attempt.PayOrder));
        Assert.Equal(("alipay", "oA", Now, Now.AddMinutes(5), AttemptStates.Preparing), (attempt.Client, attempt.Payer, attempt.CreatedAt, attempt.ExpiresAt, attempt.State));
    }

    [Theory]
    [InlineData(OrderStatus.Created, 1, OrderStatus.Pending)]
    [InlineData(OrderStatus.Failed, 1, OrderStatus.Pending)]
    [InlineData(OrderStatus.Created, 2, OrderStatus.Created)]   // a newer attempt was claimed since: its prepare decides
    [InlineData(OrderStatus.Failed, 2, OrderStatus.Failed)]
    [InlineData(OrderStatus.Pending, 1, OrderStatus.Pending)]
    [InlineData(OrderStatus.Paid, 1, OrderStatus.Paid)]         // a result arrived first: never undone
    [InlineData(OrderStatus.AmountMismatch, 1, OrderStatus.AmountMismatch)]
    [InlineData(OrderStatus.PaidAfterClose, 1, OrderStatus.PaidAfterClose)]
    public void A_prepared_attempt_moves_only_a_created_or_failed_order_to_pending(OrderStatus from, int attempts, OrderStatus to)
    {
        var order = Order(from, attempts);
        var attempt = new AttemptEntity { PartitionKey = OrderId, Number = 1, State = AttemptStates.Preparing };

        var changed = OrderLifecycle.MarkPrepared(order, attempt, "pay-1", Now);

        Assert.Equal(to, order.StatusValue);
        Assert.Equal(from != to, changed);
        Assert.Equal(changed ? Now : Now.AddHours(-1), order.UpdatedAt);
        Assert.Equal(("pay-1", AttemptStates.Prepared), (attempt.PayId, attempt.State));
    }

    [Fact]
    public void A_failed_prepare_marks_its_attempt()
    {
        var attempt = new AttemptEntity { State = AttemptStates.Preparing };

        OrderLifecycle.PrepareFailed(attempt);

        Assert.Equal(AttemptStates.PrepareFailed, attempt.State);
    }

    [Theory]
    [InlineData(OrderStatus.Pending, 1, 5, null, true)]
    [InlineData(OrderStatus.Pending, 1, 4.9, null, false)]   // the notification may still come
    [InlineData(OrderStatus.Pending, 0, 60, null, false)]    // nothing to ask about
    [InlineData(OrderStatus.Created, 1, 60, null, false)]
    [InlineData(OrderStatus.Failed, 1, 60, null, false)]
    [InlineData(OrderStatus.Paid, 1, 60, null, false)]
    [InlineData(OrderStatus.Pending, 1, 60, 10.0, true)]
    [InlineData(OrderStatus.Pending, 1, 60, 9.9, false)]     // someone asked within the interval
    public void A_poll_asks_P云_only_about_a_quiet_pending_order(OrderStatus status, int attempts, double quietSeconds, double? lastQuerySecondsAgo, bool expected)
    {
        var order = Order(status, attempts);
        order.UpdatedAt = Now.AddSeconds(-quietSeconds);
        order.LastQueryAt = lastQuerySecondsAgo is { } ago ? Now.AddSeconds(-ago) : null;

        Assert.Equal(expected, OrderLifecycle.ShouldQuery(order, Now, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(10)));
    }

    private static string Describe(PrepareDecision decision) => decision switch
    {
        PrepareDecision.Refuse { Kind: PrepareRefusalKind.Conflict } r => $"409 {r.Detail}",
        PrepareDecision.Refuse { Kind: PrepareRefusalKind.Gone } r => $"410 {r.Detail}",
        PrepareDecision.Reuse r => $"reuse {r.Attempt.Number}",
        PrepareDecision.TooSoon t => string.Create(CultureInfo.InvariantCulture, $"wait {Math.Ceiling(t.Wait.TotalSeconds)}s"),
        PrepareDecision.NewAttempt n => string.Create(CultureInfo.InvariantCulture, $"new {n.Number} until +{(n.ExpiresAt - Now).TotalSeconds}s"),
        _ => decision.ToString(),
    };
}
