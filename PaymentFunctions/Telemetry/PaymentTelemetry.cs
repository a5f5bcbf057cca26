using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace PaymentFunctions.Telemetry;

/// <summary>
/// The app's own ActivitySource and Meter (both named <see cref="Name"/>) and every instrument on it (docs/telemetry.md).
/// Static, so any code records with one line and nothing is injected; with no listener (telemetry off) a span is
/// never started and a measurement costs a flag check. Tags are low-cardinality only: never an order number,
/// an amount, a secret or personal data. Span attributes carry order numbers (<see cref="TagOrder"/>), never secrets.
/// </summary>
public static class PaymentTelemetry
{
    public const string Name = "PaymentFunctions";

    /// <summary>Queue names as tags: the notification queue and the event delivery queue.</summary>
    public const string NotificationsQueue = "notifications";

    public const string EventsQueue = "events";

    public static readonly ActivitySource Source = new(Name, Version);

    public static readonly Meter Meter = new(Name, Version);

    private static string? Version => typeof(PaymentTelemetry).Assembly.GetName().Version?.ToString();

    private static readonly Counter<long> WebhooksReceived = Meter.CreateCounter<long>(
        "payment.webhooks.received", "{webhook}", "Platform notifications verified and queued, by platform.");

    private static readonly Counter<long> WebhooksRefused = Meter.CreateCounter<long>(
        "payment.webhooks.refused", "{webhook}", "Platform notifications refused (nothing queued), by platform and reason.");

    private static readonly Counter<long> QueueMessages = Meter.CreateCounter<long>(
        "payment.queue.messages", "{message}", "Queue messages processed, by queue, kind and outcome (processed, orphan, invalid, failed).");

    private static readonly Histogram<double> QueueLag = Meter.CreateHistogram<double>(
        "payment.queue.lag", "s", "From a message's enqueue (or its due time, when sent with a delay) to its processing applied, by queue and kind.");

    private static readonly Counter<long> OrderTransitions = Meter.CreateCounter<long>(
        "payment.order.transitions", "{transition}", "Order state changes written, by product, from and to.");

    private static readonly Histogram<double> PlatformCalls = Meter.CreateHistogram<double>(
        "payment.platform.call.duration", "s", "Outbound calls to a payment platform, by platform and result.");

    private static readonly Counter<long> Refunds = Meter.CreateCounter<long>(
        "payment.refunds", "{refund}", "Refund outcomes, by product and outcome.");

    private static readonly Counter<long> DeliveryAttempts = Meter.CreateCounter<long>(
        "payment.events.delivery.attempts", "{attempt}", "Event delivery attempts (one POST to a receiver each), by outcome (delivered, retrying, failed).");

    private static readonly Counter<long> DeliveryFailures = Meter.CreateCounter<long>(
        "payment.events.delivery.failures", "{delivery}", "Event deliveries marked failed after their last attempt.");

    private static readonly Histogram<double> DeliveryDuration = Meter.CreateHistogram<double>(
        "payment.events.delivery.duration", "s", "Event delivery attempts: the POST to the receiver, by outcome.");

    public static void WebhookReceived(string platform) =>
        WebhooksReceived.Add(1, new KeyValuePair<string, object?>("platform", platform));

    /// <summary>A refused notification; the reason is named from the HTTP status answered, so it stays a short fixed list.</summary>
    public static void WebhookRefused(string platform, int status) =>
        WebhooksRefused.Add(1, new("platform", platform), new("reason", RefusalReason(status)));

    internal static string RefusalReason(int status) => status switch
    {
        400 => "malformed",
        401 => "signature",
        403 => "not_ours",
        408 => "timeout",
        413 => "too_large",
        415 => "media_type",
        503 => "unavailable",
        >= 500 => "error",
        _ => "other",
    };

    public static void MessageProcessed(string queue, string kind, string outcome, TimeSpan? lag = null)
    {
        QueueMessages.Add(1, new("queue", queue), new("kind", kind), new("outcome", outcome));
        if (lag is { } l)
        {
            QueueLag.Record(Math.Max(0, l.TotalSeconds), new KeyValuePair<string, object?>("queue", queue), new KeyValuePair<string, object?>("kind", kind));
        }
    }

    /// <summary>An order state change that was written; no-op when nothing changed.</summary>
    public static void OrderTransition(string product, object from, object to)
    {
        var f = Snake(from);
        var t = Snake(to);
        if (f != t)
        {
            OrderTransitions.Add(1, new("product", product), new("from", f), new("to", t));
        }
    }

    public static void PlatformCall(string platform, string result, TimeSpan duration) =>
        PlatformCalls.Record(duration.TotalSeconds, new KeyValuePair<string, object?>("platform", platform), new KeyValuePair<string, object?>("result", result));

    public static void Refund(string product, object outcome) =>
        Refunds.Add(1, new KeyValuePair<string, object?>("product", product), new KeyValuePair<string, object?>("outcome", Snake(outcome)));

    /// <summary>A refund row written: counted once, when it became final (succeeded or failed).</summary>
    public static void RefundChanged(string product, string from, string to, bool final)
    {
        if (final && !string.Equals(from, to, StringComparison.Ordinal))
        {
            Refund(product, to);
        }
    }

    public static void DeliveryAttempt(string outcome, TimeSpan duration)
    {
        DeliveryAttempts.Add(1, new KeyValuePair<string, object?>("outcome", outcome));
        DeliveryDuration.Record(duration.TotalSeconds, new KeyValuePair<string, object?>("outcome", outcome));
        if (outcome == "failed")
        {
            DeliveryFailures.Add(1);
        }
    }

    /// <summary>
    /// The order numbers an operator searches by, on the current span: the order id, the merchant's order number and
    /// the Pay Score <c>outOrderNo</c>, whichever are known. Nothing else about the order goes on a span.
    /// </summary>
    public static void TagOrder(string? orderId = null, string? merchantOrderNo = null, string? outOrderNo = null)
    {
        if (Activity.Current is not { IsAllDataRequested: true } activity)
        {
            return;
        }

        if (orderId is not null)
        {
            activity.SetTag("payment.order_id", orderId);
        }

        if (merchantOrderNo is not null)
        {
            activity.SetTag("payment.merchant_order_no", merchantOrderNo);
        }

        if (outOrderNo is not null)
        {
            activity.SetTag("payment.out_order_no", outOrderNo);
        }
    }

    /// <summary>
    /// The span of one queue message's processing, a new root whatever span happened to run it (the host's invocation
    /// request, a poll): its parent is the trace context the message carries (<see cref="TraceContext"/>), or, when
    /// <paramref name="linkOnly"/> (a message sent with a delay, such as a scheduled check), a link to it. A message
    /// without a (valid) context starts a trace of its own. Null when nobody listens or the trace is not sampled.
    /// </summary>
    public static Activity? StartProcessing(string name, string queue, string kind, string? traceParent, string? traceState, bool linkOnly)
    {
        if (!Source.HasListeners())
        {
            return null;
        }

        var origin = TraceContext.Parse(traceParent, traceState);
        var previous = Activity.Current;
        Activity.Current = null;
        ActivityTagsCollection tags = new()
        {
            ["messaging.operation.type"] = "process",
            ["messaging.destination.name"] = queue,
            ["payment.message.kind"] = kind,
        };
        var activity = origin is { } parent && !linkOnly
            ? Source.StartActivity(name, ActivityKind.Consumer, parent, tags)
            : Source.StartActivity(name, ActivityKind.Consumer, default(ActivityContext), tags, origin is { } linked ? [new ActivityLink(linked)] : null);
        if (activity is null)
        {
            Activity.Current = previous;
        }

        return activity;
    }

    /// <summary>Marks a span failed with the exception's type only: exception messages may quote platform answers.</summary>
    public static void Fail(Activity? activity, Exception ex)
    {
        if (activity is not null)
        {
            activity.SetStatus(ActivityStatusCode.Error, ex.GetType().Name);
            activity.SetTag("error.type", ex.GetType().FullName);
        }
    }

    /// <summary><c>PaidAfterClose</c> → <c>paid_after_close</c>: enum values as tags, short and stable.</summary>
    internal static string Snake(object value)
    {
        var text = value.ToString() ?? "";
        var builder = new System.Text.StringBuilder(text.Length + 4);
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (char.IsUpper(c))
            {
                // A word starts at an upper-case letter after a lower-case one or a digit: PaidAfterClose, not DOING.
                if (i > 0 && (char.IsLower(text[i - 1]) || char.IsDigit(text[i - 1])))
                {
                    builder.Append('_');
                }

                builder.Append(char.ToLowerInvariant(c));
            }
            else
            {
                builder.Append(c);
            }
        }

        return builder.ToString();
    }
}
