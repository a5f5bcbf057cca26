namespace PaymentFunctions.Fakes.WeChatPay;

/// <summary>
/// Control routes for people and scripts driving the fake by hand: the user confirms or pays an order inside
/// "WeChat", which sends the signed, encrypted callback to the merchant's notify URL (or loses it), or WeChat expires it.
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
