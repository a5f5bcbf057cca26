using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace PaymentFunctions.WeChatPay;

/// <summary>
/// WECHATPAY2-SHA256-RSA2048: SHA256withRSA (PKCS#1 v1.5) over newline-terminated lines. Messages are built as bytes
/// so the body that is signed or verified is exactly the body on the wire, never a re-encoded copy.
/// </summary>
public static class WeChatPaySignature
{
    public const string Scheme = "WECHATPAY2-SHA256-RSA2048";

    /// <summary><c>METHOD\nCANONICAL_URL\nTIMESTAMP\nNONCE\nBODY\n</c>; the body is empty for GET.</summary>
    public static byte[] RequestMessage(string method, string canonicalUrl, string timestamp, string nonce, ReadOnlySpan<byte> body) =>
        Lines(body, method, canonicalUrl, timestamp, nonce);

    /// <summary><c>TIMESTAMP\nNONCE\nBODY\n</c>, for responses and callbacks.</summary>
    public static byte[] ResponseMessage(string timestamp, string nonce, ReadOnlySpan<byte> body) => Lines(body, timestamp, nonce);

    public static string Sign(RSA privateKey, ReadOnlySpan<byte> message) =>
        Convert.ToBase64String(privateKey.SignData(message, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));

    /// <summary>False for a wrong signature and for one that is not even Base64.</summary>
    public static bool Verify(RSA publicKey, ReadOnlySpan<byte> message, string signatureBase64)
    {
        var buffer = new byte[(signatureBase64.Length * 3 / 4) + 3];
        return Convert.TryFromBase64String(signatureBase64, buffer, out var length)
            && publicKey.VerifyData(message, buffer.AsSpan(0, length), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
    }

    /// <summary>The Authorization header value in the field order of the official examples.</summary>
    public static string Authorization(string mchId, string nonce, string signature, string timestamp, string serialNo) =>
        $"{Scheme} mchid=\"{mchId}\",nonce_str=\"{nonce}\",signature=\"{signature}\",timestamp=\"{timestamp}\",serial_no=\"{serialNo}\"";

    public static string UnixSeconds(DateTimeOffset time) => time.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);

    private static byte[] Lines(ReadOnlySpan<byte> body, params ReadOnlySpan<string> headLines)
    {
        var length = body.Length + 1;
        foreach (var line in headLines)
        {
            length += Encoding.UTF8.GetByteCount(line) + 1;
        }

        var message = new byte[length];
        var position = 0;
        foreach (var line in headLines)
        {
            position += Encoding.UTF8.GetBytes(line, message.AsSpan(position));
            message[position++] = (byte)'\n';
        }

        body.CopyTo(message.AsSpan(position));
        message[^1] = (byte)'\n';
        return message;
    }
}

/// <summary>The <c>nonce_str</c> of each request; tests pin it.</summary>
public interface IWeChatPayNonceSource
{
    string Next();
}

/// <summary>32 uppercase hex characters from the system CSPRNG.</summary>
public sealed class RandomWeChatPayNonceSource : IWeChatPayNonceSource
{
    public string Next() => RandomNumberGenerator.GetHexString(32);
}

/// <summary>Builds our Authorization header with the merchant key, the injected clock and the nonce source.</summary>
public sealed class WeChatPayRequestSigner(IOptions<WeChatPayOptions> options, WeChatPayKeyRing keys, TimeProvider clock, IWeChatPayNonceSource nonces)
{
    public string CreateAuthorization(string method, string canonicalUrl, ReadOnlySpan<byte> body)
    {
        var o = options.Value;
        var timestamp = WeChatPaySignature.UnixSeconds(clock.GetUtcNow());
        var nonce = nonces.Next();
        var signature = WeChatPaySignature.Sign(keys.MerchantKey, WeChatPaySignature.RequestMessage(method, canonicalUrl, timestamp, nonce, body));
        return WeChatPaySignature.Authorization(o.MchId, nonce, signature, timestamp, o.MerchantCertificateSerial);
    }
}
