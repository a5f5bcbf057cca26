using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;

namespace PaymentFunctions.Orders;

/// <summary>
/// Order ids and P云 <c>pay_order</c> numbers. An order id is 120 random bits in lowercase base32 (24 chars,
/// unguessable); a pay_order is <c>{orderId}-{attempt}</c>, so a notification maps back to its partition
/// and attempt row without a scan, and every attempt gets a number P云 has never seen.
/// </summary>
public static class PayOrderNumber
{
    private const string Alphabet = "abcdefghijklmnopqrstuvwxyz234567";
    public const int OrderIdLength = 24;

    /// <summary>Attempt numbers are 1-3 digits, which keeps a pay_order within 28 characters.</summary>
    public const int MaxAttempts = 999;

    public static string NewOrderId()
    {
        Span<byte> random = stackalloc byte[15];
        RandomNumberGenerator.Fill(random);
        Span<char> chars = stackalloc char[OrderIdLength];
        // 15 bytes = 120 bits = 24 groups of 5 bits.
        ulong buffer = 0;
        var bits = 0;
        var n = 0;
        foreach (var b in random)
        {
            buffer = (buffer << 8) | b;
            bits += 8;
            while (bits >= 5)
            {
                chars[n++] = Alphabet[(int)((buffer >> (bits - 5)) & 31)];
                bits -= 5;
            }
        }

        return new string(chars);
    }

    public static bool IsOrderId([NotNullWhen(true)] string? value) =>
        value is { Length: OrderIdLength } && value.All(c => Alphabet.Contains(c, StringComparison.Ordinal));

    public static string Format(string orderId, int attempt) => $"{orderId}-{attempt}";

    public static bool TryParse(string? payOrder, [NotNullWhen(true)] out string? orderId, out int attempt)
    {
        orderId = null;
        attempt = 0;
        if (payOrder is null || payOrder.Length < OrderIdLength + 2 || payOrder[OrderIdLength] != '-')
        {
            return false;
        }

        var id = payOrder[..OrderIdLength];
        var number = payOrder[(OrderIdLength + 1)..];
        if (!IsOrderId(id) || number.Length > 3 || !number.All(char.IsAsciiDigit) || number[0] == '0' ||
            !int.TryParse(number, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out attempt))
        {
            return false;
        }

        orderId = id;
        return true;
    }
}
