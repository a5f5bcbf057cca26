using System.Net;
using System.Text.Json.Nodes;
using PaymentFunctions.WeChatPay;

namespace PaymentFunctions.Fakes.WeChatPay;

/// <summary>
/// <c>POST /v3/refund/domestic/refunds</c> and <c>GET /v3/refund/domestic/refunds/{out_refund_no}</c> (one path for direct and partner:
/// partner requests carry <c>sub_mchid</c>), over the deductions this fake made. Same signature checks as every other route.
/// </summary>
public static partial class FakeWeChatPayEndpoints
{
    private static readonly HashSet<string> RefundFields = new(StringComparer.Ordinal)
    {
        "sub_mchid", "transaction_id", "out_trade_no", "out_refund_no", "reason", "notify_url", "funds_account", "amount", "goods_detail",
    };

    private static void MapRefunds(IEndpointRouteBuilder endpoints, FakeWeChatPayState state)
    {
        endpoints.MapPost(WeChatPayClient.RefundPath, context => Handle(context, state, (body, _) => CreateRefund(state, body)));
        endpoints.MapGet(WeChatPayClient.RefundPath + "/{out_refund_no}", context =>
            Handle(context, state, (_, query) => QueryRefund(state, (string)context.Request.RouteValues["out_refund_no"]!, query)));
    }

    private static Answer CreateRefund(FakeWeChatPayState state, JsonObject? body)
    {
        if (body is null)
        {
            return Error(HttpStatusCode.BadRequest, "PARAM_ERROR", "缺少请求体");
        }

        var outRefundNo = FakeWeChatPayState.Text(body, "out_refund_no");
        if (outRefundNo is not null)
        {
            state.CountRefundCreate(outRefundNo);
        }

        var unknown = body.Select(p => p.Key).Where(k => !RefundFields.Contains(k)).ToArray();
        if (unknown.Length > 0)
        {
            return new Answer(HttpStatusCode.BadRequest, new JsonObject
            {
                ["code"] = "PARAM_ERROR",
                ["message"] = "请求中含有未在API文档中定义的参数",
                ["detail"] = new JsonObject { ["location"] = null, ["value"] = new JsonArray([.. unknown.Select(k => JsonValue.Create("/body/" + k))]) },
            });
        }

        if (body.Any(p => p.Value is null) || body["amount"] is JsonObject amountWithNull && amountWithNull.Any(p => p.Value is null))
        {
            return Error(HttpStatusCode.BadRequest, "PARAM_ERROR", "参数不能为null");
        }

        var transactionId = FakeWeChatPayState.Text(body, "transaction_id");
        var amount = body["amount"] as JsonObject;
        if (outRefundNo is null || transactionId is null || amount?["refund"] is not JsonValue refundValue || amount["total"] is not JsonValue totalValue
            || !refundValue.TryGetValue<long>(out var refund) || !totalValue.TryGetValue<long>(out var total))
        {
            return Error(HttpStatusCode.BadRequest, "PARAM_ERROR", "缺少参数transaction_id、out_refund_no或amount");
        }

        if (FakeWeChatPayState.Text(amount, "currency") != "CNY" || refund <= 0 || outRefundNo.Length > 64)
        {
            return Error(HttpStatusCode.BadRequest, "PARAM_ERROR", "amount.currency必须为CNY，退款金额必须大于0");
        }

        var failure = state.TryTakeRefundFailure(out var injected) ? injected : (FakeRefundFailure?)null;
        switch (failure)
        {
            case FakeRefundFailure.NotEnough:
                return Error(HttpStatusCode.Forbidden, "NOT_ENOUGH", "基本账户余额不足，请充值后重新发起");
            case FakeRefundFailure.InvalidRequest:
                return Error(HttpStatusCode.BadRequest, "INVALID_REQUEST", "申请退款金额超过订单可退金额");
            case FakeRefundFailure.ResourceNotExists:
                return Error(HttpStatusCode.NotFound, "RESOURCE_NOT_EXISTS", "订单不存在");
            case FakeRefundFailure.FrequencyLimited:
                return Error(HttpStatusCode.TooManyRequests, "FREQUENCY_LIMITED", "频率限制，1个月之前的订单请降低申请频率再重试");
        }

        var subMchId = FakeWeChatPayState.Text(body, "sub_mchid");
        var canonical = body.ToJsonString(FakeWeChatPayState.Json);
        var answer = state.WithRefunds(refunds =>
        {
            if (refunds.TryGetValue(outRefundNo, out var existing))
            {
                // "同一退款单号多次请求只退一笔": identical parameters answer the same refund, anything else is refused.
                return existing.CreateBody == canonical
                    ? new Answer(HttpStatusCode.OK, (JsonObject)existing.Data.DeepClone())
                    : Error(HttpStatusCode.BadRequest, "INVALID_REQUEST", "订单金额或退款金额与之前请求不一致，请核实后再试");
            }

            if (state.FindDeduction(transactionId) is not var (order, deducted))
            {
                return Error(HttpStatusCode.NotFound, "RESOURCE_NOT_EXISTS", "订单不存在");
            }

            if (order.Partner && subMchId is null)
            {
                return Error(HttpStatusCode.BadRequest, "PARAM_ERROR", "缺少参数sub_mchid");
            }

            if (!order.Partner && subMchId is not null)
            {
                return Error(HttpStatusCode.BadRequest, "PARAM_ERROR", "普通商户不支持sub_mchid参数");
            }

            if (order.Partner && subMchId != FakeWeChatPayState.Text(order.Data, "sub_mchid"))
            {
                return Error(HttpStatusCode.NotFound, "RESOURCE_NOT_EXISTS", "订单不存在");
            }

            if (total != deducted)
            {
                return Error(HttpStatusCode.BadRequest, "INVALID_REQUEST", "订单金额或退款金额与之前请求不一致，请核实后再试");
            }

            var refunded = refunds.Values
                .Where(r => r.TransactionId == transactionId && FakeWeChatPayState.Text(r.Data, "status") != RefundStates.Closed)
                .Sum(r => r.Data["amount"]!["refund"]!.GetValue<long>());
            if (refunded + refund > deducted)
            {
                return Error(HttpStatusCode.BadRequest, "INVALID_REQUEST", "申请退款金额超过订单可退金额");
            }

            var data = new JsonObject
            {
                ["refund_id"] = "503000022720250102" + state.Next(),
                ["out_refund_no"] = outRefundNo,
                ["transaction_id"] = transactionId,
                // For a Pay Score deduction WeChat generates the out_trade_no; one per transaction.
                ["out_trade_no"] = "1217" + transactionId,
                ["channel"] = "ORIGINAL",
                ["user_received_account"] = "支付用户零钱",
                ["create_time"] = state.NowChinaTime(),
                ["status"] = RefundStates.Processing,
                ["funds_account"] = "UNSETTLED",
                ["amount"] = new JsonObject
                {
                    ["total"] = total,
                    ["refund"] = refund,
                    ["payer_total"] = total,
                    ["payer_refund"] = refund,
                    ["settlement_total"] = total,
                    ["settlement_refund"] = refund,
                    ["discount_refund"] = 0,
                    ["currency"] = "CNY",
                },
                ["promotion_detail"] = new JsonArray(),
            };
            var created = new FakeRefund(data, canonical, transactionId, FakeWeChatPayState.Text(body, "notify_url") ?? "", subMchId);
            refunds[outRefundNo] = created;
            state.OnRefundCreated(created);
            return new Answer(HttpStatusCode.OK, (JsonObject)data.DeepClone());
        });

        return failure switch
        {
            FakeRefundFailure.SystemErrorAfterCreate when answer.Status == HttpStatusCode.OK => Error(HttpStatusCode.InternalServerError, "SYSTEM_ERROR", "系统繁忙，请稍后重试"),
            FakeRefundFailure.Hang => answer with { Hang = true },
            _ => answer,
        };
    }

    private static Answer QueryRefund(FakeWeChatPayState state, string outRefundNo, IQueryCollection query)
    {
        var subMchId = query["sub_mchid"].FirstOrDefault();
        return state.WithRefunds(refunds =>
        {
            if (!refunds.TryGetValue(outRefundNo, out var refund) || refund.SubMchId != subMchId)
            {
                return refund?.SubMchId is not null && subMchId is null
                    ? Error(HttpStatusCode.BadRequest, "PARAM_ERROR", "缺少参数sub_mchid")
                    : Error(HttpStatusCode.NotFound, "RESOURCE_NOT_EXISTS", "退款单不存在");
            }

            state.OnRefundQueried(refund);
            return new Answer(HttpStatusCode.OK, (JsonObject)refund.Data.DeepClone());
        });
    }
}
