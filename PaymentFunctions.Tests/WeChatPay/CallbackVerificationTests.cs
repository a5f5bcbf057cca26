using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using PaymentFunctions.WeChatPay;
using static PaymentFunctions.Tests.WeChatPay.WeChatPayTestData;

namespace PaymentFunctions.Tests.WeChatPay;

/// <summary>Callback (and response) verification over the golden callback vector, and every way a callback is refused.</summary>
public sealed class CallbackVerificationTests : IDisposable
{
    private const string V = "callback_user_confirm";
    private static readonly long VectorTime = long.Parse(Vector(V).GetProperty("headers").GetProperty("Wechatpay-Timestamp").GetString()!,
        System.Globalization.CultureInfo.InvariantCulture);

    private readonly FixedClock _clock = new(VectorTime);
    private readonly List<IDisposable> _disposables = [];

    public void Dispose()
    {
        foreach (var d in _disposables)
        {
            d.Dispose();
        }
    }

    private static byte[] GoldenBody => Utf8(VectorText(V, "body_utf8"));

    private static WeChatPaySignatureHeaders GoldenHeaders
    {
        get
        {
            var h = Vector(V).GetProperty("headers");
            return new WeChatPaySignatureHeaders(h.GetProperty("Wechatpay-Timestamp").GetString(), h.GetProperty("Wechatpay-Nonce").GetString(),
                h.GetProperty("Wechatpay-Signature").GetString(), h.GetProperty("Wechatpay-Serial").GetString());
        }
    }

    [Fact]
    public void Golden_callback_verifies_and_decrypts()
    {
        var result = Verifier().Verify(GoldenHeaders, GoldenBody);

        Assert.True(result.IsValid, result.Message);
        Assert.Equal(WeChatPayRejection.None, result.Rejection);
        Assert.Equal("EV-2018022511223320873", result.Notification!.Id);
        Assert.Equal(PayScoreStates.UserConfirmEvent, result.Notification.EventType);
        Assert.Equal("encrypt-resource", result.Notification.ResourceType);
        Assert.Equal(VectorText(V, "expected_resource_plaintext"), result.ResourceJson);
        var order = result.ServiceOrder!;
        Assert.True(order.IsConfirmed);
        Assert.Equal("T20250101000001", order.OutOrderNo);
        Assert.Equal("15646546545165651651", order.OrderId);
        Assert.Equal(100, order.PostPayments![0].Amount);
        Assert.Equal(10000, order.RiskFund!.Amount);
        Assert.False(order.NeedCollection);
    }

    [Fact]
    public void Golden_verify_message_is_what_the_signature_covers()
    {
        var h = GoldenHeaders;
        Assert.Equal(VectorText(V, "verify_message"),
            System.Text.Encoding.UTF8.GetString(WeChatPaySignature.ResponseMessage(h.Timestamp!, h.Nonce!, GoldenBody)));
    }

    [Fact]
    public void Golden_vector_verifies_as_a_response_from_http_headers()
    {
        using var response = new HttpResponseMessage(HttpStatusCode.OK);
        var h = GoldenHeaders;
        response.Headers.Add(WeChatPaySignatureHeaders.TimestampHeader, h.Timestamp);
        response.Headers.Add(WeChatPaySignatureHeaders.NonceHeader, h.Nonce);
        response.Headers.Add(WeChatPaySignatureHeaders.SignatureHeader, h.Signature);
        response.Headers.Add(WeChatPaySignatureHeaders.SerialHeader, h.Serial);

        var headers = WeChatPaySignatureHeaders.From(response.Headers);

        Assert.Equal(h, headers);
        Assert.True(SignatureVerifier().Verify(headers, GoldenBody).IsValid);
    }

    [Fact]
    public void A_repeated_header_counts_as_missing()
    {
        using var response = new HttpResponseMessage(HttpStatusCode.OK);
        response.Headers.Add(WeChatPaySignatureHeaders.SerialHeader, [PublicKeyId, "OTHER"]);

        Assert.Null(WeChatPaySignatureHeaders.From(response.Headers).Serial);
    }

    [Theory]
    [InlineData("timestamp", WeChatPayRejection.MissingTimestamp)]
    [InlineData("nonce", WeChatPayRejection.MissingNonce)]
    [InlineData("signature", WeChatPayRejection.MissingSignature)]
    [InlineData("serial", WeChatPayRejection.MissingSerial)]
    public void Each_missing_header_is_refused_with_its_own_reason(string missing, WeChatPayRejection expected)
    {
        var h = GoldenHeaders;
        var headers = missing switch
        {
            "timestamp" => h with { Timestamp = null },
            "nonce" => h with { Nonce = "" },
            "signature" => h with { Signature = null },
            _ => h with { Serial = null },
        };

        var result = Verifier().Verify(headers, GoldenBody);

        Assert.Equal(expected, result.Rejection);
        Assert.Contains("missing", result.Message, StringComparison.Ordinal);
        Assert.Null(result.ServiceOrder);
    }

    [Theory]
    [InlineData(301)]
    [InlineData(-301)]
    [InlineData(86_400)]
    public void A_timestamp_outside_five_minutes_is_refused(long offsetSeconds)
    {
        _clock.Now = DateTimeOffset.FromUnixTimeSeconds(VectorTime + offsetSeconds);

        var result = Verifier().Verify(GoldenHeaders, GoldenBody);

        Assert.Equal(WeChatPayRejection.StaleTimestamp, result.Rejection);
        Assert.Contains(offsetSeconds > 0 ? "in the past" : "in the future", result.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(300)]
    [InlineData(-300)]
    public void A_timestamp_exactly_five_minutes_off_is_accepted(long offsetSeconds)
    {
        _clock.Now = DateTimeOffset.FromUnixTimeSeconds(VectorTime + offsetSeconds);

        Assert.True(Verifier().Verify(GoldenHeaders, GoldenBody).IsValid);
    }

    [Theory]
    [InlineData("17357040O5")]
    [InlineData("-1735704005")]
    [InlineData("1735704005000000")]
    public void A_timestamp_that_is_not_unix_seconds_is_refused(string timestamp)
    {
        var result = Verifier().Verify(GoldenHeaders with { Timestamp = timestamp }, GoldenBody);

        Assert.Equal(WeChatPayRejection.MalformedTimestamp, result.Rejection);
    }

    [Theory]
    [InlineData("PUB_KEY_ID_0000000000000000000000000000000002")]
    [InlineData("5157F09EFDC096DE15EBE81A47057A7232F1B8E1")]
    public void An_unknown_serial_is_refused(string serial)
    {
        var result = Verifier().Verify(GoldenHeaders with { Serial = serial }, GoldenBody);

        Assert.Equal(WeChatPayRejection.UnknownSerial, result.Rejection);
    }

    [Fact]
    public void One_changed_body_byte_breaks_the_signature()
    {
        var body = GoldenBody;
        body[10] ^= 0x01;

        var result = Verifier().Verify(GoldenHeaders, body);

        Assert.Equal(WeChatPayRejection.BadSignature, result.Rejection);
    }

    [Theory]
    [InlineData("not base64 at all!")]
    [InlineData("AAAA")]
    public void A_signature_that_is_not_wechats_is_refused(string signature)
    {
        var result = Verifier().Verify(GoldenHeaders with { Signature = signature }, GoldenBody);

        Assert.Equal(WeChatPayRejection.BadSignature, result.Rejection);
    }

    [Fact]
    public void A_changed_nonce_header_breaks_the_signature()
    {
        Assert.Equal(WeChatPayRejection.BadSignature, Verifier().Verify(GoldenHeaders with { Nonce = "x" }, GoldenBody).Rejection);
    }

    [Fact]
    public void A_signature_probe_is_refused_with_its_own_reason()
    {
        var result = Verifier().Verify(GoldenHeaders with { Signature = "WECHATPAY/SIGNTEST/" + GoldenHeaders.Signature }, GoldenBody);

        Assert.Equal(WeChatPayRejection.ProbeSignature, result.Rejection);
        Assert.Null(result.Notification);
    }

    [Fact]
    public void Tampered_ciphertext_fails_decryption_even_when_the_envelope_is_signed()
    {
        var body = ReSignedEnvelope(resource =>
        {
            var bytes = Convert.FromBase64String(resource["ciphertext"]!.GetValue<string>());
            bytes[5] ^= 0x80;
            resource["ciphertext"] = Convert.ToBase64String(bytes);
        }, out var headers);

        var result = Verifier().Verify(headers, body);

        Assert.Equal(WeChatPayRejection.DecryptionFailed, result.Rejection);
        Assert.Null(result.ResourceJson);
    }

    [Fact]
    public void A_tampered_tag_fails_decryption()
    {
        var body = ReSignedEnvelope(resource =>
        {
            var bytes = Convert.FromBase64String(resource["ciphertext"]!.GetValue<string>());
            bytes[^1] ^= 0x01;
            resource["ciphertext"] = Convert.ToBase64String(bytes);
        }, out var headers);

        Assert.Equal(WeChatPayRejection.DecryptionFailed, Verifier().Verify(headers, body).Rejection);
    }

    [Fact]
    public void Changed_associated_data_fails_decryption()
    {
        var body = ReSignedEnvelope(resource => resource["associated_data"] = "certificate", out var headers);

        Assert.Equal(WeChatPayRejection.DecryptionFailed, Verifier().Verify(headers, body).Rejection);
    }

    [Fact]
    public void The_wrong_apiv3_key_fails_decryption()
    {
        var result = Verifier(o => o.ApiV3Key = "vutsrqponmlkjihgfedcba9876543210").Verify(GoldenHeaders, GoldenBody);

        Assert.Equal(WeChatPayRejection.DecryptionFailed, result.Rejection);
    }

    [Theory]
    [InlineData("{not json")]
    [InlineData("[1,2,3]")]
    [InlineData("null")]
    [InlineData("")]
    [InlineData("{\"id\":\"EV-1\",\"event_type\":\"PAYSCORE.USER_CONFIRM\"}")]
    [InlineData("{\"id\":\"EV-1\",\"event_type\":\"PAYSCORE.USER_CONFIRM\",\"resource\":{\"algorithm\":\"AEAD_AES_256_GCM\",\"nonce\":\"a1b2c3d4e5f6\"}}")]
    [InlineData("{\"id\":42,\"event_type\":\"PAYSCORE.USER_CONFIRM\",\"resource\":{}}")]
    public void A_signed_body_that_is_not_a_notification_envelope_is_refused(string body)
    {
        var bytes = Utf8(body);

        var result = Verifier().Verify(Sign(bytes, WeChatPayPrivatePem, PublicKeyId, VectorTime), bytes);

        Assert.Equal(WeChatPayRejection.MalformedEnvelope, result.Rejection);
    }

    [Fact]
    public void An_unknown_algorithm_is_refused()
    {
        var body = ReSignedEnvelope(resource => resource["algorithm"] = "AEAD_SM4_GCM", out var headers);

        Assert.Equal(WeChatPayRejection.UnsupportedAlgorithm, Verifier().Verify(headers, body).Rejection);
    }

    [Fact]
    public void A_resource_that_decrypts_to_something_other_than_json_is_refused()
    {
        var body = ReSignedEnvelope(resource =>
            resource["ciphertext"] = WeChatPayAesGcm.Encrypt(Utf8(ApiV3Key), "a1b2c3d4e5f6", "payscore", Utf8("<xml/>")), out var headers);

        Assert.Equal(WeChatPayRejection.MalformedResource, Verifier().Verify(headers, body).Rejection);
    }

    [Fact]
    public void A_callback_signed_with_a_platform_certificate_verifies_by_serial()
    {
        var cert = PlatformCertificate;
        var verifier = Verifier(o =>
        {
            o.PublicKeys.Clear();
            o.PlatformCertificates[cert.Serial] = cert.CertificatePem;
        });

        var result = verifier.Verify(Sign(GoldenBody, cert.PrivateKeyPem, cert.Serial, VectorTime), GoldenBody);

        Assert.True(result.IsValid, result.Message);
        Assert.Equal(VectorText(V, "expected_resource_plaintext"), result.ResourceJson);
    }

    [Fact]
    public void Serial_lookup_of_platform_certificates_ignores_hex_case()
    {
        var cert = PlatformCertificate;
        var verifier = Verifier(o => o.PlatformCertificates[cert.Serial] = cert.CertificatePem);

        Assert.True(verifier.Verify(Sign(GoldenBody, cert.PrivateKeyPem, cert.Serial.ToLowerInvariant(), VectorTime), GoldenBody).IsValid);
    }

    [Fact]
    public void With_both_key_kinds_configured_each_signature_verifies_with_the_key_its_serial_names()
    {
        var cert = PlatformCertificate;
        var verifier = Verifier(o => o.PlatformCertificates[cert.Serial] = cert.CertificatePem);

        Assert.True(verifier.Verify(GoldenHeaders, GoldenBody).IsValid);
        Assert.True(verifier.Verify(Sign(GoldenBody, cert.PrivateKeyPem, cert.Serial, VectorTime), GoldenBody).IsValid);
        // The right signature under the other kind's serial must not pass: the serial picks the key.
        Assert.Equal(WeChatPayRejection.BadSignature,
            verifier.Verify(Sign(GoldenBody, cert.PrivateKeyPem, PublicKeyId, VectorTime), GoldenBody).Rejection);
        Assert.Equal(WeChatPayRejection.BadSignature,
            verifier.Verify(Sign(GoldenBody, WeChatPayPrivatePem, cert.Serial, VectorTime), GoldenBody).Rejection);
    }

    [Fact]
    public void A_platform_certificate_may_be_configured_as_its_public_key()
    {
        var cert = PlatformCertificate;
        using var x509 = X509Certificate2.CreateFromPem(cert.CertificatePem);
        using var rsa = x509.GetRSAPublicKey()!;
        var verifier = Verifier(o => o.PlatformCertificates[cert.Serial] = rsa.ExportSubjectPublicKeyInfoPem());

        Assert.True(verifier.Verify(Sign(GoldenBody, cert.PrivateKeyPem, cert.Serial, VectorTime), GoldenBody).IsValid);
    }

    [Fact]
    public void Random_bytes_never_throw()
    {
        var random = new Random(42);
        var verifier = Verifier();
        for (var i = 0; i < 50; i++)
        {
            var body = new byte[random.Next(0, 300)];
            random.NextBytes(body);
            var result = verifier.Verify(Sign(body, WeChatPayPrivatePem, PublicKeyId, VectorTime), body);
            Assert.False(result.IsValid);
        }
    }

    private WeChatPayCallbackVerifier Verifier(Action<WeChatPayOptions>? configure = null)
    {
        var keys = new WeChatPayKeyRing(Options(configure));
        _disposables.Add(keys);
        return new WeChatPayCallbackVerifier(new WeChatPaySignatureVerifier(keys, _clock), keys);
    }

    private WeChatPaySignatureVerifier SignatureVerifier()
    {
        var keys = new WeChatPayKeyRing(Options());
        _disposables.Add(keys);
        return new WeChatPaySignatureVerifier(keys, _clock);
    }

    /// <summary>The golden envelope with its resource changed, signed again as WeChat Pay would (so only decryption can catch it).</summary>
    private static byte[] ReSignedEnvelope(Action<JsonObject> change, out WeChatPaySignatureHeaders headers)
    {
        var envelope = JsonNode.Parse(VectorText(V, "body_utf8"))!.AsObject();
        change(envelope["resource"]!.AsObject());
        var body = Utf8(envelope.ToJsonString());
        headers = Sign(body, WeChatPayPrivatePem, PublicKeyId, VectorTime);
        return body;
    }
}
