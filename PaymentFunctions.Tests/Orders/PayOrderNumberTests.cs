using PaymentFunctions.Orders;

namespace PaymentFunctions.Tests.Orders;

public sealed class PayOrderNumberTests
{
    [Fact]
    public void Order_ids_are_random_and_well_formed()
    {
        var ids = Enumerable.Range(0, 1000).Select(_ => PayOrderNumber.NewOrderId()).ToHashSet();

        Assert.Equal(1000, ids.Count);
        Assert.All(ids, id => Assert.True(PayOrderNumber.IsOrderId(id), id));
    }

    [Fact]
    public void Pay_order_round_trips()
    {
        var id = PayOrderNumber.NewOrderId();

        Assert.True(PayOrderNumber.TryParse(PayOrderNumber.Format(id, 7), out var parsed, out var attempt));
        Assert.Equal(id, parsed);
        Assert.Equal(7, attempt);
        Assert.True(PayOrderNumber.Format(id, 999).Length <= 32);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("abcdefghijklmnopqrstuvwx")]
    [InlineData("abcdefghijklmnopqrstuvwx-")]
    [InlineData("abcdefghijklmnopqrstuvwx-0")]
    [InlineData("abcdefghijklmnopqrstuvwx-01")]
    [InlineData("abcdefghijklmnopqrstuvwx-1000")]
    [InlineData("abcdefghijklmnopqrstuvw1-1")]
    [InlineData("ABCDEFGHIJKLMNOPQRSTUVWX-1")]
    [InlineData("abcdefghijklmnopqrstuvwx_1")]
    [InlineData("11111111118")]
    public void Foreign_pay_orders_do_not_parse(string? payOrder) =>
        Assert.False(PayOrderNumber.TryParse(payOrder, out _, out _));
}
