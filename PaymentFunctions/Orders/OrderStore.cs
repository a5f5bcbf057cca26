using Azure;
using Azure.Data.Tables;
using PaymentFunctions.Storage;

namespace PaymentFunctions.Orders;

/// <summary>Point reads and conditional writes on an order's partition.</summary>
public sealed class OrderStore(StorageResources storage)
{
    public TableClient Table => storage.Orders;

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

    public Task<bool> SubmitAsync(IReadOnlyList<TableTransactionAction> actions, CancellationToken cancellationToken) =>
        SubmitAsync(storage.Orders, actions, cancellationToken);

    /// <summary>
    /// Writes the given rows of one partition in one entity-group transaction. Returns false when a timeline row
    /// that was to be added already exists (a replay): then nothing was written.
    /// Throws <see cref="ConcurrencyException"/> when an ETag no longer matches (re-read and decide again).
    /// Shared by every table whose partitions carry a timeline (orders and Pay Score orders).
    /// </summary>
    public static async Task<bool> SubmitAsync(TableClient table, IReadOnlyList<TableTransactionAction> actions, CancellationToken cancellationToken)
    {
        try
        {
            var responses = await table.SubmitTransactionAsync(actions, cancellationToken);
            // Each row now carries the ETag it was written with, so a caller can write it again without re-reading it.
            for (var i = 0; i < actions.Count && i < responses.Value.Count; i++)
            {
                if (responses.Value[i].Headers.ETag is { } etag)
                {
                    actions[i].Entity.ETag = etag;
                }
            }

            return true;
        }
        catch (TableTransactionFailedException ex) when (ex.Status == 409 && IsAdd(actions, ex.FailedTransactionActionIndex))
        {
            return false;
        }
        catch (TableTransactionFailedException ex) when (ex.Status is 412 or 409 or 404)
        {
            throw new ConcurrencyException(ex);
        }
        catch (RequestFailedException ex) when (ex.Status is 412)
        {
            throw new ConcurrencyException(ex);
        }
    }

    private static bool IsAdd(IReadOnlyList<TableTransactionAction> actions, int? index) =>
        index is { } i && i < actions.Count && actions[i].ActionType == TableTransactionActionType.Add &&
        actions[i].Entity.RowKey.StartsWith("evt-", StringComparison.Ordinal);
}

/// <summary>Someone else changed the order between our read and our write.</summary>
public sealed class ConcurrencyException(Exception inner) : Exception("The order changed concurrently.", inner);
