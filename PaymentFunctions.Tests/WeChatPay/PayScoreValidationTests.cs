using System.Text.Json;
using PaymentFunctions.WeChatPay;

namespace PaymentFunctions.Tests.WeChatPay;

public sealed class PayScoreValidationTests
{
    private static CreateServiceOrderRequest ValidCreate => new()
    {
        OutOrderNo = "T20250101000001",
        ServiceIntroduction = "停车服务",
        PostPayments = [new PostPayment { Name = "停车费", Amount = 500, Description = "按小时计费", Count = 1 }],
        TimeRange = new PayScoreTimeRange { StartTime = "OnAccept" },
        RiskFund = new PayScoreRiskFund { Name = "ESTIMATE_ORDER_COST", Amount = 10000, Description = "预估停车费" },
    };

    private static CompleteServiceOrderRequest ValidComplete => new()
    {
        PostPayments = [new PostPayment { Name = "停车费", Amount = 800, Count = 2 }, new PostPayment { Name = "服务费", Amount = 200 }],
        PostDiscounts = [new PostDiscount { Name = "新客立减", Description = "首单", Amount = 300 }],
        TotalAmount = 700,
    };

    [Fact]
    public void A_valid_create_and_complete_pass()
    {
        Assert.Empty(PayScoreValidation.ValidateCreate(ValidCreate));
        Assert.Empty(PayScoreValidation.ValidateComplete("T1", ValidComplete));
        Assert.Empty(PayScoreValidation.ValidateCancel("T1", "用户取消"));
    }

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
        Assert.Equal(valid, PayScoreValidation.IsValidOutOrderNo(value));
        Assert.Equal(valid, PayScoreValidation.ValidateCreate(ValidCreate with { OutOrderNo = value }).Count == 0);
    }

    [Theory]
    [InlineData("停车", false)]
    [InlineData("Parking 停车 ©", false)]
    [InlineData("停车😀", true)]
    [InlineData("𠀀", true)]
    public void Four_byte_utf8_is_detected(string value, bool fourByte)
    {
        Assert.Equal(fourByte, PayScoreValidation.HasFourByteUtf8(value));
    }

    [Fact]
    public void Text_limits_are_enforced_per_field()
    {
        var errors = PayScoreValidation.ValidateCreate(ValidCreate with
        {
            ServiceIntroduction = new string('停', 21),
            PostPayments = [new PostPayment { Name = "停车费😀", Amount = 1, Description = new string('x', 31) }],
            RiskFund = new PayScoreRiskFund { Name = "ESTIMATE_ORDER_COST", Amount = 1, Description = "" },
            Attach = new string('a', 257),
            Location = new PayScoreLocation { EndLocation = "出口" },
        });

        Assert.Contains(errors, e => e.StartsWith("service_introduction: at most 20", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("post_payments[0].name: must not contain emoji", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("post_payments[0].description: at most 30", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("risk_fund.description: must be omitted", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("attach: at most 256", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("location.end_location: is only allowed", StringComparison.Ordinal));
        Assert.Equal(6, errors.Count);
    }

    [Fact]
    public void Exactly_the_limit_is_allowed()
    {
        Assert.Empty(PayScoreValidation.ValidateCreate(ValidCreate with { ServiceIntroduction = new string('停', 20), Attach = new string('a', 256) }));
    }

    [Theory]
    [InlineData(0, false)]
    [InlineData(-1, false)]
    [InlineData(1, true)]
    [InlineData(PayScoreValidation.MaxAmountFen, true)]
    [InlineData(PayScoreValidation.MaxAmountFen + 1, false)]
    public void Risk_fund_amount_is_a_positive_fen_amount_within_limits(long amount, bool valid)
    {
        var errors = PayScoreValidation.ValidateCreate(ValidCreate with { RiskFund = ValidCreate.RiskFund with { Amount = amount } });

        Assert.Equal(valid, errors.Count == 0);
        if (!valid)
        {
            Assert.StartsWith("risk_fund.amount:", Assert.Single(errors), StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Risk_fund_name_and_required_parts_are_checked()
    {
        var errors = PayScoreValidation.ValidateCreate(ValidCreate with
        {
            ServiceIntroduction = " ",
            RiskFund = new PayScoreRiskFund { Name = "DEPOSIT_ALL", Amount = 1 },
            TimeRange = new PayScoreTimeRange(),
        });

        Assert.Equal(
            ["service_introduction: is required.", "time_range.start_time: is required (OnAccept, yyyyMMddHHmmss or yyyyMMdd).",
             "risk_fund.name: must be DEPOSIT, ADVANCE, CASH_DEPOSIT or ESTIMATE_ORDER_COST."],
            errors);
    }

    [Theory]
    [InlineData("OnAccept", null, true)]
    [InlineData("20250101120000", "20250101130000", true)]
    [InlineData("20250101", "20250102", true)]
    [InlineData("20250101120000", "20250101110000", false)]
    [InlineData("2025-01-01 12:00:00", null, false)]
    [InlineData("20251301", null, false)]
    [InlineData("OnAccept", "OnAccept", false)]
    public void Time_range_formats(string start, string? end, bool valid)
    {
        var errors = PayScoreValidation.ValidateCreate(ValidCreate with { TimeRange = new PayScoreTimeRange { StartTime = start, EndTime = end } });

        Assert.Equal(valid, errors.Count == 0);
    }

    [Fact]
    public void Item_amounts_counts_and_list_sizes_are_checked()
    {
        var errors = PayScoreValidation.ValidateCreate(ValidCreate with
        {
            PostPayments = [new PostPayment { Name = "a", Amount = -1, Count = 0 }, .. Enumerable.Repeat(new PostPayment { Name = "b", Amount = 1 }, 100)],
            PostDiscounts = [new PostDiscount { Name = "d", Amount = 1 }, new PostDiscount { Name = "d", Amount = 1, Count = 101 }],
        });

        Assert.Equal(
            ["post_payments: at most 100 items.", "post_payments[0].amount: must be a whole number of fen from 0 to 2147483647.",
             "post_payments[0].count: must be from 1 to 100.", "post_discounts[1].name: must be unique among post_discounts.",
             "post_discounts[1].count: must be from 1 to 100."],
            errors);
    }

    [Fact]
    public void Complete_total_must_equal_payments_minus_discounts()
    {
        var errors = PayScoreValidation.ValidateComplete("T1", ValidComplete with { TotalAmount = 1000 });

        Assert.Equal("total_amount: must equal the sum of post_payments.amount minus the sum of post_discounts.amount (700 fen), not 1000.",
            Assert.Single(errors));
    }

    [Fact]
    public void Complete_without_discounts_sums_the_payments()
    {
        Assert.Empty(PayScoreValidation.ValidateComplete("T1", ValidComplete with { PostDiscounts = null, TotalAmount = 1000 }));
        Assert.Single(PayScoreValidation.ValidateComplete("T1", ValidComplete with { PostDiscounts = null, TotalAmount = 700 }));
    }

    [Fact]
    public void Complete_needs_payments_a_valid_order_number_and_a_non_negative_total()
    {
        var errors = PayScoreValidation.ValidateComplete("bad no", new CompleteServiceOrderRequest { PostPayments = [], TotalAmount = -1 });

        Assert.Equal(
            ["out_order_no: must be 1 to 32 characters of 0-9, a-z, A-Z, _, -, | or *.", "post_payments: at least one item is required.",
             "total_amount: must be a whole number of fen from 0 to 2147483647."],
            errors);
    }

    [Fact]
    public void Complete_with_discounts_larger_than_payments_is_refused()
    {
        var errors = PayScoreValidation.ValidateComplete("T1", new CompleteServiceOrderRequest
        {
            PostPayments = [new PostPayment { Name = "a", Amount = 100 }],
            PostDiscounts = [new PostDiscount { Name = "d", Amount = 200 }],
            TotalAmount = -100,
        });

        Assert.Contains(errors, e => e.StartsWith("total_amount: must be a whole number", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("用户取消", true)]
    [InlineData("", false)]
    [InlineData("取消😀", false)]
    public void Cancel_reason(string reason, bool valid)
    {
        Assert.Equal(valid, PayScoreValidation.ValidateCancel("T1", reason).Count == 0);
        Assert.Single(PayScoreValidation.ValidateCancel("T1", new string('x', 51)));
        Assert.Empty(PayScoreValidation.ValidateCancel("T1", new string('x', 50)));
    }

    [Theory]
    [InlineData("15646546545165651651", true)]
    [InlineData("a+b/c==", true)]
    [InlineData("", false)]
    [InlineData("has space", false)]
    public void Query_id(string value, bool valid)
    {
        Assert.Equal(valid, PayScoreValidation.IsValidQueryId(value));
        Assert.False(PayScoreValidation.IsValidQueryId(new string('q', 513)));
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
