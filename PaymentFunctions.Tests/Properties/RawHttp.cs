using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace PaymentFunctions.Tests.Properties;

/// <summary>
/// One HTTP/1.1 request exactly as it goes on the wire: any method, target, header bytes and body, and, unlike
/// <see cref="HttpClient"/>, also a declared length the body does not have (a truncated upload).
/// </summary>
internal sealed record RawRequest(string Method, string Target, IReadOnlyList<KeyValuePair<string, string>> Headers, byte[] Body)
{
    /// <summary>Send only this many body bytes (Content-Length still says all of them), then end the upload.</summary>
    public int? TruncateAt { get; init; }

    public bool HasHeader(string name) => Headers.Any(h => h.Key.Equals(name, StringComparison.OrdinalIgnoreCase));

    /// <summary>Header names and values go out as Latin-1, one byte per char, so any byte can be sent.</summary>
    public byte[] ToBytes(string host)
    {
        var head = new StringBuilder();
        head.Append(Method).Append(' ').Append(Target).Append(" HTTP/1.1\r\n");
        if (!HasHeader("Host"))
        {
            head.Append("Host: ").Append(host).Append("\r\n");
        }

        foreach (var (name, value) in Headers)
        {
            head.Append(name).Append(": ").Append(value).Append("\r\n");
        }

        if (!HasHeader("Content-Length") && !HasHeader("Transfer-Encoding") && (Body.Length > 0 || Method is not ("GET" or "HEAD")))
        {
            head.Append("Content-Length: ").Append(Body.Length.ToString(CultureInfo.InvariantCulture)).Append("\r\n");
        }

        head.Append("Connection: close\r\n\r\n");
        return [.. Encoding.Latin1.GetBytes(head.ToString()), .. Body.AsSpan(0, Math.Min(Body.Length, TruncateAt ?? Body.Length))];
    }

    /// <summary>Printable, for a failure message or a corpus file: the head, then the body as text (or Base64 when it is not UTF-8).</summary>
    public override string ToString()
    {
        var text = new StringBuilder($"{Method} {Target}\n");
        foreach (var (name, value) in Headers)
        {
            var shown = value.Length > 200 ? value[..200] + $"…({value.Length} chars)" : value;
            text.Append(name).Append(": ").Append(shown).Append('\n');
        }

        if (TruncateAt is { } cut)
        {
            text.Append($"(upload cut after {cut} bytes)\n");
        }

        string body;
        try
        {
            body = new UTF8Encoding(false, true).GetString(Body);
        }
        catch (DecoderFallbackException)
        {
            body = "base64:" + Convert.ToBase64String(Body);
        }

        return text.Append('\n').Append(body.Length > 2000 ? body[..2000] + $"…({Body.Length} bytes)" : body).ToString();
    }
}

internal sealed record RawResponse(int Status, IReadOnlyDictionary<string, string> Headers, byte[] Body)
{
    public string Text => Encoding.UTF8.GetString(Body);
}

/// <summary>Sends a <see cref="RawRequest"/> over its own TCP connection and reads the whole answer.</summary>
internal static class RawHttp
{
    public static async Task<RawResponse> SendAsync(Uri server, RawRequest request, CancellationToken cancellationToken = default)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(20));
        using var client = new TcpClient { NoDelay = true };
        await client.ConnectAsync(server.Host, server.Port, timeout.Token);
        var stream = client.GetStream();
        try
        {
            await stream.WriteAsync(request.ToBytes(server.Authority), timeout.Token);
            if (request.TruncateAt is not null)
            {
                client.Client.Shutdown(SocketShutdown.Send);
            }
        }
        catch (IOException)
        {
            // The server may answer (413, 400) and close before it has read everything: its answer is what counts.
        }

        var received = new MemoryStream();
        try
        {
            await stream.CopyToAsync(received, timeout.Token);
        }
        catch (IOException) when (received.Length > 0)
        {
            // A reset after the answer was sent.
        }

        return Parse(received.ToArray());
    }

    /// <summary>Sends the head and the first <paramref name="bodyBytes"/> of the body, then nothing, keeping the connection open.</summary>
    public static async Task<RawResponse> SendStalledAsync(Uri server, RawRequest request, int bodyBytes, TimeSpan wait)
    {
        using var timeout = new CancellationTokenSource(wait);
        using var client = new TcpClient { NoDelay = true };
        await client.ConnectAsync(server.Host, server.Port, timeout.Token);
        var stream = client.GetStream();
        var all = request.ToBytes(server.Authority);
        await stream.WriteAsync(all.AsMemory(0, all.Length - request.Body.Length + Math.Min(bodyBytes, request.Body.Length)), timeout.Token);

        var received = new MemoryStream();
        var buffer = new byte[4096];
        try
        {
            // Read until the answer is complete (the server closes, as asked) or the wait is over.
            int read;
            while ((read = await stream.ReadAsync(buffer, timeout.Token)) > 0)
            {
                received.Write(buffer, 0, read);
            }
        }
        catch (OperationCanceledException) when (received.Length == 0)
        {
            throw new TimeoutException($"No answer within {wait.TotalSeconds} s to an upload that stalled after {bodyBytes} bytes.");
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException)
        {
        }

        return Parse(received.ToArray());
    }

    private static RawResponse Parse(byte[] bytes)
    {
        // Skip interim answers (100 Continue): the final one follows.
        while (bytes.AsSpan().StartsWith("HTTP/1.1 1"u8) && bytes.AsSpan().IndexOf("\r\n\r\n"u8) is var interim and >= 0)
        {
            bytes = bytes[(interim + 4)..];
        }

        var end = bytes.AsSpan().IndexOf("\r\n\r\n"u8);
        if (end < 0)
        {
            throw new InvalidOperationException($"No HTTP answer, only {bytes.Length} bytes: {Encoding.Latin1.GetString(bytes)}");
        }

        var lines = Encoding.Latin1.GetString(bytes, 0, end).Split("\r\n");
        var status = int.Parse(lines[0].Split(' ')[1], CultureInfo.InvariantCulture);
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            headers[line[..colon].Trim()] = line[(colon + 1)..].Trim();
        }

        var body = bytes.AsSpan(end + 4);
        if (headers.TryGetValue("Transfer-Encoding", out var te) && te.Contains("chunked", StringComparison.OrdinalIgnoreCase))
        {
            var output = new MemoryStream();
            while (true)
            {
                var lineEnd = body.IndexOf("\r\n"u8);
                var size = Convert.ToInt32(Encoding.Latin1.GetString(body[..lineEnd]).Split(';')[0].Trim(), 16);
                if (size == 0)
                {
                    break;
                }

                output.Write(body.Slice(lineEnd + 2, size));
                body = body[(lineEnd + 2 + size + 2)..];
            }

            return new RawResponse(status, headers, output.ToArray());
        }

        return new RawResponse(status, headers, body.ToArray());
    }
}
