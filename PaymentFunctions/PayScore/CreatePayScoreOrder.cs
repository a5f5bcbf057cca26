using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Azure;
using Azure.Data.Tables;
using Microsoft.AspNetCore.Http.HttpResults;
using PaymentFunctions.Http;
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
            .AddEndpointFilter<Hosting.FunctionKeyFilter>().AddEndpointFilter<PayScoreEnabledFilter>();

    internal static async Task<Results<Created<PayScoreOrderView>, Ok<PayScoreOrderView>, ProblemHttpResult>> HandleAsync(
        HttpContext context, StorageResources storage, PayScoreProcessor processor, TimeProvider clock, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        var (request, problem) = await RequestBody.ReadJsonAsync<CreatePayScoreOrderRequest>(context.Request, cancellationToken);
        if (problem is not null)
        {
            return problem;
        }

        var wechat = new CreateServiceOrderRequest
        {
            OutOrderNo = request!.OutOrderNo ?? "",
            ServiceIntroduction = request.ServiceIntroduction ?? "",
            PostPayments = request.PostPayments,
            PostDiscounts = request.PostDiscounts,
            TimeRange = request.TimeRange!,
            Location = request.Location,
            RiskFund = request.RiskFund!,
            Attach = request.Attach,
        };
        var errors = PayScoreValidation.ValidateCreate(wechat);
        if (errors.Count > 0)
        {
            return PayScoreHttp.Invalid(errors);
        }

        var logger = loggers.CreateLogger("CreatePayScoreOrder");
        var body = JsonSerializer.Serialize(wechat, WeChatPayJson.Options);
        var fingerprint = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(body)));
        var outOrderNo = wechat.OutOrderNo;

        // Claim the number first (insert-if-absent), so two different requests can never both reach WeChat.
        var claimed = false;
        var order = await processor.GetAsync(outOrderNo, cancellationToken);
        if (order is null)
        {
            order = new PayScoreOrderEntity { PartitionKey = outOrderNo, Fingerprint = fingerprint, CreateRequest = body, CreatedAt = clock.GetUtcNow(), UpdatedAt = clock.GetUtcNow() };
            try
            {
                var added = await storage.PayScoreOrders.AddEntityAsync(order, cancellationToken);
                order.ETag = added.Headers.ETag ?? ETag.All;
                claimed = true;
            }
            catch (RequestFailedException ex) when (ex.Status == 409)
            {
                order = (await processor.GetAsync(outOrderNo, cancellationToken))!;
            }
        }

        if (order.Fingerprint != fingerprint)
        {
            return Problems.Conflict($"outOrderNo '{outOrderNo}' already names a different Pay Score order.");
        }

        if (order.IsCreated)
        {
            return TypedResults.Ok(PayScoreOrderView.From(order, withLaunch: true));
        }

        PayScoreServiceOrder created;
        try
        {
            created = await context.RequestServices.GetRequiredService<WeChatPayClient>().CreateServiceOrderAsync(wechat, cancellationToken);
        }
        catch (WeChatPayException ex)
        {
            if (claimed)
            {
                // Nothing was created at WeChat: leave no trace, so a corrected request may use the number.
                await TryDeleteAsync(storage, order, logger);
            }

            return PayScoreHttp.FromWeChat(ex, logger, "create");
        }

        if (string.IsNullOrEmpty(created.Package))
        {
            logger.LogError("WeChat Pay created {OutOrderNo} without a package", outOrderNo);
            return Problems.BadGateway("WeChat Pay created the order but returned no package for the mini program.");
        }

        order = await RecordCreatedAsync(storage, processor, outOrderNo, created, clock, cancellationToken);
        logger.LogInformation("Pay Score order {OutOrderNo} created at WeChat Pay as {OrderId}", outOrderNo, created.OrderId);
        return TypedResults.Created($"/api/payscore/orders/{Uri.EscapeDataString(outOrderNo)}", PayScoreOrderView.From(order, withLaunch: true));
    }

    private static async Task<PayScoreOrderEntity> RecordCreatedAsync(StorageResources storage, PayScoreProcessor processor, string outOrderNo,
        PayScoreServiceOrder created, TimeProvider clock, CancellationToken cancellationToken)
    {
        for (var round = 0; ; round++)
        {
            var order = (await processor.GetAsync(outOrderNo, cancellationToken))!;
            if (order.IsCreated)
            {
                return order; // a concurrent identical request recorded it
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
            try
            {
                // False: a concurrent identical request recorded it first; the next round reads that.
                if (await OrderStore.SubmitAsync(storage.PayScoreOrders,
                        [new(TableTransactionActionType.UpdateMerge, order, order.ETag), new(TableTransactionActionType.Add, timeline)], cancellationToken))
                {
                    return order;
                }
            }
            catch (ConcurrencyException) when (round < 10)
            {
            }
        }
    }

    private static async Task TryDeleteAsync(StorageResources storage, PayScoreOrderEntity order, ILogger logger)
    {
        try
        {
            await storage.PayScoreOrders.DeleteEntityAsync(order.PartitionKey, order.RowKey, order.ETag, CancellationToken.None);
        }
        catch (RequestFailedException ex)
        {
            logger.LogWarning(ex, "Could not release Pay Score order number {OutOrderNo}", order.PartitionKey);
        }
    }
}
