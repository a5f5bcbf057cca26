using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace PaymentFunctions.WeChatPay;

/// <summary>
/// JSON as WeChat Pay API v3 speaks it: snake_case names, no nulls on the wire (null is forbidden, so absent
/// fields are omitted), numbers that may arrive as strings, and Chinese text unescaped (the bytes we sign are the
/// bytes we send, so escaping is only a matter of readability).
/// </summary>
public static class WeChatPayJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.General)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        NumberHandling = JsonNumberHandling.AllowReadingFromString,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };
}

/// <summary>WeChat Pay order states (<c>state</c>) and sub-states used in Pay Score service orders (WeChat Pay API v3, 支付分 查询支付分订单).</summary>
public static class PayScoreStates
{
    public const string Created = "CREATED";
    public const string Doing = "DOING";
    public const string Done = "DONE";
    public const string Revoked = "REVOKED";
    public const string Expired = "EXPIRED";

    public const string UserConfirm = "USER_CONFIRM";
    public const string MchComplete = "MCH_COMPLETE";

    public const string UserPaying = "USER_PAYING";
    public const string UserPaid = "USER_PAID";

    public const string UserConfirmEvent = "PAYSCORE.USER_CONFIRM";
    public const string UserPaidEvent = "PAYSCORE.USER_PAID";
}

/// <summary>One billed item; <c>amount</c> in fen is the item's total.</summary>
public sealed record PostPayment
{
    public string? Name { get; init; }
    public long Amount { get; init; }
    public string? Description { get; init; }
    public int? Count { get; init; }
}

public sealed record PostDiscount
{
    public string? Name { get; init; }
    public string? Description { get; init; }
    public long Amount { get; init; }
    public int? Count { get; init; }
}

/// <summary><c>start_time</c>: <c>OnAccept</c>, <c>yyyyMMddHHmmss</c> or <c>yyyyMMdd</c> (China Standard Time).</summary>
public sealed record PayScoreTimeRange
{
    public string? StartTime { get; init; }
    public string? StartTimeRemark { get; init; }
    public string? EndTime { get; init; }
    public string? EndTimeRemark { get; init; }
}

public sealed record PayScoreLocation
{
    public string? StartLocation { get; init; }
    public string? EndLocation { get; init; }
}

/// <summary><c>name</c>: DEPOSIT, ADVANCE, CASH_DEPOSIT (先免) or ESTIMATE_ORDER_COST (先享).</summary>
public sealed record PayScoreRiskFund
{
    public string? Name { get; init; }
    public long Amount { get; init; }
    public string? Description { get; init; }
}

/// <summary>
/// Body of <c>POST /v3/payscore[/partner]/serviceorder</c>. <see cref="AppId"/>, <see cref="SubMchId"/>,
/// <see cref="SubAppId"/>, <see cref="ServiceId"/> and <see cref="NotifyUrl"/> come from <see cref="WeChatPayOptions"/>:
/// <see cref="WeChatPayClient"/> overwrites whatever the caller put there. Property order is wire order.
/// </summary>
public sealed record CreateServiceOrderRequest
{
    public required string OutOrderNo { get; init; }

    [JsonPropertyName("appid")]
    public string? AppId { get; init; }

    [JsonPropertyName("sub_mchid")]
    public string? SubMchId { get; init; }

    [JsonPropertyName("sub_appid")]
    public string? SubAppId { get; init; }

    public string? ServiceId { get; init; }
    public required string ServiceIntroduction { get; init; }
    public IReadOnlyList<PostPayment>? PostPayments { get; init; }
    public IReadOnlyList<PostDiscount>? PostDiscounts { get; init; }
    public required PayScoreTimeRange TimeRange { get; init; }
    public PayScoreLocation? Location { get; init; }
    public required PayScoreRiskFund RiskFund { get; init; }
    public string? Attach { get; init; }
    public string? NotifyUrl { get; init; }

    /// <summary>True (需确认, the mini-program confirm flow) unless set otherwise.</summary>
    public bool? NeedUserConfirm { get; init; } = true;

    [JsonPropertyName("openid")]
    public string? OpenId { get; init; }

    [JsonPropertyName("sub_openid")]
    public string? SubOpenId { get; init; }
}

/// <summary>
/// Body of <c>POST …/serviceorder/{out_order_no}/complete</c>; the order number travels in the path.
/// <see cref="AppId"/>/<see cref="SubMchId"/>/<see cref="ServiceId"/> are filled by <see cref="WeChatPayClient"/>.
/// </summary>
public sealed record CompleteServiceOrderRequest
{
    [JsonPropertyName("appid")]
    public string? AppId { get; init; }

    [JsonPropertyName("sub_mchid")]
    public string? SubMchId { get; init; }

    public string? ServiceId { get; init; }
    public required IReadOnlyList<PostPayment> PostPayments { get; init; }
    public IReadOnlyList<PostDiscount>? PostDiscounts { get; init; }

    /// <summary>Fen; must equal Σ post_payments.amount − Σ post_discounts.amount.</summary>
    public long TotalAmount { get; init; }

    public PayScoreTimeRange? TimeRange { get; init; }
    public PayScoreLocation? Location { get; init; }
    public bool? ProfitSharing { get; init; }
    public string? GoodsTag { get; init; }
}

/// <summary>Body of <c>POST …/serviceorder/{out_order_no}/cancel</c>.</summary>
internal sealed record CancelServiceOrderBody
{
    [JsonPropertyName("appid")]
    public string? AppId { get; init; }

    [JsonPropertyName("sub_mchid")]
    public string? SubMchId { get; init; }

    public string? ServiceId { get; init; }
    public required string Reason { get; init; }
}

public sealed record PayScoreCollectionDetail
{
    public int? Seq { get; init; }
    public long Amount { get; init; }

    /// <summary>NEWTON (支付分) or MCH (the merchant's own channel).</summary>
    public string? PaidType { get; init; }

    public string? PaidTime { get; init; }
    public string? TransactionId { get; init; }
}

public sealed record PayScoreCollection
{
    /// <summary>USER_PAYING or USER_PAID.</summary>
    public string? State { get; init; }

    public long? TotalAmount { get; init; }
    public long? PayingAmount { get; init; }
    public long? PaidAmount { get; init; }
    public IReadOnlyList<PayScoreCollectionDetail>? Details { get; init; }
}

/// <summary>
/// A service order as WeChat Pay returns it from create (with <see cref="Package"/>), query, complete and cancel
/// (a subset), and as the decrypted resource of PAYSCORE.USER_CONFIRM / PAYSCORE.USER_PAID callbacks.
/// </summary>
public sealed record PayScoreServiceOrder
{
    [JsonPropertyName("appid")]
    public string? AppId { get; init; }

    [JsonPropertyName("mchid")]
    public string? MchId { get; init; }

    [JsonPropertyName("sub_appid")]
    public string? SubAppId { get; init; }

    [JsonPropertyName("sub_mchid")]
    public string? SubMchId { get; init; }

    public string? OutOrderNo { get; init; }
    public string? ServiceId { get; init; }
    public string? ServiceIntroduction { get; init; }

    /// <summary>CREATED, DOING, DONE, REVOKED or EXPIRED.</summary>
    public string? State { get; init; }

    /// <summary>With DOING only: USER_CONFIRM or MCH_COMPLETE.</summary>
    public string? StateDescription { get; init; }

    public long? TotalAmount { get; init; }
    public IReadOnlyList<PostPayment>? PostPayments { get; init; }
    public IReadOnlyList<PostDiscount>? PostDiscounts { get; init; }
    public PayScoreRiskFund? RiskFund { get; init; }
    public PayScoreTimeRange? TimeRange { get; init; }
    public PayScoreLocation? Location { get; init; }
    public string? Attach { get; init; }
    public string? NotifyUrl { get; init; }
    public string? OrderId { get; init; }

    /// <summary>Create only: what the mini program passes to <c>wx.openBusinessView</c>.</summary>
    public string? Package { get; init; }

    [JsonPropertyName("openid")]
    public string? OpenId { get; init; }

    [JsonPropertyName("sub_openid")]
    public string? SubOpenId { get; init; }

    public bool? NeedCollection { get; init; }
    public PayScoreCollection? Collection { get; init; }
}

/// <summary>
/// The object the mini program hands to <c>wx.openBusinessView</c> to open the Pay Score confirm page:
/// <c>{ businessType: "wxpayScoreUse", extraData: { package } }</c>.
/// </summary>
public sealed record PayScoreMiniProgramLaunch(
    [property: JsonPropertyName("businessType")] string BusinessType,
    [property: JsonPropertyName("extraData")] PayScoreLaunchExtraData ExtraData)
{
    public const string ConfirmBusinessType = "wxpayScoreUse";

    /// <summary>From the <c>package</c> of a create response; an order without one cannot be confirmed.</summary>
    public static PayScoreMiniProgramLaunch FromPackage(string package)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(package);
        return new PayScoreMiniProgramLaunch(ConfirmBusinessType, new PayScoreLaunchExtraData(package));
    }
}

public sealed record PayScoreLaunchExtraData([property: JsonPropertyName("package")] string Package);
