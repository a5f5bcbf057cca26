using Microsoft.Extensions.Options;
using PaymentFunctions.Http;

namespace PaymentFunctions.Pyun;

/// <summary>P云 settings, section <c>Pyun</c>. The secret is only ever used to sign; it is never logged.</summary>
public sealed class PyunOptions
{
    public const string Section = "Pyun";

    public string BaseUrl { get; set; } = "";
    public string AppId { get; set; } = "";
    public string AppSecret { get; set; } = "";
    public string Merchant { get; set; } = "";
    public string NotifyUrl { get; set; } = "";

    /// <summary>
    /// Path of refund create (POST, JSON) and refund query (GET), on <see cref="BaseUrl"/>. P云 开放平台's refund pages
    /// disagree: their headings say <c>/gate/1.0/payment/trade/refund</c> (the default), while their sample code and
    /// sample error (<c>"path":"POST /gate/1.0/payment/refund/create"</c>) use <c>/gate/1.0/payment/refund/create</c>.
    /// Ask P云 which one to use; set this to the other if the default is refused.
    /// </summary>
    public string RefundPath { get; set; } = DefaultRefundPath;

    public const string DefaultRefundPath = "/gate/1.0/payment/trade/refund";

    /// <summary>How long one prepared attempt (one pay_order / pay_id) stays payable; P云's own default is 3 minutes.</summary>
    public TimeSpan AttemptLifetime { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>A pending order younger than this is not queried at P云 yet: the notification usually wins.</summary>
    public TimeSpan QueryAfter { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>At most one trade query per order per interval, however often the mini program polls.</summary>
    public TimeSpan QueryInterval { get; set; } = TimeSpan.FromSeconds(10);

    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// A scheduled check of an attempt runs this long after the attempt's pay_id expires, so that P云 has settled it
    /// (and its notification has had its chance). Zero is allowed.
    /// </summary>
    public TimeSpan CheckGrace { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>A check that finds the attempt still paying (or unknown to P云) checks again after this × 2^round.</summary>
    public TimeSpan CheckBackoff { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How many scheduled checks one attempt gets at most (the first included).</summary>
    public int CheckMaxRounds { get; set; } = 5;

    /// <summary>The most check rounds a setting may ask for: the delays double, and a queue message waits 7 days at most.</summary>
    public const int MaxCheckRounds = 20;
}

internal sealed class PyunOptionsValidator : IValidateOptions<PyunOptions>
{
    public ValidateOptionsResult Validate(string? name, PyunOptions o)
    {
        var errors = new List<string>();
        RequireUrl(errors, "Pyun:BaseUrl", o.BaseUrl, httpOnLoopbackOnly: true);
        Require(errors, "Pyun:AppId", o.AppId, "the app_id P云 issued, e.g. op1234567723122");
        Require(errors, "Pyun:AppSecret", o.AppSecret, "the app_secret P云 issued (a Key Vault reference in Azure)");
        Require(errors, "Pyun:Merchant", o.Merchant, "the car-park merchant number, e.g. 6262666666");
        RequireUrl(errors, "Pyun:NotifyUrl", o.NotifyUrl);
        // These go into every signed request as raw values; '&' or '=' (e.g. a notify URL with ?code=) cannot be signed.
        Signable(errors, "Pyun:AppId", o.AppId);
        Signable(errors, "Pyun:Merchant", o.Merchant);
        Signable(errors, "Pyun:NotifyUrl", o.NotifyUrl);
        if (!IsGatewayPath(o.RefundPath))
        {
            errors.Add($"Setting 'Pyun:RefundPath' is malformed: expected a path on Pyun:BaseUrl such as {PyunOptions.DefaultRefundPath}.");
        }

        Positive(errors, "Pyun:AttemptLifetime", o.AttemptLifetime);
        Positive(errors, "Pyun:QueryInterval", o.QueryInterval);
        Positive(errors, "Pyun:RequestTimeout", o.RequestTimeout);
        if (o.CheckGrace < TimeSpan.Zero || o.CheckGrace > Orders.OrderLifecycle.MaxCheckDelay)
        {
            errors.Add("Setting 'Pyun:CheckGrace' must be a duration from 00:00:00 to 6.00:00:00, such as 00:00:30.");
        }

        Positive(errors, "Pyun:CheckBackoff", o.CheckBackoff);
        if (o.CheckMaxRounds is < 1 or > PyunOptions.MaxCheckRounds)
        {
            errors.Add($"Setting 'Pyun:CheckMaxRounds' must be a whole number from 1 to {PyunOptions.MaxCheckRounds}.");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    internal static void Require(List<string> errors, string key, string value, string expected)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            errors.Add($"Setting '{key}' is missing: expected {expected}.");
        }
    }

    /// <param name="httpOnLoopbackOnly">For URLs we call: signed requests and answers we act on must not travel in clear text.</param>
    internal static void RequireUrl(List<string> errors, string key, string value, bool httpOnLoopbackOnly = false)
    {
        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp))
        {
            errors.Add(string.IsNullOrWhiteSpace(value)
                ? $"Setting '{key}' is missing: expected an absolute http(s) URL."
                : $"Setting '{key}' is malformed: expected an absolute http(s) URL.");
        }
        else if (httpOnLoopbackOnly && uri.Scheme == Uri.UriSchemeHttp && !OutboundHttp.IsLoopback(uri))
        {
            errors.Add($"Setting '{key}' is malformed: expected https (http is allowed for loopback addresses only).");
        }
    }

    /// <summary>
    /// An absolute path and nothing else: "//host/…" would be read as another host, and a query or fragment
    /// would be mixed into the signed query string of refund query.
    /// </summary>
    private static bool IsGatewayPath(string? path) =>
        path is { Length: > 1 } && path[0] == '/' && path[1] != '/' &&
        path.All(c => char.IsAsciiLetterOrDigit(c) || c is '/' or '-' or '_' or '.' or '~');

    private static void Signable(List<string> errors, string key, string value)
    {
        if (!PyunSignature.IsSignable(value))
        {
            errors.Add($"Setting '{key}' is malformed: it must not contain '&' or '=', which P云's signature cannot carry.");
        }
    }

    internal static void Positive(List<string> errors, string key, TimeSpan value)
    {
        if (value <= TimeSpan.Zero)
        {
            errors.Add($"Setting '{key}' must be a positive duration such as 00:05:00.");
        }
    }
}
