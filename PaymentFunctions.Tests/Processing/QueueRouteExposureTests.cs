using System.Diagnostics;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Text;
using PaymentFunctions.Hosting;
using PaymentFunctions.Tests.Infrastructure;

namespace PaymentFunctions.Tests.Processing;

/// <summary>
/// POST /ProcessNotification trusts its caller (whatever it is handed is applied as a verified notification), so only
/// the Functions host may reach it: standalone it does not exist; under the host it listens on loopback only.
/// </summary>
public sealed class QueueRouteExposureTests(PaymentApp app) : IClassFixture<PaymentApp>
{
    [Fact]
    public async Task Standalone_the_queue_route_does_not_exist_and_a_posted_paid_envelope_changes_nothing()
    {
        var order = await app.CreateOrderAsync();
        var prepared = await app.PrepareAsync(order.OrderId);
        // What a payer who knows their pay_order could forge: a well-formed envelope saying "paid" (no P云 sign
        // is checked on this route; the notify route checked it before queueing).
        var forged = QueueMessages.Envelope(Api.Notification(prepared.PayOrder, 1, 1000).WithSign());

        using var anonymous = app.CreateClient();
        using var business = app.CreateBusinessClient();
        using var plain = await anonymous.PostJsonTextAsync("/ProcessNotification", QueueMessages.HostPayload(forged));
        using var withKey = await business.PostJsonTextAsync("/ProcessNotification", QueueMessages.HostPayload(forged));
        using var underApi = await business.PostJsonTextAsync("/api/ProcessNotification", QueueMessages.HostPayload(forged));

        Assert.Equal(HttpStatusCode.NotFound, plain.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, withKey.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, underApi.StatusCode);
        Assert.Equal("Pending", (await app.GetOrderAsync(order.OrderId)).Status);
        Assert.Empty(await app.TimelineAsync(order.OrderId));
        Assert.Equal(0, await app.QueueLengthAsync());
    }

    /// <summary>
    /// The real executable as the Functions host starts it (FUNCTIONS_CUSTOMHANDLER_PORT set): the queue route is
    /// mapped, and the handler listens on 127.0.0.1 at that port only, even with ASPNETCORE_URLS asking for every
    /// interface. The host forwards from outside only the HTTP-trigger routes under routePrefix "api".
    /// </summary>
    [Fact]
    [Trait("Category", "Slow")] // starts the real executable
    public async Task Under_the_host_the_queue_route_is_mapped_and_the_handler_listens_on_loopback_only()
    {
        var port = FreePort();
        var wildcardPort = FreePort();
        using var handler = StartHandler(new()
        {
            [FunctionsHost.PortVariable] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["ASPNETCORE_URLS"] = $"http://0.0.0.0:{wildcardPort}",
        }, out var output);
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(10) };
            await WaitUntilReadyAsync(http, handler, output);

            // Mapped: a payload without a message is the route's own answer (500 with the reason in Logs), not a 404.
            using var response = await http.PostAsync("/ProcessNotification", new StringContent("""{"Data":{}}""", Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
            Assert.Contains("\"Logs\"", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);

            lock (output)
            {
                Assert.Contains($"Now listening on: http://127.0.0.1:{port}", output.ToString(), StringComparison.Ordinal);
            }

            Assert.False(await AcceptsAsync(IPAddress.Loopback, wildcardPort), "ASPNETCORE_URLS must not add a listener under the host.");
            foreach (var address in NonLoopbackAddresses())
            {
                Assert.False(await AcceptsAsync(address, port), $"The handler accepts connections on {address}:{port}; it must listen on loopback only.");
            }
        }
        finally
        {
            handler.Kill(entireProcessTree: true);
            await handler.WaitForExitAsync(CancellationToken.None);
        }
    }

    private static Process StartHandler(Dictionary<string, string> changes, out StringBuilder output)
    {
        var environment = TestSettings.ValidEnvironment();
        foreach (var (key, value) in changes)
        {
            environment[key] = value;
        }

        var process = Process.Start(TestSettings.AppProcess(environment))!;
        var sink = new StringBuilder();
        process.OutputDataReceived += (_, e) => Append(sink, e.Data);
        process.ErrorDataReceived += (_, e) => Append(sink, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        output = sink;
        return process;
    }

    private static void Append(StringBuilder sink, string? line)
    {
        if (line is not null)
        {
            lock (sink)
            {
                sink.AppendLine(line);
            }
        }
    }

    /// <summary>As the host does: poll GET / until the handler answers.</summary>
    private static async Task WaitUntilReadyAsync(HttpClient http, Process handler, StringBuilder output)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            Assert.False(handler.HasExited, $"The handler exited: {output}");
            try
            {
                using var ready = await http.GetAsync("/");
                if (ready.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"The handler did not answer GET / within 60 s: {output}");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static IEnumerable<IPAddress> NonLoopbackAddresses() =>
        NetworkInterface.GetAllNetworkInterfaces()
            .Where(n => n.OperationalStatus == OperationalStatus.Up)
            .SelectMany(n => n.GetIPProperties().UnicastAddresses)
            .Select(a => a.Address)
            .Where(a => !IPAddress.IsLoopback(a) && a.AddressFamily is AddressFamily.InterNetwork or AddressFamily.InterNetworkV6 && !a.IsIPv6LinkLocal);

    private static async Task<bool> AcceptsAsync(IPAddress address, int port)
    {
        using var client = new TcpClient(address.AddressFamily);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(3));
        try
        {
            await client.ConnectAsync(address, port, timeout.Token);
            return true;
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException)
        {
            return false;
        }
    }
}
