using System.Security.Cryptography;
using System.Text;

namespace PaymentFunctions.WeChatPay;

/// <summary>
/// AEAD_AES_256_GCM as WeChat Pay uses it for callback resources: key = the 32 ASCII bytes of the APIv3 key,
/// nonce and associated data = their UTF-8 bytes (not Base64), ciphertext = Base64 of encrypted bytes followed by the 16-byte tag.
/// </summary>
public static class WeChatPayAesGcm
{
    public const string Algorithm = "AEAD_AES_256_GCM";
    public const int KeySize = 32;
    public const int NonceSize = 12;
    public const int TagSize = 16;

    /// <summary>Decrypts; false (never an exception) when the input is malformed or fails authentication.</summary>
    public static bool TryDecrypt(ReadOnlySpan<byte> key, string nonce, string? associatedData, string ciphertextBase64, out byte[] plaintext)
    {
        plaintext = [];
        if (key.Length != KeySize || nonce is null || Encoding.UTF8.GetByteCount(nonce) != NonceSize || ciphertextBase64 is null)
        {
            return false;
        }

        byte[] sealedBytes;
        try
        {
            sealedBytes = Convert.FromBase64String(ciphertextBase64);
        }
        catch (FormatException)
        {
            return false;
        }

        if (sealedBytes.Length < TagSize)
        {
            return false;
        }

        var output = new byte[sealedBytes.Length - TagSize];
        try
        {
            using var aes = new AesGcm(key, TagSize);
            aes.Decrypt(Encoding.UTF8.GetBytes(nonce), sealedBytes.AsSpan(0, output.Length), sealedBytes.AsSpan(output.Length),
                output, Encoding.UTF8.GetBytes(associatedData ?? ""));
        }
        catch (CryptographicException)
        {
            // AuthenticationTagMismatchException included: wrong key, wrong AAD, or tampered bytes.
            return false;
        }

        plaintext = output;
        return true;
    }
}
