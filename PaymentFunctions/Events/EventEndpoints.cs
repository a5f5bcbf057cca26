using PaymentFunctions.OpenApi;
using System.Text.Json;
using System.Text.Json.Serialization;
using Azure.Data.Tables;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using PaymentFunctions.Hosting;
using PaymentFunctions.Http;
using PaymentFunctions.Notifications;
using PaymentFunctions.Storage;

namespace PaymentFunctions.Events;

/// <summary>An event as the API shows it: the body receivers get, and each endpoint's delivery state.</summary>
public sealed record EventView(
    string Id,
    string Type,
    long Sequence,
    DateTimeOffset CreatedAt,
    JsonElement Data,
    bool Dispatched,
    IReadOnlyDictionary<string, EventDeliveryView> Deliveries);

public sealed record EventDeliveryView(
    string Status,
    int Attempts,
    int TotalAttempts,
    int? LastStatus,
    string? LastError,
    DateTimeOffset? LastAttemptAt,
    DateTimeOffset? NextAttemptAt,
    DateTimeOffset? DeliveredAt,
    DateTimeOffset? FailedAt);

public sealed record EventListView(string Product, string OrderId, IReadOnlyList<EventView> Events);

public sealed record RedeliveryView(string EventId, IReadOnlyList<string> Endpoints);

/// <summary>The event API (function key): an order's events with their delivery state, and redelivery.</summary>
public static class EventEndpoints
{
    public const string DeliverFunctionName = "DeliverEvent";

    /// <summary><c>GET /api/orders/{orderId}/events</c> and <c>POST /api/events/{eventId}/redeliver</c>.</summary>
    public static void MapEventApi(this RouteGroupBuilder business)
    {
        business.MapGet("/orders/{orderId}/events", ListOrderEventsAsync).WithName("ListOrderEvents")
            .WithSummary("An order's events and their delivery state (business system)").Refuses(StatusCodes.Status404NotFound, "No such order.");
        business.MapPost("/events/{eventId}/redeliver", RedeliverAsync).WithName("RedeliverEvent")
            .WithSummary("Send an event again now (business system)")
            .WithDescription("To every endpoint that receives its type, or one: ?endpoint=<name>. No request body.")
            .Describes(StatusCodes.Status202Accepted, "Queued: the endpoints it goes to.")
            .Refuses(StatusCodes.Status404NotFound, "An event id that is not ours, or an unknown endpoint.")
            .Refuses(StatusCodes.Status409Conflict, "No endpoint receives its type.");
    }

    /// <summary><c>GET /api/payscore/orders/{outOrderNo}/events</c>, in the Pay Score group.</summary>
    public static void MapPayScoreEventApi(this RouteGroupBuilder payScoreBusiness) =>
        payScoreBusiness.MapGet("/payscore/orders/{outOrderNo}/events", ListPayScoreEventsAsync).WithName("ListPayScoreOrderEvents")
            .WithSummary("A Pay Score order's events and their delivery state (business system)").Refuses(StatusCodes.Status404NotFound, "No such order.");

    internal static Task<Results<Ok<EventListView>, ProblemHttpResult>> ListOrderEventsAsync(string orderId, EventStreams streams, StorageResources storage, CancellationToken cancellationToken) =>
        ListAsync(EventProducts.Order, Orders.PayOrderNumber.IsOrderId(orderId), orderId, streams, storage, cancellationToken);

    internal static Task<Results<Ok<EventListView>, ProblemHttpResult>> ListPayScoreEventsAsync(string outOrderNo, EventStreams streams, StorageResources storage, CancellationToken cancellationToken) =>
        ListAsync(EventProducts.PayScore, WeChatPay.WeChatPayFormats.IsValidOutOrderNo(outOrderNo), outOrderNo, streams, storage, cancellationToken);

    private static async Task<Results<Ok<EventListView>, ProblemHttpResult>> ListAsync(string product, bool wellFormed, string orderId,
        EventStreams streams, StorageResources storage, CancellationToken cancellationToken)
    {
        if (!wellFormed || streams.Find(product) is not { } table)
        {
            return Problems.NotFound("No such order.");
        }

        await storage.EnsureCreatedAsync(cancellationToken);
        // The order row (row key "order", both products) tells an order without events from no order at all.
        var order = await table.GetEntityIfExistsAsync<TableEntity>(orderId, Orders.OrderRows.Order, select: ["PartitionKey"], cancellationToken: cancellationToken);
        if (!order.HasValue)
        {
            return Problems.NotFound("No such order.");
        }

        var rows = await EventStore.ListAsync(table, orderId, cancellationToken);
        return TypedResults.Ok(new EventListView(product, orderId, rows.Select(View).ToList()));
    }

    internal static async Task<Results<Accepted<RedeliveryView>, ProblemHttpResult>> RedeliverAsync(string eventId, string? endpoint, EventOutbox outbox,
        IOptionsMonitor<EventsOptions> options, CancellationToken cancellationToken)
    {
        if (!EventKey.TryParse(eventId, out var key))
        {
            return Problems.NotFound("No such event.");
        }

        if (endpoint is not null && !options.CurrentValue.Endpoints.ContainsKey(endpoint))
        {
            return Problems.NotFound("No endpoint of that name is configured.");
        }

        var endpoints = await outbox.RedeliverAsync(key, endpoint, cancellationToken);
        if (endpoints is null)
        {
            return Problems.NotFound("No such event.");
        }

        return endpoints.Count == 0
            ? Problems.Conflict(endpoint is null ? "No configured endpoint receives this event's type." : "That endpoint does not receive this event's type.")
            : TypedResults.Accepted((string?)null, new RedeliveryView(key.Id, endpoints));
    }

    public static EventView View(TableEntity row)
    {
        using var data = JsonDocument.Parse(row.GetString(EventRows.Data) ?? "null");
        return new EventView(
            row.GetString(EventRows.Id) ?? "",
            row.GetString(EventRows.Type) ?? "",
            row.GetInt64(EventRows.Sequence) ?? 0,
            row.GetDateTimeOffset(EventRows.CreatedAt) ?? default,
            data.RootElement.Clone(),
            row.GetBoolean(EventRows.Dispatched) == true,
            EventRows.Deliveries(row).ToDictionary(d => d.Key, d => new EventDeliveryView(d.Value.Status, d.Value.Attempts, d.Value.TotalAttempts,
                d.Value.LastStatus, d.Value.LastError, d.Value.LastAttemptAt, d.Value.NextAttemptAt, d.Value.DeliveredAt, d.Value.FailedAt)));
    }

    /// <summary>
    /// <c>POST /DeliverEvent</c>: the Functions host's queue trigger on the delivery queue, as
    /// <see cref="ProcessNotificationEndpoint"/> for notifications. Mapped only under the host.
    /// </summary>
    public static void MapDeliverEvent(this IEndpointRouteBuilder app) =>
        app.MapPost($"/{DeliverFunctionName}", DeliverAsync).WithName(DeliverFunctionName).ExcludeFromDescription();

    internal static async Task<IResult> DeliverAsync(HttpRequest request, EventDeliverer deliverer, StorageResources storage, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        var logger = loggers.CreateLogger(DeliverFunctionName);
        string? text = null;
        try
        {
            using var payload = await JsonDocument.ParseAsync(request.Body, cancellationToken: cancellationToken);
            if (payload.RootElement.ValueKind == JsonValueKind.Object &&
                payload.RootElement.EnumerateObject().FirstOrDefault(p => p.Name.Equals("Data", StringComparison.OrdinalIgnoreCase)).Value is { ValueKind: JsonValueKind.Object } data &&
                data.EnumerateObject().FirstOrDefault(p => p.Name.Equals("msg", StringComparison.OrdinalIgnoreCase)).Value is { } msg)
            {
                text = msg.ValueKind switch
                {
                    JsonValueKind.String => msg.GetString(),
                    JsonValueKind.Object => msg.GetRawText(),
                    _ => null,
                };
            }
        }
        catch (JsonException)
        {
        }

        if (text is null)
        {
            return Result("The invocation payload has no Data.msg.", StatusCodes.Status500InternalServerError);
        }

        try
        {
            return Result(await deliverer.ProcessAsync(text, cancellationToken), StatusCodes.Status200OK);
        }
        catch (PermanentMessageException ex)
        {
            try
            {
                await storage.EnsureEventQueuesCreatedAsync(cancellationToken);
                await storage.EventsPoison.SendMessageAsync(NotificationEnvelope.Unwrap(text) ?? text, cancellationToken);
            }
            catch (Exception poison) when (!cancellationToken.IsCancellationRequested)
            {
                logger.LogError(poison, "Could not copy an unprocessable delivery message to {Poison}; the host will retry it", storage.EventsPoison.Name);
                return Result(ex.Message, StatusCodes.Status500InternalServerError);
            }

            logger.LogError("Delivery message poisoned: {Reason} Copied to {Poison}", ex.Message, storage.EventsPoison.Name);
            return Result($"poisoned: {ex.Message}", StatusCodes.Status200OK);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            logger.LogError(ex, "Event delivery failed; the host will retry the message");
            return Result(ex.Message, StatusCodes.Status500InternalServerError);
        }
    }

    private static JsonHttpResult<ProcessNotificationEndpoint.InvocationResult> Result(string log, int status) =>
        TypedResults.Json(new ProcessNotificationEndpoint.InvocationResult([], [log], null), statusCode: status);
}

/// <summary>Registration of the event services.</summary>
public static class EventsServiceCollectionExtensions
{
    public static IServiceCollection AddPaymentEvents(this IServiceCollection services)
    {
        services.AddOptions<EventsOptions>().BindConfiguration(EventsOptions.Section)
            .PostConfigure<IConfiguration>((o, configuration) =>
            {
                // Types may be one comma-separated value; the binder leaves a list empty for a plain value.
                foreach (var (name, endpoint) in o.Endpoints)
                {
                    if (configuration[$"{EventsOptions.Section}:Endpoints:{name}:Types"] is { } list)
                    {
                        endpoint.Types = [list];
                    }
                }
            })
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<EventsOptions>, EventsOptionsValidator>();
        services.AddSingleton<EventStreams>();
        services.AddSingleton<EventOutbox>();
        services.AddSingleton<EventDeliverer>();
        services.AddHttpClient(EventDeliverer.HttpClientName, http => http.Timeout = Timeout.InfiniteTimeSpan) // the deliverer's own deadline applies
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler
            {
                AllowAutoRedirect = false,
                UseCookies = false,
                PooledConnectionLifetime = TimeSpan.FromMinutes(5),
                ConnectTimeout = TimeSpan.FromSeconds(10),
            });
        return services;
    }
}
