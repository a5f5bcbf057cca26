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
}
