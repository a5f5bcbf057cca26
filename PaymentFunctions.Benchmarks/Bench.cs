using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using PaymentFunctions.Fakes.Pyun;

namespace PaymentFunctions.Benchmarks;

/// <summary>One benchmark run: every figure of issue 7's "Memory and speed", each beside its floor.</summary>
public sealed class Bench(BenchOptions options) : IAsyncDisposable
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly string _run = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray())[..6];
    private readonly List<string> _prefixes = [];
    private readonly List<ChildProcess> _children = [];
    private readonly Report _report = new();
    private string _root = "";
    private string _logs = "";
    private WebApplication? _fake;
    private string _fakeUrl = "";
    private readonly HttpClient _http = new(new SocketsHttpHandler { MaxConnectionsPerServer = int.MaxValue, PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30) })
    {
        Timeout = TimeSpan.FromSeconds(60),
    };

    private string AppDll => options.App ?? Path.Combine(_root, "PaymentFunctions", "bin", options.Configuration, "net10.0", "PaymentFunctions.dll");

    private string BareDll => Path.Combine(_root, "PaymentFunctions.Benchmarks", "Bare", "bin", options.Configuration, "net10.0", "PaymentFunctions.Benchmarks.Bare.dll");

    public async Task RunAsync()
    {
        _root = options.Root ?? FindRoot();
        _logs = Path.Combine(_root, ".local", "bench");
        Directory.CreateDirectory(_logs);
        foreach (var dll in new[] { AppDll, BareDll })
        {
            if (!File.Exists(dll))
            {
                throw new FileNotFoundException($"{dll} is missing: build the solution ({options.Configuration}) first.");
            }
        }

        await StartFakePyunAsync();
        Console.WriteLine($"Run {_run}: {Environment.ProcessorCount} cores; logs in {_logs}. Each step prints when it ends.");
        var total = Stopwatch.StartNew();

        await Step("counts", "storage requests (through a counting proxy) and memory during an outage", CountAndOutageAsync);
        await Step("cold", "cold start vs a bare ASP.NET Core app", ColdStartAsync);
        await Step("memory", "memory idle and under load", MemoryAsync);
        await Step("intake", "intake vs raw SendMessageAsync", IntakeAsync);
        await Step("processor", "processor vs its floor", ProcessorAsync);

        Console.WriteLine();
        _report.Print(options, total.Elapsed);
    }

    private async Task Step(string key, string name, Func<Task> step)
    {
        if (!options.Steps.Contains(key))
        {
            return;
        }

        var clock = Stopwatch.StartNew();
        await step();
        Console.WriteLine($"  done: {name} ({clock.Elapsed.TotalSeconds:0.0} s)");
    }

    // ---------------------------------------------------------------- storage requests and outage memory

    private async Task CountAndOutageAsync()
    {
        await using var tables = new CountingProxy("table", Workload.TablePort);
        await using var queues = new CountingProxy("queue", Workload.QueuePort);
        var prefix = Prefix("c");
        using var app = await StartAppAsync("count", prefix, Workload.ProxiedConnection(tables.Port, queues.Port), listener: true);

        // The listener creates the tables and queues, then polls: its first receive marks the end of start-up.
        await WaitUntilAsync(() => queues.Count("queue.receive") > 0, TimeSpan.FromSeconds(30), "the listener's first poll");
        var startup = Counts(tables, queues);
        _report.StartupCreates = startup.GetValueOrDefault("table.create") + startup.GetValueOrDefault("queue.create");

        var n = options.CountOrders;
        var s0 = Counts(tables, queues);
        var orderIds = new List<string>();
        for (var i = 0; i < n; i++)
        {
            using var create = await PostJsonAsync(app, "/api/orders", Order(), business: true);
            Expect(create, HttpStatusCode.Created, "create");
            orderIds.Add((await create.Content.ReadFromJsonAsync<JsonElement>(Json)).GetProperty("orderId").GetString()!);
        }

        var s1 = Counts(tables, queues);
        var payOrders = new List<string>();
        foreach (var id in orderIds)
        {
            using var prepare = await PostJsonAsync(app, $"/api/orders/{id}/prepare", new { client = "wechat" });
            Expect(prepare, HttpStatusCode.OK, "prepare");
            payOrders.Add((await prepare.Content.ReadFromJsonAsync<JsonElement>(Json)).GetProperty("payOrder").GetString()!);
        }

        var s2 = Counts(tables, queues);
        var forms = payOrders.Select(p => Workload.PaidForm(p)).ToList();
        await NotifyAllAsync(app, forms, 4);
        await WaitUntilAsync(() => queues.Count("queue.delete") - s2.GetValueOrDefault("queue.delete") >= n, TimeSpan.FromSeconds(60), "processing");
        var s3 = Counts(tables, queues);
        foreach (var id in orderIds)
        {
            using var status = await _http.GetAsync($"{app.BaseUrl}/api/orders/{id}");
            Expect(status, HttpStatusCode.OK, "status");
            var view = await status.Content.ReadFromJsonAsync<JsonElement>(Json);
            if (view.GetProperty("status").GetString() != "Paid")
            {
                throw new InvalidOperationException($"Order {id} is {view.GetProperty("status")}, not Paid, after its notification.");
            }
        }

        var s4 = Counts(tables, queues);
        await NotifyAllAsync(app, forms, 4);
        await WaitUntilAsync(() => queues.Count("queue.delete") - s4.GetValueOrDefault("queue.delete") >= n, TimeSpan.FromSeconds(60), "duplicates");
        var s5 = Counts(tables, queues);

        static bool NotPolling(string kind) => kind != "queue.receive";
        double PerOrder(Dictionary<string, long> a, Dictionary<string, long> b, Func<string, bool> which) =>
            (double)b.Where(kv => which(kv.Key)).Sum(kv => kv.Value - a.GetValueOrDefault(kv.Key)) / n;

        _report.Create = PerOrder(s0, s1, NotPolling);
        _report.Prepare = PerOrder(s1, s2, NotPolling);
        _report.Intake = PerOrder(s2, s3, k => k == "queue.send");
        _report.Processing = PerOrder(s2, s3, k => k != "queue.send");
        _report.ProcessingDetail = Detail(s2, s3, k => k != "queue.send", n);
        _report.Status = PerOrder(s3, s4, NotPolling);
        _report.DuplicateIntake = PerOrder(s4, s5, k => k == "queue.send");
        _report.DuplicateProcessing = PerOrder(s4, s5, k => k != "queue.send");
        _report.DuplicateDetail = Detail(s4, s5, k => k != "queue.send", n);

        // Storage goes away under many concurrent notifications: every one must fail fast, and memory stay bounded.
        var idle = app.RssMb();
        tables.Cut();
        queues.Cut();
        using var stop = new CancellationTokenSource();
        var peak = app.PeakAsync(TimeSpan.FromMilliseconds(50), stop.Token);
        var deadline = Stopwatch.StartNew();
        var answers = new int[600];
        await Task.WhenAll(Enumerable.Range(0, options.OutageClients).Select(async c =>
        {
            var body = Workload.FormBody(forms[c % forms.Count]);
            while (deadline.Elapsed < TimeSpan.FromSeconds(options.OutageSeconds))
            {
                try
                {
                    using var response = await _http.PostAsync($"{app.BaseUrl}/api/notify/pyun", new StringContent(body, Encoding.UTF8, "application/x-www-form-urlencoded"));
                    Interlocked.Increment(ref answers[(int)response.StatusCode]);
                }
                catch (HttpRequestException)
                {
                    Interlocked.Increment(ref answers[0]);
                }
            }
        }));
        await stop.CancelAsync();
        tables.Restore();
        queues.Restore();
        (_report.OutagePeakMb, _report.OutageThreads) = await peak;
        _report.OutageBeforeMb = idle;
        _report.OutageAnswers = string.Join(", ", answers.Select((count, code) => (count, code)).Where(a => a.count > 0).Select(a => $"{a.count}× {(a.code == 0 ? "no answer" : a.code)}"));
        await Task.Delay(3000);
        _report.OutageAfterMb = app.RssMb();
    }

    private static Dictionary<string, long> Counts(CountingProxy tables, CountingProxy queues) =>
        tables.Snapshot().Concat(queues.Snapshot()).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);

    private static string Detail(Dictionary<string, long> a, Dictionary<string, long> b, Func<string, bool> which, int n) =>
        string.Join(", ", b.Where(kv => which(kv.Key) && kv.Value > a.GetValueOrDefault(kv.Key)).OrderBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv => string.Create(CultureInfo.InvariantCulture, $"{kv.Key} {(double)(kv.Value - a.GetValueOrDefault(kv.Key)) / n:0.##}")));

    // ---------------------------------------------------------------- cold start

    private async Task ColdStartAsync()
    {
        var prefix = Prefix("s");
        await Workload.CreateAsync(prefix);
        var times = new Dictionary<string, List<double>>(StringComparer.Ordinal) { ["bare"] = [], ["host"] = [], ["standalone"] = [] };
        for (var i = 0; i < options.ColdStarts; i++)
        {
            // Rotate which goes first, so drift on a shared machine hits every side alike.
            var sides = times.Keys.ToList();
            for (var k = 0; k < sides.Count; k++)
            {
                var side = sides[(i + k) % sides.Count];
                using var child = side switch
                {
                    "bare" => StartBare(),
                    // As the Functions host starts it in Azure: on the port the host names, no listener of its own.
                    "host" => StartApp("cold-host", "", Workload.DirectConnection, listener: false, functionsHost: true),
                    _ => StartApp("cold", prefix, Workload.DirectConnection, listener: true),
                };
                times[side].Add((await child.WaitForFirstAnswerAsync(TimeSpan.FromSeconds(30))).TotalMilliseconds);
            }
        }

        _report.ColdBareMs = Median(times["bare"]);
        _report.ColdProductMs = Median(times["host"]);
        _report.ColdStandaloneMs = Median(times["standalone"]);

        // Idle right after start, answering only "/" (what the host polls): the app against what `dotnet new web` is.
        _report.BareIdleMb = await IdleAfterStartAsync(StartBare());
        _report.StartedIdleMb = await IdleAfterStartAsync(StartApp("idle-host", "", Workload.DirectConnection, listener: false, functionsHost: true));
    }

    private async Task<double> IdleAfterStartAsync(ChildProcess child)
    {
        using (child)
        {
            await child.WaitForFirstAnswerAsync(TimeSpan.FromSeconds(30));
            for (var i = 0; i < 20; i++)
            {
                using var _ = await _http.GetAsync(child.BaseUrl + "/");
            }

            return await SettledRssAsync(child);
        }
    }

    // ---------------------------------------------------------------- memory

    private async Task MemoryAsync()
    {
        var prefix = Prefix("m");
        await Workload.CreateAsync(prefix);
        var payOrders = await Workload.SeedOrdersAsync(prefix, options.LoadClients, options.Concurrency);
        using var app = await StartAppAsync("memory", prefix, Workload.DirectConnection, listener: true);

        // Warm: one order the whole way through, as a mini program would, then quiet.
        using (var create = await PostJsonAsync(app, "/api/orders", Order(), business: true))
        {
            Expect(create, HttpStatusCode.Created, "create");
            var id = (await create.Content.ReadFromJsonAsync<JsonElement>(Json)).GetProperty("orderId").GetString()!;
            using var prepare = await PostJsonAsync(app, $"/api/orders/{id}/prepare", new { client = "wechat" });
            Expect(prepare, HttpStatusCode.OK, "prepare");
            var payOrder = (await prepare.Content.ReadFromJsonAsync<JsonElement>(Json)).GetProperty("payOrder").GetString()!;
            await NotifyAllAsync(app, [Workload.PaidForm(payOrder)], 1);
            await WaitUntilAsync(async () => (await _http.GetFromJsonAsync<JsonElement>($"{app.BaseUrl}/api/orders/{id}", Json)).GetProperty("status").GetString() == "Paid",
                TimeSpan.FromSeconds(30), "the warm-up payment");
        }

        _report.IdleMb = await SettledRssAsync(app);
        _report.IdleThreads = app.Threads();

        using var stop = new CancellationTokenSource();
        var peak = app.PeakAsync(TimeSpan.FromMilliseconds(50), stop.Token);
        var failures = 0;
        await Task.WhenAll(payOrders.Select(async payOrder =>
        {
            var body = Workload.FormBody(Workload.PaidForm(payOrder));
            var orderId = payOrder[..payOrder.LastIndexOf('-')];
            for (var round = 0; round < options.LoadRounds; round++)
            {
                using var notify = await _http.PostAsync($"{app.BaseUrl}/api/notify/pyun", new StringContent(body, Encoding.UTF8, "application/x-www-form-urlencoded"));
                if (!notify.IsSuccessStatusCode)
                {
                    Interlocked.Increment(ref failures);
                }

                for (var i = 0; i < 3; i++)
                {
                    using var status = await _http.GetAsync($"{app.BaseUrl}/api/orders/{orderId}");
                    if (!status.IsSuccessStatusCode)
                    {
                        Interlocked.Increment(ref failures);
                    }
                }
            }
        }));
        await stop.CancelAsync();
        (_report.LoadPeakMb, _report.LoadThreads) = await peak;
        _report.LoadFailures = failures;
        await WaitUntilAsync(async () => (await Workload.Queue(prefix).GetPropertiesAsync()).Value.ApproximateMessagesCount == 0, TimeSpan.FromSeconds(60), "the load's notifications");
        _report.LoadAfterMb = await SettledRssAsync(app);
    }

    // ---------------------------------------------------------------- intake

    private async Task IntakeAsync()
    {
        var prefix = Prefix("i");
        await Workload.CreateAsync(prefix);
        using var app = await StartAppAsync("intake", prefix, Workload.DirectConnection, listener: false);
        var perRound = Math.Max(1, options.Intake / options.Rounds);
        var bodies = Enumerable.Range(0, perRound).Select(_ => Workload.FormBody(Workload.PaidForm(Orders.PayOrderNumber.Format(Orders.PayOrderNumber.NewOrderId(), 1)))).ToList();
        await PostAllAsync(app, bodies.Take(200), options.Concurrency); // warm-up, as the floor does

        var product = new List<(double Seconds, double CpuMs)>();
        var floor = new List<(double Seconds, double CpuMs)>();
        await Workload.Queue(prefix).ClearMessagesAsync();
        for (var round = 0; round < options.Rounds; round++)
        {
            // Alternate which side goes first; each side's messages are cleared after it, so both send into the same state.
            foreach (var side in round % 2 == 0 ? new[] { "floor", "product" } : ["product", "floor"])
            {
                if (side == "floor")
                {
                    var floorPrefix = Prefix($"f{round}");
                    var log = Path.Combine(_logs, $"{_run}-floor-intake-{round}.log");
                    using (var child = ChildProcess.StartFloor("floor-intake", AppDll,
                               ["floor-intake", floorPrefix, perRound.ToString(CultureInfo.InvariantCulture), options.Concurrency.ToString(CultureInfo.InvariantCulture), "200"],
                               options.AppEnvironment, log))
                    {
                        await child.WaitForExitAsync(TimeSpan.FromMinutes(2));
                    }

                    var result = File.ReadLines(log).Last(l => l.StartsWith("RESULT ", StringComparison.Ordinal)).Split(' ');
                    floor.Add((double.Parse(result[1], CultureInfo.InvariantCulture) / 1000, double.Parse(result[2], CultureInfo.InvariantCulture)));
                    await Workload.CleanUpAsync([floorPrefix]);
                }
                else
                {
                    var cpu = app.CpuTime();
                    var clock = Stopwatch.StartNew();
                    await PostAllAsync(app, bodies, options.Concurrency);
                    product.Add((clock.Elapsed.TotalSeconds, (app.CpuTime() - cpu).TotalMilliseconds));
                    await Workload.Queue(prefix).ClearMessagesAsync();
                }
            }
        }

        _report.IntakeRate = perRound * product.Count / product.Sum(p => p.Seconds);
        _report.IntakeFloorRate = perRound * floor.Count / floor.Sum(p => p.Seconds);
        _report.IntakeCpuMs = product.Sum(p => p.CpuMs) / (perRound * product.Count);
        _report.IntakeFloorCpuMs = floor.Sum(p => p.CpuMs) / (perRound * floor.Count);
        var ratios = product.Zip(floor, (p, f) => f.Seconds / p.Seconds).ToList();
        _report.IntakeMedianRatio = Median(ratios);
        _report.IntakeRounds = string.Join(" ", ratios.Select(r => r.ToString("0.00", CultureInfo.InvariantCulture)));
    }

    private async Task PostAllAsync(ChildProcess app, IEnumerable<string> bodies, int concurrency)
    {
        var failed = 0;
        await Parallel.ForEachAsync(bodies, new ParallelOptions { MaxDegreeOfParallelism = concurrency }, async (body, ct) =>
        {
            using var response = await _http.PostAsync($"{app.BaseUrl}/api/notify/pyun", new StringContent(body, Encoding.UTF8, "application/x-www-form-urlencoded"), ct);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                Interlocked.Increment(ref failed);
            }
        });
        if (failed > 0)
        {
            throw new InvalidOperationException($"{failed} notifications were not accepted by intake.");
        }
    }

    // ---------------------------------------------------------------- processor

    private async Task ProcessorAsync()
    {
        var perRound = Math.Max(1, options.Orders / options.Rounds);
        var batch = PaymentFunctions.Hosting.QueueSettings.Load(Path.Combine(_root, "host.json")).BatchSize;
        var floor = new List<Drain>();
        var product = new List<Drain>();
        for (var round = 0; round < options.Rounds; round++)
        {
            // Alternate which side goes first; each side's orders and queue are written just before it runs and
            // deleted after, so both drain against an Azurite holding the same amount of data.
            foreach (var side in round % 2 == 0 ? new[] { "floor", "product" } : ["product", "floor"])
            {
                var prefix = Prefix(side == "floor" ? $"pf{round}" : $"pp{round}");
                await Workload.CreateAsync(prefix);
                var payOrders = await Workload.SeedOrdersAsync(prefix, perRound, options.Concurrency);
                await Workload.FillQueueAsync(prefix, payOrders, options.Concurrency);
                using (var child = side == "floor"
                           ? ChildProcess.StartFloor("floor-processor", AppDll,
                               ["floor-processor", prefix, perRound.ToString(CultureInfo.InvariantCulture), batch.ToString(CultureInfo.InvariantCulture)],
                               options.AppEnvironment, Path.Combine(_logs, $"{_run}-floor-processor-{round}.log"))
                           : StartApp($"processor-{round}", prefix, Workload.DirectConnection, listener: true))
                {
                    (side == "floor" ? floor : product).Add(await MeasureDrainAsync(child, prefix, perRound));
                }

                await Workload.CleanUpAsync([prefix]);
            }
        }

        _report.ProcessorRate = product.Sum(d => d.Count) / product.Sum(d => d.Seconds);
        _report.ProcessorFloorRate = floor.Sum(d => d.Count) / floor.Sum(d => d.Seconds);
        _report.ProcessorCpuMs = product.Sum(d => d.CpuMs) / product.Sum(d => d.Count);
        _report.ProcessorFloorCpuMs = floor.Sum(d => d.CpuMs) / floor.Sum(d => d.Count);
        var ratios = product.Zip(floor, (p, f) => p.Count / p.Seconds / (f.Count / f.Seconds)).ToList();
        _report.ProcessorMedianRatio = Median(ratios);
        _report.ProcessorRounds = string.Join(" ", ratios.Select(r => r.ToString("0.00", CultureInfo.InvariantCulture)));
    }

    private sealed record Drain(int Count, double Seconds, double CpuMs);

    /// <summary>
    /// Watches a pre-filled queue drain: from the first message gone to the last, the rate and the process's CPU
    /// time per message. The queue's approximate count includes leased messages, so a message counts when deleted.
    /// </summary>
    private static async Task<Drain> MeasureDrainAsync(ChildProcess child, string prefix, int total)
    {
        var queue = Workload.Queue(prefix);
        Stopwatch? clock = null;
        var startCount = 0;
        var cpu = TimeSpan.Zero;
        var timeout = Stopwatch.StartNew();
        while (timeout.Elapsed < TimeSpan.FromMinutes(3))
        {
            var count = (await queue.GetPropertiesAsync()).Value.ApproximateMessagesCount;
            if (clock is null && count < total)
            {
                clock = Stopwatch.StartNew();
                cpu = child.CpuTime();
                startCount = count;
            }

            if (clock is not null && count == 0)
            {
                return new Drain(startCount, clock.Elapsed.TotalSeconds, (child.CpuTime() - cpu).TotalMilliseconds);
            }

            if (child.HasExited && count > 0)
            {
                throw new InvalidOperationException($"{child.Name} exited with {count} messages left; see its log.");
            }

            await Task.Delay(25);
        }

        throw new TimeoutException($"{child.Name} did not drain its queue within 3 minutes.");
    }

    // ---------------------------------------------------------------- processes and helpers

    private string Prefix(string role)
    {
        var prefix = Workload.NewPrefix(_run, role);
        _prefixes.Add(prefix);
        return prefix;
    }

    private ChildProcess StartBare()
    {
        var port = ChildProcess.FreePort();
        var child = ChildProcess.Start("bare", BareDll, ["--urls", $"http://127.0.0.1:{port}"],
            new Dictionary<string, string>(), Path.Combine(_logs, $"{_run}-bare.log"), port);
        _children.Add(child);
        return child;
    }

    private async Task<ChildProcess> StartAppAsync(string name, string prefix, string connection, bool listener)
    {
        var child = StartApp(name, prefix, connection, listener);
        await child.WaitForFirstAnswerAsync(TimeSpan.FromSeconds(60));
        return child;
    }

    private ChildProcess StartApp(string name, string prefix, string connection, bool listener, bool functionsHost = false)
    {
        var port = ChildProcess.FreePort();
        var environment = new Dictionary<string, string>
        {
            ["AzureWebJobsStorage"] = connection,
            ["Storage__NamePrefix"] = prefix,
            [PaymentFunctions.Hosting.FunctionsHost.PortVariable] = functionsHost ? port.ToString(CultureInfo.InvariantCulture) : "",
            ["Pyun__BaseUrl"] = _fakeUrl,
            ["Pyun__AppId"] = Workload.AppId,
            ["Pyun__AppSecret"] = Workload.AppSecret,
            ["Pyun__Merchant"] = Workload.Merchant,
            ["Pyun__NotifyUrl"] = $"http://127.0.0.1:{port}/api/notify/pyun",
            ["FunctionKeys__Default"] = Workload.FunctionKey,
            ["QueueListener__Enabled"] = listener ? "true" : "false",
        };
        foreach (var (key, value) in options.AppEnvironment)
        {
            environment[key] = value;
        }

        var child = ChildProcess.Start(name, AppDll, functionsHost ? [] : ["--urls", $"http://127.0.0.1:{port}"], environment, Path.Combine(_logs, $"{_run}-{name}.log"), port);
        _children.Add(child);
        return child;
    }

    private async Task StartFakePyunAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _fake = builder.Build();
        var state = new FakePyunState(Workload.AppId, Workload.AppSecret, Workload.Merchant);
        _fake.MapFakePyun(state, () => _http);
        await _fake.StartAsync();
        _fakeUrl = _fake.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
    }

    private static Dictionary<string, object?> Order() => new Dictionary<string, object?>
    {
        ["merchantOrderNo"] = "B" + Guid.NewGuid().ToString("N")[..24],
        ["subject"] = "停车缴费",
        ["body"] = "粤B12345 停车 2 小时",
        ["amount"] = 1000,
        ["scene"] = "PARKING",
        ["extra"] = new Dictionary<string, object>
        {
            ["plate"] = "粤B12345", ["plate_color"] = "1", ["parking_serial"] = "P20261125001", ["park_name"] = "演示停车场",
            ["enter_time"] = "1764028800000", ["parking_time"] = "3600", ["free_value"] = 0,
        },
    };

    private async Task<HttpResponseMessage> PostJsonAsync(ChildProcess app, string path, object body, bool business = false)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, app.BaseUrl + path) { Content = JsonContent.Create(body, options: Json) };
        if (business)
        {
            request.Headers.Add("x-functions-key", Workload.FunctionKey);
        }

        return await _http.SendAsync(request);
    }

    private async Task NotifyAllAsync(ChildProcess app, IEnumerable<Dictionary<string, string>> forms, int concurrency) =>
        await PostAllAsync(app, forms.Select(Workload.FormBody), concurrency);

    private static void Expect(HttpResponseMessage response, HttpStatusCode status, string what)
    {
        if (response.StatusCode != status)
        {
            throw new InvalidOperationException($"{what} answered {(int)response.StatusCode}, expected {(int)status}: {response.Content.ReadAsStringAsync().GetAwaiter().GetResult()}");
        }
    }

    private static Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout, string what) =>
        WaitUntilAsync(() => Task.FromResult(condition()), timeout, what);

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            if (clock.Elapsed > timeout)
            {
                throw new TimeoutException($"Waited {timeout.TotalSeconds:0} s for {what}.");
            }

            await Task.Delay(20);
        }
    }

    /// <summary>RSS after 3 s of quiet: the median of 5 samples over the last second.</summary>
    private static async Task<double> SettledRssAsync(ChildProcess child)
    {
        await Task.Delay(2000);
        var samples = new List<double>();
        for (var i = 0; i < 5; i++)
        {
            samples.Add(child.RssMb());
            await Task.Delay(200);
        }

        return Median(samples);
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(Environment.CurrentDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "PaymentFunctions.sln")))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException("Run from inside the repository, or pass --root.");
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var child in _children)
        {
            child.Dispose();
        }

        if (_fake is not null)
        {
            await _fake.DisposeAsync();
        }

        try
        {
            await Workload.CleanUpAsync(_prefixes);
        }
        catch (Azure.RequestFailedException ex)
        {
            await Console.Error.WriteLineAsync($"Clean-up of the run's tables and queues failed: {ex.Message}");
        }

        _http.Dispose();
    }
}
