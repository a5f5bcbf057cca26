using PaymentFunctions.Orders;

namespace PaymentFunctions.Tests.Orders;

/// <summary>The order row's record of what P云 results made of each attempt, which spares the processor a read.</summary>
public sealed class AttemptResultsTests
{
    [Fact]
    public void A_new_order_knows_nothing_of_its_attempts()
    {
        var order = new OrderEntity { AttemptCount = 2 };

        Assert.Null(order.AttemptResult(1));
        Assert.Null(order.AttemptResult(2));
        Assert.Null(order.AttemptResult(0));
    }

    [Fact]
    public void Results_are_kept_per_attempt_and_overwritten_in_place()
    {
        var order = new OrderEntity();

        order.RecordAttemptResult(3, AttemptStates.Paying);
        order.RecordAttemptResult(1, AttemptStates.Failed);
        order.RecordAttemptResult(3, AttemptStates.Paid);

        Assert.Equal("F-P", order.AttemptResults);
        Assert.Equal(AttemptStates.Failed, order.AttemptResult(1));
        Assert.Null(order.AttemptResult(2));
        Assert.Equal(AttemptStates.Paid, order.AttemptResult(3));
        Assert.Null(order.AttemptResult(4));
    }

    [Theory]
    [InlineData(AttemptStates.Preparing)]
    [InlineData(AttemptStates.Prepared)]
    [InlineData(AttemptStates.PrepareFailed)]
    public void States_that_prepare_sets_are_not_recorded(string state)
    {
        var order = new OrderEntity { AttemptResults = "Y" };

        order.RecordAttemptResult(1, state);
        order.RecordAttemptResult(2, state);

        Assert.Equal("Y", order.AttemptResults);
    }
}
