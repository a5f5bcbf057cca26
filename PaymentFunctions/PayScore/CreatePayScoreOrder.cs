using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Azure;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using PaymentFunctions.Http;
using PaymentFunctions.OpenApi;
using PaymentFunctions.Orders;
using PaymentFunctions.Storage;
using PaymentFunctions.WeChatPay;

namespace PaymentFunctions.PayScore;

/// <summary>What the business system sends; names mirror WeChat's (camelCase). Amounts are whole fen.</summary>
public sealed record CreatePayScoreOrderRequest(
    string? OutOrderNo,
    string? ServiceIntroduction,
    IReadOnlyList<PostPayment>? PostPayments,
    IReadOnlyList<PostDiscount>? PostDiscounts,
    PayScoreTimeRange? TimeRange,
    PayScoreLocation? Location,
    PayScoreRiskFund? RiskFund,
    string? Attach);

/// <summary>
/// <c>POST /api/payscore/orders</c> (function key): create the service order at WeChat Pay and answer what
/// <c>wx.openBusinessView</c> takes. Idempotent on <c>outOrderNo</c>: the same request answers the same order
/// (WeChat accepts an identical re-create), a different one under the same number is a 409.
/// </summary>
public static class CreatePayScoreOrderEndpoint
{
    public static void MapCreatePayScoreOrder(this IEndpointRouteBuilder api) =>
        api.MapPost("/payscore/orders", HandleAsync).WithName("CreatePayScoreOrder")
            .WithSummary("Create a Pay Score service order (business system)").AcceptsJson<CreatePayScoreOrderRequest>()
            .WithDescription("Names mirror WeChat's own in camelCase; amounts are whole fen. Idempotent on outOrderNo. `openBusinessView` is what wx.openBusinessView takes.")
            .Describes(StatusCodes.Status201Created, "Created at WeChat Pay.").Describes(StatusCodes.Status200OK, "The same request again: the same order and package.")
            .Refuses(StatusCodes.Status404NotFound, "WeChat Pay answered ORDER_NOT_EXIST.")
            .Refuses(StatusCodes.Status409Conflict, "outOrderNo already names a different order, or an identical request is still being created (retry in a moment).")
            .Refuses(StatusCodes.Status502BadGateway, "WeChat Pay refused (502) or is unavailable or rate limiting (503); `weChatCode` and `requestId` say which.");

    internal static async Task<Results<Created<PayScoreOrderView>, Ok<PayScoreOrderView>, ProblemHttpResult>> HandleAsync(
        HttpContext context, IValidator<CreatePayScoreOrderRequest> validator, PayScoreStore store, TimeProvider clock, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        var (request, problem) = await RequestBody.ReadValidJsonAsync(context.Request, validator, cancellationToken);
        if (problem is not null)
        {
            return problem;
        }

        var wechat = new CreateServiceOrderRequest
        {
            OutOrderNo = request!.OutOrderNo!,
            ServiceIntroduction = request.ServiceIntroduction!,
            PostPayments = request.PostPayments,
            PostDiscounts = request.PostDiscounts,
            TimeRange = request.TimeRange!,
            Location = request.Location,
            RiskFund = request.RiskFund!,
            Attach = request.Attach,
        };
        var logger = loggers.CreateLogger("CreatePayScoreOrder");
        var body = JsonSerializer.Serialize(wechat, WeChatPayJson.Options);
        var fingerprint = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(body)));
        var outOrderNo = wechat.OutOrderNo;

        // Claim the number first (insert-if-absent): only the request holding the claim calls WeChat, so parallel
        // identical requests make one WeChat call and one 201; the others wait for its outcome and answer 200.
        var (order, response) = await ClaimAsync(store, outOrderNo, fingerprint, body, PayScoreHttp.Options(context).RequestTimeout,
            clock, cancellationToken);
        if (response is not null)
        {
            return response;
        }

        PayScoreServiceOrder created;
        try
        {
            created = await context.RequestServices.GetRequiredService<WeChatPayClient>().CreateServiceOrderAsync(wechat, cancellationToken);
        }
        catch (WeChatPayException ex)
        {
            // Nothing was created at WeChat: leave no trace, so a corrected request may use the number.
            await TryDeleteAsync(store, order!, logger);
            return PayScoreHttp.FromWeChat(ex, logger, "create");
        }

        if (string.IsNullOrEmpty(created.Package))
        {
            logger.LogError("WeChat Pay created {OutOrderNo} without a package", outOrderNo);
            await TryDeleteAsync(store, order!, logger); // release the claim: an identical retry may ask WeChat again at once
            return Problems.BadGateway("WeChat Pay created the order but returned no package for the mini program.");
        }

        var (recorded, byUs) = await RecordCreatedAsync(store, outOrderNo, created, clock, cancellationToken);
        if (!byUs)
        {
            // Our claim had gone stale and another request took it over and recorded the same order first.
            return TypedResults.Ok(PayScoreOrderView.From(recorded, withLaunch: true));
        }

        logger.LogInformation("Pay Score order {OutOrderNo} created at WeChat Pay as {OrderId}", outOrderNo, LogValue.Safe(created.OrderId));
        // The check that ends it EXPIRED (or confirmed) if no callback ever does; failing to schedule it fails nothing.
        await context.RequestServices.GetRequiredService<PayScoreCheckScheduler>().TryScheduleFirstAsync(recorded, cancellationToken);
        return TypedResults.Created($"/api/payscore/orders/{Uri.EscapeDataString(outOrderNo)}", PayScoreOrderView.From(recorded, withLaunch: true));
    }

    /// <summary>
    /// Takes the claim on <paramref name="outOrderNo"/> (the order row, not yet created at WeChat), or answers for
    /// the request that holds it: 409 for a different request, 200 once the holder has recorded the order. A claim
    /// older than twice the WeChat request timeout belongs to a request that died; it is taken over, which is
    /// safe because WeChat answers an identical re-create with the same order.
    /// </summary>
    private static async Task<(PayScoreOrderEntity? Claim, Results<Created<PayScoreOrderView>, Ok<PayScoreOrderView>, ProblemHttpResult>? Answer)> ClaimAsync(
        PayScoreStore store, string outOrderNo, string fingerprint, string body, TimeSpan requestTimeout,
        TimeProvider clock, CancellationToken cancellationToken)
    {
        var waitingSince = clock.GetTimestamp();
        for (var round = 1; ; round++)
        {
            var now = clock.GetUtcNow();
            var order = await store.GetAsync(outOrderNo, cancellationToken);
            if (order is null)
            {
                order = new PayScoreOrderEntity { PartitionKey = outOrderNo, Fingerprint = fingerprint, CreateRequest = body, CreatedAt = now, UpdatedAt = now };
                if (await store.TryClaimAsync(order, cancellationToken))
                {
                    return (order, null);
                }

                continue; // another request claimed it first: read what it claimed
            }

            if (order.Fingerprint != fingerprint)
            {
                return (null, Problems.Conflict($"outOrderNo '{outOrderNo}' already names a different Pay Score order."));
            }

            if (order.IsCreated)
            {
                return (null, TypedResults.Ok(PayScoreOrderView.From(order, withLaunch: true)));
            }

            if (now - order.UpdatedAt >= requestTimeout * 2)
            {
                order.UpdatedAt = now;
                if (await store.TryTakeOverClaimAsync(order, cancellationToken))
                {
                    return (order, null);
                }

                continue; // recorded, released or taken over meanwhile: read again
            }

            // The holder is talking to WeChat right now: wait for its outcome, as long as its call may take.
            if (clock.GetElapsedTime(waitingSince) > requestTimeout)
            {
                return (null, Problems.Conflict($"Pay Score order '{outOrderNo}' is being created at WeChat Pay by an identical request; retry in a moment."));
            }

            await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(25 * round, 250)), clock, cancellationToken);
        }
    }

    /// <summary>Records WeChat's answer on the claimed row; <c>ByUs</c> is false when another request recorded it first.</summary>
    private static async Task<(PayScoreOrderEntity Order, bool ByUs)> RecordCreatedAsync(PayScoreStore store, string outOrderNo,
        PayScoreServiceOrder created, TimeProvider clock, CancellationToken cancellationToken)
    {
        // A stale ETag (a concurrent writer touched the claim) re-reads and decides again, with a short backoff.
        return await ConcurrencyRetry.RunAsync<(PayScoreOrderEntity, bool)>(async _ =>
        {
            var order = (await store.GetAsync(outOrderNo, cancellationToken))!;
            if (order.IsCreated)
            {
                return (order, false); // a concurrent identical request recorded it
            }

            order.State = created.State ?? PayScoreStates.Created;
            order.StateDescription = created.StateDescription;
            order.Package = created.Package;
            order.WeChatOrderId = created.OrderId;
            order.TotalAmount = created.TotalAmount;
            order.UpdatedAt = clock.GetUtcNow();
            var timeline = new TimelineEntity
            {
                PartitionKey = outOrderNo,
                RowKey = OrderRows.Timeline("created"),
                At = order.UpdatedAt,
                Kind = "wechatpay.create",
                ToStatus = order.State,
                Outcome = "created",
            };

            // False: a concurrent identical request recorded it first (its "created" row and the order row are
            // written in one transaction), so a fresh read shows what it recorded.
            return await store.TryRecordCreatedAsync(order, timeline, cancellationToken)
                ? (order, true)
                : ((await store.GetAsync(outOrderNo, cancellationToken))!, false);
        }, clock, cancellationToken);
    }

    private static async Task TryDeleteAsync(PayScoreStore store, PayScoreOrderEntity order, ILogger logger)
    {
        try
        {
            await store.DeleteClaimAsync(order, CancellationToken.None);
        }
        catch (RequestFailedException ex)
        {
            logger.LogWarning(ex, "Could not release Pay Score order number {OutOrderNo}", order.PartitionKey);
        }
    }
}
