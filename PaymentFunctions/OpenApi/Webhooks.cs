using System.ComponentModel;
using System.Text.Json.Serialization;
using Microsoft.OpenApi;
using PaymentFunctions.Orders;
using PaymentFunctions.PayScore;

namespace PaymentFunctions.OpenApi;

/// <summary>
/// The webhook routes as the platforms call them. The endpoints read the raw bytes themselves (the signature
/// covers exactly what was sent), so these types exist only to describe the wire: nothing deserializes into them.
/// </summary>
public static class Webhooks
{
    private static readonly (int Status, string Text)[] PyunAnswers =
    [
        (200, "Queued: `{\"code\":\"1001\",\"message\":\"通知成功\"}`, the only answer P云 takes as delivered. A replay is acknowledged again and changes nothing."),
        (400, "Code 1400: a malformed body or field (also a field with '&' or '='). Nothing queued; P云 sends it again."),
        (401, "Code 1401: `sign` is missing or wrong. Nothing queued."),
        (403, "Code 1403: `app_id` or `merchant` is not this application's. Nothing queued."),
        (408, "Code 1400: the body arrived too slowly. Nothing queued."),
        (413, "Code 1413: the body is over 16 KiB. Nothing queued."),
        (415, "Code 1415: the content type is not application/x-www-form-urlencoded in UTF-8. Nothing queued."),
        (503, "Code 1500: the queue is unavailable; P云 sends it again."),
    ];

    private static readonly (int Status, string Text)[] WeChatAnswers =
    [
        (400, "Malformed envelope or resource, unsupported algorithm or event type. Nothing queued; WeChat Pay sends it again."),
        (401, "A Wechatpay-* header is missing, the timestamp is off by more than 300 s, the serial is unknown, the signature is wrong or a probe (WECHATPAY/SIGNTEST), or the resource does not decrypt. Nothing queued."),
        (403, "The order is another merchant's, service's or app's. Nothing queued."),
        (408, "The body arrived too slowly. Nothing queued."),
        (413, "The body is over 64 KiB. Nothing queued."),
        (415, "The content type is not application/json in UTF-8. Nothing queued."),
        (500, "The queue is unavailable; WeChat Pay sends it again."),
        (503, "WeChat Pay is not configured on this app (no WeChatPay settings section), or storage is unavailable."),
    ];

    /// <summary>P云's payment notification (支付结果异步通知): a signed form, answered in P云's <c>{code,message}</c> JSON.</summary>
    public static RouteHandlerBuilder DescribedAsPyunNotification(this RouteHandlerBuilder route)
    {
        route.WithSummary("P云's payment notification (called by P云)")
            .WithDescription("P云 posts the payment result to the notify_url given at prepare. The app verifies `sign` over every received field " +
                             "except `sign` (unknown fields and empty values included; sorted by name; `&app_secret=`; MD5), checks `app_id` and " +
                             "`merchant` and the known fields' formats, queues the verified fields, and only then answers code 1001. Every other " +
                             "answer makes P云 send the notification again.")
            .ReadsBody<PyunNotificationForm>("application/x-www-form-urlencoded")
            .WithMetadata(PlatformAnswers.Instance);
        foreach (var (status, text) in PyunAnswers)
        {
            route.Produces<PyunNotifyEndpoint.PyunAnswer>(status, "application/json").Describes(status, text);
        }

        return route;
    }

    /// <summary>WeChat Pay's API v3 callback: a signed JSON envelope with an encrypted resource, answered 204 or <c>{code:"FAIL",message}</c>.</summary>
    public static RouteHandlerBuilder DescribedAsWeChatPayCallback(this RouteHandlerBuilder route)
    {
        route.WithSummary("WeChat Pay's callback (called by WeChat Pay)")
            .WithDescription("WeChat Pay API v3 posts PAYSCORE.USER_CONFIRM and PAYSCORE.USER_PAID (and REFUND.SUCCESS, REFUND.ABNORMAL, REFUND.CLOSED for refunds) to the configured notify_url. The app checks the " +
                             "four Wechatpay-* headers, the timestamp (±300 s), the key by serial, the SHA256withRSA signature over " +
                             "`timestamp\\nnonce\\nbody\\n` on the raw bytes, then decrypts `resource` (AEAD_AES_256_GCM with the APIv3 key), checks " +
                             "`mchid`, `service_id` and `appid` (or `sub_mchid`), queues it and only then answers 204. A refusal answers " +
                             "`{\"code\":\"FAIL\",\"message\":…}` and WeChat Pay sends it again.")
            .ReadsBody<WeChatPayCallback>("application/json")
            .Produces(StatusCodes.Status204NoContent)
            .Describes(StatusCodes.Status204NoContent, "Verified and queued.")
            .WithMetadata(PlatformAnswers.Instance)
            .AddOpenApiOperationTransformer((operation, _, _) =>
            {
                operation.Parameters ??= [];
                foreach (var (name, text) in WeChatHeaders)
                {
                    operation.Parameters.Add(new OpenApiParameter
                    {
                        Name = name,
                        In = ParameterLocation.Header,
                        Required = name.StartsWith("Wechatpay-", StringComparison.Ordinal),
                        Description = text,
                        Schema = new OpenApiSchema { Type = JsonSchemaType.String },
                    });
                }

                return Task.CompletedTask;
            });
        foreach (var (status, text) in WeChatAnswers)
        {
            route.Produces<WeChatPayNotifyEndpoint.FailAnswer>(status, "application/json").Describes(status, text);
        }

        return route;
    }

    private static readonly (string Name, string Text)[] WeChatHeaders =
    [
        ("Wechatpay-Signature", "Base64 SHA256withRSA signature of `timestamp\\nnonce\\nbody\\n`."),
        ("Wechatpay-Timestamp", "Unix seconds; refused when more than 300 s from now."),
        ("Wechatpay-Nonce", "The random string that was signed."),
        ("Wechatpay-Serial", "The serial of the WeChat Pay public key (PUB_KEY_ID_…) or platform certificate that signed."),
        ("Request-ID", "WeChat Pay's request id, logged with a refusal."),
    ];
}

/// <summary>P云 开放平台 支付结果异步通知: the form fields P云 posts (all signed by <c>sign</c>; unknown fields are signed too).</summary>
public sealed record PyunNotificationForm
{
    [JsonPropertyName("app_id"), Description("This application's P云 app id.")]
    public required string AppId { get; init; }

    [JsonPropertyName("merchant"), Description("This application's P云 merchant number, when sent.")]
    public string Merchant { get; init; } = "";

    [JsonPropertyName("pay_order"), Description("The attempt's number as sent at prepare: `<orderId>-<attempt>`.")]
    public required string PayOrder { get; init; }

    [JsonPropertyName("status"), Description("1 paid, 0 paying, -1 failed.")]
    public required int Status { get; init; }

    [JsonPropertyName("value"), Description("The amount paid, in fen (digits).")]
    public required long Value { get; init; }

    [JsonPropertyName("fee"), Description("P云's fee, in fen (digits), when sent.")]
    public long Fee { get; init; }

    [JsonPropertyName("trade_time"), Description("When the trade happened: epoch milliseconds (13 digits); required when status is 1.")]
    public long TradeTime { get; init; }

    [JsonPropertyName("channel"), Description("200201 WeChat, 100102 Alipay.")]
    public string Channel { get; init; } = "";

    [JsonPropertyName("pay_serial"), Description("P云's payment serial (needed for a refund).")]
    public string PaySerial { get; init; } = "";

    [JsonPropertyName("trade_no"), Description("The channel's trade number.")]
    public string TradeNo { get; init; } = "";

    [JsonPropertyName("payer"), Description("The payer's openid, when known.")]
    public string Payer { get; init; } = "";

    [JsonPropertyName("pay_mode")]
    public string PayMode { get; init; } = "";

    [JsonPropertyName("pay_mode_desc")]
    public string PayModeDesc { get; init; } = "";

    [JsonPropertyName("sign"), Description("MD5 over the other fields sorted by name, `k=v` joined by `&`, then `&app_secret=<secret>`; uppercase hex.")]
    public required string Sign { get; init; }
}

/// <summary>WeChat Pay API v3 callback envelope (回调通知): the resource is encrypted with the APIv3 key.</summary>
public sealed record WeChatPayCallback
{
    [JsonPropertyName("id"), Description("The notification id (the same on every redelivery).")]
    public required string Id { get; init; }

    [JsonPropertyName("create_time"), Description("RFC 3339 time the notification was created.")]
    public required string CreateTime { get; init; }

    [JsonPropertyName("event_type"), Description("PAYSCORE.USER_CONFIRM, PAYSCORE.USER_PAID, REFUND.SUCCESS, REFUND.ABNORMAL or REFUND.CLOSED.")]
    public required string EventType { get; init; }

    [JsonPropertyName("resource_type"), Description("encrypt-resource")]
    public required string ResourceType { get; init; }

    [JsonPropertyName("summary")]
    public string Summary { get; init; } = "";

    [JsonPropertyName("resource")]
    public required WeChatPayCallbackResource Resource { get; init; }
}

/// <summary>The encrypted resource: the Pay Score service order once decrypted.</summary>
public sealed record WeChatPayCallbackResource
{
    [JsonPropertyName("algorithm"), Description("AEAD_AES_256_GCM")]
    public required string Algorithm { get; init; }

    [JsonPropertyName("ciphertext"), Description("Base64 of the encrypted service order JSON and its 16-byte tag.")]
    public required string Ciphertext { get; init; }

    [JsonPropertyName("nonce"), Description("The 12-character GCM nonce.")]
    public required string Nonce { get; init; }

    [JsonPropertyName("associated_data"), Description("GCM associated data (may be empty).")]
    public string AssociatedData { get; init; } = "";

    [JsonPropertyName("original_type")]
    public string OriginalType { get; init; } = "";
}
