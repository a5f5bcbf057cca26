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

    public async Task<RefundEntity?> GetRefundAsync(string orderId, string refundNo, CancellationToken cancellationToken)
    {
        await storage.EnsureCreatedAsync(cancellationToken);
        var response = await storage.Orders.GetEntityIfExistsAsync<RefundEntity>(orderId, RefundLifecycle.Row(refundNo), cancellationToken: cancellationToken);
        return response.HasValue ? response.Value : null;
    }

    /// <summary>The order's refunds, oldest first: a range query inside the order's partition, never a scan.</summary>
    public async Task<List<RefundEntity>> ListRefundsAsync(string orderId, CancellationToken cancellationToken)
    {
        await storage.EnsureCreatedAsync(cancellationToken);
        // Row keys refund-… sort before "refund." ('.' follows '-'), so the range is exactly the prefix.
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {orderId} and RowKey ge {RefundLifecycle.RowPrefix} and RowKey lt {"refund."}");
        var refunds = new List<RefundEntity>();
        await foreach (var refund in storage.Orders.QueryAsync<RefundEntity>(filter, cancellationToken: cancellationToken))
        {
            refunds.Add(refund);
        }

        return [.. refunds.OrderBy(r => r.CreatedAt).ThenBy(r => r.RowKey, StringComparer.Ordinal)];
    }

    /// <summary>
    /// Adds a refund: the order row (with its ETag: the partition's lock on refund amounts), the attempt's refund
    /// amounts, the new refund row and, when given, its timeline row, in one transaction. Throws
    /// <see cref="ConcurrencyException"/> when the order changed since it was read (or the refund row exists).
    /// </summary>
    public async Task AddRefundAsync(OrderEntity order, AttemptEntity attempt, RefundEntity refund, TimelineEntity? timeline, CancellationToken cancellationToken)
    {
        var actions = new List<TableTransactionAction>(4)
        {
            new(TableTransactionActionType.UpdateMerge, order, order.ETag),
            new(TableTransactionActionType.UpdateMerge, RefundAmounts(attempt), ETag.All),
            new(TableTransactionActionType.Add, refund),
        };
        if (timeline is not null)
        {
            actions.Add(new(TableTransactionActionType.Add, timeline));
        }

        await SubmitAsync(actions, cancellationToken);
    }

    /// <summary>
    /// Ends a refund: the order row (its ETag), the attempt's refund amounts, the refund row (its ETag, so a round
    /// that claimed it meanwhile makes this decide again), the timeline row and the event row it stages, in one
    /// transaction. False: the timeline row exists (a replay), nothing written.
    /// </summary>
    public Task<bool> CompleteRefundAsync(OrderEntity order, AttemptEntity attempt, RefundEntity refund, TimelineEntity timeline,
        TableTransactionAction eventRow, CancellationToken cancellationToken) =>
        SubmitAsync(
        [
            new(TableTransactionActionType.Add, timeline),
            new(TableTransactionActionType.UpdateMerge, order, order.ETag),
            new(TableTransactionActionType.UpdateMerge, RefundAmounts(attempt), ETag.All),
            new(TableTransactionActionType.UpdateMerge, refund, refund.ETag),
            eventRow,
        ], cancellationToken);

    /// <summary>Writes the refund row alone if unchanged since read (a round's claim, a stage): false when someone else wrote it.</summary>
    public async Task<bool> TrySaveRefundAsync(RefundEntity refund, CancellationToken cancellationToken)
    {
        try
        {
            var response = await storage.Orders.UpdateEntityAsync(refund, refund.ETag, TableUpdateMode.Merge, cancellationToken);
            refund.ETag = response.Headers.ETag ?? refund.ETag;
            return true;
        }
        catch (RequestFailedException ex) when (ex.Status == 412)
        {
            return false;
        }
    }

    /// <summary>Adds a timeline row on its own (a P云 answer recorded but not applied); false when it already exists.</summary>
    public async Task<bool> TryAddTimelineAsync(TimelineEntity timeline, CancellationToken cancellationToken)
    {
        try
        {
            await storage.Orders.AddEntityAsync(timeline, cancellationToken);
            return true;
        }
        catch (RequestFailedException ex) when (ex.Status == 409)
        {
            return false;
        }
    }

    /// <summary>Only an attempt's refund amounts, so a merge overwrites nothing the payment results own.</summary>
    public static TableEntity RefundAmounts(AttemptEntity attempt) => new(attempt.PartitionKey, attempt.RowKey)
    {
        [nameof(AttemptEntity.RefundedAmount)] = attempt.RefundedAmount,
        [nameof(AttemptEntity.RefundingAmount)] = attempt.RefundingAmount,
    };

    public Task<bool> SubmitAsync(IReadOnlyList<TableTransactionAction> actions, CancellationToken cancellationToken) =>
        TableWrites.SubmitAsync(storage.Orders, actions, cancellationToken);
}
