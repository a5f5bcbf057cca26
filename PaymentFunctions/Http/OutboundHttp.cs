using System.Net;
using System.Net.Http.Headers;

namespace PaymentFunctions.Http;

/// <summary>Why a call to a payment platform produced no usable answer, for the platform's own exception.</summary>
/// <param name="Problem">Completes "P云 trade query …" / "WeChat Pay create …", e.g. "could not be reached".</param>
/// <param name="Status">The HTTP status when an answer did start, else null.</param>
/// <param name="Headers">The answer's headers when it did start (request ids for support), else null.</param>
public sealed record OutboundFailure(string Problem, HttpStatusCode? Status, HttpResponseHeaders? Headers, Exception? Inner);

/// <summary>A platform's answer: its status and headers, and its whole body (at most <see cref="OutboundHttp.MaxResponseBytes"/>).</summary>
public sealed record OutboundAnswer(HttpResponseMessage Response, byte[] Body) : IDisposable
{
    public void Dispose() => Response.Dispose();
}

/// <summary>
/// Calls to a payment platform: a per-call deadline that covers the whole answer, a cap on the answer's size,
/// and every failure turned into the platform's own exception.
/// </summary>
public static class OutboundHttp
{
    /// <summary>Far above any answer P云 or WeChat Pay gives (a few KiB); an answer above it is not read further.</summary>
    public const int MaxResponseBytes = 64 * 1024;

    /// <summary>Sends and reads the whole answer (at most <see cref="MaxResponseBytes"/>) inside <paramref name="timeout"/>.</summary>
    /// <param name="failure">Builds the exception to throw when there is no usable answer.</param>
    /// <returns>The response with its body read; dispose it.</returns>
    public static async Task<OutboundAnswer> SendAsync(HttpClient http, HttpRequestMessage request, TimeSpan timeout,
        Func<OutboundFailure, Exception> failure, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        HttpResponseMessage response;
        try
        {
            // Headers only: the body is read below, bounded, so a huge answer is never buffered whole.
            response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, deadline.Token);
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            throw failure(new("could not be reached", null, null, ex));
        }

        try
        {
            var tooLarge = new OutboundFailure($"answered more than {MaxResponseBytes / 1024} KiB", response.StatusCode, response.Headers, null);
            if (response.Content.Headers.ContentLength > MaxResponseBytes)
            {
                throw failure(tooLarge);
            }

            byte[]? body;
            try
            {
                // Still inside the deadline, so a platform that stalls mid-answer is also cut off.
                body = await ReadAtMostAsync(response.Content, MaxResponseBytes, deadline.Token);
            }
            catch (Exception ex) when (ex is HttpRequestException or IOException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                throw failure(new("answer could not be read", response.StatusCode, response.Headers, ex));
            }

            if (body is null)
            {
                throw failure(tooLarge);
            }

            return new OutboundAnswer(response, body);
        }
        catch
        {
            // Closes the connection without draining whatever is left of a refused answer.
            response.Dispose();
            throw;
        }
    }

    /// <summary>
    /// True for localhost and IP literals in 127.0.0.0/8 or ::1: the only places plain http may reach a platform
    /// (the fakes on this machine). <see cref="Uri"/> already canonicalizes the host name "loopback" to localhost.
    /// </summary>
    public static bool IsLoopback(Uri uri) => uri.HostNameType switch
    {
        UriHostNameType.Dns => string.Equals(uri.Host, "localhost", StringComparison.OrdinalIgnoreCase),
        UriHostNameType.IPv4 or UriHostNameType.IPv6 => IPAddress.TryParse(uri.DnsSafeHost, out var ip) && IPAddress.IsLoopback(ip),
        _ => false,
    };

    /// <summary>The whole body, or null as soon as it proves longer than <paramref name="limit"/> bytes.</summary>
    private static async Task<byte[]?> ReadAtMostAsync(HttpContent content, int limit, CancellationToken cancellationToken)
    {
        await using var stream = await content.ReadAsStreamAsync(cancellationToken);
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await stream.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > limit)
            {
                return null;
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }
}
