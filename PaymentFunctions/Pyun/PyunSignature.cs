using System.Security.Cryptography;
using System.Text;

namespace PaymentFunctions.Pyun;

/// <summary>
/// P云's MD5 "sign" (P云 开放平台, 签名算法): every parameter but <c>sign</c> whose value is not null, sorted by name
/// (ordinal), joined as <c>k=v&amp;…</c> with raw values, then <c>&amp;app_secret=…</c>, MD5 over UTF-8, uppercase hex.
/// Empty strings are signed (the rule since 2024-01).
/// The string is not escaped, so a name or value holding '&amp;' or '=' could be re-split into other fields with
/// the same sign: such fields are refused both ways (<see cref="IsSignable"/>).
/// </summary>
public static class PyunSignature
{
    public const string SignField = "sign";

    /// <summary>
    /// True when <paramref name="text"/> (a parameter name or raw value) can go into the sign string unambiguously:
    /// it holds neither '&amp;' nor '='. The one rule for what we send and what we accept.
    /// </summary>
    public static bool IsSignable(string? text) => text is null || text.AsSpan().IndexOfAny('&', '=') < 0;

    /// <summary>The first parameter (name, or name of the value) that <see cref="IsSignable"/> refuses, or null.</summary>
    public static string? FirstUnsignable(IEnumerable<KeyValuePair<string, string?>> parameters) =>
        parameters.Where(p => p.Key != SignField && (!IsSignable(p.Key) || !IsSignable(p.Value)))
            .Select(p => p.Key).FirstOrDefault();

    public static string Sign(IEnumerable<KeyValuePair<string, string?>> parameters, string appSecret)
        => Md5Upper(StringToSign(parameters, appSecret));

    public static string StringToSign(IEnumerable<KeyValuePair<string, string?>> parameters, string appSecret)
    {
        var builder = new StringBuilder();
        foreach (var (key, value) in parameters
                     .Where(p => p.Key != SignField && p.Value is not null)
                     .OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            builder.Append(key).Append('=').Append(value).Append('&');
        }

        return builder.Append("app_secret=").Append(appSecret).ToString();
    }

    /// <summary>
    /// Constant-time, case-insensitive comparison of a received sign with the expected one. Parameters that
    /// <see cref="IsSignable"/> refuses never verify: their sign proves nothing about how the fields were split.
    /// </summary>
    public static bool Verify(IEnumerable<KeyValuePair<string, string?>> parameters, string receivedSign, string appSecret)
    {
        var list = parameters as IReadOnlyCollection<KeyValuePair<string, string?>> ?? parameters.ToList();
        if (FirstUnsignable(list) is not null)
        {
            return false;
        }

        var expected = Encoding.ASCII.GetBytes(Sign(list, appSecret));
        var received = Encoding.UTF8.GetBytes(receivedSign.ToUpperInvariant());
        return CryptographicOperations.FixedTimeEquals(expected, received);
    }

    /// <summary>
    /// JSON-body requests (P云 开放平台 发起订单退款): MD5 over the exact body text, then <c>&amp;app_secret=…</c>, uppercase
    /// hex, sent as the <c>Authorization</c> header. The body is signed as sent: serialize it once and send those bytes.
    /// </summary>
    public static string SignJson(string jsonBody, string appSecret) => SignJson(Encoding.UTF8.GetBytes(jsonBody), appSecret);

    /// <summary>The same over the UTF-8 bytes of the body as they go on the wire.</summary>
    public static string SignJson(ReadOnlySpan<byte> utf8JsonBody, string appSecret)
    {
        var suffix = Encoding.UTF8.GetBytes("&app_secret=" + appSecret);
        var text = new byte[utf8JsonBody.Length + suffix.Length];
        utf8JsonBody.CopyTo(text);
        suffix.CopyTo(text.AsSpan(utf8JsonBody.Length));
        return Md5Upper(text);
    }

    private static string Md5Upper(string text) => Md5Upper(Encoding.UTF8.GetBytes(text));

#pragma warning disable CA5351 // MD5 is what P云's protocol prescribes; it is not our choice of hash.
    private static string Md5Upper(byte[] bytes) => Convert.ToHexString(MD5.HashData(bytes));
#pragma warning restore CA5351
}
