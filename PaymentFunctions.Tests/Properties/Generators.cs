using System.Text;
using CsCheck;

namespace PaymentFunctions.Tests.Properties;

/// <summary>
/// Shared generators, biased toward what breaks parsers and signatures: the separators of the formats we
/// read (<c>&amp; = + % " , \</c>), Chinese text, characters outside the BMP (surrogate pairs, 4 bytes in UTF-8)
/// and tabs, besides plain ASCII.
/// </summary>
internal static class Generators
{
    private const string Ascii = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    private const string Separators = "&=+%# ;/?:@!*'()[]{}\"\\,.-_~|<>";

    /// <summary>One Unicode scalar value (never a lone surrogate), as a string of one or two chars.</summary>
    public static readonly Gen<string> Scalar = Gen.Frequency(
        (8, Gen.Char[Ascii].Select(c => c.ToString())),
        (4, Gen.Char[Separators].Select(c => c.ToString())),
        (3, Gen.Char['\u4e00', '\u9fa5'].Select(c => c.ToString())),
        (1, Gen.Int[0x1F300, 0x1FAFF].Select(char.ConvertFromUtf32)),
        (1, Gen.Char["\u00e9\u00df\u0416\u3000\uff01\ufeff"].Select(c => c.ToString())),
        (1, Gen.Const("\t")));

    /// <summary>Printable text (no control characters but tab) of 0-16 scalars.</summary>
    public static readonly Gen<string> Text = Scalar.Array[0, 16].Select(string.Concat);

    /// <summary>Non-empty text, e.g. a form field name.</summary>
    public static readonly Gen<string> Name = Scalar.Array[1, 10].Select(string.Concat);

    /// <summary>Field names as a protocol would use them: lowercase ASCII and underscores.</summary>
    public static readonly Gen<string> ProtocolName = Gen.Char["abcdefghijklmnopqrstuvwxyz_"].Array[1, 12].Select(a => new string(a));

    /// <summary>Any char at all, lone surrogates and control characters included.</summary>
    public static readonly Gen<string> AnyText = Gen.Frequency(
        (3, Gen.Char.Array[0, 40].Select(a => new string(a))),
        (2, Text),
        (1, Gen.Char['\0', '\u001f'].Array[1, 5].Select(a => new string(a))));

    /// <summary>Bytes biased toward the form and JSON syntax characters, so most samples get past the first check.</summary>
    public static readonly Gen<byte[]> SyntaxBytes = Gen.Frequency(
        (3, Gen.Byte),
        (4, Gen.OneOf("a=&%+0F9{}[]\":,\\ntu.-e"u8.ToArray())))
        .Array[0, 64];

    /// <summary>A JSON value of bounded depth: every kind of token, strings from <see cref="AnyText"/>.</summary>
    public static readonly Gen<string> JsonValue = Gen.Recursive<string>((depth, self) =>
    {
        var leaf = Gen.Frequency(
            (2, Gen.Long.Select(l => l.ToString(System.Globalization.CultureInfo.InvariantCulture))),
            (1, Gen.Double.Select(d => double.IsFinite(d) ? d.ToString("R", System.Globalization.CultureInfo.InvariantCulture) : "0")),
            (1, Gen.OneOf("true", "false", "null", "0", "-1", "1e3", "1.5", "10000001", "99999999999999999999999", "\"\"")),
            (3, AnyText.Select(s => System.Text.Json.JsonSerializer.Serialize(s))));
        if (depth >= 3)
        {
            return leaf;
        }

        var array = self.Array[0, 4].Select(items => "[" + string.Join(",", items) + "]");
        var member = Gen.Select(Gen.Frequency((2, ProtocolName), (1, AnyText)), self,
            (k, v) => System.Text.Json.JsonSerializer.Serialize(k) + ":" + v);
        var obj = member.Array[0, 5].Select(items => "{" + string.Join(",", items) + "}");
        return Gen.Frequency((4, leaf), (1, array), (2, obj));
    });

    /// <summary>A JSON object built from the given member names and arbitrary values, duplicates possible.</summary>
    public static Gen<string> JsonObjectOf(params string[] names) =>
        Gen.Select(Gen.Frequency((4, Gen.OneOf(names)), (1, ProtocolName)), JsonValue,
                (k, v) => System.Text.Json.JsonSerializer.Serialize(k) + ":" + v)
            .Array[0, 8]
            .Select(items => "{" + string.Join(",", items) + "}");

    public static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);
}
