namespace PaymentFunctions.OpenApi;

/// <summary>Examples in the document, by operation id: the request examples of docs/api.md (keep the two alike).</summary>
internal static class ApiExamples
{
    public sealed record Examples(string? Request, IReadOnlyDictionary<int, string> Responses);

    private const string Order = """
        {"orderId":"mvca6m6dzbgxwyb55tus5kra","merchantOrderNo":"PARK-20261125-0001","status":"Paid","amount":1234,"subject":"停车缴费",
         "body":"粤B12345 停车 2 小时","scene":"PARKING","createdAt":"2026-11-25T04:55:11.79Z","expiresAt":"2026-11-25T12:00:00Z",
         "paidAt":"2026-11-25T04:55:12.037Z","paidAmount":1234,"channel":"200201","paySerial":"5030202611251000003",
         "tradeNo":"4200202611251000004","refundRequired":false}
        """;

    private const string OrderCreated = """
        {"orderId":"mvca6m6dzbgxwyb55tus5kra","merchantOrderNo":"PARK-20261125-0001","status":"Created","amount":1234,"subject":"停车缴费",
         "body":"粤B12345 停车 2 小时","scene":"PARKING","createdAt":"2026-11-25T04:55:11.79Z","expiresAt":"2026-11-25T12:00:00Z",
         "paidAt":null,"paidAmount":null,"channel":null,"paySerial":null,"tradeNo":null,"refundRequired":false}
        """;

    private const string PayScoreCreated = """
        {"outOrderNo":"PS20261125001","state":"CREATED","stateDescription":null,"collectionState":null,"confirmed":false,"paid":false,
         "totalAmount":null,"paidAmount":null,"transactionId":null,
         "openBusinessView":{"businessType":"wxpayScoreUse","extraData":{"package":"DJIOSQPYWDxsjdldeskfw5ld2OSPQd8Y"}}}
        """;

    private const string PayScoreDone = """
        {"outOrderNo":"PS20261125001","state":"DONE","stateDescription":"USER_PAID","collectionState":"USER_PAID","confirmed":true,"paid":true,
         "totalAmount":200,"paidAmount":200,"transactionId":"4200002026112500000001"}
        """;

    private static readonly Dictionary<string, Examples> ByOperation = new(StringComparer.Ordinal)
    {
        ["CreateOrder"] = new("""
            {"merchantOrderNo":"PARK-20261125-0001","subject":"停车缴费","body":"粤B12345 停车 2 小时","amount":1234,"scene":"PARKING",
             "extra":{"plate":"粤B12345","plate_color":"1","parking_serial":"P20261125001","park_name":"演示停车场",
                      "enter_time":"1764028800000","parking_time":"3600","free_value":0},
             "expiresAt":"2026-11-25T12:00:00Z"}
            """, new Dictionary<int, string> { [201] = OrderCreated, [200] = OrderCreated }),
        ["PrepareOrder"] = new("""{"client":"wechat"}""", new Dictionary<int, string>
        {
            [200] = """
                {"orderId":"mvca6m6dzbgxwyb55tus5kra","payId":"6217202611251000001","payOrder":"mvca6m6dzbgxwyb55tus5kra-1",
                 "expiresAt":"2026-11-25T05:00:11.91Z","client":"wechat",
                 "launch":{"appId":"wxa204074068ad40ef","path":"/external/payment/trade/create/index?pay_id=6217202611251000001"}}
                """,
        }),
        ["GetOrder"] = new(null, new Dictionary<int, string> { [200] = Order }),
        ["PyunNotify"] = new("""
            {"app_id":"op0096196358123123","merchant":"62626601","pay_order":"mvca6m6dzbgxwyb55tus5kra-1","channel":"200201",
             "pay_serial":"5030202611251000003","trade_no":"4200202611251000004","value":1234,"status":1,"trade_time":1764046512037,
             "pay_mode":"99","pay_mode_desc":"微信","fee":0,"sign":"0F1E2D3C4B5A69788796A5B4C3D2E1F0"}
            """, new Dictionary<int, string>
        {
            [200] = """{"code":"1001","message":"通知成功"}""",
            [401] = """{"code":"1401","message":"sign error"}""",
            [503] = """{"code":"1500","message":"temporarily unavailable, please retry"}""",
        }),
        ["CreatePayScoreOrder"] = new("""
            {"outOrderNo":"PS20261125001","serviceIntroduction":"充电宝租借",
             "postPayments":[{"name":"租借费","amount":300,"description":"每小时 3 元","count":1}],
             "postDiscounts":[{"name":"新用户","description":"首单立减","amount":100,"count":1}],
             "timeRange":{"startTime":"OnAccept","endTime":"20261126120000"},"location":{"startLocation":"深圳湾店"},
             "riskFund":{"name":"DEPOSIT","amount":9900,"description":"充电宝押金"},"attach":"anything you want echoed back"}
            """, new Dictionary<int, string> { [201] = PayScoreCreated, [200] = PayScoreCreated }),
        ["QueryPayScoreOrder"] = new("""{"queryId":"1234323JKHDFE1243252"}""", new Dictionary<int, string> { [200] = PayScoreDone }),
        ["CompletePayScoreOrder"] = new("""
            {"postPayments":[{"name":"租借费","amount":300,"description":"每小时 3 元","count":1}],
             "postDiscounts":[{"name":"新用户","description":"首单立减","amount":100,"count":1}],
             "totalAmount":200,"timeRange":{"endTime":"20261125180000"},"location":{"endLocation":"深圳湾店"}}
            """, new Dictionary<int, string>()),
        ["CreateRefund"] = new("""{"refundNo":"RF-20261125-001","amount":400,"reason":"停车费多收"}""", new Dictionary<int, string>()),
        ["CreatePayScoreRefund"] = new("""{"outRefundNo":"prodR20261125000001","amount":300,"reason":"服务未完成"}""", new Dictionary<int, string>()),
        ["CancelPayScoreOrder"] = new("""{"reason":"用户取消租借"}""", new Dictionary<int, string>()),
        ["WeChatPayNotify"] = new("""
            {"id":"EV-2018022511223320873","create_time":"2026-11-25T13:29:35+08:00","resource_type":"encrypt-resource",
             "event_type":"PAYSCORE.USER_CONFIRM","summary":"微信支付分服务订单用户已确认",
             "resource":{"original_type":"payscore","algorithm":"AEAD_AES_256_GCM","ciphertext":"…","associated_data":"","nonce":"fdasflkja484w"}}
            """, new Dictionary<int, string> { [401] = """{"code":"FAIL","message":"The signature does not verify."}""" }),
        ["Health"] = new(null, new Dictionary<int, string>
        {
            [200] = """{"status":"healthy"}""",
            [503] = """{"status":"unhealthy","failing":["queue storage"]}""",
        }),
    };

    public static Examples? ForOperation(string operationId) => ByOperation.GetValueOrDefault(operationId);
}
