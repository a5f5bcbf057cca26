using PaymentFunctions.OpenApi;
using System.Globalization;
using System.Text;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using PaymentFunctions.Http;
using PaymentFunctions.Orders;
using PaymentFunctions.Refunds;
using PaymentFunctions.Storage;
using PaymentFunctions.WeChatPay;
using static PaymentFunctions.PayScore.PayScoreRules;

namespace PaymentFunctions.PayScore;

/// <summary>A refund of a paid order's 支付分 deduction. <c>amount</c> in fen; <c>reason</c> (≤80 UTF-8 bytes) is shown to the user.</summary>
public sealed record CreatePayScoreRefundRequest(string? OutRefundNo, long? Amount, string? Reason)
{
    /// <summary>From the route, not the body; set before validation.</summary>
    [JsonIgnore]
    public string? OutOrderNo { get; init; }
}

/// <summary>The request's own rules (WeChat Pay API v3 申请退款: out_refund_no, amount.refund, reason); what the order allows is checked after.</summary>
public sealed class CreatePayScoreRefundValidator : AbstractValidator<CreatePayScoreRefundRequest>
{
    public CreatePayScoreRefundValidator()
    {
        RuleFor(r => r.OutOrderNo).WeChat(OutOrderNo);
        RuleFor(r => r.OutRefundNo).WeChat(v => PayScoreRefundRules.IsValidOutRefundNo(v) ? null : PayScoreRefundRules.OutRefundNoProblem);
        RuleFor(r => r.Amount).WeChat(v => v is null ? "is required, in fen." : Amount(v.Value, minimum: 1));
        RuleFor(r => r.Reason).WeChat(PayScoreRefundRules.Reason);
    }
}

public static partial class PayScoreRefundRules
{
    public const string OutRefundNoProblem = "must be 1 to 64 characters of 0-9, a-z, A-Z, _ or -.";

    /// <summary>WeChat allows a few more characters in some modes; this subset is valid everywhere and needs no escaping in a URL.</summary>
    public static bool IsValidOutRefundNo(string? value) => value is not null && OutRefundNoPattern().IsMatch(value);

    public static string? Reason(string? value) =>
        value is null ? null
        : string.IsNullOrWhiteSpace(value) ? "must be omitted rather than empty."
        : WeChatPayFormats.HasFourByteUtf8(value) ? "must not contain emoji or other 4-byte UTF-8 characters."
        : Encoding.UTF8.GetByteCount(value) > PayScoreRefundLifecycle.MaxReasonBytes
            ? string.Create(CultureInfo.InvariantCulture, $"at most {PayScoreRefundLifecycle.MaxReasonBytes} UTF-8 bytes (a Chinese character takes 3), not {Encoding.UTF8.GetByteCount(value)}.")
        : null;

    [GeneratedRegex(@"^[0-9A-Za-z_-]{1,64}\z")]
    private static partial Regex OutRefundNoPattern();
}

/// <summary>
/// <c>POST /api/payscore/orders/{outOrderNo}/refunds</c> and <c>GET …/refunds/{outRefundNo}</c> (function key): refund a
/// paid order's 支付分 deduction. The POST stores the refund and answers 202 Pending; the refund is then sent and followed
/// by queued messages (<see cref="PayScoreRefundProcessor"/>). Idempotent on <c>outRefundNo</c>: the same request answers
/// 200 with the refund as it stands, another one under the same number 409.
/// </summary>
public static class PayScoreRefundEndpoints
{
    public static void MapPayScoreRefunds(this IEndpointRouteBuilder api)
    {
        api.MapPost("/payscore/orders/{outOrderNo}/refunds", CreateAsync).WithName("CreatePayScoreRefund")
            .WithSummary("Refund (part of) a paid Pay Score order (business system)").AcceptsJson<CreatePayScoreRefundRequest>()
            .WithDescription("By the deduction's transaction_id. Idempotent on outRefundNo; settled by WeChat's REFUND.* callback or scheduled refund queries.")
            .Describes(StatusCodes.Status202Accepted, "Accepted: the refund, Pending.").Describes(StatusCodes.Status200OK, "The same request again: the refund as it stands.")
            .Refuses(StatusCodes.Status404NotFound, "No such order.")
            .Refuses(StatusCodes.Status409Conflict, "The order is not paid, the amount exceeds what is left, or outRefundNo names another refund.")
            .Refuses(StatusCodes.Status429TooManyRequests, "Within a minute of the order's last refund (WeChat's spacing).");
        api.MapGet("/payscore/orders/{outOrderNo}/refunds/{outRefundNo}", GetAsync).WithName("GetPayScoreRefund")
            .WithSummary("One refund of a Pay Score order (business system)").Refuses(StatusCodes.Status404NotFound, "No such order or refund.");
    }

    internal static async Task<Results<Accepted<PayScoreRefundView>, Ok<PayScoreRefundView>, ProblemHttpResult>> CreateAsync(
        string outOrderNo, HttpContext context, IValidator<CreatePayScoreRefundRequest> validator, PayScoreStore store, PayScoreRefundScheduler scheduler,
        IOptions<RefundsOptions> options, TimeProvider clock, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        var (request, problem) = await RequestBody.ReadValidJsonAsync(context.Request, validator, cancellationToken, body => body with { OutOrderNo = outOrderNo });
        if (problem is not null)
        {
            return problem;
        }

        var outRefundNo = request!.OutRefundNo!;
        var amount = request.Amount!.Value;
        var fingerprint = PayScoreRefundLifecycle.Fingerprint(outOrderNo, amount, request.Reason);
        var order = await store.GetAsync(outOrderNo, cancellationToken);
        if (order is not { IsCreated: true })
        {
            return Problems.NotFound("No such Pay Score order.");
        }

        if (await Existing(store, outOrderNo, outRefundNo, fingerprint, cancellationToken) is { } answer)
        {
            return answer;
        }

        if (PayScoreRefundLifecycle.CanRefund(order, amount, clock.GetUtcNow()) is { } refused)
        {
            return Refusal(context, refused);
        }

        var logger = loggers.CreateLogger("CreatePayScoreRefund");
        var index = new PayScoreRefundIndexEntity
        {
            PartitionKey = PayScoreRefundIndexEntity.Partition(outRefundNo), OutOrderNo = outOrderNo, Fingerprint = fingerprint, CreatedAt = clock.GetUtcNow(),
        };
        if (await store.GetRefundIndexAsync(outRefundNo, cancellationToken) is { } taken && !Same(taken, index))
        {
            return NumberTaken(outRefundNo);
        }

        // The safety net first: should this process die between storing the refund and queueing its send, the delayed
        // message sends it (and finds nothing to do otherwise). Without it, storing the refund would risk losing it.
        try
        {
            await scheduler.ScheduleAsync(outOrderNo, outRefundNo, 0, options.Value.RecoveryDelay, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            logger.LogError(ex, "Refund {OutRefundNo} of {OutOrderNo} not accepted: its safety-net message could not be queued", outRefundNo, outOrderNo);
            return Problems.Unavailable("The refund could not be accepted right now (queue unavailable); nothing was stored. Retry with the same request.");
        }

        if (!await store.TryAddRefundIndexAsync(index, cancellationToken) &&
            await store.GetRefundIndexAsync(outRefundNo, cancellationToken) is { } raced && !Same(raced, index))
        {
            return NumberTaken(outRefundNo);
        }

        var accepted = await ConcurrencyRetry.RunAsync<Results<Accepted<PayScoreRefundView>, Ok<PayScoreRefundView>, ProblemHttpResult>?>(async _ =>
        {
            var current = (await store.GetAsync(outOrderNo, cancellationToken))!;
            if (await Existing(store, outOrderNo, outRefundNo, fingerprint, cancellationToken) is { } existing)
            {
                return existing; // an identical request stored it first
            }

            var now = clock.GetUtcNow();
            if (PayScoreRefundLifecycle.CanRefund(current, amount, now) is { } late)
            {
                await store.DeleteRefundIndexAsync(index, cancellationToken); // nothing stored under the number: free it
                return Refusal(context, late);
            }

            var refund = PayScoreRefundLifecycle.Accept(current, outRefundNo, amount, request.Reason, fingerprint, now);
            var timeline = new TimelineEntity
            {
                PartitionKey = outOrderNo,
                RowKey = OrderRows.Timeline($"refund-{outRefundNo}-{refund.Version:D3}"),
                At = now,
                Kind = "payscore.refund.create",
                ToStatus = PayScoreRefundProcessor.Describe(refund),
                Outcome = "accepted",
                Data = System.Text.Json.JsonSerializer.Serialize(new { amount, refund.Total, refund.TransactionId }),
            };
            await store.WriteRefundAsync(current, refund, timeline, isNew: true, [], cancellationToken);
            return null;
        }, clock, cancellationToken);
        if (accepted is not null)
        {
            return accepted;
        }

        try
        {
            await scheduler.ScheduleAsync(outOrderNo, outRefundNo, 0, null, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            logger.LogWarning(ex, "Refund {OutRefundNo} of {OutOrderNo} is stored but its send could not be queued; the safety net sends it in {Delay}",
                outRefundNo, outOrderNo, options.Value.RecoveryDelay);
        }

        var stored = (await store.GetRefundAsync(outOrderNo, outRefundNo, cancellationToken))!;
        logger.LogInformation("Pay Score refund {OutRefundNo} of {OutOrderNo} accepted: {Amount} fen", outRefundNo, outOrderNo, amount);
        return TypedResults.Accepted($"/api/payscore/orders/{outOrderNo}/refunds/{outRefundNo}", PayScoreRefundView.From(stored));
    }

    internal static async Task<Results<Ok<PayScoreRefundView>, ProblemHttpResult>> GetAsync(string outOrderNo, string outRefundNo, PayScoreStore store,
        CancellationToken cancellationToken)
    {
        if (!WeChatPayFormats.IsValidOutOrderNo(outOrderNo) || !PayScoreRefundRules.IsValidOutRefundNo(outRefundNo) ||
            await store.GetRefundAsync(outOrderNo, outRefundNo, cancellationToken) is not { } refund)
        {
            return Problems.NotFound("No such refund of this Pay Score order.");
        }

        return TypedResults.Ok(PayScoreRefundView.From(refund));
    }

    /// <summary>The answer for a number already stored under this order: 200 for the same request, 409 for another.</summary>
    private static async Task<Results<Accepted<PayScoreRefundView>, Ok<PayScoreRefundView>, ProblemHttpResult>?> Existing(PayScoreStore store, string outOrderNo,
        string outRefundNo, string fingerprint, CancellationToken cancellationToken) =>
        await store.GetRefundAsync(outOrderNo, outRefundNo, cancellationToken) switch
        {
            null => null,
            { } refund when refund.Fingerprint == fingerprint => TypedResults.Ok(PayScoreRefundView.From(refund)),
            _ => Problems.Conflict($"outRefundNo '{outRefundNo}' already names a different refund of this order (amount or reason differ)."),
        };

    private static bool Same(PayScoreRefundIndexEntity a, PayScoreRefundIndexEntity b) => a.OutOrderNo == b.OutOrderNo && a.Fingerprint == b.Fingerprint;

    private static ProblemHttpResult NumberTaken(string outRefundNo) =>
        Problems.Conflict($"outRefundNo '{outRefundNo}' already names a different refund (WeChat Pay requires a refund number to be unique per merchant).");

    private static ProblemHttpResult Refusal(HttpContext context, RefundRefusal refused) =>
        refused.RetryAfter is { } wait
            ? Problems.TooManyRequests(context, wait, PayScoreRefundLifecycle.SpacingDetail)
            : Problems.Create(refused.Status, refused.Status == StatusCodes.Status409Conflict ? "Conflict" : "Bad request", refused.Detail);
}
