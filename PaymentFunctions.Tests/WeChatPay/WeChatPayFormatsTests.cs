using System.Text.Json;
using PaymentFunctions.WeChatPay;

namespace PaymentFunctions.Tests.WeChatPay;

/// <summary>What WeChat Pay accepts in a field, and its wire format; the API rules are in PayScore/PayScoreValidatorsTests.</summary>
public sealed class WeChatPayFormatsTests
{
    [Theory]
    [InlineData("T20250101000001", true)]
    [InlineData("a-b_c|d*9", true)]
    [InlineData("12345678901234567890123456789012", true)]
    [InlineData("123456789012345678901234567890123", false)]
    [InlineData("", false)]
    [InlineData("has space", false)]
    [InlineData("T1\n", false)]
    [InlineData("T1/2", false)]
    [InlineData("订单1", false)]
    public void Out_order_no_charset_and_length(string value, bool valid)
    {
        Assert.Equal(valid, WeChatPayFormats.IsValidOutOrderNo(value));
    }

    [Theory]
    [InlineData("停车", false)]
    [InlineData("Parking 停车 ©", false)]
    [InlineData("停车😀", true)]
    [InlineData("𠀀", true)]
    public void Four_byte_utf8_is_detected(string value, bool fourByte)
    {
        Assert.Equal(fourByte, WeChatPayFormats.HasFourByteUtf8(value));
    }

    [Theory]
    [InlineData("15646546545165651651", true)]
    [InlineData("a+b/c==", true)]
    [InlineData("", false)]
    [InlineData("has space", false)]
    public void Query_id(string value, bool valid)
    {
        Assert.Equal(valid, WeChatPayFormats.IsValidQueryId(value));
        Assert.False(WeChatPayFormats.IsValidQueryId(new string('q', 513)));
    }

    [Fact]
    public void Requests_serialize_without_nulls_and_with_wechat_names()
    {
        var json = JsonSerializer.Serialize(new CompleteServiceOrderRequest
        {
            AppId = "wx1",
            ServiceId = "s1",
            PostPayments = [new PostPayment { Name = "停车费", Amount = 100 }],
            TotalAmount = 100,
        }, WeChatPayJson.Options);

        Assert.Equal("{\"appid\":\"wx1\",\"service_id\":\"s1\",\"post_payments\":[{\"name\":\"停车费\",\"amount\":100}],\"total_amount\":100}", json);
    }

    [Fact]
    public void Orders_read_amounts_sent_as_strings()
    {
        var order = JsonSerializer.Deserialize<PayScoreServiceOrder>(
            "{\"state\":\"DONE\",\"total_amount\":\"40000\",\"collection\":{\"state\":\"USER_PAID\",\"paid_amount\":\"40000\"},\"unknown\":1}",
            WeChatPayJson.Options)!;

        Assert.Equal(40000, order.TotalAmount);
        Assert.Equal(40000, order.Collection!.PaidAmount);
        Assert.True(order.IsPaid);
        Assert.False(order.IsConfirmed);
    }

    [Fact]
    public void Mini_program_launch_object_has_the_documented_shape()
    {
        var launch = PayScoreMiniProgramLaunch.FromOrder(new PayScoreServiceOrder { Package = "pkg+/=" });

        Assert.Equal("{\"businessType\":\"wxpayScoreUse\",\"extraData\":{\"package\":\"pkg+/=\"}}",
            JsonSerializer.Serialize(launch, WeChatPayJson.Options));
        Assert.Throws<ArgumentException>(() => PayScoreMiniProgramLaunch.FromOrder(new PayScoreServiceOrder { State = "CREATED" }));
        Assert.Throws<ArgumentException>(() => PayScoreMiniProgramLaunch.FromPackage(" "));
    }
}
