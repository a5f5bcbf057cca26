using Microsoft.Extensions.Options;

namespace PaymentFunctions;

/// <summary>A setting is missing or malformed; the message names it and the expected form, never its value.</summary>
public sealed class ConfigurationException(string message) : Exception(message)
{
    /// <summary>
    /// The one-line description of a configuration failure: ours, or the options validators' (several sections
    /// failing at once arrive as an <see cref="AggregateException"/>). False for anything else.
    /// </summary>
    public static bool TryDescribe(Exception exception, out string message)
    {
        var failures = new List<string>();
        if (!Collect(exception, failures))
        {
            message = "";
            return false;
        }

        message = string.Join(" ", failures.Select(f => f.TrimEnd('.') + "."));
        return true;
    }

    private static bool Collect(Exception exception, List<string> failures)
    {
        switch (exception)
        {
            case ConfigurationException c:
                failures.Add(c.Message);
                return true;
            case OptionsValidationException v:
                failures.AddRange(v.Failures);
                return true;
            case AggregateException a:
                return a.InnerExceptions.Count > 0 && a.InnerExceptions.All(inner => Collect(inner, failures));
            default:
                return false;
        }
    }
}
