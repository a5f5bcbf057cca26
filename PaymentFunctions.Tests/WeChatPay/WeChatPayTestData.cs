using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using PaymentFunctions.WeChatPay;

namespace PaymentFunctions.Tests.WeChatPay;

/// <summary>The test-only keys and golden vectors in TestData/wechatpay (copied from the spec's companion files).</summary>
internal static class WeChatPayTestData
{
    public const string PublicKeyId = "PUB_KEY_ID_0000000000000000000000000000000001";
    public const string MchId = "1900000001";
    public const string MerchantSerial = "TESTMCHCERTSERIAL0000000000000000000001";
    public const string AppId = "wxd678efh567hg6787";
    public const string ServiceId = "2002000000000558128851361561536";
    public const string ApiV3Key = "0123456789abcdefghijklmnopqrstuv";
    public const string NotifyUrl = "https://example.com/payscore/notify";

    private static readonly Lazy<JsonDocument> VectorDocument = new(() => JsonDocument.Parse(File.ReadAllText(PathOf("vectors.json"))));
    private static readonly Lazy<TestPlatformCertificate> Certificate = new(TestPlatformCertificate.Create);

    public static string MerchantPrivatePem => File.ReadAllText(PathOf("merchant_test_private_pkcs8.pem"));
    public static string MerchantPublicPem => File.ReadAllText(PathOf("merchant_test_public.pem"));
    public static string WeChatPayPrivatePem => File.ReadAllText(PathOf("wechatpay_test_private_pkcs8.pem"));
    public static string WeChatPayPublicPem => File.ReadAllText(PathOf("wechatpay_test_public.pem"));

    /// <summary>A self-signed "platform certificate" over a second RSA key, made once per run (no certificate is in the vectors).</summary>
    public static TestPlatformCertificate PlatformCertificate => Certificate.Value;

    public static JsonElement Vector(string name) => VectorDocument.Value.RootElement.GetProperty(name);

    public static string VectorText(string name, string property) => Vector(name).GetProperty(property).GetString()!;

    public static WeChatPayOptions Options(Action<WeChatPayOptions>? configure = null)
    {
        var options = new WeChatPayOptions
        {
            MchId = MchId,
            AppId = AppId,
            ServiceId = ServiceId,
            MerchantCertificateSerial = MerchantSerial,
            MerchantPrivateKey = MerchantPrivatePem,
            ApiV3Key = ApiV3Key,
            NotifyUrl = NotifyUrl,
        };
        options.PublicKeys[PublicKeyId] = WeChatPayPublicPem;
        configure?.Invoke(options);
        return options;
    }

    /// <summary>Wechatpay-* headers over <paramref name="body"/>, signed like WeChat Pay would.</summary>
    public static WeChatPaySignatureHeaders Sign(byte[] body, string privateKeyPem, string serial, long timestamp, string nonce = "c5ac7061fccab6bf3e254dcf98995b8c")
    {
        using var rsa = RSA.Create();
        rsa.ImportFromPem(privateKeyPem);
        var ts = timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return new WeChatPaySignatureHeaders(ts, nonce, WeChatPaySignature.Sign(rsa, WeChatPaySignature.ResponseMessage(ts, nonce, body)), serial);
    }

    public static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    private static string PathOf(string file) => Path.Combine(AppContext.BaseDirectory, "TestData", "wechatpay", file);
}

internal sealed record TestPlatformCertificate(string Serial, string CertificatePem, string PrivateKeyPem)
{
    public static TestPlatformCertificate Create()
    {
        using var rsa = RSA.Create(2048);
        var request = new CertificateRequest("CN=Tenpay.com Root CA (test), O=Tenpay.com", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(5));
        return new TestPlatformCertificate(certificate.SerialNumber, certificate.ExportCertificatePem(), rsa.ExportPkcs8PrivateKeyPem());
    }
}

/// <summary>A clock the test sets.</summary>
internal sealed class FixedClock(DateTimeOffset now) : TimeProvider
{
    public FixedClock(long unixSeconds)
        : this(DateTimeOffset.FromUnixTimeSeconds(unixSeconds))
    {
    }

    public DateTimeOffset Now { get; set; } = now;

    public override DateTimeOffset GetUtcNow() => Now;
}

internal sealed class FixedNonce(string nonce) : IWeChatPayNonceSource
{
    public string Next() => nonce;
}
