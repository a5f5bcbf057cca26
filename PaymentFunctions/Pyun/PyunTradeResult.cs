using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace PaymentFunctions.Pyun;

/// <summary>
/// What P云 says about one <c>pay_order</c>, from a notification or a trade query: the same fact from
/// either source has the same <see cref="EventKey"/>, so it is recorded once.
/// </summary>
public sealed record PyunTradeResult(
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
            if (!long.TryParse(timeText, NumberStyles.None, CultureInfo.InvariantCulture, out var ms) || ms > 253402300799999)
            {
                error = "Field 'trade_time' must be epoch milliseconds.";
                return false;
            }

            tradeTime = DateTimeOffset.FromUnixTimeMilliseconds(ms);
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
