using System.Globalization;
using System.Text.Json;
using PaymentFunctions.Http;
using PaymentFunctions.Pyun;

namespace PaymentFunctions.Fakes.Pyun;

/// <summary>
/// Refund create (POST, JSON body, MD5 of the raw body in <c>Authorization</c>) and refund query (GET, signed query
/// string) on the documented path and on the path P云's sample code uses, plus control routes under /fake/pyun/refunds.
/// A missing or wrong signature is refused as a parameter error (create 400, query 1400) and counted; nothing is done.
/// </summary>
public static partial class FakePyun
{
    /// <summary>The path P云's refund sample code and sample error use (spec §8.1); the fake serves both.</summary>
    public const string RefundAliasPath = "/gate/1.0/payment/refund/create";

    public static IEndpointRouteBuilder MapFakePyunRefunds(this IEndpointRouteBuilder app, FakePyunState state)
    {
        foreach (var path in new[] { PyunOptions.DefaultRefundPath, RefundAliasPath })
        {
            app.MapPost(path, (HttpRequest request, CancellationToken ct) => CreateRefundAsync(request, state, ct));
            app.MapGet(path, (HttpRequest request, CancellationToken ct) => QueryRefundAsync(request, state, ct));
        }

        var refunds = state.Refunds;
        app.MapGet("/fake/pyun/refunds", () => Results.Ok(new
        {
            refunds = refunds.ByOrder.Values.OrderBy(r => r.CreateTime).ToList(),
            createsReceived = refunds.CreatesReceived,
            queriesReceived = refunds.QueriesReceived,
            signatureFailures = refunds.SignatureFailures,
        }));
        app.MapPost("/fake/pyun/refunds/faults/{call}/{fault}", (string call, string fault) =>
        {
            if (!Enum.TryParse<FakeRefundFault>(fault, ignoreCase: true, out var parsed) || !Enum.IsDefined(parsed))
            {
                return Results.BadRequest(new { error = $"fault must be one of {string.Join(", ", Enum.GetNames<FakeRefundFault>())}" });
            }

            try
            {
                switch (call)
                {
                    case "create":
                        refunds.FailNextCreate(parsed);
                        break;
                    case "query":
                        refunds.FailNextQuery(parsed);
                        break;
                    default:
                        return Results.BadRequest(new { error = "call must be create or query" });
                }
            }
            catch (ArgumentException ex)
            {
                return Results.BadRequest(new { error = ex.Message });
            }

            return Results.Ok(new { call, fault = parsed.ToString() });
        });
        app.MapPost("/fake/pyun/refunds/queries-while-refunding/{count:int}", (int count) =>
        {
            if (count < 0)
            {
                return Results.BadRequest(new { error = "count must be 0 or more" });
            }

            refunds.QueriesWhileRefunding = count;
            return Results.Ok(new { queriesWhileRefunding = count });
        });
        app.MapPost("/fake/pyun/refunds/{order}/settle/{process:int}", (string order, int process) =>
            !refunds.ByOrder.ContainsKey(order) ? Results.NotFound(new { error = $"no refund with order {order}" })
            : process is not (1 or -1) ? Results.BadRequest(new { error = "process must be 1 or -1" })
            : Results.Ok(refunds.Settle(order, process)));
        app.MapPost("/fake/pyun/trades/paid/{value:long}", (long value) =>
            value <= 0 ? Results.BadRequest(new { error = "value must be positive fen" }) : Results.Ok(state.AddPaidTrade(value)));
        return app;
    }

    private static async Task<IResult> CreateRefundAsync(HttpRequest request, FakePyunState state, CancellationToken cancellationToken)
    {
        var refunds = state.Refunds;
        var path = request.Path.Value ?? "";
        var read = await RequestBody.ReadAsync(request, "application/json", 64 * 1024, cancellationToken);
        var body = read.Bytes ?? [];
        var authorization = request.Headers.Authorization.Count == 1 ? request.Headers.Authorization.ToString() : null;
        Dictionary<string, JsonElement>? fields = null;
        try
        {
            using var document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind == JsonValueKind.Object)
            {
                fields = document.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.Clone(), StringComparer.Ordinal);
            }
        }
        catch (JsonException)
        {
        }

        var order = fields is not null && fields.TryGetValue("order", out var o) && o.ValueKind == JsonValueKind.String ? o.GetString() : null;
        refunds.CountCreate(new FakeRefundCreateRequest(path, authorization, request.ContentType, body), order);
        if (!read.Ok || fields is null)
        {
            return RefundError("400", "请求参数错误", "application/json object body required", "POST", path);
        }

        if (!refunds.AuthorizationMatches(body, authorization))
        {
            refunds.CountSignatureFailure();
            return RefundError("400", "请求参数错误", "`Authorization` sign invalid", "POST", path);
        }

        string? Text(string name) => fields.TryGetValue(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        if (Text("app_id") != state.AppId)
        {
            return RefundError("400", "请求参数错误", "`app_id` invalid", "POST", path);
        }

        // The fake keys its ledger by order; P云 documents it as optional, the app always sends it.
        foreach (var required in new[] { "order", "pay_serial", "value" })
        {
            if (string.IsNullOrEmpty(Text(required)))
            {
                return RefundError("400", "请求参数错误", $"`{required}` Required! (a string)", "POST", path);
            }
        }

        if (!PyunTradeResult.TryFen(Text("value"), out var value) || value == 0)
        {
            return RefundError("400", "请求参数错误", "`value` must be fen greater than 0", "POST", path);
        }

        if (fields.TryGetValue("reason", out var reasonElement) && reasonElement.ValueKind != JsonValueKind.String)
        {
            return RefundError("400", "请求参数错误", "`reason` must be a string", "POST", path);
        }

        var fault = refunds.TakeCreateFault();
        if (await FaultAnswerAsync(fault, refunds, "POST", path, cancellationToken) is { } faulted)
        {
            return faulted;
        }

        var (refund, code, message) = refunds.Create(order!, Text("pay_serial")!, value, Text("reason"), fault == FakeRefundFault.EndsFailed);
        if (refund is null)
        {
            return RefundError(code!, message!, "", "POST", path);
        }

        if (fault == FakeRefundFault.Http500AfterCreate)
        {
            return Results.Text("Internal Server Error", "text/plain", statusCode: StatusCodes.Status500InternalServerError);
        }

        var payload = new Dictionary<string, object?>
        {
            ["pay_serial"] = refund.PaySerial,
            ["trade"] = "",
            ["refund_order"] = refund.RefundOrder,
            ["refund_serial"] = refund.RefundSerial,
            ["refund_time"] = Iso(refund.CreateTime),
            ["message"] = "",
            ["extra"] = new Dictionary<string, object?>(),
        };
        refunds.TakeCreateTamper()?.Invoke(payload);
        return Results.Json(new Dictionary<string, object?>
        {
            ["code"] = "1001",
            ["seqno"] = state.NextId("seq"),
            ["data_node"] = "FAKE/1",
            ["time_cost"] = 3,
            ["payload"] = payload,
        });
    }

    private static async Task<IResult> QueryRefundAsync(HttpRequest request, FakePyunState state, CancellationToken cancellationToken)
    {
        var refunds = state.Refunds;
        var path = request.Path.Value ?? "";
        var query = request.Query.ToDictionary(q => q.Key, q => q.Value.ToString(), StringComparer.Ordinal);
        refunds.CountQuery(query);
        if (!query.TryGetValue("sign", out var sign) || !PyunSignature.Verify(query!, sign, state.AppSecret))
        {
            refunds.CountSignatureFailure();
            return RefundError("1400", "请求参数错误", "`sign` invalid", "GET", path);
        }

        if (query.GetValueOrDefault("app_id") != state.AppId)
        {
            return RefundError("1400", "请求参数错误", "`app_id` invalid", "GET", path);
        }

        if (query.GetValueOrDefault("merchant") != state.Merchant)
        {
            return RefundError("1403", "该商户未授权该应用", "", "GET", path);
        }

        if (string.IsNullOrEmpty(query.GetValueOrDefault("order")))
        {
            return RefundError("1400", "请求参数错误", "`order` is required", "GET", path);
        }

        if (await FaultAnswerAsync(refunds.TakeQueryFault(), refunds, "GET", path, cancellationToken) is { } faulted)
        {
            return faulted;
        }

        if (!refunds.ByOrder.TryGetValue(query["order"], out var refund))
        {
            return RefundError("1002", "退款订单不存在", "", "GET", path);
        }

        refunds.AdvanceOnQuery(refund);
        var payload = new Dictionary<string, object?>
        {
            ["merchant"] = state.Merchant,
            ["order"] = refund.Order,
            ["refund_order"] = refund.RefundOrder,
            ["refund_serial"] = refund.RefundSerial,
            ["reason"] = refund.Reason ?? "",
            ["receipt_url"] = "",
            ["pay_serial"] = refund.PaySerial,
            ["value"] = refund.Value,
            ["process"] = refund.Process,
            ["create_time"] = Iso(refund.CreateTime),
            ["refund_time"] = refund.RefundTime is { } t ? Iso(t) : "",
            ["operator_id"] = "",
            ["operator_name"] = "",
        };
        refunds.TakeQueryTamper()?.Invoke(payload);
        return Results.Json(new Dictionary<string, object?>
        {
            ["code"] = "1001",
            ["message"] = "",
            ["seqno"] = state.NextId("seq"),
            ["payload"] = payload,
        });
    }

    /// <summary>The answer an injected fault gives instead of the normal one, or null to go on (None and the create-time faults).</summary>
    private static async Task<IResult?> FaultAnswerAsync(FakeRefundFault fault, FakePyunRefunds refunds, string method, string path, CancellationToken cancellationToken)
    {
        var message = fault == FakeRefundFault.None ? null : refunds.TakeFaultMessage();
        switch (fault)
        {
            case FakeRefundFault.InsufficientBalance:
                return RefundError("1003", message ?? "可用退款余额不足, 退款金额=0.01元, 可用余额=0.0元", "", method, path);
            case FakeRefundFault.NotPermitted:
                return RefundError("1403", message ?? (method == "GET" ? "该商户未授权该应用" : "该订单无退款权限"), "", method, path);
            case FakeRefundFault.AlreadyRefunded:
                return RefundError("1405", message ?? "[INVALID_REQUEST]订单已全额退款", "", method, path);
            case FakeRefundFault.ParameterError:
                return RefundError(method == "GET" ? "1400" : "400", message ?? "请求参数错误", "injected", method, path);
            case FakeRefundFault.UnknownCode:
                return RefundError("500", message ?? "处理异常", "injected", method, path);
            case FakeRefundFault.NotJson:
                return Results.Text("<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html");
            case FakeRefundFault.Http500:
                return Results.Text("Internal Server Error", "text/plain", statusCode: StatusCodes.Status500InternalServerError);
            case FakeRefundFault.Hang:
                try
                {
                    await Task.Delay(refunds.HangFor, cancellationToken);
                }
                catch (OperationCanceledException)
                {
                    // The caller gave up, as it should.
                }

                return Results.Text("Gateway Timeout", "text/plain", statusCode: StatusCodes.Status504GatewayTimeout);
            default:
                return null;
        }
    }

    private static string Iso(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    private static IResult RefundError(string code, string message, string hint, string method, string path) =>
        Results.Json(new Dictionary<string, string>
        {
            ["code"] = code,
            ["message"] = message,
            ["hint"] = hint,
            ["seqno"] = Guid.NewGuid().ToString("N")[..16],
            ["path"] = $"{method} {path}",
        });
}
