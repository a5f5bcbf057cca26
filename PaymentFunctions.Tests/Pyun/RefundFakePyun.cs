using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PaymentFunctions.Fakes.Pyun;
using PaymentFunctions.Pyun;
using PaymentFunctions.Tests.Infrastructure;

namespace PaymentFunctions.Tests.Pyun;

/// <summary>
/// The fake P云 on a loopback port and the real <see cref="PyunClient"/> talking to it over HTTP, for the refund
/// protocol tests: no app, no storage, just the two ends of the wire.
/// </summary>
public sealed class RefundFakePyun : IAsyncLifetime
{
    public const string AppId = "op00961963581daa7";
    public const string AppSecret = "refund-test-secret-6409292d66625a2a";
    public const string Merchant = "62626601";

    public FakePyunServer Server { get; private set; } = null!;

    public FakePyunState State => Server.State;

    public FakePyunRefunds Refunds => Server.State.Refunds;

    public LogCapture Logs { get; } = new();

    public async ValueTask InitializeAsync() =>
        Server = await FakePyunServer.StartAsync(new FakePyunState(AppId, AppSecret, Merchant));

    /// <summary>A client as the app builds it (base address, no HttpClient timeout: the client's own per call).</summary>
    public PyunClient Client(string secret = AppSecret, TimeSpan? timeout = null, string refundPath = PyunOptions.DefaultRefundPath, string merchant = Merchant)
    {
        var http = new HttpClient { BaseAddress = new Uri(Server.BaseUrl), Timeout = Timeout.InfiniteTimeSpan };
        var options = new PyunOptions
        {
            BaseUrl = Server.BaseUrl,
            AppId = AppId,
            AppSecret = secret,
            Merchant = merchant,
            NotifyUrl = "http://localhost/api/notify/pyun",
            RefundPath = refundPath,
            RequestTimeout = timeout ?? TimeSpan.FromSeconds(10),
        };
#pragma warning disable CA2000 // The factory only hands out loggers writing to Logs; nothing to release.
        var logger = new LoggerFactory([Logs]).CreateLogger<PyunClient>();
#pragma warning restore CA2000
        return new PyunClient(http, Options.Create(options), logger);
    }

    public async ValueTask DisposeAsync() => await Server.DisposeAsync();
}
