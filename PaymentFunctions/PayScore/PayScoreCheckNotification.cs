using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Options;
using PaymentFunctions.Events;
using PaymentFunctions.Notifications;
using PaymentFunctions.WeChatPay;

namespace PaymentFunctions.PayScore;

/// <summary>
/// A scheduled check of one Pay Score order in one <see cref="PayScoreCheckStage"/>, round 1 being the first that
/// asks WeChat. We produce it ourselves (no signature), and it carries no order facts: its handler trusts only what
/// WeChat's query answers.
/// </summary>
public sealed record PayScoreCheck(
    [property: JsonPropertyName("outOrderNo")] string OutOrderNo,
    [property: JsonPropertyName("stage")] PayScoreCheckStage Stage,
    [property: JsonPropertyName("round")] int Round) : INotification<PayScoreCheck>
{
    /// <summary>Also the timeline kind (source) of what a check applies.</summary>
    public static string Kind => "payscore.check";

    // Every member is required and the stage is a name: a message missing one is malformed, never a default.
    private static readonly JsonSerializerOptions Json = new()
    {
        RespectRequiredConstructorParameters = true,
        RespectNullableAnnotations = true,
        Converters = { new JsonStringEnumConverter<PayScoreCheckStage>(JsonNamingPolicy.CamelCase, allowIntegerValues: false) },
    };

    [JsonIgnore]
    public string EventKey => $"check-{Stage}-{Round}".ToLowerInvariant();

    public JsonElement ToPayload() => JsonSerializer.SerializeToElement(this, Json);

    public static PayScoreCheck FromPayload(JsonElement payload)
    {
        var check = NotificationHandlers.ReadPayload(() => payload.Deserialize<PayScoreCheck>(Json))
                    ?? throw new InvalidMessageException("The check payload is empty.");
        if (!WeChatPayFormats.IsValidOutOrderNo(check.OutOrderNo) || !Enum.IsDefined(check.Stage) || check.Round is < 1 or > WeChatPayOptions.MaxCheckRounds)
        {
            throw new InvalidMessageException($"The check payload needs an out_order_no, a stage and a round from 1 to {WeChatPayOptions.MaxCheckRounds}.");
        }

        return check;
    }
}

/// <summary>Schedules checks: a queue message that shows up after the delay (at most 6 days; longer waits are chained).</summary>
public sealed class PayScoreCheckScheduler(NotificationQueue queue, TimeProvider clock, IOptions<WeChatPayOptions> options, ILogger<PayScoreCheckScheduler> logger)
{
    public Task ScheduleAsync(PayScoreCheck check, TimeSpan delay, CancellationToken cancellationToken) =>
        queue.EnqueueAsync(NotificationEnvelope.For(check, clock.GetUtcNow()), delay, cancellationToken);

    /// <summary>
    /// After an HTTP answer committed a change whose events could not be queued: a check <paramref name="delay"/> later
    /// finds the order past the unconfirmed stage (every event-causing change leaves it there) and, as every check that
    /// is not needed does, queues what is undispatched. False when even that could not be queued (logged).
    /// </summary>
    public async Task<bool> TryScheduleRedispatchAsync(string outOrderNo, TimeSpan delay, CancellationToken cancellationToken)
    {
        try
        {
            await ScheduleAsync(new PayScoreCheck(outOrderNo, PayScoreCheckStage.Unconfirmed, 1), delay, cancellationToken);
            return true;
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            logger.LogWarning(ex, "ALERT Pay Score order {OutOrderNo}: its events are committed but not queued, and no check to queue them could be scheduled; " +
                "the next callback, check or query of the order queues them", outOrderNo);
            return false;
        }
    }

    /// <summary>
    /// Schedules the first check of the stage <paramref name="order"/> has just entered (create: CREATED; complete:
    /// DOING/MCH_COMPLETE), if any. Called after WeChat accepted and the order is stored, so a failure does not fail
    /// the caller's request: the order exists at WeChat and here, a repeat would answer it from storage without
    /// scheduling, and the storage client already retried the send. The warning names the order; the callbacks and
    /// the mini program's query (sync-on-read) still settle it, only the safety net for a lost callback is missing.
    /// </summary>
    public async Task TryScheduleFirstAsync(PayScoreOrderEntity order, CancellationToken cancellationToken)
    {
        if (PayScoreLifecycle.CheckStage(order) is not { } stage)
        {
            return;
        }

        var o = options.Value;
        var delay = PayScoreLifecycle.FirstCheckDelay(stage, order.CreatedAt, clock.GetUtcNow(), o.UnconfirmedLifetime, o.CheckBackoff);
        try
        {
            await ScheduleAsync(new PayScoreCheck(order.PartitionKey, stage, 1), delay, cancellationToken);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            // Any failure of storage (an error answer, a network timeout): only the caller going away is not ours to swallow.
            logger.LogWarning(ex, "Could not schedule the {Stage} check of Pay Score order {OutOrderNo}; its callbacks and queries still settle it",
                stage, order.PartitionKey);
        }
    }
}

/// <summary>
/// Handles a scheduled check: an order that no longer needs one (gone, final, or out of the stage the check was made
/// for) completes without asking WeChat; one that shows up before its stage is due (an unconfirmed order younger than
/// <see cref="WeChatPayOptions.UnconfirmedLifetime"/>) waits another hop. Otherwise it queries WeChat by
/// <c>out_order_no</c> and applies the answer through the same processor as a callback (source <c>payscore.check</c>);
/// while the order stays in the stage, it schedules the next round, up to <see cref="WeChatPayOptions.CheckMaxRounds"/>.
/// A replayed or racing check is harmless: the processor dedupes observations. WeChat unreachable or refusing throws,
/// so the message is retried like any transient failure.
/// </summary>
public sealed class PayScoreCheckHandler(PayScoreStore store, PayScoreProcessor processor, PayScoreCheckScheduler scheduler, PayScoreFeature feature,
    EventOutbox outbox, IOptions<WeChatPayOptions> options, IServiceProvider services, TimeProvider clock, ILogger<PayScoreCheckHandler> logger) : NotificationHandler<PayScoreCheck>
{
    protected override async Task<string> HandleAsync(PayScoreCheck check, DateTimeOffset receivedAt, CancellationToken cancellationToken)
    {
        var what = $"{check.OutOrderNo}: {check.Stage} check {check.Round}";
        var order = await store.GetAsync(check.OutOrderNo, cancellationToken);
        if (!PayScoreLifecycle.NeedsCheck(order, check.Stage))
        {
            if (order is { IsCreated: true } && feature.Enabled)
            {
                // The change that ended the stage may have been committed by a process that died before queueing its
                // events (or by an HTTP answer whose queueing failed): this check is what makes sure they go out.
                await outbox.EnsureDispatchedAsync(EventProducts.PayScore, check.OutOrderNo, order.EventCount, cancellationToken);
            }

            return $"{what} not needed ({(order is null ? "no such order" : PayScoreLifecycle.Describe(order))})";
        }

        if (!feature.Enabled)
        {
            logger.LogWarning("Pay Score order {OutOrderNo} was not checked: WeChat Pay is not configured on this app", check.OutOrderNo);
            return $"{what} skipped (WeChat Pay is not configured)";
        }

        var o = options.Value;
        if (PayScoreLifecycle.WaitBeforeCheck(order, check.Stage, clock.GetUtcNow(), o.UnconfirmedLifetime) is { } wait)
        {
            // A failure here retries this message, which decides again.
            await scheduler.ScheduleAsync(check, wait, cancellationToken);
            return $"{what} not due; waits {wait} more";
        }

        // Transient (a typed HttpClient) while handlers are singletons: resolved per check.
        var observed = await services.GetRequiredService<WeChatPayClient>().QueryByOutOrderNoAsync(check.OutOrderNo, cancellationToken);
        if (!PayScoreHttp.Matches(observed, o, out var mismatch) || observed.OutOrderNo != check.OutOrderNo)
        {
            throw new InvalidOperationException($"WeChat Pay answered the check of {check.OutOrderNo} with an order that is not ours: {(mismatch.Length > 0 ? mismatch : "another out_order_no")}.");
        }

        var applied = await processor.ApplyAsync(observed, PayScoreCheck.Kind, null, clock.GetUtcNow(), cancellationToken);
        var stillNeeded = PayScoreLifecycle.NeedsCheck(applied.Order, check.Stage);
        var outcome = $"{applied.Outcome} ({PayScoreLifecycle.Describe(applied.Order)})";
        if (PayScoreLifecycle.NextCheckDelay(stillNeeded, check.Round, o.CheckMaxRounds, o.CheckBackoff) is { } delay)
        {
            // A failure here retries this check: asking WeChat again is harmless.
            await scheduler.ScheduleAsync(check with { Round = check.Round + 1 }, delay, cancellationToken);
            return $"{what}: {outcome}; next check in {delay}";
        }

        if (stillNeeded)
        {
            logger.LogWarning("Pay Score order {OutOrderNo} is still {State} after {Rounds} scheduled checks; no more are scheduled",
                check.OutOrderNo, PayScoreLifecycle.Describe(applied.Order), check.Round);
        }

        return $"{what}: {outcome}";
    }
}
