using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using CsCheck;
using PaymentFunctions.Pyun;
using PaymentFunctions.Tests.WeChatPay;
using PaymentFunctions.WeChatPay;

namespace PaymentFunctions.Tests.Properties;

/// <summary>
/// Signatures and encryption: what is signed (or sealed) verifies (or opens), and any change to any part of it
/// does not. Malformed input is refused, never thrown.
/// </summary>
public sealed class SignatureProperties : IDisposable
{
    private const string Secret = "test-app-secret-6409292d66625a2a";

    private readonly RSA _weChatKey = Rsa(WeChatPayTestData.WeChatPayPrivatePem);
    private readonly RSA _otherKey = Rsa(WeChatPayTestData.MerchantPrivatePem);

    public void Dispose()
    {
        _weChatKey.Dispose();
        _otherKey.Dispose();
    }

    private static RSA Rsa(string pem)
    {
        var rsa = RSA.Create();
        rsa.ImportFromPem(pem);
        return rsa;
    }

    /// <summary>
    /// P云 parameters: protocol names with arbitrary values (empty included, as P云 signs them), without the two
    /// separators a sign string cannot carry ('&amp;' and '='): forms with those never verify (see below).
    /// </summary>
    private static readonly Gen<Dictionary<string, string?>> PyunFields =
        Gen.Dictionary(Gen.Frequency((3, Generators.ProtocolName), (1, Generators.Name)), Generators.Text.Select(v => (string?)Signable(v)))[1, 10]
            .Select(d => d.Where(f => PyunSignature.IsSignable(f.Key)).ToDictionary(f => f.Key, f => f.Value))
            .Where(d => d.Count > 0);

    private static string Signable(string v) => v.Replace("&", "", StringComparison.Ordinal).Replace("=", "", StringComparison.Ordinal);

    [Fact]
    public void PyunSignature_never_verifies_a_form_with_a_separator_in_a_name_or_value() =>
        Gen.Select(PyunFields, Generators.Text, Gen.Char["&="], Gen.Bool).Sample((fields, text, separator, inName) =>
        {
            var forged = new Dictionary<string, string?>(fields);
            if (inName)
            {
                forged[$"{text}{separator}x"] = "1";
            }
            else
            {
                forged[fields.Keys.First()] = $"{text}{separator}";
            }

            // Signed by whoever holds the secret, it still must not verify: the string to sign would be ambiguous.
            Assert.False(PyunSignature.Verify(forged, PyunSignature.Sign(forged, Secret), Secret));
        }, iter: 500);

    [Fact]
    public void PyunSignature_verifies_what_it_signed_in_either_letter_case() =>
        Gen.Select(PyunFields, Generators.Text).Sample((fields, secret) =>
        {
            var sign = PyunSignature.Sign(fields, secret);

            Assert.Matches("^[0-9A-F]{32}$", sign);
            Assert.True(PyunSignature.Verify(fields, sign, secret));
            Assert.True(PyunSignature.Verify(fields, sign.ToLowerInvariant(), secret));
            // The received sign is a field of the form too; it is never part of what is signed.
            Assert.True(PyunSignature.Verify(new Dictionary<string, string?>(fields) { [PyunSignature.SignField] = sign }, sign, secret));
        }, iter: 500);

    [Fact]
    public void PyunSignature_fails_after_any_single_field_is_changed_added_or_removed() =>
        Gen.Select(PyunFields, Gen.Int[0, 3], Generators.Text, Generators.ProtocolName).Sample((fields, change, text, name) =>
        {
            var sign = PyunSignature.Sign(fields, Secret);
            var changed = new Dictionary<string, string?>(fields);
            var key = fields.Keys.OrderBy(k => k, StringComparer.Ordinal).First();
            switch (change)
            {
                case 0: // another value
                    changed[key] = fields[key] + (text.Length == 0 ? "x" : text);
                    break;
                case 1: // one field dropped
                    changed.Remove(key);
                    break;
                case 2: // one field added (an empty value counts: P云 signs empty strings)
                    if (changed.ContainsKey(name) || name == PyunSignature.SignField)
                    {
                        return;
                    }

                    changed[name] = text;
                    break;
                default: // one field renamed
                    var renamed = key + (name == PyunSignature.SignField ? "x" : name);
                    if (changed.ContainsKey(renamed))
                    {
                        return;
                    }

                    changed.Remove(key);
                    changed[renamed] = fields[key];
                    break;
            }

            Assert.False(PyunSignature.Verify(changed, sign, Secret));
            Assert.False(PyunSignature.Verify(fields, sign, Secret + text + "x"));
        }, iter: 1000);

    [Fact]
    public void PyunSignature_refuses_any_other_sign_text_without_throwing() =>
        Gen.Select(PyunFields, Generators.AnyText, Gen.Int[0, 31], Gen.Char["0123456789ABCDEF"]).Sample((fields, forged, at, hex) =>
        {
            var sign = PyunSignature.Sign(fields, Secret);
            var oneHexOff = sign[..at] + hex + sign[(at + 1)..];

            Assert.Equal(oneHexOff == sign, PyunSignature.Verify(fields, oneHexOff, Secret));
            Assert.Equal(string.Equals(forged, sign, StringComparison.OrdinalIgnoreCase), PyunSignature.Verify(fields, forged, Secret));
        }, iter: 1000);

    /// <summary>
    /// The string to sign joins raw values with '&amp;' and '=' (P云 开放平台, 签名算法), so it is injective only over values
    /// without those characters: the notify intake must refuse them (see the corpus, notify-pyun). Over the
    /// alphabet it does accept, two different forms never share a sign.
    /// </summary>
    [Fact]
    public void PyunSignature_string_to_sign_is_injective_over_values_without_separators() =>
        Gen.Select(PyunFields, PyunFields).Sample((a, b) =>
        {
            static Dictionary<string, string?> Clean(Dictionary<string, string?> d) =>
                d.ToDictionary(f => f.Key, f => (string?)f.Value!.Replace("&", "", StringComparison.Ordinal).Replace("=", "", StringComparison.Ordinal));

            var (x, y) = (Clean(a), Clean(b));
            var same = x.Count == y.Count && x.All(f => y.TryGetValue(f.Key, out var v) && v == f.Value);
            Assert.Equal(same, PyunSignature.StringToSign(x, Secret) == PyunSignature.StringToSign(y, Secret));
        }, iter: 1000);

    private static readonly Gen<byte[]> ApiV3Keys = Gen.Byte.Array[WeChatPayAesGcm.KeySize];
    private static readonly Gen<string> Nonces = Gen.Char["abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"].Array[WeChatPayAesGcm.NonceSize].Select(a => new string(a));
    private static readonly Gen<string?> AssociatedData = Gen.Frequency((1, Gen.OneOf<string?>(null, "payscore")), (2, Generators.Text.Select(t => (string?)t)));

    [Fact]
    public void AesGcm_decrypts_what_it_encrypted() =>
        Gen.Select(ApiV3Keys, Nonces, AssociatedData, Gen.Byte.Array[0, 512]).Sample((key, nonce, aad, plaintext) =>
        {
            var sealedText = WeChatPayAesGcm.Encrypt(key, nonce, aad, plaintext);

            Assert.True(WeChatPayAesGcm.TryDecrypt(key, nonce, aad, sealedText, out var opened));
            Assert.Equal(plaintext, opened);
            Assert.Equal(plaintext.Length + WeChatPayAesGcm.TagSize, Convert.FromBase64String(sealedText).Length);
        }, iter: 500);

    [Fact]
    public void AesGcm_refuses_any_tampered_byte_of_ciphertext_or_tag_and_any_other_key_nonce_or_associated_data() =>
        Gen.Select(ApiV3Keys, Nonces, AssociatedData, Gen.Byte.Array[0, 256], Gen.Int[0, 4], Gen.Int.Positive, Gen.Byte[1, 255])
            .Sample((key, nonce, aad, plaintext, what, position, flip) =>
            {
                var sealedBytes = Convert.FromBase64String(WeChatPayAesGcm.Encrypt(key, nonce, aad, plaintext));
                var (k, n, a) = (key.ToArray(), nonce, aad);
                switch (what)
                {
                    case 0:
                        sealedBytes[position % sealedBytes.Length] ^= flip;
                        break;
                    case 1:
                        k[position % k.Length] ^= flip;
                        break;
                    case 2:
                        var i = position % n.Length;
                        n = n[..i] + (n[i] == 'a' ? 'b' : 'a') + n[(i + 1)..];
                        break;
                    case 3:
                        a = (aad ?? "") + (char)('a' + (flip % 26));
                        break;
                    default: // truncated: the tag no longer matches
                        sealedBytes = sealedBytes[..(position % sealedBytes.Length)];
                        break;
                }

                Assert.False(WeChatPayAesGcm.TryDecrypt(k, n, a, Convert.ToBase64String(sealedBytes), out var opened));
                Assert.Empty(opened);
            }, iter: 1000);

    [Fact]
    public void AesGcm_never_throws_on_malformed_input() =>
        Gen.Select(Gen.Byte.Array[0, 40], Generators.AnyText, Generators.AnyText.Null(), Generators.AnyText).Sample((key, nonce, aad, ciphertext) =>
        {
            Assert.False(WeChatPayAesGcm.TryDecrypt(key, nonce, aad, ciphertext, out _));
        }, iter: 1000);

    private static readonly Gen<string> Timestamps = Gen.Long[0, 99_999_999_999].Select(l => l.ToString(System.Globalization.CultureInfo.InvariantCulture));

    [Fact]
    public void WeChatPaySignature_verifies_what_it_signed_and_nothing_else() =>
        Gen.Select(Timestamps, Generators.Text, Gen.Byte.Array[0, 300], Gen.Int[0, 3], Gen.Int.Positive, Gen.Byte[1, 255])
            .Sample((timestamp, nonce, body, what, position, flip) =>
            {
                var signature = WeChatPaySignature.Sign(_weChatKey, WeChatPaySignature.ResponseMessage(timestamp, nonce, body));
                Assert.True(WeChatPaySignature.Verify(_weChatKey, WeChatPaySignature.ResponseMessage(timestamp, nonce, body), signature));

                var (t, n, b, s) = (timestamp, nonce, body.ToArray(), signature);
                switch (what)
                {
                    case 0 when b.Length > 0:
                        b[position % b.Length] ^= flip;
                        break;
                    case 0:
                        b = [flip];
                        break;
                    case 1:
                        t += "0";
                        break;
                    case 2:
                        n += "x";
                        break;
                    default: // signed with another key
                        s = WeChatPaySignature.Sign(_otherKey, WeChatPaySignature.ResponseMessage(timestamp, nonce, body));
                        break;
                }

                Assert.False(WeChatPaySignature.Verify(_weChatKey, WeChatPaySignature.ResponseMessage(t, n, b), s));
            }, iter: 200, threads: 1);

    [Fact]
    public void WeChatPaySignature_refuses_tampered_or_malformed_signature_text_without_throwing() =>
        Gen.Select(Gen.Byte.Array[0, 64], Gen.Int.Positive, Generators.AnyText).Sample((body, position, garbage) =>
        {
            var message = WeChatPaySignature.ResponseMessage("1700000000", "nonce", body);
            var signature = Convert.FromBase64String(WeChatPaySignature.Sign(_weChatKey, message));
            signature[position % signature.Length] ^= 0x01;

            Assert.False(WeChatPaySignature.Verify(_weChatKey, message, Convert.ToBase64String(signature)));
            Assert.False(WeChatPaySignature.Verify(_weChatKey, message, garbage));
        }, iter: 200, threads: 1);

    [Fact]
    public void WeChatPay_Authorization_header_parses_back_to_its_fields() =>
        Gen.Char["0123456789ABCDEFabcdef+/=_-"].Array[1, 40].Select(a => new string(a)).Array[5]
            .Sample(values =>
            {
                var header = WeChatPaySignature.Authorization(values[0], values[1], values[2], values[3], values[4]);

                Assert.True(WeChatPaySignature.TryParseAuthorization(header, out var fields));
                Assert.Equal(values, new[] { fields["mchid"], fields["nonce_str"], fields["signature"], fields["timestamp"], fields["serial_no"] });
                Assert.False(WeChatPaySignature.TryParseAuthorization(header.Replace("nonce_str", "nonce", StringComparison.Ordinal), out _));
            }, iter: 500);

    [Fact]
    public void WeChatPay_Authorization_parse_never_throws() =>
        Generators.AnyText.Select(t => WeChatPaySignature.Scheme + " " + t).Sample(text =>
        {
            if (WeChatPaySignature.TryParseAuthorization(text, out var fields))
            {
                Assert.Equal(5, fields.Count(f => f.Key is "mchid" or "nonce_str" or "signature" or "timestamp" or "serial_no"));
            }
        }, iter: 1000);

    /// <summary>The whole callback path (headers, signature, envelope, decryption): one changed byte anywhere in the body is refused.</summary>
    [Fact]
    public void A_callback_verifies_and_decrypts_and_any_changed_body_byte_is_refused()
    {
        var clock = new FixedClock(1_764_028_800);
        using var keys = new WeChatPayKeyRing(WeChatPayTestData.Options());
        var verifier = new WeChatPayCallbackVerifier(new WeChatPaySignatureVerifier(keys, clock), keys);
        Gen.Select(Nonces, Generators.Text, Gen.Int.Positive, Gen.Byte[1, 255]).Sample((nonce, text, position, flip) =>
        {
            var resource = new JsonObject { ["out_order_no"] = "PS1", ["state"] = "DOING", ["note"] = text }.ToJsonString();
            var envelope = new JsonObject
            {
                ["id"] = "EV-1",
                ["event_type"] = "PAYSCORE.USER_CONFIRM",
                ["resource_type"] = "encrypt-resource",
                ["resource"] = new JsonObject
                {
                    ["algorithm"] = WeChatPayAesGcm.Algorithm,
                    ["ciphertext"] = WeChatPayAesGcm.Encrypt(Encoding.UTF8.GetBytes(WeChatPayTestData.ApiV3Key), nonce, "payscore", Encoding.UTF8.GetBytes(resource)),
                    ["nonce"] = nonce,
                    ["associated_data"] = "payscore",
                },
            };
            var body = Encoding.UTF8.GetBytes(envelope.ToJsonString());
            var headers = WeChatPayTestData.Sign(body, WeChatPayTestData.WeChatPayPrivatePem, WeChatPayTestData.PublicKeyId, 1_764_028_800);

            var valid = verifier.Verify(headers, body);
            Assert.True(valid.IsValid, valid.Message);
            Assert.Equal(resource, valid.ResourceJson);

            body[position % body.Length] ^= flip;
            var tampered = verifier.Verify(headers, body);
            Assert.False(tampered.IsValid);
            Assert.Equal(WeChatPayRejection.BadSignature, tampered.Rejection);
        }, iter: 100, threads: 1);
    }
}
