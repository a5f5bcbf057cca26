using Azure;
using Azure.Data.Tables;
using PaymentFunctions.Events;
using PaymentFunctions.Orders;
using PaymentFunctions.Storage;

namespace PaymentFunctions.PayScore;

/// <summary>
/// The only code that reads or writes table <c>PayScoreOrders</c>: one partition per <c>out_order_no</c> holding
/// the order row and its timeline. Every write is conditional; the rules that decide what to write live in
/// <see cref="PayScoreLifecycle"/>.
/// </summary>
public sealed partial class PayScoreStore(StorageResources storage)
{
    public async Task<PayScoreOrderEntity?> GetAsync(string outOrderNo, CancellationToken cancellationToken)
    {
        await storage.EnsureCreatedAsync(cancellationToken);
        var row = await storage.PayScoreOrders.GetEntityIfExistsAsync<PayScoreOrderEntity>(outOrderNo, OrderRows.Order, cancellationToken: cancellationToken);
        return row.HasValue ? row.Value : null;
    }

    /// <summary>Inserts the claim row if the number is free; false when another request claimed it first.</summary>
    public async Task<bool> TryClaimAsync(PayScoreOrderEntity claim, CancellationToken cancellationToken)
    {
        try
        {
            var added = await storage.PayScoreOrders.AddEntityAsync(claim, cancellationToken);
            claim.ETag = added.Headers.ETag ?? ETag.All;
            return true;
        }
        catch (RequestFailedException ex) when (ex.Status == 409)
        {
            return false;
        }
    }

    /// <summary>Takes over a stale claim by merging it with its ETag; false when it was recorded, released or taken over meanwhile.</summary>
    public async Task<bool> TryTakeOverClaimAsync(PayScoreOrderEntity claim, CancellationToken cancellationToken)
    {
        try
        {
            var updated = await storage.PayScoreOrders.UpdateEntityAsync(claim, claim.ETag, TableUpdateMode.Merge, cancellationToken);
            claim.ETag = updated.Headers.ETag ?? ETag.All;
            return true;
        }
        catch (RequestFailedException ex) when (ex.Status is 404 or 412)
        {
            return false;
        }
    }

    /// <summary>Releases a claim WeChat never created an order for. Throws <see cref="RequestFailedException"/> when that fails.</summary>
    public async Task DeleteClaimAsync(PayScoreOrderEntity claim, CancellationToken cancellationToken) =>
        await storage.PayScoreOrders.DeleteEntityAsync(claim.PartitionKey, claim.RowKey, claim.ETag, cancellationToken);

    /// <summary>
    /// Records <c>LastQueryAt</c> with the row's ETag: true when we won the write, false on a 412 (someone else
    /// just asked WeChat or wrote the row).
    /// </summary>
    public Task<bool> TryClaimQueryAsync(PayScoreOrderEntity order, DateTimeOffset now, CancellationToken cancellationToken) =>
        TableWrites.TryMergeIfUnchangedAsync(storage.PayScoreOrders, order.PartitionKey, OrderRows.Order, order.ETag,
            nameof(PayScoreOrderEntity.LastQueryAt), now, cancellationToken);

    /// <summary>
    /// Records WeChat's create answer on the claimed row with its <c>created</c> timeline row. False when that
    /// timeline row exists (recorded already); throws <see cref="ConcurrencyException"/> when the ETag is stale.
    /// </summary>
    public Task<bool> TryRecordCreatedAsync(PayScoreOrderEntity order, TimelineEntity timeline, CancellationToken cancellationToken) =>
        SubmitAsync([new(TableTransactionActionType.UpdateMerge, order, order.ETag), new(TableTransactionActionType.Add, timeline)], cancellationToken);

    /// <summary>
    /// Writes an observation's timeline row, the order row it decided and the rows of the events it causes (the
    /// outbox). False when that timeline row exists (a replay: nothing written); throws <see cref="ConcurrencyException"/>
    /// when the ETag is stale.
    /// </summary>
    public Task<bool> TryRecordObservationAsync(PayScoreOrderEntity order, TimelineEntity timeline, IReadOnlyList<StagedEvent> events, CancellationToken cancellationToken) =>
        SubmitAsync([new(TableTransactionActionType.Add, timeline), new(TableTransactionActionType.UpdateMerge, order, order.ETag), .. events.Select(e => e.Action)],
            cancellationToken);

    /// <summary>The one call into the shared timeline transaction.</summary>
    private Task<bool> SubmitAsync(IReadOnlyList<TableTransactionAction> actions, CancellationToken cancellationToken) =>
        TableWrites.SubmitAsync(storage.PayScoreOrders, actions, cancellationToken);
}
