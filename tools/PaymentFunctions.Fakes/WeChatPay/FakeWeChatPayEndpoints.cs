using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http.Features;
using PaymentFunctions.WeChatPay;

namespace PaymentFunctions.Fakes.WeChatPay;

/// <summary>
/// WeChat Pay's Pay Score service-order API (direct and partner) on minimal-API routes. Every request's
/// Authorization is verified with the merchant public key over the raw target and body (401 SIGN_ERROR otherwise);
/// every answer is signed with the key <see cref="FakeWeChatPayState.ResponseSerial"/> names.
/// </summary>
public static partial class FakeWeChatPayEndpoints
{
    private const string Direct = "/v3/payscore/serviceorder";
    private const string Partner = "/v3/payscore/partner/serviceorder";

    private static readonly string[] IdentityFields = ["out_order_no", "service_id", "service_introduction"];
    private static readonly string[] EchoedFields = ["post_payments", "post_discounts", "risk_fund", "time_range", "location", "attach", "notify_url"];
    private static readonly string[] CancelAnswerFields = ["appid", "mchid", "sub_mchid", "out_order_no", "service_id", "order_id"];

    public static IEndpointRouteBuilder MapFakeWeChatPay(this IEndpointRouteBuilder endpoints, FakeWeChatPayState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        foreach (var (path, partner) in new[] { (Direct, false), (Partner, true) })
        {
            endpoints.MapPost(path, context => Handle(context, state, (body, _) => Create(state, body, partner)));
            endpoints.MapGet(path, context => Handle(context, state, (_, query) => Query(state, query, partner)));
            endpoints.MapPost(path + "/{out_order_no}/complete", context =>
                Handle(context, state, (body, _) => Complete(state, (string)context.Request.RouteValues["out_order_no"]!, body, partner)));
            endpoints.MapPost(path + "/{out_order_no}/cancel", context =>
                Handle(context, state, (body, _) => Cancel(state, (string)context.Request.RouteValues["out_order_no"]!, body, partner)));
        }

        MapRefunds(endpoints, state);
        return endpoints;
    }

    /// <param name="Hang">Sent no answer at all: the request is held until the caller gives up.</param>
    private sealed record Answer(HttpStatusCode Status, JsonObject? Body, bool Hang = false);

    private static async Task Handle(HttpContext context, FakeWeChatPayState state, Func<JsonObject?, IQueryCollection, Answer> action)
    {
        var request = context.Request;
        using var buffer = new MemoryStream();
        await request.Body.CopyToAsync(buffer, context.RequestAborted);
        var body = buffer.ToArray();
        var target = context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? request.Path + request.QueryString;
        var authorization = request.Headers.Authorization.ToString();
        state.Requests.Enqueue(new FakeWeChatPayRequest(request.Method, target, Encoding.UTF8.GetString(body),
            authorization.Length == 0 ? null : authorization, request.Headers[WeChatPaySignatureHeaders.SerialHeader].FirstOrDefault()));

        var answer = CheckHeaders(request, body)
            ?? CheckAuthorization(state, request.Method, target, authorization, body);
        if (answer is null && state.TryTakeDelay(out var delay))
        {
            await Task.Delay(delay, context.RequestAborted);
        }

        answer ??= state.TryTakeFailure(out var failure) ? Error(failure.Status, failure.Code, failure.Message) : null;
        if (answer is null)
        {
            JsonObject? json = null;
            if (body.Length > 0)
            {
                try
                {
                    json = JsonNode.Parse(body) as JsonObject;
                }
                catch (JsonException)
                {
                }

                if (json is null)
                {
                    answer = Error(HttpStatusCode.BadRequest, "PARAM_ERROR", "请求体不是合法的JSON对象");
                }
            }

            answer ??= action(json, request.Query);
        }

        if (answer.Hang)
        {
            try
            {
                await Task.Delay(Timeout.InfiniteTimeSpan, context.RequestAborted);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }

        if (state.TakePadding() is > 0 and var padding && answer.Body is not null)
        {
            answer.Body["padding"] = new string('x', padding);
        }

        var response = context.Response;
        response.StatusCode = (int)answer.Status;
        response.Headers["Request-ID"] = "08" + RandomNumberGenerator.GetHexString(30);
        var bytes = answer.Body is null ? [] : Encoding.UTF8.GetBytes(answer.Body.ToJsonString(FakeWeChatPayState.Json));
        foreach (var (name, value) in state.SignatureHeaders(bytes))
        {
            response.Headers[name] = value;
        }

        response.Headers[WeChatPaySignatureHeaders.SignatureTypeHeader] = WeChatPaySignature.Scheme;
        if (bytes.Length > 0)
        {
            response.ContentType = "application/json; charset=utf-8";
            await response.Body.WriteAsync(bytes, context.RequestAborted);
        }
    }

    private static Answer? CheckHeaders(HttpRequest request, byte[] body)
    {
        if (!request.Headers.Accept.ToString().Contains("application/json", StringComparison.OrdinalIgnoreCase)
            || string.IsNullOrEmpty(request.Headers.UserAgent))
        {
            return Error(HttpStatusCode.BadRequest, "PARAM_ERROR", "Http头缺少Accept或User-Agent");
        }

        if (body.Length > 0 && request.ContentType?.StartsWith("application/json", StringComparison.OrdinalIgnoreCase) != true)
        {
            return Error(HttpStatusCode.UnsupportedMediaType, "PARAM_ERROR", "Content-Type必须为application/json");
        }

        return null;
    }

    private static Answer? CheckAuthorization(FakeWeChatPayState state, string method, string target, string authorization, byte[] body)
    {
        if (!WeChatPaySignature.TryParseAuthorization(authorization, out var fields))
        {
            return SignError("Http头Authorization值格式错误，请参考《微信支付商户REST API签名规则》");
        }

        if (fields["mchid"] != state.MchId)
        {
            return SignError("Authorization中的mchid与商户号不匹配");
        }

        if (fields["serial_no"] != state.MerchantCertificateSerial)
        {
            return SignError("商户证书序列号有误。请使用签名私钥匹配的证书序列号");
        }

        if (!long.TryParse(fields["timestamp"], NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
            || Math.Abs(state.Clock.GetUtcNow().ToUnixTimeSeconds() - seconds) > 300)
        {
            return SignError("Http头Authorization中的timestamp与发起请求的时间不得超过5分钟");
        }

        var message = WeChatPaySignature.RequestMessage(method, target, fields["timestamp"], fields["nonce_str"], body);
        return WeChatPaySignature.Verify(state.MerchantPublicKey, message, fields["signature"])
            ? null
            : SignError("签名错误，请检查后再试");
    }

    private static Answer Create(FakeWeChatPayState state, JsonObject? body, bool partner)
    {
        if (body is null)
        {
            return Error(HttpStatusCode.BadRequest, "PARAM_ERROR", "缺少请求体");
        }

        string[] required = partner
            ? ["out_order_no", "appid", "sub_mchid", "service_id", "service_introduction", "time_range", "risk_fund", "notify_url"]
            : ["out_order_no", "appid", "service_id", "service_introduction", "time_range", "risk_fund", "notify_url"];
        var missing = required.FirstOrDefault(name => body[name] is null);
        if (missing is not null)
        {
            return Error(HttpStatusCode.BadRequest, "PARAM_ERROR", $"缺少参数{missing}");
        }

        if (!partner && (body.ContainsKey("sub_mchid") || body.ContainsKey("sub_appid")))
        {
            return Error(HttpStatusCode.BadRequest, "PARAM_ERROR", "普通商户不支持sub_mchid/sub_appid参数");
        }

        var outOrderNo = FakeWeChatPayState.Text(body, "out_order_no")!;
        var canonical = body.ToJsonString(FakeWeChatPayState.Json);
        return state.WithOrders(orders =>
        {
            if (orders.TryGetValue(outOrderNo, out var existing))
            {
                // 原参重入: identical parameters answer the same order again.
                return existing.CreateBody == canonical
                    ? new Answer(HttpStatusCode.OK, WithPackage(existing))
                    : Error(HttpStatusCode.BadRequest, "INVALID_REQUEST", "商户订单号重复，且请求参数与原单不一致");
            }

            var data = new JsonObject();
            Copy(body, data, "appid");
            data["mchid"] = state.MchId;
            if (partner)
            {
                Copy(body, data, "sub_appid");
                Copy(body, data, "sub_mchid");
            }

            foreach (var name in IdentityFields)
            {
                Copy(body, data, name);
            }

            data["state"] = PayScoreStates.Created;
            foreach (var name in EchoedFields)
            {
                Copy(body, data, name);
            }

            data["order_id"] = "1000000000" + state.Next() + RandomNumberGenerator.GetHexString(8);
            // Base64 characters (+ / =) make sure callers escape query_id in the query string.
            var queryId = Convert.ToBase64String(RandomNumberGenerator.GetBytes(21)) + "+/=";
            var order = new FakeOrder(data, canonical, partner, "fake-package-" + RandomNumberGenerator.GetHexString(24), queryId);
            orders[outOrderNo] = order;
            return new Answer(HttpStatusCode.OK, WithPackage(order));
        });
    }

    private static Answer Query(FakeWeChatPayState state, IQueryCollection query, bool partner)
    {
        var outOrderNo = query["out_order_no"].FirstOrDefault();
        var queryId = query["query_id"].FirstOrDefault();
        if (string.IsNullOrEmpty(outOrderNo) == string.IsNullOrEmpty(queryId))
        {
            return Error(HttpStatusCode.BadRequest, "PARAM_ERROR", "out_order_no和query_id不允许都填写或都不填写");
        }

        var owner = partner ? query["sub_mchid"].FirstOrDefault() : query["appid"].FirstOrDefault();
        if (string.IsNullOrEmpty(owner) || (!partner && string.IsNullOrEmpty(query["service_id"].FirstOrDefault())))
        {
            return Error(HttpStatusCode.BadRequest, "PARAM_ERROR", partner ? "缺少参数sub_mchid" : "缺少参数appid或service_id");
        }

        return state.WithOrders(orders =>
        {
            var order = outOrderNo is not null
                ? orders.GetValueOrDefault(outOrderNo)
                : orders.Values.FirstOrDefault(o => o.QueryId == queryId);
            return order is null || !Owns(order, partner, owner)
                ? Error(HttpStatusCode.NotFound, "ORDER_NOT_EXIST", "订单不存在")
                : new Answer(HttpStatusCode.OK, (JsonObject)order.Data.DeepClone());
        });
    }

    private static Answer Complete(FakeWeChatPayState state, string outOrderNo, JsonObject? body, bool partner)
    {
        if (body is null || body["post_payments"] is not JsonArray payments || payments.Count == 0 || body["total_amount"] is not JsonValue total
            || body["service_id"] is null)
        {
            return Error(HttpStatusCode.BadRequest, "PARAM_ERROR", "缺少参数post_payments、total_amount或service_id");
        }

        var owner = FakeWeChatPayState.Text(body, partner ? "sub_mchid" : "appid");
        if (owner is null)
        {
            return Error(HttpStatusCode.BadRequest, "PARAM_ERROR", partner ? "缺少参数sub_mchid" : "缺少参数appid");
        }

        var totalAmount = total.GetValue<long>();
        var expected = Sum(payments) - Sum(body["post_discounts"] as JsonArray);
        if (totalAmount != expected)
        {
            return Error(HttpStatusCode.BadRequest, "PARAM_ERROR", "total_amount应等于post_payments总金额减去post_discounts总金额");
        }

        return state.WithOrders(orders =>
        {
            if (!orders.TryGetValue(outOrderNo, out var order) || !Owns(order, partner, owner))
            {
                return Error(HttpStatusCode.NotFound, "ORDER_NOT_EXIST", "订单不存在");
            }

            var data = order.Data;
            if (FakeWeChatPayState.Text(data, "state") != PayScoreStates.Doing
                || FakeWeChatPayState.Text(data, "state_description") != PayScoreStates.UserConfirm)
            {
                return Error(HttpStatusCode.BadRequest, "INVALID_ORDER_STATE", "订单状态不正确，不支持完结");
            }

            // 填写了服务开始地点，才能填写服务结束地点: at create, or in this complete request.
            var location = body["location"] as JsonObject;
            var startLocation = FakeWeChatPayState.Text(location, "start_location") ?? FakeWeChatPayState.Text(data["location"] as JsonObject, "start_location");
            if (FakeWeChatPayState.Text(location, "end_location") is not null && startLocation is null)
            {
                return Error(HttpStatusCode.BadRequest, "PARAM_ERROR", "填写了服务开始地点，才能填写服务结束地点");
            }

            if (location is not null)
            {
                var merged = (JsonObject?)data["location"]?.DeepClone() ?? [];
                foreach (var (name, value) in location)
                {
                    merged[name] = value?.DeepClone();
                }

                data["location"] = merged;
            }

            data["post_payments"] = payments.DeepClone();
            if (body["post_discounts"] is JsonArray discounts)
            {
                data["post_discounts"] = discounts.DeepClone();
            }

            data["total_amount"] = totalAmount;
            if (totalAmount > 0)
            {
                data["state_description"] = PayScoreStates.MchComplete;
                data["need_collection"] = true;
                data["collection"] = new JsonObject
                {
                    ["state"] = PayScoreStates.UserPaying,
                    ["total_amount"] = totalAmount,
                    ["paying_amount"] = totalAmount,
                    ["paid_amount"] = 0,
                };
            }
            else
            {
                data["state"] = PayScoreStates.Done;
                data.Remove("state_description");
                data["need_collection"] = false;
            }

            return new Answer(HttpStatusCode.OK, (JsonObject)data.DeepClone());
        });
    }

    private static Answer Cancel(FakeWeChatPayState state, string outOrderNo, JsonObject? body, bool partner)
    {
        var reason = FakeWeChatPayState.Text(body, "reason");
        var owner = FakeWeChatPayState.Text(body, partner ? "sub_mchid" : "appid");
        if (string.IsNullOrEmpty(reason) || reason.Length > 50 || owner is null)
        {
            return Error(HttpStatusCode.BadRequest, "PARAM_ERROR", partner ? "缺少参数reason或sub_mchid" : "缺少参数reason或appid");
        }

        return state.WithOrders(orders =>
        {
            if (!orders.TryGetValue(outOrderNo, out var order) || !Owns(order, partner, owner))
            {
                return Error(HttpStatusCode.NotFound, "ORDER_NOT_EXIST", "订单不存在");
            }

            var data = order.Data;
            var current = FakeWeChatPayState.Text(data, "state");
            var sub = FakeWeChatPayState.Text(data, "state_description");
            var collection = FakeWeChatPayState.Text(data["collection"] as JsonObject, "state");
            var cancellable = current == PayScoreStates.Created
                || (current == PayScoreStates.Doing && (sub == PayScoreStates.UserConfirm || collection == PayScoreStates.UserPaying));
            if (!cancellable)
            {
                return Error(HttpStatusCode.BadRequest, "INVALID_ORDER_STATE", "当前订单状态不满足撤销条件");
            }

            data["state"] = PayScoreStates.Revoked;
            data.Remove("state_description");
            var answer = new JsonObject();
            foreach (var name in CancelAnswerFields)
            {
                Copy(data, answer, name);
            }

            return new Answer(HttpStatusCode.OK, answer);
        });
    }

    private static bool Owns(FakeOrder order, bool partner, string? owner) =>
        order.Partner == partner && FakeWeChatPayState.Text(order.Data, partner ? "sub_mchid" : "appid") == owner;

    private static JsonObject WithPackage(FakeOrder order)
    {
        var answer = (JsonObject)order.Data.DeepClone();
        answer["package"] = order.Package;
        return answer;
    }

    private static long Sum(JsonArray? items) =>
        items?.Sum(item => item?["amount"] is JsonValue amount ? amount.GetValue<long>() : 0) ?? 0;

    private static void Copy(JsonObject from, JsonObject to, string name)
    {
        if (from[name] is { } value)
        {
            to[name] = value.DeepClone();
        }
    }

    private static Answer SignError(string message) => Error(HttpStatusCode.Unauthorized, "SIGN_ERROR", message);

    private static Answer Error(HttpStatusCode status, string code, string message) =>
        new(status, new JsonObject { ["code"] = code, ["message"] = message });
}
