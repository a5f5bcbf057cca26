using System.Globalization;
using System.Net.Http.Headers;

namespace PaymentFunctions.WeChatPay;

/// <summary>Why a WeChat Pay response or callback was not accepted. <see cref="None"/> means it was.</summary>
public enum WeChatPayRejection
{
    None = 0,
    MissingTimestamp,
    MissingNonce,
    MissingSignature,
    MissingSerial,
    MalformedTimestamp,
    StaleTimestamp,
    UnknownSerial,
    ProbeSignature,
    BadSignature,
    MalformedEnvelope,
    UnsupportedAlgorithm,
    DecryptionFailed,
    MalformedResource,
}

/// <summary>The four <c>Wechatpay-*</c> headers a signed response or callback carries (null when absent).</summary>
public sealed record WeChatPaySignatureHeaders(string? Timestamp, string? Nonce, string? Signature, string? Serial)
{
    public const string TimestampHeader = "Wechatpay-Timestamp";
    public const string NonceHeader = "Wechatpay-Nonce";
    public const string SignatureHeader = "Wechatpay-Signature";
    public const string SerialHeader = "Wechatpay-Serial";

    public static WeChatPaySignatureHeaders From(IHeaderDictionary headers) => new(
        Single(headers[TimestampHeader]), Single(headers[NonceHeader]), Single(headers[SignatureHeader]), Single(headers[SerialHeader]));

    public static WeChatPaySignatureHeaders From(HttpResponseHeaders headers) => new(
        Single(headers, TimestampHeader), Single(headers, NonceHeader), Single(headers, SignatureHeader), Single(headers, SerialHeader));

    private static string? Single(Microsoft.Extensions.Primitives.StringValues values) => values.Count == 1 ? values[0] : null;

    private static string? Single(HttpHeaders headers, string name) =>
        headers.TryGetValues(name, out var values) && values.Take(2).Count() == 1 ? values.First() : null;
}

/// <summary>Outcome of a signature check: <see cref="Rejection"/> is <see cref="WeChatPayRejection.None"/> when valid.</summary>
public sealed record WeChatPayVerification(WeChatPayRejection Rejection, string Message)
{
    public static readonly WeChatPayVerification Valid = new(WeChatPayRejection.None, "signature verified");

    public bool IsValid => Rejection == WeChatPayRejection.None;
}

/// <summary>
/// Verifies WeChat Pay's signature on a response or callback: all four headers, a timestamp within
/// <see cref="MaxClockSkew"/> of our clock (replay window, as the official SDKs use), a key chosen by serial,
/// then SHA256withRSA over <c>timestamp\nnonce\nbody\n</c> on the raw body bytes. Never throws for bad input.
/// </summary>
public sealed class WeChatPaySignatureVerifier(WeChatPayKeyRing keys, TimeProvider clock)
{
    public static readonly TimeSpan MaxClockSkew = TimeSpan.FromMinutes(5);

    /// <summary>WeChat Pay's signature-probe traffic; it must never be processed as a business event.</summary>
    public const string ProbePrefix = "WECHATPAY/SIGNTEST/";

    public WeChatPayVerification Verify(WeChatPaySignatureHeaders headers, ReadOnlySpan<byte> body)
    {
        ArgumentNullException.ThrowIfNull(headers);
        if (string.IsNullOrEmpty(headers.Timestamp))
        {
            return Reject(WeChatPayRejection.MissingTimestamp, $"header {WeChatPaySignatureHeaders.TimestampHeader} is missing");
        }

        if (string.IsNullOrEmpty(headers.Nonce))
        {
            return Reject(WeChatPayRejection.MissingNonce, $"header {WeChatPaySignatureHeaders.NonceHeader} is missing");
        }

        if (string.IsNullOrEmpty(headers.Signature))
        {
            return Reject(WeChatPayRejection.MissingSignature, $"header {WeChatPaySignatureHeaders.SignatureHeader} is missing");
        }

        if (string.IsNullOrEmpty(headers.Serial))
        {
            return Reject(WeChatPayRejection.MissingSerial, $"header {WeChatPaySignatureHeaders.SerialHeader} is missing");
        }

        if (headers.Timestamp.Length > 12 || !headers.Timestamp.All(char.IsAsciiDigit)
            || !long.TryParse(headers.Timestamp, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds))
        {
            return Reject(WeChatPayRejection.MalformedTimestamp, $"header {WeChatPaySignatureHeaders.TimestampHeader} is not Unix seconds");
        }

        var skew = clock.GetUtcNow().ToUnixTimeSeconds() - seconds;
        if (Math.Abs(skew) > (long)MaxClockSkew.TotalSeconds)
        {
            return Reject(WeChatPayRejection.StaleTimestamp,
                $"header {WeChatPaySignatureHeaders.TimestampHeader} is {Math.Abs(skew)} s {(skew > 0 ? "in the past" : "in the future")}; at most {(long)MaxClockSkew.TotalSeconds} s is accepted");
        }

        if (!keys.TryGetVerificationKey(headers.Serial, out var key))
        {
            return Reject(WeChatPayRejection.UnknownSerial,
                WeChatPayKeyRing.IsPublicKeyId(headers.Serial)
                    ? "Wechatpay-Serial names a WeChat Pay public key that is not configured"
                    : "Wechatpay-Serial names a platform certificate that is not configured");
        }

        if (headers.Signature.StartsWith(ProbePrefix, StringComparison.Ordinal))
        {
            return Reject(WeChatPayRejection.ProbeSignature, "signature-probe traffic (WECHATPAY/SIGNTEST/) is never accepted");
        }

        return WeChatPaySignature.Verify(key, WeChatPaySignature.ResponseMessage(headers.Timestamp, headers.Nonce, body), headers.Signature)
            ? WeChatPayVerification.Valid
            : Reject(WeChatPayRejection.BadSignature, "the signature does not match the body and headers");
    }

    private static WeChatPayVerification Reject(WeChatPayRejection rejection, string message) => new(rejection, message);
}
