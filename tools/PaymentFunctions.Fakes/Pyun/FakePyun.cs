using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http.HttpResults;
using PaymentFunctions.Http;
using PaymentFunctions.Pyun;

namespace PaymentFunctions.Fakes.Pyun;

/// <summary>What the fake P云 sent to a merchant's notify URL and what it got back.</summary>
public sealed record NotifyDelivery(string PayOrder, int Status, int HttpStatus, string ResponseBody, IReadOnlyDictionary<string, string> Form);

/// <summary>How a fake payment ends.</summary>
public sealed record FakePayment(string Outcome = "success", long? Value = null, long? TradeTimeMs = null, bool Notify = true);

/// <summary>
/// A fake P云 OpenAPI that speaks the real protocol: form-encoded, MD5-signed trade prepare; signed GET trade
/// query in either response layout; and signed form notifications POSTed to the merchant's notify URL.
/// It refuses what the real one would: a bad sign, a wrong app_id, a missing field, a reused pay_order.
/// </summary>
public static partial class FakePyun
{
    public static IEndpointRouteBuilder MapFakePyun(this IEndpointRouteBuilder app, FakePyunState state, Func<HttpClient> notifyClient)
    {
        app.MapPost(PyunClient.PreparePath, (HttpRequest request, CancellationToken ct) => PrepareAsync(request, state, ct));
        app.MapGet(PyunClient.QueryPath, (HttpRequest request) => Query(request, state));
        app.MapFakePyunRefunds(state);

        // Control endpoints for people and scripts: pay a prepared trade, list trades.
        app.MapPost("/fake/pyun/trades/{payId}/pay", async (string payId, FakePayment? payment, CancellationToken ct) =>
        {
            if (!state.TradesByPayId.ContainsKey(payId))
            {
                return Results.NotFound(new { error = $"no trade with pay_id {payId}" });
            }

            var delivery = await PayAsync(state, payId, payment ?? new FakePayment(), notifyClient(), ct);
            return Results.Ok(delivery);
        });
        app.MapGet("/fake/pyun/trades", () => Results.Ok(state.TradesByPayOrder.Values.OrderBy(t => t.PayOrder)));
        return app;
    }

    /// <summary>
    /// Settles a prepared trade as a real payment would (success, failure, still paying, or a chosen wrong
    /// amount) and, unless told not to, POSTs the signed notification to the trade's notify URL.
    /// </summary>
    public static async Task<NotifyDelivery?> PayAsync(FakePyunState state, string payId, FakePayment payment, HttpClient http, CancellationToken cancellationToken)
    {
        var trade = state.TradesByPayId[payId];
        var status = payment.Outcome switch
        {
            "success" => 1,
            "failure" => -1,
            "paying" => 0,
            _ => throw new ArgumentException("outcome must be success, failure or paying", nameof(payment)),
        };
        lock (trade)
        {
            trade.Status = status;
            trade.PaidValue = payment.Value ?? trade.Value;
            trade.PaySerial ??= state.NextId("5030");
            trade.TradeNo ??= state.NextId("4200");
            trade.TradeTime = payment.TradeTimeMs is { } ms ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : state.Clock.GetUtcNow();
        }

        return payment.Notify ? await NotifyAsync(state, trade, http, cancellationToken) : null;
    }

    /// <summary>POSTs the trade's current state as a signed notification.</summary>
    public static async Task<NotifyDelivery> NotifyAsync(FakePyunState state, FakeTrade trade, HttpClient http, CancellationToken cancellationToken)
    {
        var form = NotificationForm(state, trade);
        using var content = new FormUrlEncodedContent(form);
        using var response = await http.PostAsync(trade.NotifyUrl, content, cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        return new NotifyDelivery(trade.PayOrder, trade.Status, (int)response.StatusCode, body, form);
    }

    /// <summary>The notification fields of P云 开放平台 支付结果异步通知, signed with the app secret.</summary>
    public static Dictionary<string, string> NotificationForm(FakePyunState state, FakeTrade trade)
    {
        var form = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["app_id"] = state.AppId,
            ["merchant"] = state.Merchant,
            ["pay_order"] = trade.PayOrder,
            ["channel"] = trade.Channel,
            ["pay_serial"] = trade.Status == 0 ? "" : trade.PaySerial ?? "",
            ["trade_no"] = trade.Status == 1 ? trade.TradeNo ?? "" : "",
            ["value"] = trade.PaidValue.ToString(CultureInfo.InvariantCulture),
            ["status"] = trade.Status.ToString(CultureInfo.InvariantCulture),
            ["trade_time"] = (trade.TradeTime ?? state.Clock.GetUtcNow()).ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture),
            ["pay_mode"] = "99",
            ["pay_mode_desc"] = "微信",
            ["fee"] = "0",
        };
        if (trade.Payer is not null)
        {
            form["payer"] = trade.Payer;
        }

        form["sign"] = PyunSignature.Sign(form!, state.AppSecret);
        return form;
    }

    private static async Task<IResult> PrepareAsync(HttpRequest request, FakePyunState state, CancellationToken cancellationToken)
    {
        var body = await RequestBody.ReadAsync(request, "application/x-www-form-urlencoded", 64 * 1024, cancellationToken);
        if (!body.Ok || !FormBody.TryParse(body.Bytes, out var form, out _))
        {
            return Error("400", "请求参数错误", "form body required", "POST");
        }

        state.PrepareRequests.Enqueue(form);
        if (Rejection(form, state, "POST") is { } rejection)
        {
            return rejection;
        }

        foreach (var required in new[] { "merchant", "pay_order", "subject", "value", "notify_url", "trade_scene", "extra" })
        {
            if (string.IsNullOrEmpty(form.GetValueOrDefault(required)))
            {
                return Error("400", "请求参数错误", $"`{required}` Required!", "POST");
            }
        }

        if (!PyunTradeResult.TryFen(form["value"], out var value) || value == 0)
        {
            return Error("400", "请求参数错误", "`value` invalid", "POST");
        }

        if (!ExpireTimePattern().IsMatch(form.GetValueOrDefault("expire_time") ?? "2000-01-01T00:00:00Z"))
        {
            return Error("400", "请求参数错误", "`expire_time` must be yyyy-MM-dd'T'HH:mm:ss'Z' UTC", "POST");
        }

        try
        {
            using var extra = JsonDocument.Parse(form["extra"]);
            if (extra.RootElement.ValueKind != JsonValueKind.Object)
            {
                return Error("400", "请求参数错误", "`extra` must be a JSON object", "POST");
            }
        }
        catch (JsonException)
        {
            return Error("400", "请求参数错误", "`extra` must be JSON", "POST");
        }

        if (state.FailNextPrepareWithCode is { } code)
        {
            state.FailNextPrepareWithCode = null;
            return Error(code, "渠道异常", "injected failure", "POST");
        }

        var trade = new FakeTrade
        {
            PayId = state.NextId("6217"),
            PayOrder = form["pay_order"],
            Value = value,
            NotifyUrl = form["notify_url"],
            TradeScene = form["trade_scene"],
            Extra = form["extra"],
            Subject = form["subject"],
            Payer = form.GetValueOrDefault("payer"),
            ExpireTime = form.TryGetValue("expire_time", out var expire)
                ? DateTimeOffset.Parse(expire, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal)
                : state.Clock.GetUtcNow().AddMinutes(3),
        };
        if (!state.TradesByPayOrder.TryAdd(trade.PayOrder, trade))
        {
            return Error("1403", "pay_order已存在", "`pay_order` duplicated", "POST");
        }

        state.TradesByPayId[trade.PayId] = trade;
        return Answer(state, new Dictionary<string, object?>
        {
            ["code"] = "1001",
            ["seqno"] = state.NextId("seq"),
            ["data_node"] = "FAKE/1",
            ["pay_url"] = $"https://app.4pyun.com/payment/trade/create?pay_id={trade.PayId}",
            ["pay_id"] = trade.PayId,
        });
    }

    private static IResult Query(HttpRequest request, FakePyunState state)
    {
        var query = request.Query.ToDictionary(q => q.Key, q => q.Value.ToString(), StringComparer.Ordinal);
        state.QueryRequests.Enqueue(query);
        if (Rejection(query, state, "GET") is { } rejection)
        {
            return rejection;
        }

        if (!query.TryGetValue("pay_order", out var payOrder) || !state.TradesByPayOrder.TryGetValue(payOrder, out var trade))
        {
            return Error("500", "未查询到订单记录", "", "GET");
        }

        var fields = new Dictionary<string, object?>
        {
            ["merchant"] = state.Merchant,
            ["pay_order"] = trade.PayOrder,
            ["channel"] = trade.Channel,
            ["pay_serial"] = trade.PaySerial ?? "",
            ["status"] = trade.Status,
            ["value"] = trade.Status == 0 ? trade.Value : trade.PaidValue,
            ["trade_time"] = trade.TradeTime?.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture) ?? "",
            ["payer"] = trade.Payer ?? "",
        };
        state.TakeQueryTamper()?.Invoke(fields);
        var answer = new Dictionary<string, object?> { ["code"] = "1001", ["message"] = "", ["seqno"] = state.NextId("seq") };
        if (state.QueryLayout == QueryLayout.Flat)
        {
            foreach (var (k, v) in fields)
            {
                answer[k] = v;
            }
        }
        else
        {
            answer["time_cost"] = 3;
            answer["payload"] = fields.ToDictionary(f => f.Key, f => f.Value?.ToString());
        }

        return Answer(state, answer);
    }

    /// <summary>A JSON answer, padded past any sane size when a test asked for it (with a Content-Length, as a real gateway would).</summary>
    private static IResult Answer(FakePyunState state, Dictionary<string, object?> answer)
    {
        var padding = state.TakePadding();
        if (padding == 0)
        {
            return Results.Json(answer);
        }

        answer["padding"] = new string('x', padding);
        return Results.Bytes(JsonSerializer.SerializeToUtf8Bytes(answer), "application/json");
    }

    private static JsonHttpResult<Dictionary<string, string>>? Rejection(Dictionary<string, string> fields, FakePyunState state, string method)
    {
        if (!fields.TryGetValue("sign", out var sign) || !PyunSignature.Verify(fields!, sign, state.AppSecret))
        {
            return Error("1401", "签名错误", "`sign` invalid", method);
        }

        return fields.GetValueOrDefault("app_id") != state.AppId ? Error("400", "请求参数错误", "`app_id` invalid", method) : null;
    }

    private static JsonHttpResult<Dictionary<string, string>> Error(string code, string message, string hint, string method) =>
        TypedResults.Json(new Dictionary<string, string>
        {
            ["code"] = code,
            ["message"] = message,
            ["hint"] = hint,
            ["seqno"] = Guid.NewGuid().ToString("N")[..16],
            ["path"] = $"{method} {(method == "GET" ? PyunClient.QueryPath : PyunClient.PreparePath)}",
        });

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$")]
    private static partial Regex ExpireTimePattern();
}
