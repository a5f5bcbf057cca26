using Azure.Data.Tables;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using PaymentFunctions.Fakes.Pyun;
using PaymentFunctions.Fakes.WeChatPay;
using PaymentFunctions.Tests.WeChatPay;
using PaymentFunctions.Hosting;
using PaymentFunctions.Orders;
using PaymentFunctions.Storage;

namespace PaymentFunctions.Tests.Infrastructure;

/// <summary>
/// The app under test, standalone, against Azurite and a fake P云 on loopback. Each instance gets its own
/// table and queue names (Storage:NamePrefix), so test classes never see each other's data.
/// </summary>
public sealed class PaymentApp : WebApplicationFactory<Program>, IAsyncLifetime
{
    public const string AppId = "op0096196358123123";
    public const string AppSecret = "test-app-secret-6409292d66625a2a";
    public const string Merchant = "62626601";
    public const string FunctionKey = "test-function-key-0123456789abcdef";

    private readonly Dictionary<string, string?> _settings = new(StringComparer.Ordinal);

    public PaymentApp()
    {
        Azurite.EnsureRunning();
        Prefix = "t" + Guid.NewGuid().ToString("N")[..10];
    }

    public string Prefix { get; }

    public ManualClock Clock { get; } = new();

    /// <summary>What the app logged, formatted.</summary>
    public LogCapture Logs { get; } = new();

    public FakePyunServer Pyun { get; private set; } = null!;

    /// <summary>The fake WeChat Pay, when <see cref="EnableWeChatPay"/> was called before initialization.</summary>
    public FakeWeChatPayServer? WeChat { get; private set; }

    public const string SubMchId = "1230000109";
    public const string SubAppId = "wx8888888888888888";
    private (string Mode, string KeyKind)? _weChat;

    /// <summary>Configures the WeChatPay section (direct or partner; public key, platform certificate or both).</summary>
    public PaymentApp EnableWeChatPay(string mode = "Direct", string keyKind = "PublicKey")
    {
        _weChat = (mode, keyKind);
        return this;
    }

    private bool _underFunctionsHost;

    /// <summary>
    /// Runs the app as the Functions host's custom handler (the host's port setting, through configuration so the
    /// process environment is untouched): the test then plays the host, e.g. posting to /ProcessNotification.
    /// </summary>
    public PaymentApp UnderFunctionsHost()
    {
        _underFunctionsHost = true;
        _settings[FunctionsHost.PortVariable] = "7071";
        return this;
    }

    /// <summary>More services for one test class, e.g. a telemetry exporter (set before the first client is created).</summary>
    public Action<IServiceCollection>? ExtraServices { get; set; }

    /// <summary>Overrides for one test class (set before the first client is created).</summary>
    public Dictionary<string, string?> Settings => _settings;

    public async ValueTask InitializeAsync()
    {
        Pyun = await FakePyunServer.StartAsync(new FakePyunState(AppId, AppSecret, Merchant) { Clock = Clock });
        Pyun.NotifyClient = CreateClient;
        if (_weChat is { } weChat)
        {
            var state = new FakeWeChatPayState(WeChatPayTestData.MchId, WeChatPayTestData.MerchantSerial, WeChatPayTestData.MerchantPublicPem,
                WeChatPayTestData.ApiV3Key, Clock);
            state.AddSigningKey(WeChatPayTestData.PublicKeyId, WeChatPayTestData.WeChatPayPrivatePem);
            var certificate = WeChatPayTestData.PlatformCertificate;
            state.AddSigningKey(certificate.Serial, certificate.PrivateKeyPem);
            state.ResponseSerial = weChat.KeyKind == "Certificate" ? certificate.Serial : WeChatPayTestData.PublicKeyId;
            WeChat = await FakeWeChatPayServer.StartAsync(state);

            _settings["WeChatPay:Mode"] = weChat.Mode;
            _settings["WeChatPay:MchId"] = WeChatPayTestData.MchId;
            _settings["WeChatPay:AppId"] = WeChatPayTestData.AppId;
            _settings["WeChatPay:ServiceId"] = WeChatPayTestData.ServiceId;
            _settings["WeChatPay:MerchantCertificateSerial"] = WeChatPayTestData.MerchantSerial;
            _settings["WeChatPay:MerchantPrivateKey"] = WeChatPayTestData.MerchantPrivatePem;
            _settings["WeChatPay:ApiV3Key"] = WeChatPayTestData.ApiV3Key;
            _settings["WeChatPay:NotifyUrl"] = "http://localhost/api/notify/wechatpay";
            _settings["WeChatPay:BaseUrl"] = WeChat.BaseUrl;
            if (weChat.Mode == "Partner")
            {
                _settings["WeChatPay:SubMchId"] = SubMchId;
                _settings["WeChatPay:SubAppId"] = SubAppId;
            }

            if (weChat.KeyKind is "PublicKey" or "Both")
            {
                _settings[$"WeChatPay:PublicKeys:{WeChatPayTestData.PublicKeyId}"] = WeChatPayTestData.WeChatPayPublicPem;
            }

            if (weChat.KeyKind is "Certificate" or "Both")
            {
                _settings[$"WeChatPay:PlatformCertificates:{certificate.Serial}"] = certificate.CertificatePem;
            }
        }
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        var settings = new Dictionary<string, string?>(TestSettings.Valid, StringComparer.Ordinal)
        {
            ["AzureWebJobsStorage"] = Azurite.ConnectionString,
            ["Storage:NamePrefix"] = Prefix,
            ["Pyun:BaseUrl"] = Pyun.BaseUrl,
            ["Pyun:AppId"] = AppId,
            ["Pyun:AppSecret"] = AppSecret,
            ["Pyun:Merchant"] = Merchant,
            ["Pyun:NotifyUrl"] = "http://localhost/api/notify/pyun",
            ["FunctionKeys:Default"] = FunctionKey,
            // Tests fire many requests from one client in a burst; RateLimitTests sets its own small limits.
            ["RateLimits:PerClientPermits"] = "100000",
            ["RateLimits:TotalPerSecond"] = "100000",
        };
        foreach (var (key, value) in _settings)
        {
            settings[key] = value;
        }

        foreach (var (key, value) in settings)
        {
            builder.UseSetting(key, value);
        }

        builder.ConfigureTestServices(services =>
        {
            services.RemoveAll<TimeProvider>();
            services.AddSingleton<TimeProvider>(Clock);
            services.AddSingleton<Microsoft.Extensions.Logging.ILoggerProvider>(Logs);
            if (_underFunctionsHost)
            {
                // Under a real host the names carry no prefix (function.json names the queue); here the test is the
                // host, and keeps its own names on the shared Azurite.
                services.RemoveAll<IValidateOptions<StorageOptions>>();
            }

            ExtraServices?.Invoke(services);
        });
    }

    public StorageResources Storage => Services.GetRequiredService<StorageResources>();

    public OrderStore Store => Services.GetRequiredService<OrderStore>();

    /// <summary>A client that carries the function key, as the merchant's business system would.</summary>
    public HttpClient CreateBusinessClient()
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Add("x-functions-key", FunctionKey);
        return client;
    }

    /// <summary>The standalone queue listener with host.json's semantics, optionally with other settings.</summary>
    public QueueListener CreateListener(QueueSettings? settings = null) =>
        ActivatorUtilities.CreateInstance<QueueListener>(Services,
            settings ?? QueueSettings.Load(Path.Combine(AppContext.BaseDirectory, "host.json")));

    /// <summary>Runs the listener until the queue is empty.</summary>
    public async Task DrainQueueAsync(QueueListener? listener = null)
    {
        listener ??= CreateListener();
        while (await listener.PollOnceAsync(CancellationToken.None) > 0)
        {
        }
    }

    public async Task<int> QueueLengthAsync(bool poison = false)
    {
        var queue = poison ? Storage.Poison : Storage.Notifications;
        await Storage.EnsureCreatedAsync(CancellationToken.None);
        var peeked = await queue.PeekMessagesAsync(32);
        return peeked.Value.Length;
    }

    /// <summary>An order's timeline rows (evt-…) in PaymentOrders.</summary>
    public async Task<List<TimelineEntity>> TimelineAsync(string orderId)
    {
        await Storage.EnsureCreatedAsync(CancellationToken.None);
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {orderId} and RowKey ge {"evt-"} and RowKey lt {"evt."}");
        var rows = new List<TimelineEntity>();
        await foreach (var row in Storage.Orders.QueryAsync<TimelineEntity>(filter))
        {
            rows.Add(row);
        }

        return rows;
    }

    public async Task<int> IndexRowsAsync(string merchantOrderNo)
    {
        await Storage.EnsureCreatedAsync(CancellationToken.None);
        var count = 0;
        await foreach (var _ in Storage.OrderIndex.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"PartitionKey eq {merchantOrderNo}")))
        {
            count++;
        }

        return count;
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        if (Pyun is not null)
        {
            await Pyun.DisposeAsync();
        }

        if (WeChat is not null)
        {
            await WeChat.DisposeAsync();
        }
    }
}
