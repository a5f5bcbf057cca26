using System.Globalization;
using System.Text.RegularExpressions;

namespace PaymentFunctions.WeChatPay;

/// <summary>
/// What we check before calling WeChat Pay (spec §5.1 limits), so a bad order is refused by us with a clear message
/// instead of by WeChat with PARAM_ERROR. Pure functions: each returns every problem found, as "field: problem" sentences.
/// </summary>
public static partial class PayScoreValidation
{
    /// <summary>WeChat's amount fields are 32-bit integers of fen.</summary>
    public const long MaxAmountFen = int.MaxValue;

    public const int MaxPostPayments = 100;
    public const int MaxPostDiscounts = 30;

    public static readonly IReadOnlySet<string> RiskFundNames = new HashSet<string>(StringComparer.Ordinal)
    {
        "DEPOSIT", "ADVANCE", "CASH_DEPOSIT", "ESTIMATE_ORDER_COST",
    };

    /// <summary>1–32 of <c>0-9 a-z A-Z _ - | *</c>.</summary>
    public static bool IsValidOutOrderNo(string? value) => value is not null && OutOrderNoPattern().IsMatch(value);

    /// <summary>True when the text holds a character outside the Basic Multilingual Plane (4 bytes in UTF-8, e.g. emoji), which WeChat rejects.</summary>
    public static bool HasFourByteUtf8(string? value)
    {
        foreach (var c in value ?? "")
        {
            if (char.IsSurrogate(c))
            {
                return true;
            }
        }

        return false;
    }

    public static IReadOnlyList<string> ValidateCreate(CreateServiceOrderRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var errors = new List<string>();
        if (!IsValidOutOrderNo(request.OutOrderNo))
        {
            errors.Add("out_order_no: must be 1 to 32 characters of 0-9, a-z, A-Z, _, -, | or *.");
        }

        Text(errors, "service_introduction", request.ServiceIntroduction, 20, required: true);
        Payments(errors, request.PostPayments, required: false);
        Discounts(errors, request.PostDiscounts);
        if (request.TimeRange is null)
        {
            errors.Add("time_range: is required.");
        }
        else
        {
            TimeRange(errors, request.TimeRange, startRequired: true);
        }

        Location(errors, request.Location);
        if (request.RiskFund is null)
        {
            errors.Add("risk_fund: is required.");
        }
        else
        {
            if (request.RiskFund.Name is null || !RiskFundNames.Contains(request.RiskFund.Name))
            {
                errors.Add("risk_fund.name: must be DEPOSIT, ADVANCE, CASH_DEPOSIT or ESTIMATE_ORDER_COST.");
            }

            Amount(errors, "risk_fund.amount", request.RiskFund.Amount, minimum: 1);
            Text(errors, "risk_fund.description", request.RiskFund.Description, 30, required: false);
        }

        Text(errors, "attach", request.Attach, 256, required: false);
        return errors;
    }

    public static IReadOnlyList<string> ValidateComplete(string outOrderNo, CompleteServiceOrderRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var errors = new List<string>();
        if (!IsValidOutOrderNo(outOrderNo))
        {
            errors.Add("out_order_no: must be 1 to 32 characters of 0-9, a-z, A-Z, _, -, | or *.");
        }

        var paymentsValid = Payments(errors, request.PostPayments, required: true);
        var discountsValid = Discounts(errors, request.PostDiscounts);
        Amount(errors, "total_amount", request.TotalAmount, minimum: 0);
        if (paymentsValid && discountsValid)
        {
            // Each amount is bounded by MaxAmountFen, so these sums cannot overflow a long.
            var expected = request.PostPayments.Sum(p => p.Amount) - (request.PostDiscounts?.Sum(d => d.Amount) ?? 0);
            if (expected != request.TotalAmount)
            {
                errors.Add(string.Create(CultureInfo.InvariantCulture,
                    $"total_amount: must equal the sum of post_payments.amount minus the sum of post_discounts.amount ({expected} fen), not {request.TotalAmount}."));
            }
        }

        if (request.TimeRange is not null)
        {
            TimeRange(errors, request.TimeRange, startRequired: false);
        }

        // Whether end_location may be sent depends on what the order was created with: ValidateCompleteAgainst.
        Location(errors, request.Location, endNeedsStart: false);
        Text(errors, "goods_tag", request.GoodsTag, 32, required: false);
        return errors;
    }

    /// <summary>
    /// The complete rules that depend on the order's create request (spec §5.1/§5.5): an end location is only
    /// allowed once there is a start location, given at create or in this complete request.
    /// </summary>
    public static IReadOnlyList<string> ValidateCompleteAgainst(CreateServiceOrderRequest? created, CompleteServiceOrderRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var errors = new List<string>();
        if (request.Location?.EndLocation is not null && request.Location.StartLocation is null && created?.Location?.StartLocation is null)
        {
            errors.Add("location.end_location: is only allowed when the order was created with location.start_location, or together with start_location.");
        }

        return errors;
    }

    public static IReadOnlyList<string> ValidateCancel(string outOrderNo, string reason)
    {
        var errors = new List<string>();
        if (!IsValidOutOrderNo(outOrderNo))
        {
            errors.Add("out_order_no: must be 1 to 32 characters of 0-9, a-z, A-Z, _, -, | or *.");
        }

        Text(errors, "reason", reason, 50, required: true);
        return errors;
    }

    /// <summary>The <c>query_id</c> the Pay Score mini program returns: opaque, at most 512 characters.</summary>
    public static bool IsValidQueryId(string? value) =>
        !string.IsNullOrEmpty(value) && value.Length <= 512 && value.All(c => c > ' ' && c < 0x7F);

    private static bool Payments(List<string> errors, IReadOnlyList<PostPayment>? payments, bool required)
    {
        var before = errors.Count;
        if (payments is null || payments.Count == 0)
        {
            if (required)
            {
                errors.Add("post_payments: at least one item is required.");
            }

            return errors.Count == before;
        }

        if (payments.Count > MaxPostPayments)
        {
            errors.Add($"post_payments: at most {MaxPostPayments} items.");
        }

        for (var i = 0; i < payments.Count; i++)
        {
            var p = payments[i];
            var field = $"post_payments[{i}]";
            if (p is null)
            {
                errors.Add($"{field}: must not be null.");
                continue;
            }

            Text(errors, field + ".name", p.Name, 20, required: true);
            Amount(errors, field + ".amount", p.Amount, minimum: 0);
            Text(errors, field + ".description", p.Description, 30, required: false);
            Count(errors, field + ".count", p.Count);
        }

        return errors.Count == before;
    }

    private static bool Discounts(List<string> errors, IReadOnlyList<PostDiscount>? discounts)
    {
        var before = errors.Count;
        if (discounts is null)
        {
            return true;
        }

        if (discounts.Count > MaxPostDiscounts)
        {
            errors.Add($"post_discounts: at most {MaxPostDiscounts} items.");
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < discounts.Count; i++)
        {
            var d = discounts[i];
            var field = $"post_discounts[{i}]";
            if (d is null)
            {
                errors.Add($"{field}: must not be null.");
                continue;
            }

            Text(errors, field + ".name", d.Name, 20, required: true);
            if (d.Name is not null && !names.Add(d.Name))
            {
                errors.Add($"{field}.name: must be unique among post_discounts.");
            }

            Text(errors, field + ".description", d.Description, 30, required: false);
            Amount(errors, field + ".amount", d.Amount, minimum: 0);
            Count(errors, field + ".count", d.Count);
        }

        return errors.Count == before;
    }

    private static void TimeRange(List<string> errors, PayScoreTimeRange range, bool startRequired)
    {
        DateTime? start = null;
        if (range.StartTime is null)
        {
            if (startRequired)
            {
                errors.Add("time_range.start_time: is required (OnAccept, yyyyMMddHHmmss or yyyyMMdd).");
            }
        }
        else if (range.StartTime != "OnAccept")
        {
            start = ParseTime(range.StartTime);
            if (start is null)
            {
                errors.Add("time_range.start_time: must be OnAccept, yyyyMMddHHmmss or yyyyMMdd.");
            }
        }

        if (range.EndTime is not null)
        {
            var end = ParseTime(range.EndTime);
            if (end is null)
            {
                errors.Add("time_range.end_time: must be yyyyMMddHHmmss or yyyyMMdd.");
            }
            else if (start is not null && end < start)
            {
                errors.Add("time_range.end_time: must not be before start_time.");
            }
        }

        Text(errors, "time_range.start_time_remark", range.StartTimeRemark, 20, required: false);
        Text(errors, "time_range.end_time_remark", range.EndTimeRemark, 20, required: false);
    }

    private static void Location(List<string> errors, PayScoreLocation? location, bool endNeedsStart = true)
    {
        if (location is null)
        {
            return;
        }

        Text(errors, "location.start_location", location.StartLocation, 50, required: false);
        Text(errors, "location.end_location", location.EndLocation, 50, required: false);
        if (endNeedsStart && location.EndLocation is not null && location.StartLocation is null)
        {
            errors.Add("location.end_location: is only allowed together with start_location.");
        }
    }

    private static void Text(List<string> errors, string field, string? value, int maxLength, bool required)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            if (required)
            {
                errors.Add($"{field}: is required.");
            }
            else if (value is not null)
            {
                // An empty optional field is the same mistake as a null one: WeChat wants it omitted.
                errors.Add($"{field}: must be omitted rather than empty.");
            }

            return;
        }

        if (HasFourByteUtf8(value))
        {
            errors.Add($"{field}: must not contain emoji or other 4-byte UTF-8 characters.");
        }
        else if (value.Length > maxLength)
        {
            errors.Add($"{field}: at most {maxLength} characters.");
        }
    }

    private static void Amount(List<string> errors, string field, long value, long minimum)
    {
        if (value < minimum || value > MaxAmountFen)
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{field}: must be a whole number of fen from {minimum} to {MaxAmountFen}."));
        }
    }

    private static void Count(List<string> errors, string field, int? count)
    {
        if (count is < 1 or > 100)
        {
            errors.Add($"{field}: must be from 1 to 100.");
        }
    }

    private static DateTime? ParseTime(string value) =>
        DateTime.TryParseExact(value, ["yyyyMMddHHmmss", "yyyyMMdd"], CultureInfo.InvariantCulture, DateTimeStyles.None, out var time)
            ? time
            : null;

    [GeneratedRegex(@"^[0-9A-Za-z_|*-]{1,32}\z")]
    private static partial Regex OutOrderNoPattern();
}
