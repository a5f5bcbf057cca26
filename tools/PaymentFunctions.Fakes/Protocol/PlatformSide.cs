using System.Security.Cryptography;
using System.Text;

// The platforms' half of the protocols, which the app never runs: the fakes (and tests) sign, seal and parse with
// it. Extension members in the app's own namespaces, so call sites read as before (WeChatPayAesGcm.Encrypt, …)
// while the deployed app contains only what it runs.
namespace PaymentFunctions.Pyun
{
    public static class PyunPlatformSide
    {
        extension(PyunSignature)
        {
            /// <summary>
            /// What P云 does with a JSON-body request (P云 开放平台 发起订单退款): the <c>Authorization</c> header must be the MD5 of
            /// the raw body bytes as received plus the secret; compared case-insensitively, in constant time.
            /// </summary>
            public static bool VerifyJson(byte[] utf8JsonBody, string? authorization, string appSecret) =>
                !string.IsNullOrEmpty(authorization) && CryptographicOperations.FixedTimeEquals(
                    Encoding.ASCII.GetBytes(PyunSignature.SignJson(utf8JsonBody, appSecret)),
                    Encoding.UTF8.GetBytes(authorization.Trim().ToUpperInvariant()));
        }
    }
}

namespace PaymentFunctions.WeChatPay
{
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1708", Justification = "The analyzer reads the compiler's names of extension blocks as members.")]
    public static class WeChatPayPlatformSide
    {
        private static readonly string[] AuthorizationFields = ["mchid", "nonce_str", "signature", "timestamp", "serial_no"];

        extension(WeChatPayAesGcm)
        {
            /// <summary>What WeChat Pay does to a callback resource: Base64(ciphertext ‖ tag), the inverse of TryDecrypt.</summary>
            public static string Encrypt(ReadOnlySpan<byte> key, string nonce, string? associatedData, ReadOnlySpan<byte> plaintext)
            {
                if (key.Length != WeChatPayAesGcm.KeySize)
                {
                    throw new ArgumentException($"The APIv3 key must be {WeChatPayAesGcm.KeySize} bytes.", nameof(key));
                }

                var nonceBytes = Encoding.UTF8.GetBytes(nonce);
                if (nonceBytes.Length != WeChatPayAesGcm.NonceSize)
                {
                    throw new ArgumentException($"The nonce must be {WeChatPayAesGcm.NonceSize} bytes.", nameof(nonce));
                }

                var output = new byte[plaintext.Length + WeChatPayAesGcm.TagSize];
                using var aes = new AesGcm(key, WeChatPayAesGcm.TagSize);
                aes.Encrypt(nonceBytes, plaintext, output.AsSpan(0, plaintext.Length), output.AsSpan(plaintext.Length),
                    Encoding.UTF8.GetBytes(associatedData ?? ""));
                return Convert.ToBase64String(output);
            }
        }

        extension(WeChatPaySignature)
        {
            /// <summary>
            /// What WeChat Pay does with our Authorization header: parses it into its fields (any order). False when the
            /// scheme differs or any of mchid, nonce_str, signature, timestamp, serial_no is missing.
            /// </summary>
            public static bool TryParseAuthorization(string? value, out IReadOnlyDictionary<string, string> fields)
            {
                var result = new Dictionary<string, string>(StringComparer.Ordinal);
                fields = result;
                if (value is null || !value.StartsWith(WeChatPaySignature.Scheme + " ", StringComparison.Ordinal))
                {
                    return false;
                }

                foreach (var part in value[(WeChatPaySignature.Scheme.Length + 1)..].Split(','))
                {
                    var eq = part.IndexOf('=', StringComparison.Ordinal);
                    if (eq <= 0)
                    {
                        return false;
                    }

                    var name = part[..eq].Trim();
                    var raw = part[(eq + 1)..].Trim();
                    if (raw.Length < 2 || raw[0] != '"' || raw[^1] != '"')
                    {
                        return false;
                    }

                    result[name] = raw[1..^1];
                }

                return AuthorizationFields.All(result.ContainsKey);
            }
        }

        extension(WeChatPaySignatureHeaders)
        {
            /// <summary>The header WeChat Pay sends with its signature; the app reads only the four it verifies with.</summary>
            public static string SignatureTypeHeader => "Wechatpay-Signature-Type";
        }

        extension(PayScoreServiceOrder order)
        {
            /// <summary>DONE with the collection USER_PAID: what a test expects of a paid order.</summary>
            public bool IsPaid => order.State == PayScoreStates.Done && order.Collection?.State == PayScoreStates.UserPaid;

            /// <summary>
            /// DOING/USER_CONFIRM exactly: what a test expects right after the user confirmed (the app's own rule,
            /// <c>PayScoreLifecycle.IsConfirmed</c>, also counts the later states as confirmed).
            /// </summary>
            public bool IsConfirmed => order.State == PayScoreStates.Doing && order.StateDescription == PayScoreStates.UserConfirm;
        }

        extension(PayScoreMiniProgramLaunch)
        {
            /// <summary>From a create response; an order without a package cannot be confirmed.</summary>
            public static PayScoreMiniProgramLaunch FromOrder(PayScoreServiceOrder order) =>
                PayScoreMiniProgramLaunch.FromPackage(order?.Package ?? throw new ArgumentException("The order has no package; only a create response carries one.", nameof(order)));
        }
    }
}
