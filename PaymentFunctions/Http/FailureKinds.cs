using System.Net.Sockets;
using Azure;

namespace PaymentFunctions.Http;

/// <summary>Tells storage and network trouble (retry later) from everything else, whatever wrapper it arrives in.</summary>
public static class FailureKinds
{
    /// <summary>
    /// True when the exception, or any exception it wraps, is a storage answer, a transport failure or a timeout.
    /// The Azure SDK reports a hung service as an <see cref="AggregateException"/> of <see cref="TaskCanceledException"/>s
    /// after its retries, so cancellations count too: callers first rule out that the client itself left.
    /// </summary>
    public static bool IsTransient(Exception exception)
    {
        var pending = new Stack<Exception>();
        pending.Push(exception);
        var seen = 0;
        while (pending.Count > 0 && seen++ < 32)
        {
            switch (pending.Pop())
            {
                case RequestFailedException or HttpRequestException or TimeoutException or SocketException or IOException or OperationCanceledException:
                    return true;
                case AggregateException aggregate:
                    foreach (var inner in aggregate.InnerExceptions)
                    {
                        pending.Push(inner);
                    }

                    break;
                case { InnerException: { } inner }:
                    pending.Push(inner);
                    break;
            }
        }

        return false;
    }
}
