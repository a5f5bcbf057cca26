using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace PaymentFunctions.Events;

/// <summary>
/// Standard Webhooks signing (standardwebhooks.com): <c>webhook-signature: v1,&lt;Base64 HMAC-SHA256 of
/// "{id}.{timestamp}.{body}"&gt;</c> with the key that the secret <c>whsec_&lt;Base64&gt;</c> carries, so a receiver
/// verifies with the library of its language.
/// </summary>
public static class WebhookSigner
{
    public const string IdHeader = "webhook-id";
    public const string TimestampHeader = "webhook-timestamp";
    public const string SignatureHeader = "webhook-signature";
    public const string SecretPrefix = "whsec_";

    /// <summary>The key of a <c>whsec_</c> secret: 24 to 64 bytes (the spec recommends 24-64).</summary>
    public static bool TryParseSecret(string? secret, out byte[] key)
    {
        key = [];
        if (secret is null || !secret.StartsWith(SecretPrefix, StringComparison.Ordinal))
        {
            return false;
        }

        var buffer = new byte[secret.Length];
        if (!Convert.TryFromBase64String(secret[SecretPrefix.Length..], buffer, out var length) || length is < 24 or > 64)
        {
            return false;
        }

        key = buffer[..length];
        return true;
    }

    /// <summary>The value of <c>webhook-signature</c> for one delivery.</summary>
    public static string Sign(ReadOnlySpan<byte> key, string id, long timestamp, ReadOnlySpan<byte> body)
    {
        var prefix = Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{id}.{timestamp}."));
        var content = new byte[prefix.Length + body.Length];
        prefix.CopyTo(content, 0);
        body.CopyTo(content.AsSpan(prefix.Length));
        return "v1," + Convert.ToBase64String(HMACSHA256.HashData(key, content));
    }
}
