using System.Globalization;
using CsCheck;
using PaymentFunctions.Orders;
using PaymentFunctions.Pyun;

namespace PaymentFunctions.Tests.Properties;

/// <summary>One thing P云 says about one attempt (a notification or a trade-query answer).</summary>
internal sealed record PyunFact(int Attempt, int Status, long Value, DateTimeOffset? TradeTime)
{
    public PyunTradeResult ToResult() => new(
        PayOrderNumber.Format(PyunOrderModel.OrderId, Attempt), Status, Value,
        Status == PyunTradeResult.Success ? $"S{Attempt}" : null, // one payment per pay_order: its serial is the attempt's
        Status == PyunTradeResult.Success ? "200201" : null,
        Status == PyunTradeResult.Success ? $"T{Attempt}" : null,
        TradeTime, Status == PyunTradeResult.Success ? 6 : null, null);

    public override string ToString()
    {
        var what = Status switch { PyunTradeResult.Success => $"paid {Value}", PyunTradeResult.Failure => "failed", _ => "paying" };
        var when = TradeTime is { } t ? $" at {(t - PyunOrderModel.Now).TotalMinutes.ToString("+0;-0", CultureInfo.InvariantCulture)} min" : "";
        return $"#{Attempt} {what}{when}";
    }
}

/// <summary>An order, its attempts as stored before the facts arrive, and everything P云 will say about them.</summary>
internal sealed record PyunScenario(long Amount, DateTimeOffset ExpiresAt, OrderStatus Initial, string[] AttemptStates, PyunFact[] Facts)
{
    public override string ToString() =>
        $"order {Amount} fen, {Initial}, expires at +{(ExpiresAt - PyunOrderModel.Now).TotalMinutes} min, attempts [{string.Join(", ", AttemptStates)}] (last is current); facts: {string.Join("; ", Facts)}";
}

/// <summary>What the order and its attempts look like at the end: everything a caller or a refund could see.</summary>
internal sealed record PyunFinalState(
    OrderStatus Status, bool RefundRequired, long? PaidAmount, string? PaidPayOrder, string? PaySerial, DateTimeOffset? PaidAt,
    string? TradeNo, string? Channel, long? Fee, string Attempts)
{
    public static PyunFinalState Of(OrderEntity o, IEnumerable<AttemptEntity> attempts) => new(
        o.StatusValue, o.RefundRequired, o.PaidAmount, o.PaidPayOrder, o.PaySerial, o.PaidAt, o.TradeNo, o.Channel, o.Fee,
        string.Join(", ", attempts.Select(a => $"#{a.Number} {a.State}{(a.RefundRequired ? " refund" : "")}")));
}

/// <summary>
/// A model of one P云 order fed through the decision function. <see cref="Decide"/> is the one place that knows
/// how <see cref="OrderLifecycle.Apply"/> is called and where attempt state lives, so a change of storage layout
/// (attempt state on the order row, say) changes only it.
/// </summary>
internal static class PyunOrderModel
{
    public const string OrderId = "abcdefghijklmnopqrstuvwx";
    public const long Amount = 1000;
    public static readonly DateTimeOffset Now = new(2026, 11, 25, 2, 0, 0, TimeSpan.Zero);

    /// <summary>Applies the facts in the given order to fresh rows and returns what they end as.</summary>
    public static PyunFinalState Run(PyunScenario scenario, IEnumerable<PyunFact> facts)
    {
        var order = new OrderEntity
        {
            PartitionKey = OrderId, Amount = scenario.Amount, ExpiresAt = scenario.ExpiresAt, StatusValue = scenario.Initial,
            AttemptCount = scenario.AttemptStates.Length, CreatedAt = Now.AddMinutes(-10),
        };
        var attempts = scenario.AttemptStates.Select((state, i) => new AttemptEntity
        {
            PartitionKey = OrderId, RowKey = OrderRows.Attempt(i + 1), Number = i + 1, PayOrder = PayOrderNumber.Format(OrderId, i + 1), State = state,
        }).ToArray();

        foreach (var fact in facts)
        {
            Decide(order, attempts, fact.ToResult());
        }

        return PyunFinalState.Of(order, attempts);
    }

    private static void Decide(OrderEntity order, AttemptEntity[] attempts, PyunTradeResult result)
    {
        Assert.True(PayOrderNumber.TryParse(result.PayOrder, out _, out var number));
        var transition = OrderLifecycle.Apply(order, attempts[number - 1], result, Now);
        if (transition.DisplacedAttempt is { } displaced)
        {
            attempts[displaced - 1].RefundRequired = true; // what the processor's extra merge writes
        }
    }

    private static readonly Gen<DateTimeOffset?> TradeTimes = Gen.Frequency(
        (4, Gen.Int[-20, -1].Select(m => (DateTimeOffset?)Now.AddMinutes(m))), // before the order closed
        (2, Gen.Int[31, 60].Select(m => (DateTimeOffset?)Now.AddMinutes(m))), // after it closed (it expires at +30)
        (1, Gen.Const((DateTimeOffset?)null))); // no trade_time: the processing time (Now) counts

    private static readonly Gen<long> Values = Gen.Frequency((4, Gen.Const(Amount)), (2, Gen.OneOf(1L, 999L, 1001L, 2000L)));

    /// <summary>Everything P云 might say about one attempt: any of paying, failed, and at most one payment (a pay_order is paid once).</summary>
    private static Gen<PyunFact[]> AttemptFacts(int attempt) =>
        Gen.Select(Gen.Bool, Gen.Bool, Gen.Bool, Values, TradeTimes, (paying, failed, paid, value, time) =>
            new[]
            {
                paying ? new PyunFact(attempt, PyunTradeResult.Paying, 0, null) : null,
                failed ? new PyunFact(attempt, PyunTradeResult.Failure, 0, null) : null,
                paid ? new PyunFact(attempt, PyunTradeResult.Success, value, time) : null,
            }.OfType<PyunFact>().ToArray());

    private static Gen<PyunFact[]> Facts(int attempts) => (attempts switch
    {
        1 => AttemptFacts(1),
        2 => Gen.Select(AttemptFacts(1), AttemptFacts(2), (a, b) => (PyunFact[])[.. a, .. b]),
        _ => Gen.Select(AttemptFacts(1), AttemptFacts(2), AttemptFacts(3), (a, b, c) => (PyunFact[])[.. a, .. b, .. c]),
    }).Where(f => f.Length > 0);

    /// <summary>Orders of 1-3 attempts, as prepare leaves them, with their facts.</summary>
    public static readonly Gen<PyunScenario> Scenarios =
        from n in Gen.Int[1, 3]
        from initial in Gen.OneOf(OrderStatus.Created, OrderStatus.Pending)
        from older in Gen.OneOf(AttemptStates.Prepared, AttemptStates.Paying, AttemptStates.Failed, AttemptStates.PrepareFailed).Array[n - 1]
        from current in Gen.OneOf(AttemptStates.Preparing, AttemptStates.Prepared)
        from facts in Facts(n)
        select new PyunScenario(Amount, Now.AddMinutes(30), initial, [.. older, current], facts);
}
