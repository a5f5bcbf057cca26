using Azure;
using Azure.Data.Tables;
using PaymentFunctions.Events;
using PaymentFunctions.Orders;
using PaymentFunctions.Storage;

namespace PaymentFunctions.PayScore;

/// <summary>
/// Refund rows (<c>refund-{outRefundNo}</c> in the order's partition) and the refund number index. A refund is only
/// ever written together with its order row (the refund budget, ETag-conditional) and a timeline row.
/// </summary>
public sealed partial class PayScoreStore
{
    public async Task<PayScoreRefundEntity?> GetRefundAsync(string outOrderNo, string outRefundNo, CancellationToken cancellationToken)
    {
        await storage.EnsureCreatedAsync(cancellationToken);
        var row = await storage.PayScoreOrders.GetEntityIfExistsAsync<PayScoreRefundEntity>(outOrderNo, PayScoreRefundEntity.Row(outRefundNo), cancellationToken: cancellationToken);
        return row.HasValue ? row.Value : null;
    }

    public async Task<PayScoreRefundIndexEntity?> GetRefundIndexAsync(string outRefundNo, CancellationToken cancellationToken)
    {
        await storage.EnsureCreatedAsync(cancellationToken);
        var row = await storage.PayScoreOrders.GetEntityIfExistsAsync<PayScoreRefundIndexEntity>(
            PayScoreRefundIndexEntity.Partition(outRefundNo), PayScoreRefundIndexEntity.Row, cancellationToken: cancellationToken);
        return row.HasValue ? row.Value : null;
    }

    /// <summary>Inserts the number's index row if the number is free; false when it is taken (read it to see by what).</summary>
    public async Task<bool> TryAddRefundIndexAsync(PayScoreRefundIndexEntity index, CancellationToken cancellationToken)
    {
        try
        {
            await storage.PayScoreOrders.AddEntityAsync(index, cancellationToken);
            return true;
        }
        catch (RequestFailedException ex) when (ex.Status == 409)
        {
            return false;
        }
    }

    /// <summary>Frees a number whose refund was refused before it was stored.</summary>
    public async Task DeleteRefundIndexAsync(PayScoreRefundIndexEntity index, CancellationToken cancellationToken)
    {
        try
        {
            await storage.PayScoreOrders.DeleteEntityAsync(index.PartitionKey, index.RowKey, ETag.All, cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            // already gone
        }
    }

    /// <summary>
    /// One refund write: the order row (merged with its ETag), the refund row (added when new, else replaced with its
    /// ETag), the timeline row and the rows of the events it causes (the outbox), in one transaction. Throws
    /// <see cref="ConcurrencyException"/> when either row changed since it was read, or the refund was added meanwhile
    /// (re-read and decide again).
    /// </summary>
    public async Task WriteRefundAsync(PayScoreOrderEntity order, PayScoreRefundEntity refund, TimelineEntity timeline, bool isNew,
        IReadOnlyList<StagedEvent> events, CancellationToken cancellationToken)
    {
        var written = await TableWrites.SubmitAsync(storage.PayScoreOrders,
        [
            new(TableTransactionActionType.UpdateMerge, order, order.ETag),
            isNew ? new(TableTransactionActionType.Add, refund) : new(TableTransactionActionType.UpdateReplace, refund, refund.ETag),
            new(TableTransactionActionType.Add, timeline),
            .. events.Select(e => e.Action),
        ], cancellationToken);
        if (!written)
        {
            // The timeline row of this version exists: another writer wrote the same version first.
            throw new ConcurrencyException(new InvalidOperationException($"Refund {refund.OutRefundNo} version {refund.Version} was written concurrently."));
        }
    }
}
