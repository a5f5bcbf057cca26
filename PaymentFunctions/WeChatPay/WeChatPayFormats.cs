using System.Globalization;
using System.Text.RegularExpressions;

namespace PaymentFunctions.WeChatPay;

/// <summary>
/// What WeChat Pay accepts in a Pay Score field (WeChat Pay API v3, 支付分 创建支付分订单: field limits), as pure checks. The API's rules built from
/// them live with the Pay Score validators (PayScore/PayScoreValidators.cs).
/// </summary>
public static partial class WeChatPayFormats
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

    /// <summary>The <c>query_id</c> the Pay Score mini program returns: opaque, at most 512 characters.</summary>
    public static bool IsValidQueryId(string? value) =>
        !string.IsNullOrEmpty(value) && value.Length <= 512 && value.All(c => c > ' ' && c < 0x7F);

    /// <summary>A <c>time_range</c> time: <c>yyyyMMddHHmmss</c> or <c>yyyyMMdd</c>; null when it is neither.</summary>
    public static DateTime? ParseTime(string value) =>
        DateTime.TryParseExact(value, ["yyyyMMddHHmmss", "yyyyMMdd"], CultureInfo.InvariantCulture, DateTimeStyles.None, out var time)
            ? time
            : null;

    [GeneratedRegex(@"^[0-9A-Za-z_|*-]{1,32}\z")]
    private static partial Regex OutOrderNoPattern();
}
