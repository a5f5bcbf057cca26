using System.Text;

namespace PaymentFunctions.Http;

/// <summary>
/// A strict <c>application/x-www-form-urlencoded</c> parser over the raw bytes: every field kept (empty
/// values included, since P云 signs them), duplicates and invalid UTF-8 rejected rather than silently
/// merged or replaced, so what we verify is exactly what was sent.
/// </summary>
public static class FormBody
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static bool TryParse(ReadOnlySpan<byte> body, out Dictionary<string, string> fields, out string error)
    {
        fields = new Dictionary<string, string>(StringComparer.Ordinal);
        error = "";
        if (body.IsEmpty)
        {
            error = "The form body is empty.";
            return false;
        }

        foreach (var range in body.Split((byte)'&'))
        {
            var pair = body[range];
            if (pair.IsEmpty)
            {
                continue;
            }

            var eq = pair.IndexOf((byte)'=');
            var rawKey = eq < 0 ? pair : pair[..eq];
            var rawValue = eq < 0 ? [] : pair[(eq + 1)..];
            if (!TryDecode(rawKey, out var key) || !TryDecode(rawValue, out var value))
            {
                error = "The form body is not valid percent-encoded UTF-8.";
                return false;
            }

            if (key.Length == 0)
            {
                error = "The form body has a field without a name.";
                return false;
            }

            if (!fields.TryAdd(key, value))
            {
                error = $"The form field '{RequestBody.Clip(key, 40)}' appears more than once.";
                return false;
            }
        }

        if (fields.Count == 0)
        {
            error = "The form body has no fields.";
            return false;
        }

        return true;
    }

    private static bool TryDecode(ReadOnlySpan<byte> raw, out string text)
    {
        text = "";
        var bytes = new byte[raw.Length];
        var n = 0;
        for (var i = 0; i < raw.Length; i++)
        {
            var b = raw[i];
            if (b == (byte)'+')
            {
                bytes[n++] = (byte)' ';
            }
            else if (b == (byte)'%')
            {
                if (i + 2 >= raw.Length || !IsHex(raw[i + 1]) || !IsHex(raw[i + 2]))
                {
                    return false;
                }

                bytes[n++] = (byte)((HexValue(raw[i + 1]) << 4) | HexValue(raw[i + 2]));
                i += 2;
            }
            else
            {
                bytes[n++] = b;
            }
        }

        try
        {
            text = StrictUtf8.GetString(bytes, 0, n);
        }
        catch (DecoderFallbackException)
        {
            return false;
        }

        // Control characters have no business in a payment notification and would corrupt logs.
        return !text.Any(c => char.IsControl(c) && c is not '\t');
    }

    private static bool IsHex(byte b) => b is >= (byte)'0' and <= (byte)'9' or >= (byte)'a' and <= (byte)'f' or >= (byte)'A' and <= (byte)'F';

    private static int HexValue(byte b) => b <= '9' ? b - '0' : (b | 0x20) - 'a' + 10;

}
