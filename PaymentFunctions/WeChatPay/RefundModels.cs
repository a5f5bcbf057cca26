using System.Text.Json.Serialization;

namespace PaymentFunctions.WeChatPay;

/// <summary>Refund statuses (refund object <c>status</c>, callback <c>refund_status</c>); see the shared wechatpay-refund notes §3.3.</summary>
public static class RefundStates
{
    public const string Processing = "PROCESSING";
    public const string Success = "SUCCESS";
    public const string Closed = "CLOSED";
    public const string Abnormal = "ABNORMAL";

    public const string SuccessEvent = "REFUND.SUCCESS";
    public const string AbnormalEvent = "REFUND.ABNORMAL";
    public const string ClosedEvent = "REFUND.CLOSED";
}

/// <summary>
/// <c>POST /v3/refund/domestic/refunds</c> as we call it for a Pay Score deduction: always by <c>transaction_id</c>.
/// The client fills <c>sub_mchid</c> (partner mode) and <c>notify_url</c>.
/// </summary>
public sealed record CreateRefundRequest(string OutRefundNo, string TransactionId, long Refund, long Total, string? Reason);

public sealed record RefundAmount
{
    public long Total { get; init; }
    public long Refund { get; init; }
    public long? PayerTotal { get; init; }
    public long? PayerRefund { get; init; }
    public string? Currency { get; init; }
}

/// <summary>The refund object of create and query answers (unknown members are ignored).</summary>
public sealed record WeChatRefund
{
    public string? RefundId { get; init; }
    public string? OutRefundNo { get; init; }
    public string? TransactionId { get; init; }
    public string? OutTradeNo { get; init; }
    public string? Channel { get; init; }
    public string? UserReceivedAccount { get; init; }
    public string? SuccessTime { get; init; }
    public string? CreateTime { get; init; }

    /// <summary>PROCESSING, SUCCESS, CLOSED or ABNORMAL.</summary>
    public string? Status { get; init; }

    public RefundAmount? Amount { get; init; }
}

/// <summary>The decrypted resource of a REFUND.* callback.</summary>
public sealed record WeChatRefundNotice
{
    [JsonPropertyName("mchid")]
    public string? MchId { get; init; }

    [JsonPropertyName("sp_mchid")]
    public string? SpMchId { get; init; }

    [JsonPropertyName("sub_mchid")]
    public string? SubMchId { get; init; }

    public string? OutTradeNo { get; init; }
    public string? TransactionId { get; init; }
    public string? OutRefundNo { get; init; }
    public string? RefundId { get; init; }

    /// <summary>SUCCESS, CLOSED (some write CLOSE) or ABNORMAL.</summary>
    public string? RefundStatus { get; init; }

    public string? SuccessTime { get; init; }
    public string? UserReceivedAccount { get; init; }
    public RefundAmount? Amount { get; init; }
}

public sealed partial class WeChatPayClient
{
    /// <summary>
    /// Refund create. Throws <see cref="WeChatPayException"/> on a refusal (its <c>Code</c>, e.g. NOT_ENOUGH,
    /// INVALID_REQUEST) or failure (<see cref="WeChatPayException.IsTransient"/>).
    /// </summary>
    public Task<WeChatRefund> CreateRefundAsync(CreateRefundRequest request, CancellationToken cancellationToken) =>
        throw new NotImplementedException();

    /// <summary>Refund query by our <c>out_refund_no</c> (partner: with <c>sub_mchid</c>); 404 RESOURCE_NOT_EXISTS throws.</summary>
    public Task<WeChatRefund> QueryRefundAsync(string outRefundNo, CancellationToken cancellationToken) =>
        throw new NotImplementedException();
}
