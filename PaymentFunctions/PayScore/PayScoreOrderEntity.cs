using System.Text.Json.Serialization;
using Azure;
using Azure.Data.Tables;
using PaymentFunctions.WeChatPay;

namespace PaymentFunctions.PayScore;

/// <summary>
/// A Pay Score service order, one partition per <c>out_order_no</c> in table <c>PayScoreOrders</c>: the order row
/// (<c>order</c>) and its timeline (<c>evt-…</c>), written together in one conditional transaction.
/// </summary>
public sealed class PayScoreOrderEntity : ITableEntity
{
    public string PartitionKey { get; set; } = "";
    public string RowKey { get; set; } = Orders.OrderRows.Order;
    public DateTimeOffset? Timestamp { get; set; }
    public ETag ETag { get; set; }

    /// <summary>SHA-256 of the canonical create request: the same request may be repeated, a different one may not.</summary>
    public string Fingerprint { get; set; } = "";
    /// <summary>The create request as sent to WeChat (snake_case JSON), so a repeat re-sends exactly it.</summary>
    public string CreateRequest { get; set; } = "";
    /// <summary>Empty until WeChat accepted the create; then CREATED, DOING, DONE, REVOKED or EXPIRED.</summary>
    public string State { get; set; } = "";
    public string? StateDescription { get; set; }
    public string? CollectionState { get; set; }
    public string? Package { get; set; }
    public string? WeChatOrderId { get; set; }
    public long? TotalAmount { get; set; }
    public long? PaidAmount { get; set; }
    public string? TransactionId { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
    /// <summary>When a query by <c>outOrderNo</c> last asked WeChat; claimed with the row's ETag, so one caller asks per interval.</summary>
    public DateTimeOffset? LastQueryAt { get; set; }

    public bool IsCreated => State.Length > 0;
}

/// <summary>
/// Pay Score states in the order they can happen (WeChat Pay API v3, 支付分 查询支付分订单: state, state_description). An observation only ever moves an order forward,
/// so a late USER_CONFIRM never undoes USER_PAID and nothing leaves REVOKED, EXPIRED or DONE.
/// </summary>
public static class PayScoreProgress
{
    public static int Rank(string? state, string? description, string? collection) => (state, description) switch
    {
        (PayScoreStates.Created, _) => 1,
        (PayScoreStates.Doing, PayScoreStates.MchComplete) => 3,
        (PayScoreStates.Doing, _) => 2, // USER_CONFIRM
        (PayScoreStates.Done, _) => 4,
        (PayScoreStates.Revoked, _) or (PayScoreStates.Expired, _) => 4,
        _ => 0,
    };

    public static int Rank(PayScoreOrderEntity e) => Rank(e.State, e.StateDescription, e.CollectionState);

    public static int Rank(PayScoreServiceOrder o) => Rank(o.State, o.StateDescription, o.Collection?.State);

    /// <summary>Confirmed means the user accepted: DOING (USER_CONFIRM or MCH_COMPLETE) or DONE, never just CREATED.</summary>
    public static bool IsConfirmed(PayScoreOrderEntity e) => e.State is PayScoreStates.Doing or PayScoreStates.Done;

    public static bool IsFinal(PayScoreOrderEntity e) => e.State is PayScoreStates.Done or PayScoreStates.Revoked or PayScoreStates.Expired;
}

/// <summary>
/// The Pay Score order as our API shows it, in camelCase mirroring WeChat's names. <c>openBusinessView</c> is
/// only in create answers; the others leave it out rather than send null.
/// </summary>
public sealed record PayScoreOrderView(
    string OutOrderNo,
    string State,
    string? StateDescription,
    string? CollectionState,
    bool Confirmed,
    bool Paid,
    long? TotalAmount,
    long? PaidAmount,
    string? TransactionId,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] PayScoreMiniProgramLaunch? OpenBusinessView)
{
    public static PayScoreOrderView From(PayScoreOrderEntity e, bool withLaunch = false) => new(
        e.PartitionKey, e.State, NullIfEmpty(e.StateDescription), NullIfEmpty(e.CollectionState), PayScoreProgress.IsConfirmed(e),
        e.State == PayScoreStates.Done && e.CollectionState == PayScoreStates.UserPaid,
        e.TotalAmount, e.PaidAmount, e.TransactionId,
        withLaunch && e.Package is { Length: > 0 } package ? PayScoreMiniProgramLaunch.FromPackage(package) : null);

    private static string? NullIfEmpty(string? s) => string.IsNullOrEmpty(s) ? null : s;
}
