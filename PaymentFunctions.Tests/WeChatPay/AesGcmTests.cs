using System.Text;
using System.Text.Json.Nodes;
using PaymentFunctions.WeChatPay;
using static PaymentFunctions.Tests.WeChatPay.WeChatPayTestData;

namespace PaymentFunctions.Tests.WeChatPay;

public sealed class AesGcmTests
{
    private static JsonObject GoldenResource =>
        JsonNode.Parse(VectorText("callback_user_confirm", "body_utf8"))!["resource"]!.AsObject();

    [Fact]
    public void Golden_resource_decrypts_to_the_expected_plaintext()
    {
        var r = GoldenResource;

        Assert.True(WeChatPayAesGcm.TryDecrypt(Utf8(VectorText("callback_user_confirm", "apiv3_key")), r["nonce"]!.GetValue<string>(),
            r["associated_data"]!.GetValue<string>(), r["ciphertext"]!.GetValue<string>(), out var plaintext));
        Assert.Equal(VectorText("callback_user_confirm", "expected_resource_plaintext"), Encoding.UTF8.GetString(plaintext));
    }

    [Fact]
    public void Empty_associated_data_vector_decrypts()
    {
        const string v = "aes_gcm_empty_aad";

        Assert.True(WeChatPayAesGcm.TryDecrypt(Utf8(VectorText(v, "apiv3_key")), VectorText(v, "nonce"), VectorText(v, "associated_data"),
            VectorText(v, "ciphertext"), out var plaintext));
        Assert.Equal(VectorText(v, "expected_plaintext"), Encoding.UTF8.GetString(plaintext));
    }

    [Fact]
    public void Missing_associated_data_means_empty()
    {
        const string v = "aes_gcm_empty_aad";

        Assert.True(WeChatPayAesGcm.TryDecrypt(Utf8(ApiV3Key), VectorText(v, "nonce"), null, VectorText(v, "ciphertext"), out _));
    }

    [Theory]
    [InlineData("wrong aad")]
    [InlineData("flipped tag")]
    [InlineData("flipped ciphertext")]
    [InlineData("wrong key")]
    [InlineData("short key")]
    [InlineData("wrong nonce")]
    [InlineData("short nonce")]
    [InlineData("not base64")]
    [InlineData("shorter than a tag")]
    public void Anything_but_the_original_fails_without_throwing(string change)
    {
        var r = GoldenResource;
        var key = Utf8(ApiV3Key);
        var nonce = r["nonce"]!.GetValue<string>();
        var aad = "payscore";
        var sealedBytes = Convert.FromBase64String(r["ciphertext"]!.GetValue<string>());
        var ciphertext = r["ciphertext"]!.GetValue<string>();
        switch (change)
        {
            case "wrong aad": aad = "certificate"; break;
            case "flipped tag": sealedBytes[^3] ^= 0x10; ciphertext = Convert.ToBase64String(sealedBytes); break;
            case "flipped ciphertext": sealedBytes[0] ^= 0x01; ciphertext = Convert.ToBase64String(sealedBytes); break;
            case "wrong key": key = Utf8("0123456789abcdefghijklmnopqrstuV"); break;
            case "short key": key = Utf8(ApiV3Key[..31]); break;
            case "wrong nonce": nonce = "a1b2c3d4e5f7"; break;
            case "short nonce": nonce = "a1b2c3"; break;
            case "not base64": ciphertext = "%%%"; break;
            case "shorter than a tag": ciphertext = Convert.ToBase64String(new byte[15]); break;
        }

        Assert.False(WeChatPayAesGcm.TryDecrypt(key, nonce, aad, ciphertext, out var plaintext));
        Assert.Empty(plaintext);
    }

    [Fact]
    public void Encrypt_is_the_inverse_and_reproduces_the_golden_ciphertext()
    {
        var r = GoldenResource;

        var ciphertext = WeChatPayAesGcm.Encrypt(Utf8(ApiV3Key), "a1b2c3d4e5f6", "payscore",
            Utf8(VectorText("callback_user_confirm", "expected_resource_plaintext")));

        Assert.Equal(r["ciphertext"]!.GetValue<string>(), ciphertext);
    }

    [Fact]
    public void Encrypt_enforces_a_32_byte_key_and_12_byte_nonce()
    {
        Assert.Throws<ArgumentException>(() => WeChatPayAesGcm.Encrypt(Utf8("short"), "a1b2c3d4e5f6", "", Utf8("x")));
        Assert.Throws<ArgumentException>(() => WeChatPayAesGcm.Encrypt(Utf8(ApiV3Key), "a1b2", "", Utf8("x")));
    }
}
