using System.Security.Cryptography;
using System.Text;
using Azure;
using Azure.Data.Tables;
using PaymentFunctions.Http;
using PaymentFunctions.Storage;

namespace PaymentFunctions.Notifications;

/// <summary>A verified notification about an order we do not have, as an operator will see it.</summary>
/// <param name="Platform"><c>pyun</c> or <c>wechatpay</c>.</param>
/// <param name="Kind">The envelope kind, e.g. <c>pyun.trade</c>.</param>
/// <param name="Reference">The platform's order reference we do not know (<c>pay_order</c>, <c>out_order_no</c>).</param>
/// <param name="EventKey">What makes this notification itself unique (P云's fact key, WeChat Pay's notification id).</param>
/// <param name="Payload">The envelope's payload as received (P云: the verified form fields; WeChat Pay: the decrypted callback).</param>
public sealed record OrphanNotification(string Platform, string Kind, string Reference, string EventKey, DateTimeOffset ReceivedAt, string Reason, string Payload);

/// <summary>
/// A row of <c>{prefix}PaymentOrphans</c>: partition = platform, row = a hash of kind, reference and event key, so a
/// replay of the same notification (a redelivered message, or the platform sending it again) finds its row and
/// writes no second one.
/// </summary>
public sealed class OrphanEntity : ITableEntity
{
    public string PartitionKey { get; set; } = "";
    public string RowKey { get; set; } = "";
    public DateTimeOffset? Timestamp { get; set; }
    public ETag ETag { get; set; }

    public string Kind { get; set; } = "";
    public string Reference { get; set; } = "";
    public string EventKey { get; set; } = "";
    public DateTimeOffset ReceivedAt { get; set; }
    public DateTimeOffset RecordedAt { get; set; }
    public string Reason { get; set; } = "";
    public string Payload { get; set; } = "";
}

/// <summary>Records orphans: notifications no retry can apply, kept where an operator can see them.</summary>
public sealed class OrphanStore(StorageResources storage, TimeProvider clock, ILogger<OrphanStore> logger)
{
    /// <summary>
    /// Adds the orphan's row and logs one warning; true. A replay finds the row and changes nothing; false.
    /// A storage failure throws, and the message is retried like any transient failure.
    /// </summary>
    public async Task<bool> RecordAsync(OrphanNotification orphan, CancellationToken cancellationToken)
    {
        await storage.EnsureCreatedAsync(cancellationToken);
        var row = new OrphanEntity
        {
            PartitionKey = orphan.Platform,
            RowKey = Key(orphan.Kind, orphan.Reference, orphan.EventKey),
            Kind = orphan.Kind,
            Reference = orphan.Reference,
            EventKey = orphan.EventKey,
            ReceivedAt = orphan.ReceivedAt,
            RecordedAt = clock.GetUtcNow(),
            Reason = orphan.Reason,
            Payload = orphan.Payload,
        };
        try
        {
            await storage.Orphans.AddEntityAsync(row, cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status == 409)
        {
            logger.LogInformation("Orphan {Platform} {Kind} for {Reference} is already recorded ({Table}/{RowKey}); nothing changed",
                orphan.Platform, orphan.Kind, LogValue.Safe(orphan.Reference), storage.Orphans.Name, row.RowKey);
            return false;
        }

        logger.LogWarning("ORPHAN {Platform} {Kind} for {Reference}: {Reason} Recorded in {Table} ({PartitionKey}/{RowKey}); the message is completed",
            orphan.Platform, orphan.Kind, LogValue.Safe(orphan.Reference), LogValue.Safe(orphan.Reason, 256), storage.Orphans.Name, row.PartitionKey, row.RowKey);
        return true;
    }

    /// <summary>Table keys forbid some characters a platform's reference may hold, so the row key is a hash.</summary>
    public static string Key(string kind, string reference, string eventKey) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{kind}\n{reference}\n{eventKey}")).AsSpan(0, 16));
}
