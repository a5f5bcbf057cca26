namespace PaymentFunctions.Fakes.WeChatPay;

/// <summary>
/// Control routes for people and scripts driving the fake by hand: the user confirms or pays an order inside
/// "WeChat", which sends the signed, encrypted callback to the merchant's notify URL (or loses it), or WeChat expires it;
/// refunds settle, fail on demand, and report their creates.
/// </summary>
public static class FakeWeChatPayControl
{
    public static IEndpointRouteBuilder MapFakeWeChatPayControl(this IEndpointRouteBuilder app, FakeWeChatPayState state, Uri notifyUrl, Func<HttpClient> http)
    {
        // ?callback=false: the order moves, but its callback is lost on the way (only a query or a scheduled check can tell).
        app.MapPost("/fake/wechatpay/orders/{outOrderNo}/confirm", (string outOrderNo, bool? callback, CancellationToken ct) =>
            SendAsync(state, outOrderNo, PaymentFunctions.WeChatPay.PayScoreStates.UserConfirmEvent, callback ?? true, notifyUrl, http(), ct));
        app.MapPost("/fake/wechatpay/orders/{outOrderNo}/pay", (string outOrderNo, bool? callback, CancellationToken ct) =>
            SendAsync(state, outOrderNo, PaymentFunctions.WeChatPay.PayScoreStates.UserPaidEvent, callback ?? true, notifyUrl, http(), ct));
        // Thirty days unconfirmed, at once; WeChat sends no callback for it.
        app.MapPost("/fake/wechatpay/orders/{outOrderNo}/expire", (string outOrderNo) =>
        {
            if (!state.HasOrder(outOrderNo))
            {
                return Results.NotFound(new { error = $"no service order {outOrderNo}" });
            }

            try
            {
                state.Expire(outOrderNo);
                return Results.Ok(new { outOrderNo, state = PaymentFunctions.WeChatPay.PayScoreStates.Expired });
            }
            catch (InvalidOperationException ex)
            {
                return Results.Conflict(new { error = ex.Message });
            }
        });

        // Refund callbacks go to each refund's own notify_url, sent with the same client.
        state.CallbackHttp ??= http;
        app.MapGet("/fake/wechatpay/refunds/{outRefundNo}", (string outRefundNo) => state.HasRefund(outRefundNo)
            ? Results.Ok(new { refund = state.GetRefund(outRefundNo), creates = state.RefundCreateCount(outRefundNo) })
            : Results.NotFound(new { error = $"no refund {outRefundNo}", creates = state.RefundCreateCount(outRefundNo) }));
        app.MapPost("/fake/wechatpay/refunds/{outRefundNo}/settle", async (string outRefundNo, string? outcome, CancellationToken ct) =>
        {
            if (!state.HasRefund(outRefundNo))
            {
                return Results.NotFound(new { error = $"no refund {outRefundNo}" });
            }

            try
            {
                var status = await state.SettleRefundAsync(outRefundNo, outcome, ct);
                return Results.Ok(new { outRefundNo, refund = state.GetRefund(outRefundNo), callbackStatus = (int?)status });
            }
            catch (Exception ex) when (ex is InvalidOperationException or ArgumentException)
            {
                return Results.Conflict(new { error = ex.Message });
            }
        });
        // failure: NotEnough, InvalidRequest, ResourceNotExists, FrequencyLimited, SystemErrorAfterCreate or Hang.
        app.MapPost("/fake/wechatpay/refunds/fail-next/{failure}", (string failure) =>
        {
            if (!Enum.TryParse<FakeRefundFailure>(failure, ignoreCase: true, out var parsed) || !Enum.IsDefined(parsed))
            {
                return Results.BadRequest(new { error = $"expected one of {string.Join(", ", Enum.GetNames<FakeRefundFailure>())}" });
            }

            state.FailNextRefundCreate(parsed);
            return Results.Ok(new { failure = parsed.ToString() });
        });
        // outcome: SUCCESS, CLOSED or ABNORMAL for refunds settling from now on; suppressCallbacks: whether settling sends callbacks;
        // settleAfterQueries (0: never by queries) and settleDelaySeconds (0: never by time) for refunds created from now on.
        app.MapPost("/fake/wechatpay/refunds/settings", (string? outcome, bool? suppressCallbacks, int? settleAfterQueries, double? settleDelaySeconds) =>
        {
            if (outcome is not null)
            {
                var normalized = PaymentFunctions.WeChatPay.RefundStates.Normalize(outcome);
                if (normalized is not ("SUCCESS" or "CLOSED" or "ABNORMAL"))
                {
                    return Results.BadRequest(new { error = "outcome must be SUCCESS, CLOSED or ABNORMAL" });
                }

                state.RefundOutcome = normalized;
            }

            state.SuppressRefundCallbacks = suppressCallbacks ?? state.SuppressRefundCallbacks;
            state.RefundSettleAfterQueries = settleAfterQueries ?? state.RefundSettleAfterQueries;
            if (settleDelaySeconds is { } seconds)
            {
                state.RefundSettleDelay = seconds > 0 ? TimeSpan.FromSeconds(seconds) : null;
            }

            return Results.Ok(new
            {
                outcome = state.RefundOutcome,
                suppressCallbacks = state.SuppressRefundCallbacks,
                settleAfterQueries = state.RefundSettleAfterQueries,
                settleDelaySeconds = state.RefundSettleDelay?.TotalSeconds,
            });
        });
        return app;
    }

    private static async Task<IResult> SendAsync(FakeWeChatPayState state, string outOrderNo, string eventType, bool callback, Uri notifyUrl, HttpClient http,
        CancellationToken ct)
    {
        if (!state.HasOrder(outOrderNo))
        {
            return Results.NotFound(new { error = $"no service order {outOrderNo}" });
        }

        try
        {
            if (!callback)
            {
                state.MoveWithoutCallback(outOrderNo, eventType);
                return Results.Ok(new { outOrderNo, eventType, callbackStatus = (int?)null, queryId = state.GetQueryId(outOrderNo) });
            }

            var status = await state.SendCallbackAsync(outOrderNo, eventType, notifyUrl, http, ct);
            // query_id is what the Pay Score page hands back to the mini program when the user returns.
            return Results.Ok(new { outOrderNo, eventType, callbackStatus = (int)status, queryId = state.GetQueryId(outOrderNo) });
        }
        catch (InvalidOperationException ex)
        {
            return Results.Conflict(new { error = ex.Message });
        }
    }
}
