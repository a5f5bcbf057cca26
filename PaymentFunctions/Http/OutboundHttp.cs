using System.Net;

namespace PaymentFunctions.Http;

/// <summary>Calls to a payment platform: a per-call timeout, and transport failures turned into the platform's own exception.</summary>
public static class OutboundHttp
{
    /// <param name="unreachable">Builds the exception to throw when the platform cannot be reached or does not answer in time.</param>
    public static async Task<HttpResponseMessage> SendAsync(HttpClient http, HttpRequestMessage request, TimeSpan timeout,
        Func<Exception, Exception> unreachable, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            // Buffer the body inside the deadline so a platform that stalls mid-answer is also cut off.
            return await http.SendAsync(request, HttpCompletionOption.ResponseContentRead, deadline.Token);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            throw unreachable(ex);
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
}
