using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace PaymentFunctions.Benchmarks;

/// <summary>
/// A loopback TCP forwarder in front of one Azurite port that reads the HTTP/1.1 requests going through it
/// (request line and Content-Length, skipping bodies, so a batch's inner requests are not counted) and counts
/// them by kind. It can also be cut, to play a storage outage.
/// </summary>
public sealed class CountingProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly int _target;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<TcpClient, byte> _open = new();
    private readonly ConcurrentDictionary<string, long> _counts = new(StringComparer.Ordinal);
    private volatile bool _cut;

    private readonly string _service;

    /// <param name="service">"table" or "queue": how to read the paths.</param>
    public CountingProxy(string service, int targetPort)
    {
        _service = service;
        _target = targetPort;
        _listener.Start(512);
        _ = AcceptLoopAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Requests by kind so far (see <see cref="Classify"/>).</summary>
    public Dictionary<string, long> Snapshot() => new(_counts, StringComparer.Ordinal);

    public long Count(string kind) => _counts.GetValueOrDefault(kind);

    /// <summary>Drops every open connection and resets new ones until <see cref="Restore"/>.</summary>
    public void Cut()
    {
        _cut = true;
        foreach (var client in _open.Keys)
        {
            Reset(client);
        }
    }

    public void Restore() => _cut = false;

    /// <summary>
    /// The kind of a storage request from its service, method and path: queue send / receive / delete / update /
    /// create, table batch / read / insert / update / delete / query / create.
    /// </summary>
    public static string Classify(string service, string method, string target)
    {
        var q = target.IndexOf('?', StringComparison.Ordinal);
        var path = q < 0 ? target : target[..q];
        var query = q < 0 ? "" : target[q..];
        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries); // account, resource, ...
        var resource = parts.Length > 1 ? Uri.UnescapeDataString(parts[1]) : "";
        if (service == "queue")
        {
            if (parts.Length >= 3 && parts[2] == "messages")
            {
                return method switch
                {
                    "POST" => "queue.send",
                    "GET" when query.Contains("peekonly=true", StringComparison.OrdinalIgnoreCase) => "queue.peek",
                    "GET" => "queue.receive",
                    "DELETE" => "queue.delete",
                    "PUT" => "queue.update",
                    _ => "queue.other",
                };
            }

            return parts.Length == 2 && method == "PUT" && query.Length == 0 ? "queue.create" : "queue.other";
        }

        if (resource == "$batch")
        {
            return "table.batch";
        }

        if (resource == "Tables" || resource.StartsWith("Tables(", StringComparison.Ordinal))
        {
            return method == "POST" ? "table.create" : "table.other";
        }

        if (resource.Contains('(', StringComparison.Ordinal) && !resource.EndsWith("()", StringComparison.Ordinal))
        {
            return method switch { "GET" => "table.read", "DELETE" => "table.delete", _ => "table.update" };
        }

        return method switch { "POST" => "table.insert", "GET" => "table.query", _ => "table.other" };
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient inbound;
            try
            {
                inbound = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException)
            {
                continue;
            }

            if (_cut)
            {
                Reset(inbound);
                continue;
            }

            _ = PipeAsync(inbound);
        }
    }

    private async Task PipeAsync(TcpClient inbound)
    {
        using var outbound = new TcpClient { NoDelay = true };
        inbound.NoDelay = true;
        _open[inbound] = 0;
        _open[outbound] = 0;
        try
        {
            await outbound.ConnectAsync(IPAddress.Loopback, _target, _stop.Token);
            var up = CountRequestsAsync(inbound.GetStream(), outbound.GetStream());
            var down = outbound.GetStream().CopyToAsync(inbound.GetStream(), _stop.Token);
            await Task.WhenAny(up, down);
        }
        catch (Exception)
        {
            // A cut or closed connection ends here.
        }
        finally
        {
            _open.TryRemove(inbound, out _);
            _open.TryRemove(outbound, out _);
            inbound.Dispose();
        }
    }

    /// <summary>Forwards the client's bytes as they come, parsing request heads on the way.</summary>
    private async Task CountRequestsAsync(NetworkStream from, NetworkStream to)
    {
        var buffer = new byte[64 * 1024];
        var head = new List<byte>(1024);
        long bodyLeft = 0;
        while (true)
        {
            var read = await from.ReadAsync(buffer, _stop.Token);
            if (read == 0)
            {
                return;
            }

            var i = 0;
            while (i < read)
            {
                if (bodyLeft > 0)
                {
                    var skip = (int)Math.Min(bodyLeft, read - i);
                    bodyLeft -= skip;
                    i += skip;
                    continue;
                }

                head.Add(buffer[i++]);
                var n = head.Count;
                if (n >= 4 && head[n - 1] == '\n' && head[n - 2] == '\r' && head[n - 3] == '\n' && head[n - 4] == '\r')
                {
                    bodyLeft = OnHead(Encoding.ASCII.GetString([.. head]));
                    head.Clear();
                }
            }

            await to.WriteAsync(buffer.AsMemory(0, read), _stop.Token);
        }
    }

    private long OnHead(string head)
    {
        var lines = head.Split("\r\n");
        var first = lines[0].Split(' ');
        if (first.Length >= 2)
        {
            _counts.AddOrUpdate(Classify(_service, first[0], first[1]), 1, (_, c) => c + 1);
        }

        foreach (var line in lines)
        {
            if (line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))
            {
                return long.Parse(line["Content-Length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
            }

            if (line.StartsWith("Transfer-Encoding:", StringComparison.OrdinalIgnoreCase) && line.Contains("chunked", StringComparison.OrdinalIgnoreCase))
            {
                throw new NotSupportedException("Chunked request bodies are not counted; the storage SDK sends Content-Length.");
            }
        }

        return 0;
    }

    private static void Reset(TcpClient client)
    {
        try
        {
            client.Client?.LingerState = new LingerOption(true, 0);
        }
        catch (ObjectDisposedException)
        {
        }

        client.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        foreach (var client in _open.Keys)
        {
            client.Dispose();
        }

        _stop.Dispose();
    }
}
