using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace PaymentFunctions.WeChatPay;

public enum WeChatPayMode
{
    /// <summary>普通商户: we call WeChat Pay for our own merchant number.</summary>
    Direct,

    /// <summary>普通服务商: we call as the service provider on behalf of the sub-merchant <c>SubMchId</c>.</summary>
    Partner,
}

/// <summary>
/// WeChat Pay API v3 settings, section <c>WeChatPay</c>. <see cref="MerchantPrivateKey"/> and <see cref="ApiV3Key"/>
/// are secrets (Key Vault references in Azure): they are used to sign and decrypt, never logged or echoed.
/// </summary>
public sealed class WeChatPayOptions
{
    public const string Section = "WeChatPay";
    public const string DefaultBaseUrl = "https://api.mch.weixin.qq.com";

    /// <summary><c>Direct</c> or <c>Partner</c>. A string so a typo fails validation with a clear message instead of the binder.</summary>
    public string Mode { get; set; } = nameof(WeChatPayMode.Direct);

    /// <summary>Our merchant number (the service provider's in partner mode); it signs every request.</summary>
    public string MchId { get; set; } = "";

    /// <summary>Partner mode: the 特约商户号 we act for.</summary>
    public string SubMchId { get; set; } = "";

    /// <summary>The mini program appid (direct) or the service provider's appid (partner).</summary>
    public string AppId { get; set; } = "";

    /// <summary>Partner mode, optional: the sub-merchant's mini program appid, sent as <c>sub_appid</c> on create.</summary>
    public string SubAppId { get; set; } = "";

    public string ServiceId { get; set; } = "";

    /// <summary>Serial number of the merchant API certificate (<c>apiclient_cert.pem</c>), sent as <c>serial_no</c>.</summary>
    public string MerchantCertificateSerial { get; set; } = "";

    /// <summary>PEM text of the merchant API private key (<c>apiclient_key.pem</c>).</summary>
    public string MerchantPrivateKey { get; set; } = "";

    /// <summary>The 32-character APIv3 key that decrypts callback resources.</summary>
    public string ApiV3Key { get; set; } = "";

    /// <summary>微信支付公钥 by id (<c>PUB_KEY_ID_…</c>) → PEM public key.</summary>
    public Dictionary<string, string> PublicKeys { get; set; } = new(StringComparer.Ordinal);

    /// <summary>平台证书 by serial → PEM certificate (or its PEM public key). Both kinds may be configured during a migration.</summary>
    public Dictionary<string, string> PlatformCertificates { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Where WeChat Pay sends PAYSCORE.USER_CONFIRM and PAYSCORE.USER_PAID.</summary>
    public string NotifyUrl { get; set; } = "";

    /// <summary>
    /// Where WeChat Pay sends REFUND.SUCCESS/CLOSED/ABNORMAL; empty means <see cref="NotifyUrl"/> (our one callback endpoint dispatches on
    /// <c>event_type</c>). Sent with every refund create, so the portal's refund-callback setting never matters.
    /// </summary>
    public string RefundNotifyUrl { get; set; } = "";

    /// <summary>The <c>notify_url</c> a refund create carries.</summary>
    public string EffectiveRefundNotifyUrl => string.IsNullOrEmpty(RefundNotifyUrl) ? NotifyUrl : RefundNotifyUrl;

    public string BaseUrl { get; set; } = DefaultBaseUrl;

    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>At most one WeChat query per Pay Score order per interval, however often the mini program polls by <c>outOrderNo</c>.</summary>
    public TimeSpan QueryInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long WeChat keeps an unconfirmed (CREATED) order before it ends it as EXPIRED: 30 days. The scheduled check
    /// made at create asks WeChat then (chained in 6-day hops); a test may set seconds.
    /// </summary>
    public TimeSpan UnconfirmedLifetime { get; set; } = TimeSpan.FromDays(30);

    /// <summary>
    /// The first check after complete runs after this; an order a check finds still CREATED or still collecting is
    /// checked again after this × 2^round (capped at 6 days).
    /// </summary>
    public TimeSpan CheckBackoff { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>How many scheduled checks that ask WeChat one stage of an order gets at most (the first included).</summary>
    public int CheckMaxRounds { get; set; } = 12;

    /// <summary>The most check rounds a setting may ask for: the delays double, and a queue message waits 7 days at most.</summary>
    public const int MaxCheckRounds = 20;

    /// <summary>The parsed <see cref="Mode"/>; only meaningful once the options validated.</summary>
    public WeChatPayMode ParsedMode =>
        Enum.TryParse<WeChatPayMode>(Mode, ignoreCase: true, out var mode) && Enum.IsDefined(mode) ? mode : WeChatPayMode.Direct;

    public bool IsPartner => ParsedMode == WeChatPayMode.Partner;

    /// <summary>PEM text from an environment variable or app setting may carry literal <c>\n</c> instead of line breaks.</summary>
    internal static string NormalizePem(string pem) =>
        pem.Contains('\n', StringComparison.Ordinal) ? pem : pem.Replace("\\n", "\n", StringComparison.Ordinal);
}

/// <summary>
/// One sentence per bad setting, naming the setting key and what is expected. Values are never quoted:
/// several of these settings are secrets, and the others are not worth the risk of a copy-paste mix-up.
/// </summary>
internal sealed partial class WeChatPayOptionsValidator : IValidateOptions<WeChatPayOptions>
{
    private const string S = WeChatPayOptions.Section;

    public ValidateOptionsResult Validate(string? name, WeChatPayOptions o)
    {
        var errors = new List<string>();
        var modeValid = Enum.TryParse<WeChatPayMode>(o.Mode, ignoreCase: true, out var mode) && Enum.IsDefined(mode)
            && !int.TryParse(o.Mode, out _);
        if (!modeValid)
        {
            errors.Add($"Setting '{S}:Mode' is malformed: expected 'Direct' or 'Partner'.");
        }

        Match(errors, "MchId", o.MchId, Digits(), "the merchant number, digits only");
        if (modeValid && mode == WeChatPayMode.Partner)
        {
            Match(errors, "SubMchId", o.SubMchId, Digits(), "the sub-merchant number (特约商户号), digits only, required in Partner mode");
            Optional(errors, "SubAppId", o.SubAppId, Identifier(), "an appid of letters and digits");
        }

        Match(errors, "AppId", o.AppId, Identifier(), "an appid of letters and digits, e.g. wx8888888888888888");
        Match(errors, "ServiceId", o.ServiceId, Identifier(), "the Pay Score service_id issued by WeChat Pay");
        Match(errors, "MerchantCertificateSerial", o.MerchantCertificateSerial, Identifier(), "the merchant API certificate serial number in hex");
        ValidatePrivateKey(errors, o.MerchantPrivateKey);
        ValidateApiV3Key(errors, o.ApiV3Key);
        ValidateVerificationKeys(errors, o);
        ValidateUrl(errors, "NotifyUrl", o.NotifyUrl, notify: true);
        if (!string.IsNullOrEmpty(o.RefundNotifyUrl))
        {
            ValidateUrl(errors, "RefundNotifyUrl", o.RefundNotifyUrl, notify: true);
        }

        ValidateUrl(errors, "BaseUrl", o.BaseUrl, notify: false);
        if (o.RequestTimeout <= TimeSpan.Zero)
        {
            errors.Add($"Setting '{S}:RequestTimeout' must be a positive duration such as 00:00:10.");
        }

        if (o.QueryInterval < TimeSpan.Zero)
        {
            errors.Add($"Setting '{S}:QueryInterval' must be a duration such as 00:00:05 (zero: ask WeChat on every query).");
        }

        if (o.UnconfirmedLifetime <= TimeSpan.Zero)
        {
            errors.Add($"Setting '{S}:UnconfirmedLifetime' must be a positive duration such as 30.00:00:00.");
        }

        if (o.CheckBackoff <= TimeSpan.Zero || o.CheckBackoff > Orders.OrderLifecycle.MaxCheckDelay)
        {
            errors.Add($"Setting '{S}:CheckBackoff' must be a positive duration up to 6.00:00:00, such as 00:01:00.");
        }

        if (o.CheckMaxRounds is < 1 or > WeChatPayOptions.MaxCheckRounds)
        {
            errors.Add($"Setting '{S}:CheckMaxRounds' must be a whole number from 1 to {WeChatPayOptions.MaxCheckRounds}.");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private static void Match(List<string> errors, string key, string value, Regex pattern, string expected)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            errors.Add($"Setting '{S}:{key}' is missing: expected {expected}.");
        }
        else if (!pattern.IsMatch(value))
        {
            errors.Add($"Setting '{S}:{key}' is malformed: expected {expected}.");
        }
    }

    private static void Optional(List<string> errors, string key, string value, Regex pattern, string expected)
    {
        if (!string.IsNullOrEmpty(value) && !pattern.IsMatch(value))
        {
            errors.Add($"Setting '{S}:{key}' is malformed: expected {expected}.");
        }
    }

    private static void ValidatePrivateKey(List<string> errors, string pem)
    {
        const string key = S + ":MerchantPrivateKey";
        if (string.IsNullOrWhiteSpace(pem))
        {
            errors.Add($"Setting '{key}' is missing: expected the PEM text of the merchant API private key (apiclient_key.pem).");
            return;
        }

        if (!WeChatPayKeyRing.TryLoadPrivateKey(pem, out var rsa))
        {
            errors.Add($"Setting '{key}' is malformed: expected a PEM RSA private key (-----BEGIN PRIVATE KEY-----) of at least 2048 bits.");
            return;
        }

        rsa.Dispose();
    }

    private static void ValidateApiV3Key(List<string> errors, string value)
    {
        const string key = S + ":ApiV3Key";
        if (string.IsNullOrEmpty(value))
        {
            errors.Add($"Setting '{key}' is missing: expected the 32-character APIv3 key.");
        }
        else if (value.Length != WeChatPayAesGcm.KeySize || Encoding.UTF8.GetByteCount(value) != WeChatPayAesGcm.KeySize
                 || value.Any(char.IsWhiteSpace))
        {
            errors.Add($"Setting '{key}' is malformed: expected 32 characters.");
        }
    }

    private static void ValidateVerificationKeys(List<string> errors, WeChatPayOptions o)
    {
        if (o.PublicKeys.Count == 0 && o.PlatformCertificates.Count == 0)
        {
            errors.Add($"Settings '{S}:PublicKeys' and '{S}:PlatformCertificates' are both missing: expected at least one WeChat Pay public key (PUB_KEY_ID_…) or platform certificate.");
        }

        foreach (var (id, pem) in o.PublicKeys)
        {
            var key = $"{S}:PublicKeys:{id}";
            if (!WeChatPayKeyRing.IsPublicKeyId(id))
            {
                errors.Add($"Setting '{key}' is misplaced: expected an id like PUB_KEY_ID_0112345678; platform certificates belong in '{S}:PlatformCertificates'.");
            }
            else if (!WeChatPayKeyRing.TryLoadPublicKey(pem, out var rsa))
            {
                errors.Add($"Setting '{key}' is malformed: expected a PEM RSA public key (-----BEGIN PUBLIC KEY-----).");
            }
            else
            {
                rsa.Dispose();
            }
        }

        foreach (var (serial, pem) in o.PlatformCertificates)
        {
            var key = $"{S}:PlatformCertificates:{serial}";
            if (WeChatPayKeyRing.IsPublicKeyId(serial) || !Identifier().IsMatch(serial))
            {
                errors.Add($"Setting '{key}' is misplaced: expected the certificate serial number in hex; WeChat Pay public keys belong in '{S}:PublicKeys'.");
            }
            else if (!WeChatPayKeyRing.TryLoadPlatformKey(serial, pem, out var rsa, out var serialMismatch))
            {
                errors.Add(serialMismatch
                    ? $"Setting '{key}' is malformed: the certificate's serial number differs from the setting's name."
                    : $"Setting '{key}' is malformed: expected a PEM certificate (-----BEGIN CERTIFICATE-----) or RSA public key.");
            }
            else
            {
                rsa.Dispose();
            }
        }
    }

    private static void ValidateUrl(List<string> errors, string name, string value, bool notify)
    {
        var key = $"{S}:{name}";
        if (string.IsNullOrWhiteSpace(value))
        {
            errors.Add($"Setting '{key}' is missing: expected an absolute https URL.");
            return;
        }

        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp))
        {
            errors.Add($"Setting '{key}' is malformed: expected an absolute https URL.");
        }
        else if (uri.Scheme == Uri.UriSchemeHttp && !Http.OutboundHttp.IsLoopback(uri))
        {
            // Plain http is only for the fake platform on this machine.
            errors.Add($"Setting '{key}' is malformed: expected https (http is allowed for loopback addresses only).");
        }
        else if (notify && (uri.Query.Length > 0 || uri.Fragment.Length > 0))
        {
            errors.Add($"Setting '{key}' is malformed: WeChat Pay requires a notify URL without a query string.");
        }
    }

    [GeneratedRegex(@"^[0-9]{1,32}\z")]
    private static partial Regex Digits();

    [GeneratedRegex(@"^[0-9A-Za-z_]{1,64}\z")]
    private static partial Regex Identifier();
}
