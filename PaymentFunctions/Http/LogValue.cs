using System.Globalization;
using System.Text;

namespace PaymentFunctions.Http;

/// <summary>
/// Values that come from outside (headers, request fields, platform answers) as they may be logged: control
/// and bidirectional-override characters escaped so they cannot forge or hide log lines, and the length capped
/// so a 20 KB header costs a log line, not 20 KB per request.
/// </summary>
public static class LogValue
{
    public const int DefaultMaxLength = 128;

    public static string? Safe(string? value, int maxLength = DefaultMaxLength)
    {
        if (value is null)
        {
            return null;
        }

        var visible = Math.Min(value.Length, maxLength);
        var clean = true;
        for (var i = 0; i < visible && clean; i++)
        {
            clean = !NeedsEscape(value[i]);
        }

        if (clean && value.Length <= maxLength)
        {
            return value;
        }

        var builder = new StringBuilder(visible + 24);
        for (var i = 0; i < visible; i++)
        {
            var c = value[i];
            if (NeedsEscape(c))
            {
                builder.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
            }
            else
            {
                builder.Append(c);
            }
        }

        if (value.Length > maxLength)
        {
            builder.Append("…(+").Append(value.Length - maxLength).Append(" chars)");
        }

        return builder.ToString();
    }

    public static string? Safe(Microsoft.Extensions.Primitives.StringValues value, int maxLength = DefaultMaxLength) =>
        value.Count == 0 ? null : Safe(value.ToString(), maxLength);

    /// <summary>C0/C1 controls (newlines, ESC), line/paragraph separators and bidi overrides that reorder what a reader sees.</summary>
    private static bool NeedsEscape(char c) =>
        char.IsControl(c) || c is '\u2028' or '\u2029' or (>= '\u202a' and <= '\u202e') or (>= '\u2066' and <= '\u2069');
}
