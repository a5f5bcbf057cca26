using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace PaymentFunctions.Events;

/// <summary>
/// Section <c>Events</c>: where the business system hears about changes. Every endpoint gets every event (or the
/// types it lists), each signed per Standard Webhooks with the endpoint's own secret. No endpoint: events are still
/// recorded beside their order, and nothing is queued.
/// </summary>
public sealed partial class EventsOptions
{
    public const string Section = "Events";

    /// <summary>Default retry delays after attempts 1, 2, …; the last one repeats until <see cref="RetryFor"/> is spent.</summary>
    public const string DefaultRetrySchedule = "00:00:05,00:00:30,00:02:00,00:10:00,01:00:00,06:00:00,12:00:00";

    public Dictionary<string, EventEndpointOptions> Endpoints { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>An attempt that has not answered 2xx within this is a failed attempt.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Comma-separated delays (<c>hh:mm:ss</c>) after each failed attempt; the last repeats.</summary>
    public string RetrySchedule { get; set; } = DefaultRetrySchedule;

    /// <summary>No retry is planned later than this after the first attempt: the event is then marked failed.</summary>
    public TimeSpan RetryFor { get; set; } = TimeSpan.FromDays(3);

    /// <summary>The parsed <see cref="RetrySchedule"/> (null when malformed; the validator says so at start).</summary>
    public IReadOnlyList<TimeSpan>? RetryDelays => ParseSchedule(RetrySchedule);

    /// <summary>
    /// The delay before attempt <paramref name="attempt"/> + 1, or null when no attempt is left: the delays add up
    /// from the first attempt, and none is planned past <see cref="RetryFor"/>. Independent of the clock, so the
    /// number of attempts is the same whatever time the queue took.
    /// </summary>
    public TimeSpan? DelayAfter(int attempt)
    {
        var delays = RetryDelays ?? ParseSchedule(DefaultRetrySchedule)!;
        var total = TimeSpan.Zero;
        TimeSpan delay = default;
        for (var i = 0; i < attempt; i++)
        {
            delay = delays[Math.Min(i, delays.Count - 1)];
            total += delay;
            if (total > RetryFor)
            {
                return null;
            }
        }

        return delay;
    }

    internal static IReadOnlyList<TimeSpan>? ParseSchedule(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        var delays = new List<TimeSpan>();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries))
        {
            if (!TimeSpan.TryParse(part, CultureInfo.InvariantCulture, out var delay) || delay <= TimeSpan.Zero || delay > TimeSpan.FromDays(6))
            {
                return null;
            }

            delays.Add(delay);
        }

        return delays;
    }

    [GeneratedRegex("^[A-Za-z][A-Za-z0-9]{0,31}$")]
    internal static partial Regex EndpointName();
}

/// <summary><c>Events:Endpoints:&lt;name&gt;</c>: one receiver.</summary>
public sealed class EventEndpointOptions
{
    /// <summary>https, or http to a loopback address only (local development).</summary>
    public string Url { get; set; } = "";

    /// <summary><c>whsec_</c> + Base64 of the signing key (a Key Vault reference in Azure).</summary>
    public string Secret { get; set; } = "";

    /// <summary>
    /// Event types it receives, as an array (<c>Types:0</c>, …) or one comma-separated value (split when the options
    /// are configured, see <see cref="EventsServiceCollectionExtensions"/>); empty: all.
    /// </summary>
    public List<string> Types { get; set; } = [];

    public IReadOnlySet<string> TypeFilter =>
        Types.SelectMany(t => t.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)).ToHashSet(StringComparer.Ordinal);

    public bool Receives(string type) => TypeFilter is { Count: 0 } || TypeFilter.Contains(type);
}

internal sealed class EventsOptionsValidator : IValidateOptions<EventsOptions>
{
    public ValidateOptionsResult Validate(string? name, EventsOptions o)
    {
        var failures = new List<string>();
        if (o.Timeout <= TimeSpan.Zero || o.Timeout > TimeSpan.FromMinutes(1))
        {
            failures.Add("Setting 'Events:Timeout' is out of range: expected a time span above zero and at most 00:01:00.");
        }

        if (o.RetryDelays is null)
        {
            failures.Add($"Setting 'Events:RetrySchedule' is malformed: expected comma-separated delays above zero and at most 6 days, such as '{EventsOptions.DefaultRetrySchedule}'.");
        }

        if (o.RetryFor < TimeSpan.Zero || o.RetryFor > TimeSpan.FromDays(6))
        {
            failures.Add("Setting 'Events:RetryFor' is out of range: expected a time span from 0 to 6 days (queue messages live 7 days).");
        }

        foreach (var (endpoint, e) in o.Endpoints)
        {
            var prefix = $"Setting 'Events:Endpoints:{endpoint}";
            if (!EventsOptions.EndpointName().IsMatch(endpoint))
            {
                failures.Add($"{prefix}' has a malformed name: expected a letter then up to 31 letters or digits.");
                continue;
            }

            if (!Uri.TryCreate(e.Url, UriKind.Absolute, out var url) || !(url.Scheme == Uri.UriSchemeHttps || (url.Scheme == Uri.UriSchemeHttp && IsLoopback(url))))
            {
                failures.Add($"{prefix}:Url' is missing or malformed: expected an https URL (http only to a loopback address).");
            }

            if (!WebhookSigner.TryParseSecret(e.Secret, out _))
            {
                failures.Add($"{prefix}:Secret' is missing or malformed: expected 'whsec_' followed by the Base64 of a key of 24 to 64 bytes.");
            }

            foreach (var type in e.TypeFilter)
            {
                if (!EventTypes.All.Contains(type))
                {
                    failures.Add($"{prefix}:Types' names an unknown event type '{Http.RequestBody.Clip(type)}': expected some of {string.Join(", ", EventTypes.All)}.");
                }
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static bool IsLoopback(Uri url) =>
        url.IsLoopback || (IPAddress.TryParse(url.Host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip));
}
