using PaymentFunctions.PayScore;
using PaymentFunctions.WeChatPay;

namespace PaymentFunctions.Tests.PayScore;

/// <summary>
/// The Pay Score API rules, as (key, message) pairs: the key is the camelCase JSON path the client sent, the message
/// names WeChat's field.
/// </summary>
public sealed class PayScoreValidatorsTests
{
    private static readonly CreatePayScoreOrderValidator Create = new();
    private static readonly CompletePayScoreOrderValidator Complete = new();
    private static readonly CancelPayScoreOrderValidator Cancel = new();
    private static readonly QueryPayScoreOrderValidator Query = new();

    private static CreatePayScoreOrderRequest ValidCreate => new(
        OutOrderNo: "T20250101000001",
        ServiceIntroduction: "停车服务",
        PostPayments: [new PostPayment { Name = "停车费", Amount = 500, Description = "按小时计费", Count = 1 }],
        PostDiscounts: null,
        TimeRange: new PayScoreTimeRange { StartTime = "OnAccept" },
        Location: null,
        RiskFund: new PayScoreRiskFund { Name = "ESTIMATE_ORDER_COST", Amount = 10000, Description = "预估停车费" },
        Attach: null);

    private static CompletePayScoreOrderRequest ValidComplete => new(
        PostPayments: [new PostPayment { Name = "停车费", Amount = 800, Count = 2 }, new PostPayment { Name = "服务费", Amount = 200 }],
        PostDiscounts: [new PostDiscount { Name = "新客立减", Description = "首单", Amount = 300 }],
        TotalAmount: 700,
        TimeRange: null,
        Location: null) { OutOrderNo = "T1" };

    private static (string Key, string Message)[] Errors(FluentValidation.Results.ValidationResult result) =>
        [.. result.Errors.Select(e => (e.PropertyName, e.ErrorMessage))];

    private static (string Key, string Message)[] ErrorsOf(CreatePayScoreOrderRequest r) => Errors(Create.Validate(r));

    private static (string Key, string Message)[] ErrorsOf(CompletePayScoreOrderRequest r) => Errors(Complete.Validate(r));

    [Fact]
    public void A_valid_create_complete_cancel_and_query_pass()
    {
        Assert.Empty(ErrorsOf(ValidCreate));
        Assert.Empty(ErrorsOf(ValidComplete));
        Assert.Empty(Errors(Cancel.Validate(new CancelPayScoreOrderRequest("用户取消") { OutOrderNo = "T1" })));
        Assert.Empty(Errors(Query.Validate(new QueryPayScoreOrderRequest("q1", null))));
        Assert.Empty(Errors(Query.Validate(new QueryPayScoreOrderRequest(null, "T1"))));
    }

    [Theory]
    [InlineData("T20250101000001", true)]
    [InlineData("12345678901234567890123456789012", true)]
    [InlineData("123456789012345678901234567890123", false)]
    [InlineData("", false)]
    [InlineData(null, false)]
    [InlineData("has space", false)]
    [InlineData("订单1", false)]
    public void Out_order_no_is_checked_under_its_api_key(string? value, bool valid)
    {
        var errors = ErrorsOf(ValidCreate with { OutOrderNo = value });

        Assert.Equal(valid ? [] : [("outOrderNo", "out_order_no: must be 1 to 32 characters of 0-9, a-z, A-Z, _, -, | or *.")], errors);
    }

    [Fact]
    public void Text_limits_are_enforced_per_field()
    {
        var errors = ErrorsOf(ValidCreate with
        {
            ServiceIntroduction = new string('停', 21),
            PostPayments = [new PostPayment { Name = "停车费😀", Amount = 1, Description = new string('x', 31) }],
            RiskFund = new PayScoreRiskFund { Name = "ESTIMATE_ORDER_COST", Amount = 1, Description = "" },
            Attach = new string('a', 257),
            Location = new PayScoreLocation { EndLocation = "出口" },
        });

        Assert.Equal(
            [
                ("serviceIntroduction", "service_introduction: at most 20 characters."),
                ("postPayments[0].name", "post_payments[0].name: must not contain emoji or other 4-byte UTF-8 characters."),
                ("postPayments[0].description", "post_payments[0].description: at most 30 characters."),
                ("location.endLocation", "location.end_location: is only allowed together with start_location."),
                ("riskFund.description", "risk_fund.description: must be omitted rather than empty."),
                ("attach", "attach: at most 256 characters."),
            ],
            errors);
    }

    [Fact]
    public void Exactly_the_limit_is_allowed()
    {
        Assert.Empty(ErrorsOf(ValidCreate with { ServiceIntroduction = new string('停', 20), Attach = new string('a', 256) }));
    }

    [Theory]
    [InlineData(0, false)]
    [InlineData(-1, false)]
    [InlineData(1, true)]
    [InlineData(WeChatPayFormats.MaxAmountFen, true)]
    [InlineData(WeChatPayFormats.MaxAmountFen + 1, false)]
    public void Risk_fund_amount_is_a_positive_fen_amount_within_limits(long amount, bool valid)
    {
        var errors = ErrorsOf(ValidCreate with { RiskFund = ValidCreate.RiskFund! with { Amount = amount } });

        Assert.Equal(valid ? [] : [("riskFund.amount", "risk_fund.amount: must be a whole number of fen from 1 to 2147483647.")], errors);
    }

    [Fact]
    public void Risk_fund_name_and_required_parts_are_checked()
    {
        var errors = ErrorsOf(ValidCreate with
        {
            ServiceIntroduction = " ",
            RiskFund = new PayScoreRiskFund { Name = "DEPOSIT_ALL", Amount = 1 },
            TimeRange = new PayScoreTimeRange(),
        });

        Assert.Equal(
            [
                ("serviceIntroduction", "service_introduction: is required."),
                ("timeRange.startTime", "time_range.start_time: is required (OnAccept, yyyyMMddHHmmss or yyyyMMdd)."),
                ("riskFund.name", "risk_fund.name: must be DEPOSIT, ADVANCE, CASH_DEPOSIT or ESTIMATE_ORDER_COST."),
            ],
            errors);
    }

    [Fact]
    public void Missing_parts_of_a_create_are_required()
    {
        var errors = ErrorsOf(new CreatePayScoreOrderRequest(null, null, null, null, null, null, null, null));

        Assert.Equal(
            [
                ("outOrderNo", "out_order_no: must be 1 to 32 characters of 0-9, a-z, A-Z, _, -, | or *."),
                ("serviceIntroduction", "service_introduction: is required."),
                ("timeRange", "time_range: is required."),
                ("riskFund", "risk_fund: is required."),
            ],
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
        var errors = ErrorsOf(ValidCreate with { TimeRange = new PayScoreTimeRange { StartTime = start, EndTime = end } });

        Assert.Equal(valid, errors.Length == 0);
        Assert.All(errors, e => Assert.StartsWith("timeRange.", e.Key, StringComparison.Ordinal));
    }

    [Fact]
    public void Item_amounts_counts_and_list_sizes_are_checked()
    {
        var errors = ErrorsOf(ValidCreate with
        {
            PostPayments = [new PostPayment { Name = "a", Amount = -1, Count = 0 }, .. Enumerable.Repeat(new PostPayment { Name = "b", Amount = 1 }, 100)],
            PostDiscounts = [new PostDiscount { Name = "d", Amount = 1 }, new PostDiscount { Name = "d", Amount = 1, Count = 101 }],
        });

        Assert.Equal(
            [
                ("postPayments", "post_payments: at most 100 items."),
                ("postPayments[0].amount", "post_payments[0].amount: must be a whole number of fen from 0 to 2147483647."),
                ("postPayments[0].count", "post_payments[0].count: must be from 1 to 100."),
                ("postDiscounts[1].name", "post_discounts[1].name: must be unique among post_discounts."),
                ("postDiscounts[1].count", "post_discounts[1].count: must be from 1 to 100."),
            ],
            errors);
    }

    [Fact]
    public void A_null_item_is_named_by_its_index()
    {
        var errors = ErrorsOf(ValidCreate with { PostPayments = [ValidCreate.PostPayments![0], null!] });

        Assert.Equal([("postPayments[1]", "post_payments[1]: must not be null.")], errors);
    }

    [Fact]
    public void Complete_total_must_equal_payments_minus_discounts()
    {
        Assert.Equal(
            [("totalAmount", "total_amount: must equal the sum of post_payments.amount minus the sum of post_discounts.amount (700 fen), not 1000.")],
            ErrorsOf(ValidComplete with { TotalAmount = 1000 }));
    }

    [Fact]
    public void Complete_without_discounts_sums_the_payments()
    {
        Assert.Empty(ErrorsOf(ValidComplete with { PostDiscounts = null, TotalAmount = 1000 }));
        Assert.Single(ErrorsOf(ValidComplete with { PostDiscounts = null, TotalAmount = 700 }));
    }

    [Fact]
    public void Complete_needs_payments_a_valid_order_number_and_a_non_negative_total()
    {
        var errors = ErrorsOf(new CompletePayScoreOrderRequest([], null, -1, null, null) { OutOrderNo = "bad no" });

        Assert.Equal(
            [
                ("outOrderNo", "out_order_no: must be 1 to 32 characters of 0-9, a-z, A-Z, _, -, | or *."),
                ("postPayments", "post_payments: at least one item is required."),
                ("totalAmount", "total_amount: must be a whole number of fen from 0 to 2147483647."),
            ],
            errors);
    }

    [Fact]
    public void Complete_without_a_total_reports_only_that()
    {
        Assert.Equal([("totalAmount", "total_amount: is required, in fen.")],
            ErrorsOf(new CompletePayScoreOrderRequest(null, null, null, null, null) { OutOrderNo = "bad no" }));
    }

    [Fact]
    public void Complete_with_a_bad_second_payment_names_its_index_and_skips_the_sum()
    {
        var errors = ErrorsOf(ValidComplete with
        {
            PostPayments = [ValidComplete.PostPayments![0], new PostPayment { Name = "服务费", Amount = -5 }],
        });

        Assert.Equal([("postPayments[1].amount", "post_payments[1].amount: must be a whole number of fen from 0 to 2147483647.")], errors);
    }

    [Fact]
    public void Complete_with_discounts_larger_than_payments_is_refused()
    {
        var errors = ErrorsOf(new CompletePayScoreOrderRequest(
            [new PostPayment { Name = "a", Amount = 100 }], [new PostDiscount { Name = "d", Amount = 200 }], -100, null, null) { OutOrderNo = "T1" });

        Assert.Contains(("totalAmount", "total_amount: must be a whole number of fen from 0 to 2147483647."), errors);
    }

    [Fact]
    public void Complete_allows_an_end_location_alone_here_and_checks_its_text()
    {
        // Whether the order was created with a start location is for the endpoint, against the stored create request.
        Assert.Empty(ErrorsOf(ValidComplete with { Location = new PayScoreLocation { EndLocation = "出口" } }));
        Assert.Equal([("location.endLocation", "location.end_location: at most 50 characters.")],
            ErrorsOf(ValidComplete with { Location = new PayScoreLocation { EndLocation = new string('出', 51) } }));
    }

    [Theory]
    [InlineData("用户取消", true)]
    [InlineData("", false)]
    [InlineData(null, false)]
    [InlineData("取消😀", false)]
    public void Cancel_reason(string? reason, bool valid)
    {
        var errors = Errors(Cancel.Validate(new CancelPayScoreOrderRequest(reason) { OutOrderNo = "T1" }));

        Assert.Equal(valid, errors.Length == 0);
        Assert.All(errors, e => Assert.Equal("reason", e.Key));
        Assert.Equal([("reason", "reason: at most 50 characters.")],
            Errors(Cancel.Validate(new CancelPayScoreOrderRequest(new string('x', 51)) { OutOrderNo = "T1" })));
        Assert.Empty(Errors(Cancel.Validate(new CancelPayScoreOrderRequest(new string('x', 50)) { OutOrderNo = "T1" })));
        Assert.Equal(["outOrderNo"], Errors(Cancel.Validate(new CancelPayScoreOrderRequest("x") { OutOrderNo = "bad no" })).Select(e => e.Key));
    }

    [Theory]
    [InlineData(null, null, "Send exactly one of 'queryId' and 'outOrderNo'.")]
    [InlineData("q1", "T1", "Send exactly one of 'queryId' and 'outOrderNo'.")]
    [InlineData("", null, "'queryId' is not a Pay Score query_id.")]
    [InlineData("has space", null, "'queryId' is not a Pay Score query_id.")]
    public void Query_needs_exactly_one_well_formed_reference(string? queryId, string? outOrderNo, string message)
    {
        Assert.Equal([("queryId", message)], Errors(Query.Validate(new QueryPayScoreOrderRequest(queryId, outOrderNo))));
    }

    [Theory]
    [InlineData("outOrderNo", "out_order_no")]
    [InlineData("postPayments[12].amount", "post_payments[12].amount")]
    [InlineData("timeRange.startTimeRemark", "time_range.start_time_remark")]
    public void WeChat_names_are_snake_case_paths(string path, string wechat)
    {
        Assert.Equal(wechat, PayScoreRules.WeChatName(path));
    }
}
