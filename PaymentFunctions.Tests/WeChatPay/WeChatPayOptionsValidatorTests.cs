using System.Security.Cryptography;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using PaymentFunctions.WeChatPay;
using static PaymentFunctions.Tests.WeChatPay.WeChatPayTestData;

namespace PaymentFunctions.Tests.WeChatPay;

public sealed class WeChatPayOptionsValidatorTests
{
    private const string SecretKey = "s3cr3t-APIv3-key-value-01234567X";

    private static readonly Dictionary<string, (string Key, Action<WeChatPayOptions> Break)> Cases = new()
    {
        ["mode"] = ("WeChatPay:Mode", o => o.Mode = "Both"),
        ["mode number"] = ("WeChatPay:Mode", o => o.Mode = "1"),
        ["mchid missing"] = ("WeChatPay:MchId", o => o.MchId = ""),
        ["mchid letters"] = ("WeChatPay:MchId", o => o.MchId = "19000x"),
        ["submchid in partner mode"] = ("WeChatPay:SubMchId", o => o.Mode = "Partner"),
        ["subappid malformed"] = ("WeChatPay:SubAppId", o => { o.Mode = "Partner"; o.SubMchId = "1230000109"; o.SubAppId = "wx 1"; }),
        ["appid"] = ("WeChatPay:AppId", o => o.AppId = " "),
        ["service id"] = ("WeChatPay:ServiceId", o => o.ServiceId = ""),
        ["serial"] = ("WeChatPay:MerchantCertificateSerial", o => o.MerchantCertificateSerial = "12:34"),
        ["private key missing"] = ("WeChatPay:MerchantPrivateKey", o => o.MerchantPrivateKey = ""),
        ["private key garbage"] = ("WeChatPay:MerchantPrivateKey", o => o.MerchantPrivateKey = "-----BEGIN PRIVATE KEY-----\nSECRETSTUFF\n-----END PRIVATE KEY-----"),
        ["private key is public"] = ("WeChatPay:MerchantPrivateKey", o => o.MerchantPrivateKey = MerchantPublicPem),
        ["apiv3 missing"] = ("WeChatPay:ApiV3Key", o => o.ApiV3Key = ""),
        ["apiv3 short"] = ("WeChatPay:ApiV3Key", o => o.ApiV3Key = SecretKey[..31]),
        ["apiv3 long"] = ("WeChatPay:ApiV3Key", o => o.ApiV3Key = SecretKey + "X"),
        ["apiv3 non-ascii"] = ("WeChatPay:ApiV3Key", o => o.ApiV3Key = SecretKey[..31] + "密"),
        ["no verification keys"] = ("WeChatPay:PublicKeys", o => o.PublicKeys.Clear()),
        ["public key garbage"] = ("WeChatPay:PublicKeys:PUB_KEY_ID_0000000000000000000000000000000001", o => o.PublicKeys[PublicKeyId] = "not a pem"),
        ["public key id"] = ("WeChatPay:PublicKeys:MYKEY", o => o.PublicKeys["MYKEY"] = WeChatPayPublicPem),
        ["platform cert serial mismatch"] = ("WeChatPay:PlatformCertificates:0123ABCD", o => o.PlatformCertificates["0123ABCD"] = PlatformCertificate.CertificatePem),
        ["platform cert garbage"] = ("WeChatPay:PlatformCertificates:0123ABCD", o => o.PlatformCertificates["0123ABCD"] = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"),
        ["platform cert under pubkey id"] = ("WeChatPay:PlatformCertificates:PUB_KEY_ID_1", o => o.PlatformCertificates["PUB_KEY_ID_1"] = WeChatPayPublicPem),
        ["notify missing"] = ("WeChatPay:NotifyUrl", o => o.NotifyUrl = ""),
        ["notify http"] = ("WeChatPay:NotifyUrl", o => o.NotifyUrl = "http://example.com/notify"),
        ["notify query"] = ("WeChatPay:NotifyUrl", o => o.NotifyUrl = "https://example.com/notify?x=1"),
        ["refund notify http"] = ("WeChatPay:RefundNotifyUrl", o => o.RefundNotifyUrl = "http://example.com/notify"),
        ["refund notify query"] = ("WeChatPay:RefundNotifyUrl", o => o.RefundNotifyUrl = "https://example.com/notify?x=1"),
        ["refund notify relative"] = ("WeChatPay:RefundNotifyUrl", o => o.RefundNotifyUrl = "/api/notify/wechatpay"),
        ["base url"] = ("WeChatPay:BaseUrl", o => o.BaseUrl = "api.mch.weixin.qq.com"),
        ["base url http"] = ("WeChatPay:BaseUrl", o => o.BaseUrl = "http://api.mch.weixin.qq.com"),
        ["base url http to a look-alike"] = ("WeChatPay:BaseUrl", o => o.BaseUrl = "http://127.0.0.1.nip.io/"),
        ["timeout"] = ("WeChatPay:RequestTimeout", o => o.RequestTimeout = TimeSpan.Zero),
        ["unconfirmed lifetime"] = ("WeChatPay:UnconfirmedLifetime", o => o.UnconfirmedLifetime = TimeSpan.Zero),
        ["check backoff zero"] = ("WeChatPay:CheckBackoff", o => o.CheckBackoff = TimeSpan.Zero),
        ["check backoff past the queue's limit"] = ("WeChatPay:CheckBackoff", o => o.CheckBackoff = TimeSpan.FromDays(7)),
        ["check rounds zero"] = ("WeChatPay:CheckMaxRounds", o => o.CheckMaxRounds = 0),
        ["check rounds too many"] = ("WeChatPay:CheckMaxRounds", o => o.CheckMaxRounds = WeChatPayOptions.MaxCheckRounds + 1),
    };

    public static TheoryData<string> CaseNames => [.. Cases.Keys];

    [Fact]
    public void Valid_direct_and_partner_settings_pass()
    {
        var validator = new WeChatPayOptionsValidator();

        Assert.True(validator.Validate(null, Options()).Succeeded);
        Assert.True(validator.Validate(null, Options(o =>
        {
            o.Mode = "partner";
            o.SubMchId = "1230000109";
            o.SubAppId = "wx8888888888888888";
            o.NotifyUrl = "http://127.0.0.1:7071/api/notify/wechatpay";
            o.RefundNotifyUrl = "https://example.com/refund/notify";
        })).Succeeded);
    }

    [Fact]
    public void The_refund_notify_url_defaults_to_the_notify_url()
    {
        Assert.Equal(NotifyUrl, Options().EffectiveRefundNotifyUrl);
        Assert.Equal("https://example.com/refund/notify", Options(o => o.RefundNotifyUrl = "https://example.com/refund/notify").EffectiveRefundNotifyUrl);
    }

    [Fact]
    public void Both_key_kinds_and_escaped_newlines_are_accepted()
    {
        var result = new WeChatPayOptionsValidator().Validate(null, Options(o =>
        {
            o.PlatformCertificates[PlatformCertificate.Serial] = PlatformCertificate.CertificatePem;
            o.MerchantPrivateKey = MerchantPrivatePem.Replace("\n", "\\n", StringComparison.Ordinal);
        }));

        Assert.True(result.Succeeded, result.FailureMessage);
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Each_bad_setting_is_named_in_exactly_one_sentence(string name)
    {
        var (key, breakIt) = Cases[name];
        var options = Options(o => o.ApiV3Key = SecretKey);
        breakIt(options);

        var result = new WeChatPayOptionsValidator().Validate(null, options);

        Assert.True(result.Failed);
        var failure = Assert.Single(result.Failures!);
        Assert.Contains($"'{key}'", failure, StringComparison.Ordinal);
        Assert.EndsWith(".", failure, StringComparison.Ordinal);
        AssertNoSecrets(failure, options);
    }

    [Fact]
    public void Every_problem_is_reported_at_once_and_none_quotes_a_secret()
    {
        var options = new WeChatPayOptions
        {
            Mode = "Partner",
            ApiV3Key = "short-secret-apiv3",
            MerchantPrivateKey = "-----BEGIN PRIVATE KEY-----\nTOPSECRETKEYMATERIAL\n-----END PRIVATE KEY-----",
            NotifyUrl = "",
        };

        var result = new WeChatPayOptionsValidator().Validate(null, options);

        string[] expectedKeys = ["MchId", "SubMchId", "AppId", "ServiceId", "MerchantCertificateSerial", "MerchantPrivateKey", "ApiV3Key", "PublicKeys", "NotifyUrl"];
        Assert.Equal(expectedKeys.Length, result.Failures!.Count());
        foreach (var key in expectedKeys)
        {
            Assert.Contains(result.Failures!, f => f.Contains($"'WeChatPay:{key}'", StringComparison.Ordinal));
        }

        Assert.DoesNotContain("short-secret-apiv3", result.FailureMessage, StringComparison.Ordinal);
        Assert.DoesNotContain("TOPSECRETKEYMATERIAL", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Options_bind_from_configuration_and_fail_at_start_with_the_setting_named()
    {
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["WeChatPay:Mode"] = "Partner",
            ["WeChatPay:MchId"] = MchId,
            ["WeChatPay:SubMchId"] = "1230000109",
            ["WeChatPay:AppId"] = AppId,
            ["WeChatPay:ServiceId"] = ServiceId,
            ["WeChatPay:MerchantCertificateSerial"] = MerchantSerial,
            ["WeChatPay:MerchantPrivateKey"] = MerchantPrivatePem,
            ["WeChatPay:ApiV3Key"] = SecretKey,
            [$"WeChatPay:PublicKeys:{PublicKeyId}"] = WeChatPayPublicPem,
            ["WeChatPay:NotifyUrl"] = NotifyUrl,
            ["WeChatPay:RequestTimeout"] = "00:00:07",
            ["WeChatPay:UnconfirmedLifetime"] = "00:00:03",
            ["WeChatPay:CheckBackoff"] = "00:00:00.500",
            ["WeChatPay:CheckMaxRounds"] = "4",
        }).Build());
        services.AddLogging();
        services.AddWeChatPay();
        using var provider = services.BuildServiceProvider();

        var options = provider.GetRequiredService<IOptions<WeChatPayOptions>>().Value;

        Assert.True(options.IsPartner);
        Assert.Equal(TimeSpan.FromSeconds(7), options.RequestTimeout);
        Assert.Equal(TimeSpan.FromSeconds(3), options.UnconfirmedLifetime);
        Assert.Equal(TimeSpan.FromMilliseconds(500), options.CheckBackoff);
        Assert.Equal(4, options.CheckMaxRounds);
        Assert.Equal(WeChatPayOptions.DefaultBaseUrl, options.BaseUrl);
        Assert.NotNull(provider.GetRequiredService<WeChatPayClient>());
        Assert.True(provider.GetRequiredService<WeChatPayKeyRing>().TryGetVerificationKey(PublicKeyId, out _));

        var broken = new ServiceCollection();
        broken.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["WeChatPay:ApiV3Key"] = SecretKey[..20],
        }).Build());
        broken.AddWeChatPay();
        using var brokenProvider = broken.BuildServiceProvider();
        var ex = Assert.Throws<OptionsValidationException>(() => brokenProvider.GetRequiredService<IOptions<WeChatPayOptions>>().Value);
        Assert.Contains(ex.Failures, f => f == "Setting 'WeChatPay:ApiV3Key' is malformed: expected 32 characters.");
        Assert.DoesNotContain(SecretKey[..20], ex.Message, StringComparison.Ordinal);
    }

    private static void AssertNoSecrets(string message, WeChatPayOptions options)
    {
        Assert.DoesNotContain(SecretKey[..20], message, StringComparison.Ordinal);
        Assert.DoesNotContain("SECRETSTUFF", message, StringComparison.Ordinal);
        foreach (var pem in new[] { options.MerchantPrivateKey }.Concat(options.PublicKeys.Values).Concat(options.PlatformCertificates.Values))
        {
            var body = pem.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.StartsWith("-----", StringComparison.Ordinal));
            foreach (var line in body.Where(l => l.Length >= 8))
            {
                Assert.DoesNotContain(line, message, StringComparison.Ordinal);
            }
        }

        using var rsa = RSA.Create();
        rsa.ImportFromPem(MerchantPrivatePem);
        Assert.DoesNotContain(Convert.ToBase64String(rsa.ExportRSAPrivateKey())[..40], message, StringComparison.Ordinal);
    }
}
