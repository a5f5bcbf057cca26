using Azure;
using Azure.Data.Tables;
using PaymentFunctions.Storage;

namespace PaymentFunctions.Orders;

/// <summary>
/// The only code that touches the P云 orders' tables (orders and the merchant order number index): point reads,
/// inserts and conditional writes of typed rows. The tables are created on first use, here.
/// </summary>
public sealed class OrderStore(StorageResources storage)
{
    public async Task<OrderEntity?> GetOrderAsync(string orderId, CancellationToken cancellationToken)
    {
        await storage.EnsureCreatedAsync(cancellationToken);
        var response = await storage.Orders.GetEntityIfExistsAsync<OrderEntity>(orderId, OrderRows.Order, cancellationToken: cancellationToken);
        return response.HasValue ? response.Value : null;
    }

    public async Task<AttemptEntity?> GetAttemptAsync(string orderId, int number, CancellationToken cancellationToken)
    {
        await storage.EnsureCreatedAsync(cancellationToken);
        var response = await storage.Orders.GetEntityIfExistsAsync<AttemptEntity>(orderId, OrderRows.Attempt(number), cancellationToken: cancellationToken);
        return response.HasValue ? response.Value : null;
    }

    /// <summary>Inserts the index row if its merchant order number has none; false (nothing written) when it has.</summary>
    public async Task<bool> TryAddIndexAsync(OrderIndexEntity index, CancellationToken cancellationToken)
    {
        await storage.EnsureCreatedAsync(cancellationToken);
        try
        {
            await storage.OrderIndex.AddEntityAsync(index, cancellationToken);
            return true;
        }
        catch (RequestFailedException ex) when (ex.Status == 409)
        {
            return false;
        }
    }

    /// <summary>The index row of a merchant order number that has one.</summary>
    public async Task<OrderIndexEntity> GetIndexAsync(string merchantOrderNo, CancellationToken cancellationToken)
    {
        await storage.EnsureCreatedAsync(cancellationToken);
        return (await storage.OrderIndex.GetEntityAsync<OrderIndexEntity>(merchantOrderNo, "", cancellationToken: cancellationToken)).Value;
    }

    /// <summary>Inserts a new order row; when a concurrent identical request wrote it first, returns that one.</summary>
    public async Task<OrderEntity> AddOrderAsync(OrderEntity order, CancellationToken cancellationToken)
    {
        await storage.EnsureCreatedAsync(cancellationToken);
        try
        {
            await storage.Orders.AddEntityAsync(order, cancellationToken);
            return order;
        }
        catch (RequestFailedException ex) when (ex.Status == 409)
        {
            return (await GetOrderAsync(order.PartitionKey, cancellationToken))!;
        }
    }

    /// <summary>
    /// Sets <c>LastQueryAt</c> on the order row if it is unchanged since it was read (its ETag): true for the one
    /// caller that wins, false when someone else just queried or a result just arrived.
    /// </summary>
    public Task<bool> TryClaimQueryAsync(OrderEntity order, DateTimeOffset now, CancellationToken cancellationToken) =>
        TableWrites.TryMergeIfUnchangedAsync(storage.Orders, order.PartitionKey, OrderRows.Order, order.ETag, nameof(OrderEntity.LastQueryAt), now, cancellationToken);

    /// <summary>
    /// Writes the order row (with its ETag) and adds the new attempt row in one transaction: the claim of the
    /// attempt number. Throws <see cref="ConcurrencyException"/> when the order changed since it was read.
    /// </summary>
    public async Task ClaimAttemptAsync(OrderEntity order, AttemptEntity attempt, CancellationToken cancellationToken) =>
        await SubmitAsync([new(TableTransactionActionType.UpdateMerge, order, order.ETag), new(TableTransactionActionType.Add, attempt)], cancellationToken);

    /// <summary>
    /// Writes the prepared attempt (unconditionally: only its own prepare writes it before a result exists) and,
    /// when given, the order row with its ETag, in one transaction.
    /// </summary>
    public async Task SavePreparedAsync(AttemptEntity attempt, OrderEntity? order, CancellationToken cancellationToken)
    {
        var actions = new List<TableTransactionAction> { new(TableTransactionActionType.UpdateMerge, attempt, ETag.All) };
        if (order is not null)
        {
            actions.Add(new(TableTransactionActionType.UpdateMerge, order, order.ETag));
        }

        await SubmitAsync(actions, cancellationToken);
    }

    /// <summary>Merges the attempt row whatever its ETag (a prepare that failed marks its own attempt).</summary>
    public Task MergeAttemptAsync(AttemptEntity attempt, CancellationToken cancellationToken) =>
        storage.Orders.UpdateEntityAsync(attempt, ETag.All, TableUpdateMode.Merge, cancellationToken);

    public Task<bool> SubmitAsync(IReadOnlyList<TableTransactionAction> actions, CancellationToken cancellationToken) =>
        TableWrites.SubmitAsync(storage.Orders, actions, cancellationToken);
}
