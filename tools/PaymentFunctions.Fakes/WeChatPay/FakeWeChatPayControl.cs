namespace PaymentFunctions.Fakes.WeChatPay;

/// <summary>
/// Control routes for people and scripts driving the fake by hand: the user confirms or pays an order inside
/// "WeChat", which sends the signed, encrypted callback to the merchant's notify URL.
/// </summary>
public static class FakeWeChatPayControl
{
    public static IEndpointRouteBuilder MapFakeWeChatPayControl(this IEndpointRouteBuilder app, FakeWeChatPayState state, Uri notifyUrl, Func<HttpClient> http)
    {
        app.MapPost("/fake/wechatpay/orders/{outOrderNo}/confirm", (string outOrderNo, CancellationToken ct) =>
            SendAsync(state, outOrderNo, PaymentFunctions.WeChatPay.PayScoreStates.UserConfirmEvent, notifyUrl, http(), ct));
        app.MapPost("/fake/wechatpay/orders/{outOrderNo}/pay", (string outOrderNo, CancellationToken ct) =>
            SendAsync(state, outOrderNo, PaymentFunctions.WeChatPay.PayScoreStates.UserPaidEvent, notifyUrl, http(), ct));
        return app;
    }

    private static async Task<IResult> SendAsync(FakeWeChatPayState state, string outOrderNo, string eventType, Uri notifyUrl, HttpClient http, CancellationToken ct)
    {
        if (!state.HasOrder(outOrderNo))
        {
            return Results.NotFound(new { error = $"no service order {outOrderNo}" });
        }

        try
        {
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
