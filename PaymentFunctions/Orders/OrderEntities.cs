using Azure;
using Azure.Data.Tables;

namespace PaymentFunctions.Orders;

/// <summary>
/// Order states. <c>Expired</c> is stored by the order's final check (kind <c>pyun.expire</c>) and read off the clock
/// until then (see <see cref="OrderLifecycle.EffectiveStatus"/>).
/// </summary>
public enum OrderStatus
{
    Created,
    Pending,
    Paid,
    Failed,
    Expired,
    AmountMismatch,
    PaidAfterClose,
}

/// <summary>
/// Row keys inside an order's partition: the order row, its payment attempts and its timeline. One
/// partition per order keeps every operation a point read or an entity-group transaction.
/// </summary>
public static class OrderRows
{
    public const string Order = "order";

    public static string Attempt(int number) => $"attempt-{number:D3}";

    public static string Timeline(string eventKey) => Storage.TableWrites.TimelinePrefix + eventKey;
}

public sealed class OrderEntity : ITableEntity
{
    public string PartitionKey { get; set; } = "";
    public string RowKey { get; set; } = OrderRows.Order;
    public DateTimeOffset? Timestamp { get; set; }
    public ETag ETag { get; set; }

    public string MerchantOrderNo { get; set; } = "";
    public string Subject { get; set; } = "";
    public string? Body { get; set; }
    public long Amount { get; set; }
    public string Scene { get; set; } = "";
    /// <summary>The scene fields as the compact JSON text sent to P云 as <c>extra</c>.</summary>
    public string Extra { get; set; } = "{}";
    public string Status { get; set; } = nameof(OrderStatus.Created);
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
    public DateTimeOffset ExpiresAt { get; set; }

    public int AttemptCount { get; set; }

    public DateTimeOffset? PaidAt { get; set; }
    public long? PaidAmount { get; set; }
    public string? PaidPayOrder { get; set; }
    public string? Channel { get; set; }
    public string? PaySerial { get; set; }
    public string? TradeNo { get; set; }
    public long? Fee { get; set; }
    public string? Payer { get; set; }

    /// <summary>Money was taken that must go back: a second payment, a wrong amount, a payment after close.</summary>
    public bool RefundRequired { get; set; }
    public DateTimeOffset? LastQueryAt { get; set; }

    /// <summary>
    /// What P云 results have made of each attempt, one character per attempt number (the first is attempt 1):
    /// <c>Y</c> paying, <c>P</c> paid, <c>F</c> failed, <c>-</c> nothing yet (the attempt row says Preparing,
    /// Prepared or PrepareFailed). Only the processor sets these states, always in a transaction with this row, so
    /// a decision needs no read of the attempt row; the attempt rows keep the details.
    /// </summary>
    public string? AttemptResults { get; set; }

    /// <summary>The timeline row key of the last P云 result applied: that result again is a duplicate, without a write.</summary>
    public string? LastEvent { get; set; }

    /// <summary>Refunded, of every payment of this order (fen); changed only with this row's ETag (see <see cref="RefundLifecycle"/>).</summary>
    public long RefundedAmount { get; set; }

    /// <summary>Sent or about to be sent to P云, not yet decided (fen).</summary>
    public long RefundingAmount { get; set; }

    /// <summary>Refunds created so far: numbers the P云 refund order of the next one.</summary>
    public int RefundCount { get; set; }

    /// <summary>
    /// Events staged for this order so far: the next one's <c>sequence</c> is this + 1. Bumped only in the transaction
    /// that writes the event row with this row's ETag (see <see cref="OrderEvents"/>); rows from before events read 0.
    /// </summary>
    public long EventCount { get; set; }

    public OrderStatus StatusValue
    {
        get => Enum.Parse<OrderStatus>(Status);
        set => Status = value.ToString();
    }

    /// <summary>The state P云 results gave attempt <paramref name="number"/> (Paying, Paid, Failed), or null when none did.</summary>
    public string? AttemptResult(int number) =>
        AttemptResults is { } results && number >= 1 && number <= results.Length
            ? results[number - 1] switch
            {
                'Y' => AttemptStates.Paying,
                'P' => AttemptStates.Paid,
                'F' => AttemptStates.Failed,
                _ => null,
            }
            : null;

    /// <summary>Records the attempt's state when it is one that P云 results set; other states leave it as it was.</summary>
    public void RecordAttemptResult(int number, string state)
    {
        var mark = state switch
        {
            AttemptStates.Paying => 'Y',
            AttemptStates.Paid => 'P',
            AttemptStates.Failed => 'F',
            _ => '\0',
        };
        if (mark == '\0' || number < 1)
        {
            return;
        }

        var results = (AttemptResults ?? "").PadRight(number, '-').ToCharArray();
        results[number - 1] = mark;
        AttemptResults = new string(results);
    }
}

public sealed class AttemptEntity : ITableEntity
{
    public string PartitionKey { get; set; } = "";
    public string RowKey { get; set; } = "";
    public DateTimeOffset? Timestamp { get; set; }
    public ETag ETag { get; set; }

    public int Number { get; set; }
    public string PayOrder { get; set; } = "";
    public string? PayId { get; set; }
    public string Client { get; set; } = "";
    public string? Payer { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset ExpiresAt { get; set; }
    /// <summary>Preparing, Prepared, PrepareFailed, Paying, Paid, Failed.</summary>
    public string State { get; set; } = AttemptStates.Preparing;
    public long? PaidAmount { get; set; }
    public string? PaySerial { get; set; }
    public bool RefundRequired { get; set; }
    public string? RefundReason { get; set; }

    /// <summary>Of <see cref="PaidAmount"/>, refunded (fen); changed only together with the order row's ETag.</summary>
    public long RefundedAmount { get; set; }

    /// <summary>Of <see cref="PaidAmount"/>, in refunds not yet decided (fen).</summary>
    public long RefundingAmount { get; set; }
}

public static class AttemptStates
{
    public const string Preparing = "Preparing";
    public const string Prepared = "Prepared";
    public const string PrepareFailed = "PrepareFailed";
    public const string Paying = "Paying";
    public const string Paid = "Paid";
    public const string Failed = "Failed";
}

/// <summary>One row per notification, query answer or transition; its key makes a replay a no-op.</summary>
public sealed class TimelineEntity : ITableEntity
{
    public string PartitionKey { get; set; } = "";
    public string RowKey { get; set; } = "";
    public DateTimeOffset? Timestamp { get; set; }
    public ETag ETag { get; set; }

    public DateTimeOffset At { get; set; }
    public string Kind { get; set; } = "";
    public string? FromStatus { get; set; }
    public string? ToStatus { get; set; }
    public string Outcome { get; set; } = "";
    /// <summary>The verified fields as JSON (no secrets: P云 notifications carry none).</summary>
    public string? Data { get; set; }
}

/// <summary><c>merchantOrderNo → orderId</c>, inserted if absent, with the request fingerprint for idempotency.</summary>
public sealed class OrderIndexEntity : ITableEntity
{
    public string PartitionKey { get; set; } = "";
    public string RowKey { get; set; } = "";
    public DateTimeOffset? Timestamp { get; set; }
    public ETag ETag { get; set; }

    public string OrderId { get; set; } = "";
    public string Fingerprint { get; set; } = "";
    /// <summary>The accepted request, so a crash between the index and the order row heals on retry.</summary>
    public string Request { get; set; } = "";
    public DateTimeOffset CreatedAt { get; set; }
}
