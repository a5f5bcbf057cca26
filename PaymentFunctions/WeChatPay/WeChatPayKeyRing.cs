using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Microsoft.Extensions.Options;

namespace PaymentFunctions.WeChatPay;

/// <summary>
/// The key material from <see cref="WeChatPayOptions"/>, parsed once: our merchant private key (signs requests), the
/// keys WeChat Pay signs with (chosen by <c>Wechatpay-Serial</c>: <c>PUB_KEY_ID_…</c> → 微信支付公钥, anything else →
/// 平台证书 serial; both kinds may be present during a migration), and the APIv3 key bytes.
/// </summary>
public sealed class WeChatPayKeyRing : IDisposable
{
    public const string PublicKeyIdPrefix = "PUB_KEY_ID_";
    private const int MinimumKeyBits = 2048;

    private readonly Dictionary<string, RSA> _publicKeys = new(StringComparer.Ordinal);
    private readonly Dictionary<string, RSA> _platformKeys = new(StringComparer.OrdinalIgnoreCase);
    private readonly byte[] _apiV3Key;

    public WeChatPayKeyRing(IOptions<WeChatPayOptions> options)
        : this(options.Value)
    {
    }

    public WeChatPayKeyRing(WeChatPayOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        try
        {
            MerchantKey = TryLoadPrivateKey(options.MerchantPrivateKey, out var merchant)
                ? merchant
                : throw new ConfigurationException($"Setting '{WeChatPayOptions.Section}:MerchantPrivateKey' is malformed: expected a PEM RSA private key.");
            foreach (var (id, pem) in options.PublicKeys)
            {
                _publicKeys[id] = TryLoadPublicKey(pem, out var rsa)
                    ? rsa
                    : throw new ConfigurationException($"Setting '{WeChatPayOptions.Section}:PublicKeys:{id}' is malformed: expected a PEM RSA public key.");
            }

            foreach (var (serial, pem) in options.PlatformCertificates)
            {
                _platformKeys[serial] = TryLoadPlatformKey(serial, pem, out var rsa, out _)
                    ? rsa
                    : throw new ConfigurationException($"Setting '{WeChatPayOptions.Section}:PlatformCertificates:{serial}' is malformed: expected a PEM certificate or public key.");
            }
        }
        catch
        {
            Dispose();
            throw;
        }

        _apiV3Key = Encoding.UTF8.GetBytes(options.ApiV3Key ?? "");
    }

    /// <summary>The merchant API private key; signs every request.</summary>
    public RSA MerchantKey { get; } = null!;

    /// <summary>The APIv3 key as the 32 bytes AES-256-GCM uses (empty when unset; decryption then fails).</summary>
    public ReadOnlySpan<byte> ApiV3Key => _apiV3Key;

    public static bool IsPublicKeyId(string serial) => serial.StartsWith(PublicKeyIdPrefix, StringComparison.Ordinal);

    /// <summary>The key WeChat Pay signed with, by <c>Wechatpay-Serial</c>; false for an unknown serial.</summary>
    public bool TryGetVerificationKey(string serial, out RSA key)
    {
        var found = IsPublicKeyId(serial) ? _publicKeys.TryGetValue(serial, out var k) : _platformKeys.TryGetValue(serial, out k);
        key = k!;
        return found;
    }

    public void Dispose()
    {
        MerchantKey?.Dispose();
        foreach (var key in _publicKeys.Values.Concat(_platformKeys.Values))
        {
            key.Dispose();
        }

        _publicKeys.Clear();
        _platformKeys.Clear();
    }

    internal static bool TryLoadPrivateKey(string pem, out RSA rsa) => TryLoad(pem, requirePrivate: true, out rsa);

    internal static bool TryLoadPublicKey(string pem, out RSA rsa) => TryLoad(pem, requirePrivate: false, out rsa);

    private static bool TryLoad(string pem, bool requirePrivate, out RSA rsa)
    {
        rsa = RSA.Create();
        try
        {
            rsa.ImportFromPem(WeChatPayOptions.NormalizePem(pem));
            if (requirePrivate)
            {
                // Exporting the private exponent proves this is a private key, not a public one pasted by mistake.
                _ = rsa.ExportParameters(includePrivateParameters: true);
            }

            if (rsa.KeySize >= MinimumKeyBits)
            {
                return true;
            }
        }
        catch (Exception ex) when (ex is ArgumentException or CryptographicException)
        {
        }

        rsa.Dispose();
        rsa = null!;
        return false;
    }

    /// <summary>A platform certificate's RSA key; a certificate must carry the serial it is configured under.</summary>
    internal static bool TryLoadPlatformKey(string serial, string pem, out RSA rsa, out bool serialMismatch)
    {
        serialMismatch = false;
        var text = WeChatPayOptions.NormalizePem(pem ?? "");
        if (!text.Contains("CERTIFICATE-----", StringComparison.Ordinal))
        {
            return TryLoadPublicKey(text, out rsa);
        }

        rsa = null!;
        try
        {
            using var certificate = X509Certificate2.CreateFromPem(text);
            if (!string.Equals(certificate.SerialNumber, serial, StringComparison.OrdinalIgnoreCase))
            {
                serialMismatch = true;
                return false;
            }

            var key = certificate.GetRSAPublicKey();
            if (key is null || key.KeySize < MinimumKeyBits)
            {
                key?.Dispose();
                return false;
            }

            rsa = key;
            return true;
        }
        catch (Exception ex) when (ex is ArgumentException or CryptographicException)
        {
            return false;
        }
    }
}
