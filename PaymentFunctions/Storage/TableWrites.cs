using Azure;
using Azure.Data.Tables;

namespace PaymentFunctions.Storage;

/// <summary>
/// The conditional writes both products' stores make: the timeline transaction (a change and the timeline row
/// that records it, in one entity-group transaction) and the ETag-guarded merge of a single property.
/// </summary>
public static class TableWrites
{
    /// <summary>Row keys of timeline rows start with this; a timeline row is only ever added, never updated.</summary>
    public const string TimelinePrefix = "evt-";

    /// <summary>
    /// Writes the given rows of one partition in one entity-group transaction. Returns false when a timeline row
    /// that was to be added already exists (a replay): then nothing was written. On success each row carries the
    /// ETag it was written with, so a caller can write it again without re-reading it.
    /// Throws <see cref="ConcurrencyException"/> when an ETag no longer matches (re-read and decide again).
    /// </summary>
    public static async Task<bool> SubmitAsync(TableClient table, IReadOnlyList<TableTransactionAction> actions, CancellationToken cancellationToken)
    {
        try
        {
            var responses = await table.SubmitTransactionAsync(actions, cancellationToken);
            for (var i = 0; i < actions.Count && i < responses.Value.Count; i++)
            {
                if (responses.Value[i].Headers.ETag is { } etag)
                {
                    actions[i].Entity.ETag = etag;
                }
            }

            return true;
        }
        catch (TableTransactionFailedException ex) when (ex.Status == 409 && IsTimelineAdd(actions, ex.FailedTransactionActionIndex))
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

    /// <summary>
    /// Sets one property of a row if the row is unchanged since it was read (<paramref name="etag"/>): true for the
    /// one caller that wins, false when someone else wrote the row meanwhile.
    /// </summary>
    public static async Task<bool> TryMergeIfUnchangedAsync(TableClient table, string partitionKey, string rowKey, ETag etag,
        string property, object value, CancellationToken cancellationToken)
    {
        try
        {
            await table.UpdateEntityAsync(new TableEntity(partitionKey, rowKey) { [property] = value }, etag, TableUpdateMode.Merge, cancellationToken);
            return true;
        }
        catch (RequestFailedException ex) when (ex.Status == 412)
        {
            return false;
        }
    }

    private static bool IsTimelineAdd(IReadOnlyList<TableTransactionAction> actions, int? index) =>
        index is { } i && i < actions.Count && actions[i].ActionType == TableTransactionActionType.Add &&
        actions[i].Entity.RowKey.StartsWith(TimelinePrefix, StringComparison.Ordinal);
}

/// <summary>Someone else changed a row between our read and our write.</summary>
public sealed class ConcurrencyException(Exception inner) : Exception("The order changed concurrently.", inner);
