using Azure.Data.Tables;
using Azure.Storage.Queues;
using Microsoft.Extensions.Azure;

namespace PaymentFunctions.Storage;

public static class StorageServiceCollectionExtensions
{
    /// <summary>
    /// The name of the second queue service client: same account and credential, no message encoding. The
    /// listener receives and poisons through it, so it sees each message's text exactly as stored (see
    /// <see cref="StorageResources.RawNotifications"/>).
    /// </summary>
    public const string RawQueueClientName = "raw";

    /// <summary>Connections per storage endpoint (table, queue): enough for a full queue batch and intake bursts.</summary>
    public const int DefaultMaxConnections = 32;

    /// <summary>One shared client per service, registered through the Azure SDK's client factory.</summary>
    public static IServiceCollection AddPaymentStorage(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<StorageOptions>().BindConfiguration(StorageOptions.Section).ValidateOnStart();
        services.AddSingleton<Microsoft.Extensions.Options.IValidateOptions<StorageOptions>, StorageOptionsValidator>();

        var connection = StorageConnection.Resolve(configuration);
        services.AddSingleton(connection);
        services.AddAzureClients(clients =>
        {
            // The SDK's request/response log events: built for every request (headers sanitized and formatted) and
            // forwarded to ILogger, whose "Azure" filter (Warning) then drops them. Off unless the setting asks:
            // AzureClientDefaults:Diagnostics:IsLoggingEnabled=true (the section below is applied after this).
            clients.ConfigureDefaults(o => o.Diagnostics.IsLoggingEnabled = false);
            // Retry and timeout policy for every storage client, e.g. AzureClientDefaults:Retry:MaxRetries.
            clients.ConfigureDefaults(configuration.GetSection("AzureClientDefaults"));
            // One connection pool for all of them, bounded: a burst of requests (or a storage outage, when every
            // request waits out its retries) then queues for a connection instead of opening hundreds of sockets,
            // each with its buffers, on an instance billed by memory and short of outbound ports.
            var transport = new Azure.Core.Pipeline.HttpClientTransport(new SocketsHttpHandler
            {
                MaxConnectionsPerServer = MaxConnections(configuration),
            });
            clients.ConfigureDefaults(o => o.Transport = transport);
            if (connection.IsConnectionString)
            {
                clients.AddTableServiceClient(connection.ConnectionString);
                clients.AddQueueServiceClient(connection.ConnectionString)
                    .ConfigureOptions(o => o.MessageEncoding = QueueMessageEncoding.Base64);
                clients.AddQueueServiceClient(connection.ConnectionString).WithName(RawQueueClientName)
                    .ConfigureOptions(o => o.MessageEncoding = QueueMessageEncoding.None);
                // The client factory hands every client a credential, by default a new DefaultAzureCredential, which
                // loads MSAL and its chain (megabytes of code) for clients that sign with the account key instead.
                clients.UseCredential(new SharedKeyOnlyCredential());
            }
            else
            {
                clients.AddTableServiceClient(connection.TableServiceUri);
                clients.AddQueueServiceClient(connection.QueueServiceUri)
                    .ConfigureOptions(o => o.MessageEncoding = QueueMessageEncoding.Base64);
                clients.AddQueueServiceClient(connection.QueueServiceUri).WithName(RawQueueClientName)
                    .ConfigureOptions(o => o.MessageEncoding = QueueMessageEncoding.None);
                clients.UseCredential(connection.CreateCredential());
            }
        });

        services.AddSingleton<StorageResources>();
        return services;
    }

    internal static int MaxConnections(IConfiguration configuration) =>
        configuration["Storage:MaxConnections"] is not { } text
            ? DefaultMaxConnections
            : int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) && n is >= 1 and <= 1000
                ? n
                : throw new ConfigurationException("Setting 'Storage:MaxConnections' is malformed: expected a whole number of connections from 1 to 1000.");
}

/// <summary>
/// The app's tables and queues, created on first use and re-tried until that succeeds, so the app starts
/// even while storage is briefly away, and never runs against a table that does not exist. The Pay Score table
/// is left alone while Pay Score is off.
/// </summary>
public sealed class StorageResources(
    TableServiceClient tables,
    QueueServiceClient queues,
    IAzureClientFactory<QueueServiceClient> queueClients,
    Microsoft.Extensions.Options.IOptions<StorageOptions> options,
    PayScore.PayScoreFeature payScore,
    ILogger<StorageResources> logger) : IDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly SemaphoreSlim _eventsGate = new(1, 1);
    private volatile bool _ready;
    private volatile bool _eventsReady;

    public TableClient Orders { get; } = tables.GetTableClient(options.Value.OrdersTable);
    public TableClient OrderIndex { get; } = tables.GetTableClient(options.Value.OrderIndexTable);
    public TableClient PayScoreOrders { get; } = tables.GetTableClient(options.Value.PayScoreOrdersTable);
    public TableClient Orphans { get; } = tables.GetTableClient(options.Value.OrphansTable);

    /// <summary>The notification queue with Base64 messages of UTF-8 text, as the Functions queue trigger expects.</summary>
    public QueueClient Notifications { get; } = queues.GetQueueClient(options.Value.NotificationQueue);

    public QueueClient Poison { get; } = queues.GetQueueClient(options.Value.PoisonQueue);

    /// <summary>
    /// The same queue without message encoding: a message's text exactly as stored. The listener receives through
    /// it and decodes each message itself, so one message that is not Base64 (or not UTF-8) fails alone instead of
    /// the whole batch, and can be poisoned byte for byte.
    /// </summary>
    public QueueClient RawNotifications { get; } = queueClients.CreateClient(StorageServiceCollectionExtensions.RawQueueClientName).GetQueueClient(options.Value.NotificationQueue);

    /// <summary>The poison queue without message encoding: what is sent through it is stored exactly as given.</summary>
    public QueueClient RawPoison { get; } = queueClients.CreateClient(StorageServiceCollectionExtensions.RawQueueClientName).GetQueueClient(options.Value.PoisonQueue);

    /// <summary>The event delivery queue (Base64, as the trigger expects), kept apart so receivers never slow payments.</summary>
    public QueueClient Events { get; } = queues.GetQueueClient(options.Value.EventQueue);

    public QueueClient EventsPoison { get; } = queues.GetQueueClient(options.Value.EventPoisonQueue);

    /// <summary>The delivery queue without encoding, for the standalone listener (see <see cref="RawNotifications"/>).</summary>
    public QueueClient RawEvents { get; } = queueClients.CreateClient(StorageServiceCollectionExtensions.RawQueueClientName).GetQueueClient(options.Value.EventQueue);

    public QueueClient RawEventsPoison { get; } = queueClients.CreateClient(StorageServiceCollectionExtensions.RawQueueClientName).GetQueueClient(options.Value.EventPoisonQueue);

    public async ValueTask EnsureCreatedAsync(CancellationToken cancellationToken)
    {
        if (_ready)
        {
            return;
        }

        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (_ready)
            {
                return;
            }

            // Independent resources: created side by side, so a cold start waits for one round trip, not six.
            var creates = new List<Task>
            {
                CreateAsync(Orders.Name, ct => Orders.CreateIfNotExistsAsync(ct), cancellationToken),
                CreateAsync(OrderIndex.Name, ct => OrderIndex.CreateIfNotExistsAsync(ct), cancellationToken),
                CreateAsync(Orphans.Name, ct => Orphans.CreateIfNotExistsAsync(ct), cancellationToken),
                CreateAsync(Notifications.Name, ct => Notifications.CreateIfNotExistsAsync(cancellationToken: ct), cancellationToken),
                CreateAsync(Poison.Name, ct => Poison.CreateIfNotExistsAsync(cancellationToken: ct), cancellationToken),
            };
            if (payScore.Enabled)
            {
                creates.Add(CreateAsync(PayScoreOrders.Name, ct => PayScoreOrders.CreateIfNotExistsAsync(ct), cancellationToken));
            }

            await Task.WhenAll(creates);
            _ready = true;
            logger.LogInformation("Storage ready: tables {Orders}, {Index}, {Orphans}{PayScore}; queues {Queue}, {Poison}", Orders.Name, OrderIndex.Name,
                Orphans.Name, payScore.Enabled ? ", " + PayScoreOrders.Name : "", Notifications.Name, Poison.Name);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// The tables (as <see cref="EnsureCreatedAsync"/>) and the event delivery queues. Those are created apart, on
    /// the first event work, so that payment requests never wait on them (a cold start creates no more than before).
    /// </summary>
    public async ValueTask EnsureEventQueuesCreatedAsync(CancellationToken cancellationToken)
    {
        await EnsureCreatedAsync(cancellationToken);
        if (_eventsReady)
        {
            return;
        }

        await _eventsGate.WaitAsync(cancellationToken);
        try
        {
            if (!_eventsReady)
            {
                await Task.WhenAll(
                    CreateAsync(Events.Name, ct => Events.CreateIfNotExistsAsync(cancellationToken: ct), cancellationToken),
                    CreateAsync(EventsPoison.Name, ct => EventsPoison.CreateIfNotExistsAsync(cancellationToken: ct), cancellationToken));
                _eventsReady = true;
                logger.LogInformation("Event queues ready: {Events}, {EventsPoison}", Events.Name, EventsPoison.Name);
            }
        }
        finally
        {
            _eventsGate.Release();
        }
    }

    /// <summary>
    /// In Azure the template creates the tables and queues; an identity that may use but not create them gets
    /// 403 here, which must not stop the app: the resource is there, and a real absence shows on first use.
    /// </summary>
    private async Task CreateAsync<T>(string name, Func<CancellationToken, Task<T>> create, CancellationToken cancellationToken)
    {
        try
        {
            await create(cancellationToken);
        }
        catch (Azure.RequestFailedException ex) when (ex.Status == 403)
        {
            logger.LogWarning("Not allowed to create {Name} ({Code}); assuming the deployment created it", name, ex.ErrorCode);
        }
    }

    public void Dispose()
    {
        _gate.Dispose();
        _eventsGate.Dispose();
    }
}

/// <summary>Stands in for a token credential where storage is reached with a connection string: never asked for a token.</summary>
internal sealed class SharedKeyOnlyCredential : Azure.Core.TokenCredential
{
    public override Azure.Core.AccessToken GetToken(Azure.Core.TokenRequestContext requestContext, CancellationToken cancellationToken) =>
        throw new InvalidOperationException("Storage is configured with a connection string; no token credential is in use.");

    public override ValueTask<Azure.Core.AccessToken> GetTokenAsync(Azure.Core.TokenRequestContext requestContext, CancellationToken cancellationToken) =>
        throw new InvalidOperationException("Storage is configured with a connection string; no token credential is in use.");
}
