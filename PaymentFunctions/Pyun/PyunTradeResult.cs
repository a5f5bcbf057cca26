using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace PaymentFunctions.Pyun;

/// <summary>
/// What P云 says about one <c>pay_order</c>, from a notification or a trade query: the same fact from
/// either source has the same <see cref="EventKey"/>, so it is recorded once.
/// </summary>
public sealed partial record PyunTradeResult(
    string PayOrder,
    int Status,
    long Value,
    string? PaySerial,
    string? Channel,
    string? TradeNo,
    DateTimeOffset? TradeTime,
    long? Fee,
    string? Payer)
{
    public const int Paying = 0;
    public const int Success = 1;
    public const int Failure = -1;

    /// <summary>Stable identity of the fact: status, amount and serial (not the time we heard it).</summary>
    public string EventKey
    {
        get
        {
            var hash = SHA256.HashData(Encoding.UTF8.GetBytes($"{PayOrder}|{Status}|{Value}|{PaySerial}"));
            var status = Status switch { Success => "s1", Failure => "f1", _ => "p0" };
            return $"{status}-{Convert.ToHexStringLower(hash.AsSpan(0, 10))}";
        }
    }

    /// <summary>Reads a verified notification's fields. Unknown fields are fine; malformed known ones are not.</summary>
    public static bool TryFromNotification(IReadOnlyDictionary<string, string> fields, out PyunTradeResult? result, out string error)
    {
        result = null;
        if (!fields.TryGetValue("pay_order", out var payOrder) || payOrder.Length is 0 or > 64)
        {
            error = "Field 'pay_order' is missing or longer than 64 characters.";
            return false;
        }

        if (!TryStatus(fields.GetValueOrDefault("status"), out var status))
        {
            error = "Field 'status' must be 1, 0 or -1.";
            return false;
        }

        if (!TryFen(fields.GetValueOrDefault("value"), out var value))
        {
            error = "Field 'value' must be a whole, non-negative number of fen.";
            return false;
        }

        long? fee = null;
        if (fields.TryGetValue("fee", out var feeText) && feeText.Length > 0)
        {
            if (!TryFen(feeText, out var f))
            {
                error = "Field 'fee' must be a whole, non-negative number of fen.";
                return false;
            }

            fee = f;
        }

        DateTimeOffset? tradeTime = null;
        if (fields.TryGetValue("trade_time", out var timeText) && timeText.Length > 0)
        {
            if (!TryEpochMilliseconds(timeText, out var t))
            {
                error = "Field 'trade_time' must be epoch milliseconds (13 digits).";
                return false;
            }

            tradeTime = t;
        }
        else if (status == Success)
        {
            // Without it a payment would be dated when we heard of it, which can misjudge a late payment either way.
            error = "Field 'trade_time' is required for a successful payment.";
            return false;
        }

        if (status == Success && string.IsNullOrEmpty(fields.GetValueOrDefault("pay_serial")))
        {
            error = "Field 'pay_serial' is required for a successful payment.";
            return false;
        }

        result = new PyunTradeResult(payOrder, status, value, Empty(fields, "pay_serial"), Empty(fields, "channel"),
            Empty(fields, "trade_no"), tradeTime, fee, Empty(fields, "payer"));
        error = "";
        return true;
    }

    /// <summary>
    /// The notification's <c>trade_time</c>: epoch milliseconds, digits only, from 2001-09-09 (the first 13-digit
    /// value) on, so epoch seconds are refused rather than read as a date in January 1970.
    /// </summary>
    public static bool TryEpochMilliseconds(string? text, out DateTimeOffset time)
    {
        time = default;
        if (text is not { Length: 13 } || !text.All(char.IsAsciiDigit) ||
            !long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var ms))
        {
            return false;
        }

        time = DateTimeOffset.FromUnixTimeMilliseconds(ms);
        return true;
    }

    /// <summary>
    /// The trade query's <c>trade_time</c>: ISO-8601 with a 'T', seconds, optional fraction, and an explicit
    /// offset ('Z', +08:00 or +0800). A time without an offset is ambiguous (UTC? Beijing?) and refused.
    /// </summary>
    public static bool TryIsoTime(string? text, out DateTimeOffset time)
    {
        time = default;
        var match = text is null ? null : IsoTimePattern().Match(text);
        if (match is not { Success: true })
        {
            return false;
        }

        var normalized = match.Groups["offset"].Value is { Length: 5 } basic && basic[0] is '+' or '-'
            ? text![..^5] + basic[..3] + ":" + basic[3..]
            : text!;
        return DateTimeOffset.TryParse(normalized, CultureInfo.InvariantCulture, DateTimeStyles.None, out time);
    }

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,7})?(?<offset>Z|[+-]\d{2}:?\d{2})\z", RegexOptions.CultureInvariant)]
    private static partial Regex IsoTimePattern();

    public static bool TryStatus(string? text, out int status)
    {
        status = text switch { "1" => Success, "0" => Paying, "-1" => Failure, _ => int.MinValue };
        return status != int.MinValue;
    }

    /// <summary>Amounts are integers in fen: digits only, no sign, no decimal point, no exponent.</summary>
    public static bool TryFen(string? text, out long fen)
    {
        fen = 0;
        return text is { Length: > 0 and <= 15 } && text.All(char.IsAsciiDigit) &&
               long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out fen);
    }

    private static string? Empty(IReadOnlyDictionary<string, string> fields, string key) =>
        fields.TryGetValue(key, out var v) && v.Length > 0 ? v : null;
}
