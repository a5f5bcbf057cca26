using System.Diagnostics;

namespace PaymentFunctions.Telemetry;

/// <summary>
/// The W3C trace context (<c>traceparent</c>, <c>tracestate</c>) a queue message carries from the work that sent it to
/// the work that processes it, so one payment story is one trace under the Functions host and standalone alike.
/// </summary>
public static class TraceContext
{
    /// <summary>The current span's context, or nulls when there is none (telemetry off: nothing is added to the message).</summary>
    public static (string? TraceParent, string? TraceState) Capture() =>
        Activity.Current is { IdFormat: ActivityIdFormat.W3C } activity
            ? (activity.Id, string.IsNullOrEmpty(activity.TraceStateString) ? null : activity.TraceStateString)
            : (null, null);

    /// <summary>The context a message carries; null when it has none or it is malformed (the message still processes).</summary>
    public static ActivityContext? Parse(string? traceParent, string? traceState) =>
        traceParent is { Length: > 0 and <= 128 } && ActivityContext.TryParse(traceParent, traceState, isRemote: true, out var context)
            ? context
            : null;
}
