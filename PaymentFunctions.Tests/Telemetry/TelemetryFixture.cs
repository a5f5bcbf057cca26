using System.Diagnostics;
using Azure.Data.Tables;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using PaymentFunctions.Events;
using PaymentFunctions.Hosting;
using PaymentFunctions.Telemetry;
using PaymentFunctions.Tests.Events;
using PaymentFunctions.Tests.Infrastructure;

namespace PaymentFunctions.Tests.Telemetry;

/// <summary>A collection the exporters add to while a test reads it.</summary>
public sealed class RecordedCollection<T> : ICollection<T>
{
    private readonly List<T> _items = [];

    public int Count
    {
        get
        {
            lock (_items)
            {
                return _items.Count;
            }
        }
    }

    public bool IsReadOnly => false;

    public IReadOnlyList<T> Snapshot()
    {
        lock (_items)
        {
            return [.. _items];
        }
    }

    public void Add(T item)
    {
        lock (_items)
        {
            _items.Add(item);
        }
    }

    public void Clear()
    {
        lock (_items)
        {
            _items.Clear();
        }
    }

    public bool Contains(T item) => Snapshot().Contains(item);

    public void CopyTo(T[] array, int arrayIndex) => Snapshot().ToList().CopyTo(array, arrayIndex);

    public bool Remove(T item)
    {
        lock (_items)
        {
            return _items.Remove(item);
        }
    }

    public IEnumerator<T> GetEnumerator() => Snapshot().GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>
/// The app with its telemetry exported in memory (spans, metrics, log records), one event endpoint <c>main</c> on a
/// loopback receiver, and a test product "test" whose events a test can stage directly.
/// </summary>
public class TelemetryFixture : IAsyncLifetime
{
    private readonly bool _underFunctionsHost;

    public TelemetryFixture()
        : this(false)
    {
    }

    protected TelemetryFixture(bool underFunctionsHost) => _underFunctionsHost = underFunctionsHost;

    public const string MainSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    public const string TestProduct = "ttest";

    /// <summary>Where a test starts its own story (the caller of the API, say), so its trace is the test's alone.</summary>
    public static readonly ActivitySource TestSource = new("PaymentFunctions.Tests.Telemetry");

    public RecordedCollection<Activity> Spans { get; } = new();

    public RecordedCollection<MetricSnapshot> Metrics { get; } = new();

    public RecordedCollection<LogRecord> LogRecords { get; } = new();

    public PaymentApp App { get; private set; } = null!;

    public FakeReceiverServer Receiver { get; private set; } = null!;

    public TableClient Table { get; private set; } = null!;

    public EventOutbox Outbox => App.Services.GetRequiredService<EventOutbox>();

    public async ValueTask InitializeAsync()
    {
        Receiver = await FakeReceiverServer.StartAsync();
        App = new PaymentApp();
        if (_underFunctionsHost)
        {
            App.UnderFunctionsHost();
        }
        App.Settings["Events:Endpoints:main:Url"] = Receiver.Url("main");
        App.Settings["Events:Endpoints:main:Secret"] = MainSecret;
        App.Settings["Events:Timeout"] = "00:00:02";
        App.ExtraServices = services => services.AddOpenTelemetry().AddPaymentInstrumentation()
            .WithTracing(t => t.AddSource(TestSource.Name).AddInMemoryExporter(Spans))
            .WithMetrics(m => m.AddInMemoryExporter(Metrics))
            .WithLogging(l => l.AddInMemoryExporter(LogRecords));
        await App.InitializeAsync();
        // Webhook signatures are checked against the real clock by the receiver.
        App.Clock.Set(DateTimeOffset.UtcNow);
        Table = App.Services.GetRequiredService<TableServiceClient>().GetTableClient(App.Prefix + "TelemetryTest");
        await Table.CreateIfNotExistsAsync();
        App.Services.GetRequiredService<EventStreams>().Add(TestProduct, Table);
        await App.Storage.EnsureEventQueuesCreatedAsync(CancellationToken.None);
    }

    /// <summary>Stages one event of the test product beside an order row of its own and commits it; dispatches it unless told not to.</summary>
    public async Task<StagedEvent> CommitEventAsync(bool dispatch = true)
    {
        var partition = "o" + Guid.NewGuid().ToString("N")[..12];
        var staged = Outbox.Stage(TestProduct, partition, 1, "order.failed", new { orderId = partition, state = "Failed", amount = 100 });
        var order = new TableEntity(partition, "order") { ["State"] = "Failed", ["EventSequence"] = 1L };
        await Table.SubmitTransactionAsync([new TableTransactionAction(TableTransactionActionType.UpsertMerge, order), staged.Action]);
        if (dispatch)
        {
            await Outbox.DispatchAsync(staged, CancellationToken.None);
        }

        return staged;
    }

    /// <summary>Runs the delivery listener until the event's delivery to <c>main</c> is finished.</summary>
    public Task DeliverAsync(StagedEvent staged) => PumpEventsUntilAsync(async () =>
        EventRows.Delivery((await EventStore.GetAsync(Table, staged.Key, CancellationToken.None))!, "main").Finished, "The event");

    /// <summary>Runs the delivery listener until the receiver's <c>main</c> got <paramref name="eventId"/> and answered it.</summary>
    public Task DeliverAsync(string eventId) => PumpEventsUntilAsync(() =>
        Task.FromResult(Receiver.State.Received("main").Any(r => r.Headers.GetValueOrDefault("webhook-id") == eventId)), eventId);

    private async Task PumpEventsUntilAsync(Func<Task<bool>> done, string what)
    {
        var listener = ActivatorUtilities.CreateInstance<EventDeliveryListener>(App.Services,
            QueueSettings.Load(Path.Combine(AppContext.BaseDirectory, "host.json")));
        var deadline = DateTimeOffset.UtcNow + TimeSpan.FromSeconds(30);
        while (!await done())
        {
            Assert.True(DateTimeOffset.UtcNow < deadline, $"{what} was not delivered in time.");
            if (await listener.PollOnceAsync(CancellationToken.None) == 0)
            {
                await Task.Delay(50);
            }
        }
    }

    /// <summary>The spans of one trace, once <paramref name="ready"/> holds for them (exporting ends with the span).</summary>
    public async Task<IReadOnlyList<Activity>> TraceAsync(ActivityTraceId traceId, Func<IReadOnlyList<Activity>, bool> ready)
    {
        var deadline = DateTimeOffset.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            var spans = Spans.Snapshot().Where(s => s.TraceId == traceId).ToList();
            if (ready(spans) || DateTimeOffset.UtcNow > deadline)
            {
                return spans;
            }

            await Task.Delay(50);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await App.DisposeAsync();
        await Receiver.DisposeAsync();
        GC.SuppressFinalize(this);
    }
}
