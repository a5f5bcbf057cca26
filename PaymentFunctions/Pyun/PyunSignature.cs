using System.Security.Cryptography;
using System.Text;

namespace PaymentFunctions.Pyun;

/// <summary>
/// P云's MD5 "sign" (spec §3): every parameter but <c>sign</c> whose value is not null, sorted by name
/// (ordinal), joined as <c>k=v&amp;…</c> with raw values, then <c>&amp;app_secret=…</c>, MD5 over UTF-8, uppercase hex.
/// Empty strings are signed (the rule since 2024-01).
/// </summary>
public static class PyunSignature
{
    public const string SignField = "sign";

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

    /// <summary>JSON-body requests (refund): MD5 over the exact body text plus the secret, sent as Authorization.</summary>
    public static string SignJson(string jsonBody, string appSecret) => Md5Upper(jsonBody + "&app_secret=" + appSecret);

    /// <summary>Constant-time, case-insensitive comparison of a received sign with the expected one.</summary>
    public static bool Verify(IEnumerable<KeyValuePair<string, string?>> parameters, string receivedSign, string appSecret)
    {
        var expected = Encoding.ASCII.GetBytes(Sign(parameters, appSecret));
        var received = Encoding.UTF8.GetBytes(receivedSign.ToUpperInvariant());
        return CryptographicOperations.FixedTimeEquals(expected, received);
    }

#pragma warning disable CA5351 // MD5 is what P云's protocol prescribes; it is not our choice of hash.
    private static string Md5Upper(string text) => Convert.ToHexString(MD5.HashData(Encoding.UTF8.GetBytes(text)));
#pragma warning restore CA5351
}
