using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using PaymentFunctions.Http;
using PaymentFunctions.OpenApi;
using PaymentFunctions.Pyun;

namespace PaymentFunctions.Orders;

/// <summary>What the business system sends to create a payable order. Amounts are whole fen.</summary>
public sealed record CreateOrderRequest(
    string? MerchantOrderNo,
    string? Subject,
    string? Body,
    long? Amount,
    string? Scene,
    JsonElement? Extra,
    DateTimeOffset? ExpiresAt);

public sealed partial class CreateOrderValidator : AbstractValidator<CreateOrderRequest>
{
    public CreateOrderValidator(IOptions<OrdersOptions> options, TimeProvider clock)
    {
        var o = options.Value;
        RuleFor(r => r.MerchantOrderNo).Must(v => v is { Length: >= 1 and <= 32 } && MerchantOrderNoPattern().IsMatch(v))
            .WithMessage("'merchantOrderNo' must be 1-32 letters, digits, '_' or '-'.");
        RuleFor(r => r.Subject).Must(v => v is { Length: >= 1 and <= 128 } && Printable(v) && !string.IsNullOrWhiteSpace(v))
            .WithMessage("'subject' must be 1-128 printable characters.")
            .Must(PyunSignature.IsSignable).WithMessage(NotSignable("subject"));
        RuleFor(r => r.Body).Must(v => v is null || (v.Length <= 512 && Printable(v)))
            .WithMessage("'body' must be at most 512 printable characters.")
            .Must(PyunSignature.IsSignable).WithMessage(NotSignable("body"));
        RuleFor(r => r.Amount).Cascade(CascadeMode.Stop)
            .NotNull().WithMessage("'amount' is required, in fen.")
            .GreaterThan(0).WithMessage("'amount' must be a positive whole number of fen.")
            .LessThanOrEqualTo(o.MaxAmount).WithMessage($"'amount' must not exceed {o.MaxAmount} fen.");
        RuleFor(r => r.Scene).Must(s => s is not null && SceneExtra.Scenes.ContainsKey(s))
            .WithMessage($"'scene' must be one of {string.Join(", ", SceneExtra.Scenes.Keys)}.");
        RuleFor(r => r.Extra).NotNull().WithMessage("'extra' is required: the scene's fields as a JSON object.");
        RuleFor(r => r).Custom((r, context) =>
        {
            if (r.Scene is not null && r.Extra is { } extra)
            {
                foreach (var (path, problem) in SceneExtra.Validate(r.Scene, extra))
                {
                    context.AddFailure(path, problem);
                }
            }
        });
        RuleFor(r => r.ExpiresAt).Must(e => e is null || (e > clock.GetUtcNow().AddMinutes(1) && e <= clock.GetUtcNow().Add(o.MaxLifetime)))
            .WithMessage($"'expiresAt' must lie between one minute and {o.MaxLifetime.TotalHours:0} hours from now.");
    }

    private static bool Printable(string? s) => s is null || !s.Any(char.IsControl);

    /// <summary>P云 signs raw values joined by '&amp;' and '=' (see <see cref="PyunSignature.IsSignable"/>).</summary>
    internal static string NotSignable(string field) => $"'{field}' must not contain '&' or '=': P云's signature cannot carry them.";

    [System.Text.RegularExpressions.GeneratedRegex("^[A-Za-z0-9_-]+$")]
    private static partial System.Text.RegularExpressions.Regex MerchantOrderNoPattern();
}

/// <summary>The order as the API shows it. <c>status</c> is authoritative; the mini program's own return data never is.</summary>
public sealed record OrderView(
    string OrderId,
    string MerchantOrderNo,
    string Status,
    long Amount,
    string Subject,
    string? Body,
    string Scene,
    DateTimeOffset CreatedAt,
    DateTimeOffset ExpiresAt,
    DateTimeOffset? PaidAt,
    long? PaidAmount,
    string? Channel,
    string? PaySerial,
    string? TradeNo,
    bool RefundRequired,
    long RefundedAmount,
    long RefundingAmount,
    string Refunds)
{
    /// <param name="Refunds">The path of the order's refund list (function key).</param>
    public static OrderView From(OrderEntity e, DateTimeOffset now) => new(
        e.PartitionKey, e.MerchantOrderNo, OrderLifecycle.EffectiveStatus(e, now).ToString(), e.Amount, e.Subject, e.Body, e.Scene,
        e.CreatedAt, e.ExpiresAt, e.PaidAt, e.PaidAmount, e.Channel, e.PaySerial, e.TradeNo, e.RefundRequired,
        e.RefundedAmount, e.RefundingAmount, RefundEndpoints.ListPath(e.PartitionKey));
}

public static class CreateOrderEndpoint
{
    public static void MapCreateOrder(this IEndpointRouteBuilder api) =>
        api.MapPost("/orders", HandleAsync).WithName("CreateOrder")
            .WithSummary("Create an order (business system)").AcceptsJson<CreateOrderRequest>()
            .WithDescription("Idempotent on merchantOrderNo. Amounts are whole fen. `extra` holds the scene's fields under P云's own names (docs/api.md lists them).")
            .Describes(StatusCodes.Status201Created, "Created; Location is /api/orders/{orderId}.").Describes(StatusCodes.Status200OK, "The same request again: the same order.")
            .Refuses(StatusCodes.Status409Conflict, "merchantOrderNo already names a different order.");

    internal static async Task<Results<Created<OrderView>, Ok<OrderView>, ProblemHttpResult>> HandleAsync(
        HttpRequest http, IValidator<CreateOrderRequest> validator, OrderStore store, IOptions<OrdersOptions> options,
        PyunExpiryScheduler expiries, TimeProvider clock, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        var (request, problem) = await RequestBody.ReadValidJsonAsync(http, validator, cancellationToken);
        if (problem is not null)
        {
            return problem;
        }

        var now = clock.GetUtcNow();
        var canonical = Canonical(request!);
        var fingerprint = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)));

        var index = new OrderIndexEntity
        {
            PartitionKey = request!.MerchantOrderNo!,
            RowKey = "",
            OrderId = PayOrderNumber.NewOrderId(),
            Fingerprint = fingerprint,
            Request = canonical,
            CreatedAt = now,
        };
        var created = await store.TryAddIndexAsync(index, cancellationToken);
        if (!created)
        {
            index = await store.GetIndexAsync(request.MerchantOrderNo!, cancellationToken);
            if (index.Fingerprint != fingerprint)
            {
                return Problems.Conflict($"merchantOrderNo '{request.MerchantOrderNo}' already names a different order.");
            }
        }

        // The index row holds the accepted request, so if we crashed before writing the order row, the retry writes it.
        var accepted = JsonSerializer.Deserialize<CreateOrderRequest>(index.Request, RequestBody.JsonOptions)!;
        // A fresh index row names a fresh id with no order row yet; a repeat may find one, or heal a crash.
        var order = (created ? null : await store.GetOrderAsync(index.OrderId, cancellationToken))
                    ?? await AddOrderRowAsync(store, index, accepted, options.Value, cancellationToken);
        if (OrderLifecycle.IsUnpaid(order))
        {
            // Every unpaid order gets its final check, also on a repeat (which may follow a failure here): a duplicate
            // check is harmless, a missing one would leave the order unpaid in storage forever. A failure answers 503 and
            // the repeat schedules it.
            await expiries.ScheduleAsync(order, cancellationToken);
        }

        var view = OrderView.From(order, now);
        Telemetry.PaymentTelemetry.TagOrder(order.PartitionKey, order.MerchantOrderNo);
        if (created)
        {
            loggers.CreateLogger("CreateOrder").LogInformation("Order {OrderId} created for {MerchantOrderNo}, {Amount} fen", order.PartitionKey, order.MerchantOrderNo, order.Amount);
            return TypedResults.Created($"/api/orders/{order.PartitionKey}", view);
        }

        return TypedResults.Ok(view);
    }

    private static Task<OrderEntity> AddOrderRowAsync(OrderStore store, OrderIndexEntity index, CreateOrderRequest request,
        OrdersOptions options, CancellationToken cancellationToken)
    {
        var order = new OrderEntity
        {
            PartitionKey = index.OrderId,
            MerchantOrderNo = request.MerchantOrderNo!,
            Subject = request.Subject!,
            Body = request.Body,
            Amount = request.Amount!.Value,
            Scene = request.Scene!,
            Extra = request.Extra!.Value.GetRawText(),
            StatusValue = OrderStatus.Created,
            CreatedAt = index.CreatedAt,
            UpdatedAt = index.CreatedAt,
            ExpiresAt = request.ExpiresAt ?? index.CreatedAt.Add(options.DefaultLifetime),
        };
        // A concurrent identical request may have written it first: then that row is the answer.
        return store.AddOrderAsync(order, cancellationToken);
    }

    /// <summary>The request in one canonical JSON form: equal requests, equal text, whatever the key order or spacing.</summary>
    private static string Canonical(CreateOrderRequest r)
    {
        var extra = r.Extra is { } e ? JsonSerializer.SerializeToElement(Sorted(e)) : (JsonElement?)null;
        return JsonSerializer.Serialize(r with { Extra = extra, ExpiresAt = r.ExpiresAt?.ToUniversalTime() }, RequestBody.JsonOptions);
    }

    private static object? Sorted(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Object => new SortedDictionary<string, object?>(e.EnumerateObject().ToDictionary(p => p.Name, p => Sorted(p.Value)), StringComparer.Ordinal),
        JsonValueKind.Array => e.EnumerateArray().Select(Sorted).ToList(),
        _ => e,
    };
}
