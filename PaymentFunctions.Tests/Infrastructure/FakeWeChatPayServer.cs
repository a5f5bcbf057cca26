using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using PaymentFunctions.Fakes.WeChatPay;

namespace PaymentFunctions.Tests.Infrastructure;

/// <summary>The fake WeChat Pay on a real loopback port: it checks our Authorization and signs its answers.</summary>
public sealed class FakeWeChatPayServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private FakeWeChatPayServer(WebApplication app, FakeWeChatPayState state, string baseUrl)
    {
        _app = app;
        State = state;
        BaseUrl = baseUrl;
    }

    public FakeWeChatPayState State { get; }

    public string BaseUrl { get; }

    public static async Task<FakeWeChatPayServer> StartAsync(FakeWeChatPayState state)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        app.MapFakeWeChatPay(state);
        await app.StartAsync();
        var url = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        return new FakeWeChatPayServer(app, state, url);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
        State.Dispose();
    }
}
