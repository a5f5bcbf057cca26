using System.Globalization;
using System.Text.Json;
using Azure.Data.Tables;
using Azure.Storage.Queues;
using PaymentFunctions.Notifications;
using PaymentFunctions.Orders;
using PaymentFunctions.Pyun;
using PaymentFunctions.Storage;

namespace PaymentFunctions.Benchmarks;

/// <summary>What the driver and the floors share: storage names and clients, seeded orders, signed notifications.</summary>
public static class Workload
{
    public const string AppId = "op-bench-app";
    public const string AppSecret = "bench-secret-not-for-production";
    public const string Merchant = "62626601";
    public const string FunctionKey = "bench-function-key-0123456789abcdef";
    public const string DirectConnection = "UseDevelopmentStorage=true";
    public const int QueuePort = 10001;
    public const int TablePort = 10002;
    private const string DevKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    /// <summary>The Azurite account through other ports (the counting proxies).</summary>
    public static string ProxiedConnection(int tablePort, int queuePort) =>
        $"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={DevKey};" +
        $"TableEndpoint=http://127.0.0.1:{tablePort}/devstoreaccount1;QueueEndpoint=http://127.0.0.1:{queuePort}/devstoreaccount1;";

    public static StorageOptions Names(string prefix) => new() { NamePrefix = prefix };

    public static QueueClient Queue(string prefix, string connection = DirectConnection) =>
        new(connection, Names(prefix).NotificationQueue, new QueueClientOptions { MessageEncoding = QueueMessageEncoding.Base64 });

    public static TableClient Orders(string prefix, string connection = DirectConnection) => new(connection, Names(prefix).OrdersTable);

    /// <summary>A fresh name prefix for one app instance or floor: 12 lowercase letters and digits at most.</summary>
    public static string NewPrefix(string run, string role) => $"b{run}{role}";

    /// <summary>Creates the order tables and queue of a prefix, as the app would on its first use.</summary>
    public static async Task CreateAsync(string prefix)
    {
        await Orders(prefix).CreateIfNotExistsAsync();
        await new TableClient(DirectConnection, Names(prefix).OrderIndexTable).CreateIfNotExistsAsync();
        await Queue(prefix).CreateIfNotExistsAsync();
    }

    /// <summary>
    /// Orders as PrepareOrder leaves them (Pending, one prepared attempt), written directly: one transaction each.
    /// Returns their pay_order numbers.
    /// </summary>
    public static async Task<List<string>> SeedOrdersAsync(string prefix, int count, int concurrency)
    {
        var table = Orders(prefix);
        var now = DateTimeOffset.UtcNow;
        var payOrders = new List<string>(count);
        var ids = Enumerable.Range(0, count).Select(_ => PayOrderNumber.NewOrderId()).ToList();
        await Parallel.ForEachAsync(ids, new ParallelOptions { MaxDegreeOfParallelism = concurrency }, async (id, ct) =>
        {
            var order = new OrderEntity
            {
                PartitionKey = id,
                MerchantOrderNo = "B" + id[..20],
                Subject = "停车缴费",
                Body = "粤B12345 停车 2 小时",
                Amount = 1000,
                Scene = "PARKING",
                Extra = """{"plate":"粤B12345","plate_color":"1","parking_serial":"P20261125001","park_name":"演示停车场","enter_time":"1764028800000","parking_time":"3600","free_value":0}""",
                StatusValue = OrderStatus.Pending,
                CreatedAt = now,
                UpdatedAt = now,
                ExpiresAt = now.AddHours(2),
                AttemptCount = 1,
            };
            var attempt = new AttemptEntity
            {
                PartitionKey = id,
                RowKey = OrderRows.Attempt(1),
                Number = 1,
                PayOrder = PayOrderNumber.Format(id, 1),
                PayId = "6217" + id[..12],
                Client = "wechat",
                CreatedAt = now,
                ExpiresAt = now.AddMinutes(5),
                State = AttemptStates.Prepared,
            };
            await table.SubmitTransactionAsync([new(TableTransactionActionType.Add, order), new(TableTransactionActionType.Add, attempt)], ct);
        });
        payOrders.AddRange(ids.Select(id => PayOrderNumber.Format(id, 1)));
        return payOrders;
    }

    /// <summary>P云's signed notification form for a payment of 1000 fen (P云 开放平台 支付结果异步通知), as the fake P云 sends it.</summary>
    public static Dictionary<string, string> PaidForm(string payOrder, int status = 1)
    {
        var form = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["app_id"] = AppId,
            ["merchant"] = Merchant,
            ["pay_order"] = payOrder,
            ["channel"] = "200201",
            ["pay_serial"] = "5030" + payOrder[..16],
            ["trade_no"] = "4200" + payOrder[..16],
            ["value"] = "1000",
            ["status"] = status.ToString(CultureInfo.InvariantCulture),
            ["trade_time"] = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture),
            ["pay_mode"] = "99",
            ["pay_mode_desc"] = "微信",
            ["fee"] = "6",
        };
        form["sign"] = PyunSignature.Sign(form!, AppSecret);
        return form;
    }

    public static string FormBody(Dictionary<string, string> form) =>
        string.Join('&', form.Select(f => $"{Uri.EscapeDataString(f.Key)}={Uri.EscapeDataString(f.Value)}"));

    /// <summary>The queue message intake writes for a form.</summary>
    public static string Envelope(Dictionary<string, string> form) =>
        new NotificationEnvelope(NotificationEnvelope.CurrentVersion, PyunTradeNotification.Kind, DateTimeOffset.UtcNow,
            JsonSerializer.SerializeToElement(form)).ToJson();

    public static async Task FillQueueAsync(string prefix, IEnumerable<string> payOrders, int concurrency)
    {
        var queue = Queue(prefix);
        await Parallel.ForEachAsync(payOrders, new ParallelOptions { MaxDegreeOfParallelism = concurrency },
            async (payOrder, ct) => await queue.SendMessageAsync(Envelope(PaidForm(payOrder)), ct));
    }

    /// <summary>Deletes every table and queue whose name starts with one of the prefixes.</summary>
    public static async Task CleanUpAsync(IEnumerable<string> prefixes)
    {
        var tables = new TableServiceClient(DirectConnection);
        var queues = new QueueServiceClient(DirectConnection);
        foreach (var prefix in prefixes)
        {
            await foreach (var table in tables.QueryAsync(TableServiceClient.CreateQueryFilter($"TableName ge {prefix} and TableName lt {prefix + "~"}")))
            {
                await tables.DeleteTableAsync(table.Name);
            }

            await foreach (var queue in queues.GetQueuesAsync(prefix: prefix))
            {
                await queues.DeleteQueueAsync(queue.Name);
            }
        }
    }
}
