using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Azure;
using Azure.Data.Tables;
using Microsoft.Extensions.Options;
using PaymentFunctions.Notifications;
using PaymentFunctions.Telemetry;

namespace PaymentFunctions.Events;

/// <summary>
/// Handles one delivery message: one attempt to send one event to one endpoint. 2xx within <c>Events:Timeout</c> is
/// delivered; anything else (3xx included: redirects are not followed) is a failed attempt, recorded on the event row,
/// and the next attempt is a new message queued with the retry delay, until the schedule is spent and the delivery is
/// marked failed (an <c>ALERT</c> warning). A message for an attempt the row says is already made or superseded does
/// nothing, so duplicates are harmless.
/// </summary>
public sealed partial class EventDeliverer(
    EventStreams streams,
    EventOutbox outbox,
    IHttpClientFactory httpClients,
    IOptionsMonitor<EventsOptions> options,
    TimeProvider clock,
    ILogger<EventDeliverer> logger)
{
    public const string HttpClientName = "PaymentFunctions.Events";

    /// <summary>Of a receiver's answer only this much is read (for the error recorded), however much it sends.</summary>
    public const int MaxAnswerBytes = 4 * 1024;

    public const int MaxErrorLength = 200;

    /// <summary>A claim older than the timeout plus this is taken to belong to a worker that died.</summary>
    public static readonly TimeSpan ClaimMargin = TimeSpan.FromSeconds(20);

    /// <summary>The kind of a delivery message, as a span name part and metric tag.</summary>
    public const string MessageKind = "event.delivery";

    /// <summary>
    /// Handles one delivery message in a <c>process event.delivery</c> span, in the trace of the change (or redeliver
    /// request) that caused it; the attempt itself is a child span <c>deliver {type}</c> around the POST.
    /// </summary>
    public async Task<string> ProcessAsync(string text, CancellationToken cancellationToken)
    {
        EventDelivery message;
        try
        {
            message = Parse(text);
        }
        catch (InvalidMessageException)
        {
            PaymentTelemetry.MessageProcessed(PaymentTelemetry.EventsQueue, MessageKind, "invalid");
            throw;
        }

        using var activity = PaymentTelemetry.StartProcessing($"process {MessageKind}", PaymentTelemetry.EventsQueue, MessageKind,
            message.TraceParent, message.TraceState, linkOnly: false);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag("payment.event_id", message.EventId);
            activity.SetTag("payment.event.endpoint", message.Endpoint);
            activity.SetTag("payment.event.round", message.Round);
            activity.SetTag("payment.event.attempt", message.Attempt);
        }

        try
        {
            var summary = await DeliverAsync(message, cancellationToken);
            activity?.SetTag("payment.outcome", summary);
            PaymentTelemetry.MessageProcessed(PaymentTelemetry.EventsQueue, MessageKind, "processed",
                message.QueuedAt is { } queuedAt ? clock.GetUtcNow() - queuedAt : null);
            return summary;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            PaymentTelemetry.Fail(activity, ex);
            PaymentTelemetry.MessageProcessed(PaymentTelemetry.EventsQueue, MessageKind, ex is PermanentMessageException ? "invalid" : "failed");
            throw;
        }
    }

    private async Task<string> DeliverAsync(EventDelivery message, CancellationToken cancellationToken)
    {
        if (!EventKey.TryParse(message.EventId, out var key) || streams.Find(key.Product) is not { } table)
        {
            throw new InvalidMessageException("The delivery message names no event of ours.");
        }

        var settings = options.CurrentValue;
        if (!settings.Endpoints.TryGetValue(message.Endpoint, out var endpoint))
        {
            LogEndpointGone(logger, key.Id, message.Endpoint);
            return "endpoint no longer configured";
        }

        // Claim the attempt on the row before sending, so that a duplicate message for it sends nothing.
        TableEntity? row;
        EndpointDelivery state;
        ETag claimed;
        while (true)
        {
            row = await EventStore.GetAsync(table, key, cancellationToken);
            if (row is null)
            {
                LogEventGone(logger, key.Id);
                return "no such event";
            }

            state = EventRows.Delivery(row, message.Endpoint);
            if (Stale(state, message) is { } reason)
            {
                // The attempt was made: if the process died before queuing the next one, queue it now.
                if (state.Round == message.Round && state.Attempts == message.Attempt && !state.Finished && state.NextAttemptAt is { } next)
                {
                    await outbox.SendAsync(message with { Attempt = message.Attempt + 1 }, Max(next - clock.GetUtcNow(), TimeSpan.Zero), cancellationToken);
                    return "attempt already made; next attempt queued again";
                }

                return reason;
            }

            if (state.ClaimedAttempt == message.Attempt && state.ClaimedAt is { } at && clock.GetUtcNow() - at < settings.Timeout + ClaimMargin)
            {
                // Another worker is making this attempt now. Come back later: by then it is recorded (and this message
                // is dropped), or the claim has expired because that worker died (and this message makes the attempt).
                throw new EventAttemptInFlightException(key.Id, message.Endpoint, message.Attempt);
            }

            var claim = state with { ClaimedAttempt = message.Attempt, ClaimedAt = clock.GetUtcNow() };
            try
            {
                var response = await table.UpdateEntityAsync(Property(key, message.Endpoint, claim), row.ETag, TableUpdateMode.Merge, cancellationToken);
                claimed = response.Headers.ETag ?? ETag.All;
                state = claim;
                break;
            }
            catch (RequestFailedException ex) when (ex.Status == 412)
            {
                // Another endpoint's delivery (or a duplicate) wrote the row: decide again on what is there now.
            }
        }

        var type = row.GetString(EventRows.Type) ?? "";
        using var attempt = PaymentTelemetry.Source.StartActivity(EventTypes.All.Contains(type) ? $"deliver {type}" : "deliver event", ActivityKind.Internal);
        attempt?.SetTag("payment.event.type", type);
        var started = clock.GetTimestamp();
        var (status, error) = await SendAsync(row, key, message, endpoint, settings.Timeout, cancellationToken);
        var now = clock.GetUtcNow();
        var delivered = status is >= 200 and < 300;
        var delay = delivered ? null : settings.DelayAfter(message.Attempt);
        var outcome = delivered ? "delivered" : delay is null ? "failed" : "retrying";
        PaymentTelemetry.DeliveryAttempt(outcome, clock.GetElapsedTime(started));
        if (attempt is not null)
        {
            attempt.SetTag("payment.outcome", outcome);
            attempt.SetTag("http.response.status_code", status);
            if (!delivered)
            {
                attempt.SetStatus(ActivityStatusCode.Error, status is null ? "no answer" : $"HTTP {status}");
            }

            attempt.Dispose();
        }
        var recorded = state with
        {
            Attempts = message.Attempt,
            TotalAttempts = state.TotalAttempts + 1,
            LastStatus = status,
            LastError = error,
            LastAttemptAt = now,
            NextAttemptAt = delay is { } d ? now + d : null,
            DeliveredAt = delivered ? now : null,
            FailedAt = !delivered && delay is null ? now : null,
            ClaimedAttempt = null,
            ClaimedAt = null,
        };

        // Merge this endpoint's state only if the row is unchanged since the claim; another endpoint's delivery writing
        // the same row meanwhile is re-read and merged over, a redeliver (a new round) wins.
        while (true)
        {
            try
            {
                await table.UpdateEntityAsync(Property(key, message.Endpoint, recorded), claimed, TableUpdateMode.Merge, cancellationToken);
                break;
            }
            catch (RequestFailedException ex) when (ex.Status == 412)
            {
                row = await EventStore.GetAsync(table, key, cancellationToken) ?? throw new InvalidOperationException("The event row disappeared.");
                if (EventRows.Delivery(row, message.Endpoint) != state)
                {
                    return "superseded while the attempt was made";
                }

                claimed = row.ETag;
            }
        }

        if (delivered)
        {
            LogDelivered(logger, key.Id, message.Endpoint, message.Attempt, status);
            return "delivered";
        }

        if (delay is { } retryIn)
        {
            await outbox.SendAsync(message with { Attempt = message.Attempt + 1 }, retryIn, cancellationToken);
            LogRetrying(logger, key.Id, message.Endpoint, message.Attempt, error ?? "", retryIn);
            return "failed; retry queued";
        }

        LogFailed(logger, key.Id, message.Endpoint, message.Attempt, error ?? "");
        return "failed; no attempt left";
    }

    private static string? Stale(EndpointDelivery state, EventDelivery message) =>
        state.Round != message.Round ? "superseded by a redeliver"
        : state.Finished ? "already " + state.Status
        : state.Attempts != message.Attempt - 1 ? "attempt already made"
        : null;

    /// <summary>One signed POST; returns the status (null when there was no answer) and, unless 2xx, why it failed.</summary>
    private async Task<(int? Status, string? Error)> SendAsync(TableEntity row, EventKey key, EventDelivery message, EventEndpointOptions endpoint,
        TimeSpan timeout, CancellationToken cancellationToken)
    {
        var body = Body(row, key);
        var timestamp = clock.GetUtcNow().ToUnixTimeSeconds();
        if (!WebhookSigner.TryParseSecret(endpoint.Secret, out var secret))
        {
            throw new InvalidOperationException("The endpoint's secret is malformed (the options validator refuses it at start).");
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, endpoint.Url) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        request.Headers.Add(WebhookSigner.IdHeader, key.Id);
        request.Headers.Add(WebhookSigner.TimestampHeader, timestamp.ToString(CultureInfo.InvariantCulture));
        request.Headers.Add(WebhookSigner.SignatureHeader, WebhookSigner.Sign(secret, key.Id, timestamp, body));

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        var http = httpClients.CreateClient(HttpClientName);
        try
        {
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, deadline.Token);
            var status = (int)response.StatusCode;
            if (status is >= 200 and < 300)
            {
                return (status, null);
            }

            // Read a little of the answer for the record, inside the same deadline; the rest is never read.
            var excerpt = await ReadExcerptAsync(response.Content, deadline.Token);
            var detail = status is >= 300 and < 400 ? $"redirect to {response.Headers.Location} (not followed)" : excerpt;
            return (status, Clip($"HTTP {status}{(string.IsNullOrWhiteSpace(detail) ? "" : ": " + detail)}"));
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (null, $"no 2xx answer within {timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s");
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException)
        {
            return (null, Clip($"could not be reached: {ex.Message}"));
        }
    }

    /// <summary>The body every attempt sends: <c>{ id, type, createdAt, sequence, data }</c>, data as the GET view.</summary>
    internal static byte[] Body(TableEntity row, EventKey key)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("id", key.Id);
            json.WriteString("type", row.GetString(EventRows.Type));
            json.WriteString("createdAt", row.GetDateTimeOffset(EventRows.CreatedAt) ?? default);
            json.WriteNumber("sequence", key.Sequence);
            json.WritePropertyName("data");
            json.WriteRawValue(row.GetString(EventRows.Data) ?? "null");
            json.WriteEndObject();
        }

        return buffer.ToArray();
    }

    private static async Task<string> ReadExcerptAsync(HttpContent content, CancellationToken cancellationToken)
    {
        try
        {
            await using var stream = await content.ReadAsStreamAsync(cancellationToken);
            var buffer = new byte[MaxAnswerBytes];
            var read = 0;
            int n;
            while (read < buffer.Length && (n = await stream.ReadAsync(buffer.AsMemory(read), cancellationToken)) > 0)
            {
                read += n;
            }

            return Encoding.UTF8.GetString(buffer, 0, read);
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or OperationCanceledException)
        {
            return "";
        }
    }

    /// <summary>Receiver text goes into the row and the log: one line, printable, short.</summary>
    private static string Clip(string text)
    {
        var clean = new string(text.Select(c => char.IsControl(c) ? ' ' : c).ToArray()).Trim();
        return clean.Length <= MaxErrorLength ? clean : clean[..MaxErrorLength] + "…";
    }

    private static TableEntity Property(EventKey key, string endpoint, EndpointDelivery state) =>
        new(key.PartitionKey, key.RowKey) { [EventRows.DeliveryProperty(endpoint)] = EventRows.Serialize(state) };

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    private static EventDelivery Parse(string text)
    {
        text = NotificationEnvelope.Unwrap(text) ?? throw new InvalidMessageException("The delivery message is a malformed JSON string.");
        try
        {
            var message = JsonSerializer.Deserialize<EventDelivery>(text);
            if (message is { EventId.Length: > 0, Endpoint.Length: > 0, Round: >= 0, Attempt: >= 1 })
            {
                return message;
            }
        }
        catch (JsonException)
        {
        }

        throw new InvalidMessageException("The message is not an event delivery.");
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Event {EventId} delivered to {Endpoint} (attempt {Attempt}, HTTP {Status})")]
    private static partial void LogDelivered(ILogger logger, string eventId, string endpoint, int attempt, int? status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Event {EventId} to {Endpoint}: attempt {Attempt} failed ({Error}); next attempt in {Delay}")]
    private static partial void LogRetrying(ILogger logger, string eventId, string endpoint, int attempt, string error, TimeSpan delay);

    [LoggerMessage(Level = LogLevel.Warning, Message = "ALERT event {EventId} could not be delivered to {Endpoint}: {Attempt} attempts failed, the last with {Error}; marked failed (redeliver it once the receiver is fixed)")]
    private static partial void LogFailed(ILogger logger, string eventId, string endpoint, int attempt, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Event {EventId}: endpoint {Endpoint} is no longer configured; delivery dropped")]
    private static partial void LogEndpointGone(ILogger logger, string eventId, string endpoint);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Event {EventId} does not exist; delivery dropped")]
    private static partial void LogEventGone(ILogger logger, string eventId);
}

/// <summary>Another worker holds the claim on this attempt: the message is retried later (and then dropped if it was made).</summary>
public sealed class EventAttemptInFlightException(string eventId, string endpoint, int attempt)
    : Exception($"Attempt {attempt} of event {eventId} to {endpoint} is being made by another worker; retrying the message later.");
