using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;
using PaymentFunctions.Tests.Infrastructure;

namespace PaymentFunctions.Tests.Http;

/// <summary>One app on a real Kestrel socket for the whole class: nothing these requests do may leave a trace in it.</summary>
public sealed class KestrelAppFixture : IAsyncLifetime
{
    public PaymentApp App { get; } = new PaymentApp().EnableWeChatPay();

    public Uri BaseAddress { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        App.Settings["Http:WebhookDeadline"] = "00:00:01";
        // A free port through the app's own urls setting: UseKestrel(0) races Kestrel's bind in this version
        // ("Addresses cannot be modified after the server has started", dotnet/aspnetcore#67714).
        App.Settings["urls"] = "http://127.0.0.1:0";
        await App.InitializeAsync();
        App.UseKestrel();
        App.StartServer();
        using var client = App.CreateClient();
        BaseAddress = client.BaseAddress!;
    }

    public ValueTask DisposeAsync() => App.DisposeAsync();
}

/// <summary>
/// Bodies that end early, have a broken chunked encoding or arrive too slowly are the client's fault: a 4xx on
/// every POST route, no stack trace in the log, nothing stored or queued. These need a real Kestrel and raw sockets.
/// </summary>
[Trait("Category", "Slow")] // real Kestrel and raw sockets; the too-slow bodies wait out their timeouts.
public sealed class UnreadableBodyTests(KestrelAppFixture fixture) : IClassFixture<KestrelAppFixture>
{
    private PaymentApp _app => fixture.App;

    private Uri _base => fixture.BaseAddress;

    public static TheoryData<string, string> PostRoutes => new()
    {
        { "/api/orders", "application/json" },
        { "/api/orders/abcdefghijklmnopqrstuvwx/prepare", "application/json" },
        { "/api/notify/pyun", "application/x-www-form-urlencoded" },
        { "/api/notify/wechatpay", "application/json" },
        { "/api/payscore/orders", "application/json" },
        { "/api/payscore/orders/query", "application/json" },
        { "/api/payscore/orders/PS0001/complete", "application/json" },
        { "/api/payscore/orders/PS0001/cancel", "application/json" },
    };

    [Theory]
    [MemberData(nameof(PostRoutes))]
    public async Task A_body_cut_short_by_a_client_that_hangs_up_logs_no_error_and_queues_nothing(string path, string contentType)
    {
        // Nobody is left to answer (Kestrel sees the end of the connection); what matters is what the app does.
        var response = await SendRawAsync(
            $"POST {path} HTTP/1.1\r\nHost: localhost\r\nx-functions-key: {PaymentApp.FunctionKey}\r\nContent-Type: {contentType}\r\nContent-Length: 100\r\n\r\n{{\"",
            halfClose: true);
        Assert.True(response.Length == 0 || response.StartsWith("HTTP/1.1 400", StringComparison.Ordinal), $"answered: {response}");
        await AssertNothingHappenedAsync();
    }

    [Theory]
    [MemberData(nameof(PostRoutes))]
    public async Task A_bad_chunk_size_is_a_400(string path, string contentType)
    {
        var response = await SendRawAsync(
            $"POST {path} HTTP/1.1\r\nHost: localhost\r\nx-functions-key: {PaymentApp.FunctionKey}\r\nContent-Type: {contentType}\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n{{}}\r\n0\r\n\r\n",
            halfClose: false);
        Assert.True(response.StartsWith("HTTP/1.1 400", StringComparison.Ordinal), $"answered: {response}");
        await AssertNothingHappenedAsync();
    }

    [Fact]
    public async Task A_pyun_notification_body_shorter_than_its_content_length_is_a_408_in_the_platforms_shape()
    {
        var started = DateTimeOffset.UtcNow;
        var response = await SendRawAsync(
            "POST /api/notify/pyun HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\napp_id=",
            halfClose: false);
        Assert.True(response.StartsWith("HTTP/1.1 408", StringComparison.Ordinal), $"answered: {response}");
        Assert.Contains("\"code\":\"1400\"", response, StringComparison.Ordinal);
        Assert.True(DateTimeOffset.UtcNow - started < TimeSpan.FromSeconds(10));
        await AssertNothingHappenedAsync();
    }

    [Fact]
    public async Task An_api_body_shorter_than_its_content_length_is_a_408_problem()
    {
        var response = await SendRawAsync(
            $"POST /api/orders HTTP/1.1\r\nHost: localhost\r\nx-functions-key: {PaymentApp.FunctionKey}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"",
            halfClose: false);
        Assert.True(response.StartsWith("HTTP/1.1 408", StringComparison.Ordinal), $"answered: {response}");
        Assert.Contains("application/problem+json", response, StringComparison.Ordinal);
        await AssertNothingHappenedAsync();
    }

    private async Task AssertNothingHappenedAsync()
    {
        Assert.Equal(0, await _app.QueueLengthAsync());
        Assert.DoesNotContain(_app.Logs.Entries, e => e.Level >= LogLevel.Error && Fail(e));
        Assert.DoesNotContain(_app.Logs.Entries, e => e.Exception is not null && e.Level >= LogLevel.Warning);
        Assert.DoesNotContain(_app.Logs.Entries, e => e.Message.Contains("   at ", StringComparison.Ordinal));
    }

    private static bool Fail(LogCapture.Entry e) => throw new Xunit.Sdk.XunitException($"{e.Category} {e.Level}: {e.Message} {e.Exception}");

    /// <summary>Writes the request as given and reads the whole answer (the server closes or the read times out).</summary>
    private async Task<string> SendRawAsync(string request, bool halfClose)
    {
        using var socket = new TcpClient();
        await socket.ConnectAsync(_base.Host, _base.Port);
        var stream = socket.GetStream();
        await stream.WriteAsync(Encoding.UTF8.GetBytes(request));
        if (halfClose)
        {
            socket.Client.Shutdown(SocketShutdown.Send);
        }

        var buffer = new byte[16 * 1024];
        var total = 0;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        try
        {
            while (total < buffer.Length)
            {
                var read = await stream.ReadAsync(buffer.AsMemory(total), timeout.Token);
                if (read == 0)
                {
                    break;
                }

                total += read;
                var text = Encoding.UTF8.GetString(buffer, 0, total);
                var headerEnd = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
                if (headerEnd > 0 && HasWholeBody(text, headerEnd))
                {
                    break;
                }
            }
        }
        catch (IOException)
        {
            // The server may reset after answering.
        }

        return Encoding.UTF8.GetString(buffer, 0, total);
    }

    private static bool HasWholeBody(string text, int headerEnd)
    {
        var headers = text[..headerEnd];
        var marker = headers.IndexOf("Content-Length: ", StringComparison.OrdinalIgnoreCase);
        if (marker < 0)
        {
            return headers.Contains("Transfer-Encoding: chunked", StringComparison.OrdinalIgnoreCase) ? text.EndsWith("0\r\n\r\n", StringComparison.Ordinal) : true;
        }

        var end = headers.IndexOf('\r', marker);
        var length = int.Parse(headers[(marker + 16)..(end < 0 ? headers.Length : end)], System.Globalization.CultureInfo.InvariantCulture);
        return Encoding.UTF8.GetByteCount(text[(headerEnd + 4)..]) >= length;
    }

}
