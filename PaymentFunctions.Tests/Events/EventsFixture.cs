using Azure.Data.Tables;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using PaymentFunctions.Events;
using PaymentFunctions.Fakes.Events;
using PaymentFunctions.Hosting;
using PaymentFunctions.Tests.Infrastructure;

namespace PaymentFunctions.Tests.Events;

/// <summary>The fake event receiver on a real loopback port.</summary>
public sealed class FakeReceiverServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private FakeReceiverServer(WebApplication app, FakeReceiverState state)
    {
        _app = app;
        State = state;
    }

    public FakeReceiverState State { get; }

    public string BaseUrl { get; private set; } = "";

    public string Url(string name) => $"{BaseUrl}/fake/receiver/{name}";

    public static async Task<FakeReceiverServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var state = new FakeReceiverState();
        app.MapFakeReceiver(state);
        await app.StartAsync();
        var server = new FakeReceiverServer(app, state)
        {
            BaseUrl = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First(),
        };
        return server;
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}

/// <summary>
/// The app with two endpoints on a loopback receiver: <c>main</c> (every type) and <c>paidonly</c> (order.paid only),
/// a 1 s timeout and a short retry schedule (3 attempts in all), and a test product "test" with its own table.
/// </summary>
public sealed class EventsFixture : IAsyncLifetime
{
    public const string MainSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    public const string PaidOnlySecret = "whsec_c2Vjb25kLWVuZHBvaW50LXNpZ25pbmcta2V5LTMy";
    public const string TestProduct = "test";

    public PaymentApp App { get; private set; } = null!;

    public FakeReceiverServer Receiver { get; private set; } = null!;

    public TableClient Table { get; private set; } = null!;

    public EventOutbox Outbox => App.Services.GetRequiredService<EventOutbox>();

    public async ValueTask InitializeAsync()
    {
        Receiver = await FakeReceiverServer.StartAsync();
        Receiver.State.SlowDelay = TimeSpan.FromSeconds(2);
        App = new PaymentApp();
        App.Settings["Events:Endpoints:main:Url"] = Receiver.Url("main");
        App.Settings["Events:Endpoints:main:Secret"] = MainSecret;
        App.Settings["Events:Endpoints:paidonly:Url"] = Receiver.Url("paidonly");
        App.Settings["Events:Endpoints:paidonly:Secret"] = PaidOnlySecret;
        App.Settings["Events:Endpoints:paidonly:Types"] = "order.paid";
        App.Settings["Events:Timeout"] = "00:00:01";
        App.Settings["Events:RetrySchedule"] = "00:00:00.2";
        App.Settings["Events:RetryFor"] = "00:00:00.5";
        await App.InitializeAsync();
        // Signatures are checked against the real clock by the verifier (5 minutes' tolerance).
        App.Clock.Set(DateTimeOffset.UtcNow);
        Table = App.Services.GetRequiredService<Azure.Data.Tables.TableServiceClient>().GetTableClient(App.Prefix + "EventTest");
        await Table.CreateIfNotExistsAsync();
        App.Services.GetRequiredService<EventStreams>().Add(TestProduct, Table);
        await App.Storage.EnsureEventQueuesCreatedAsync(CancellationToken.None);
    }

    /// <summary>The standalone delivery listener with host.json's settings, optionally changed.</summary>
    public EventDeliveryListener CreateListener(Func<QueueSettings, QueueSettings>? change = null)
    {
        var settings = QueueSettings.Load(Path.Combine(AppContext.BaseDirectory, "host.json"));
        return ActivatorUtilities.CreateInstance<EventDeliveryListener>(App.Services, change?.Invoke(settings) ?? settings);
    }

    /// <summary>Polls the delivery queue until <paramref name="done"/> holds (or fails the test after <paramref name="within"/>).</summary>
    /// <param name="poll">False when a running listener does the work: only wait.</param>
    public async Task PumpUntilAsync(Func<Task<bool>> done, TimeSpan? within = null, bool poll = true)
    {
        var listener = CreateListener();
        var deadline = DateTimeOffset.UtcNow + (within ?? TimeSpan.FromSeconds(30));
        while (!await done())
        {
            Assert.True(DateTimeOffset.UtcNow < deadline, "The condition did not hold in time.");
            if (!poll || await listener.PollOnceAsync(CancellationToken.None) == 0)
            {
                await Task.Delay(50);
            }
        }
    }

    /// <summary>Stages one event for a new order of the test product beside a row of its own, commits, and returns it.</summary>
    public async Task<StagedEvent> CommitEventAsync(string type = "order.failed", bool dispatch = true, string? partition = null, long sequence = 1)
    {
        partition ??= "o" + Guid.NewGuid().ToString("N")[..12];
        var staged = Outbox.Stage(TestProduct, partition, sequence, type, new { orderId = partition, state = "Failed", amount = 100 });
        var order = new TableEntity(partition, "order") { ["State"] = "Failed", ["EventSequence"] = sequence };
        await Table.SubmitTransactionAsync([new TableTransactionAction(TableTransactionActionType.UpsertMerge, order), staged.Action]);
        if (dispatch)
        {
            await Outbox.DispatchAsync(staged, CancellationToken.None);
        }

        return staged;
    }

    public async Task<EndpointDelivery> DeliveryAsync(StagedEvent staged, string endpoint)
    {
        var row = await EventStore.GetAsync(Table, staged.Key, CancellationToken.None);
        return EventRows.Delivery(row!, endpoint);
    }

    public IReadOnlyList<ReceivedRequest> Received(string endpoint, StagedEvent staged) =>
        Receiver.State.Received(endpoint).Where(r => r.Headers.GetValueOrDefault("webhook-id") == staged.Key.Id).ToList();

    public async ValueTask DisposeAsync()
    {
        await App.DisposeAsync();
        await Receiver.DisposeAsync();
    }
}
