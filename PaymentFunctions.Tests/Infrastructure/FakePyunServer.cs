using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using PaymentFunctions.Fakes.Pyun;

namespace PaymentFunctions.Tests.Infrastructure;

/// <summary>The fake P云 on a real loopback port, so the app talks to it over HTTP exactly as to P云.</summary>
public sealed class FakePyunServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private FakePyunServer(WebApplication app, FakePyunState state)
    {
        _app = app;
        State = state;
    }

    public FakePyunState State { get; }

    public string BaseUrl { get; private set; } = "";

    /// <summary>How the fake reaches the app's notify URL; the test host's in-memory client by default.</summary>
    public Func<HttpClient> NotifyClient { get; set; } = () => throw new InvalidOperationException("No notify client set.");

    public static async Task<FakePyunServer> StartAsync(FakePyunState state)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var server = new FakePyunServer(app, state);
        app.MapFakePyun(state, () => server.NotifyClient());
        await app.StartAsync();
        server.BaseUrl = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        return server;
    }

    public Task<NotifyDelivery?> PayAsync(string payId, FakePayment? payment = null) =>
        FakePyun.PayAsync(State, payId, payment ?? new FakePayment(), NotifyClient(), CancellationToken.None);

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
