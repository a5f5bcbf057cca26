using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace PaymentFunctions.Benchmarks;

/// <summary>
/// A .NET program started as its own process (the app, the bare app, or this driver in a floor mode), with its
/// output in a log file. Memory is its resident set (VmRSS), CPU its user + system time, both read from /proc.
/// </summary>
public sealed class ChildProcess : IDisposable
{
    private readonly Process _process;

    private ChildProcess(Process process, string name, int port, Stopwatch started)
    {
        _process = process;
        Name = name;
        Port = port;
        SinceStart = started;
    }

    public string Name { get; }

    public int Port { get; }

    public int Id => _process.Id;

    public Stopwatch SinceStart { get; }

    public string BaseUrl => $"http://127.0.0.1:{Port}";

    public bool HasExited => _process.HasExited;

    /// <summary>
    /// Starts <c>dotnet {dll} {args}</c> in the dll's folder with the given environment; stdout and stderr go to
    /// <paramref name="logPath"/> (through <c>sh -c exec</c>, so the process id is the program's own).
    /// </summary>
    public static ChildProcess Start(string name, string dll, IEnumerable<string> args, IReadOnlyDictionary<string, string> environment, string logPath, int port = 0) =>
        StartDotnet(name, Path.GetDirectoryName(dll)!, [dll, .. args], environment, logPath, port);

    /// <summary>
    /// Starts this driver in a floor mode under the app's own runtimeconfig.json (GC, thread pool and the like), so
    /// that a floor differs from the app in its code only, not in how the runtime is set up.
    /// </summary>
    public static ChildProcess StartFloor(string name, string appDll, IEnumerable<string> args, IReadOnlyDictionary<string, string> environment, string logPath)
    {
        var self = typeof(ChildProcess).Assembly.Location;
        return StartDotnet(name, Path.GetDirectoryName(self)!,
            ["exec", "--runtimeconfig", Path.ChangeExtension(appDll, ".runtimeconfig.json"), "--depsfile", Path.ChangeExtension(self, ".deps.json"), self, .. args],
            environment, logPath, 0);
    }

    private static ChildProcess StartDotnet(string name, string workingDirectory, IEnumerable<string> dotnetArgs, IReadOnlyDictionary<string, string> environment, string logPath, int port)
    {
        var info = new ProcessStartInfo("/bin/sh")
        {
            WorkingDirectory = workingDirectory,
            UseShellExecute = false,
        };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add("exec dotnet \"$@\" >>\"$LOG_PATH\" 2>&1");
        info.ArgumentList.Add("sh");
        foreach (var arg in dotnetArgs)
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment["LOG_PATH"] = logPath;
        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }

        var started = Stopwatch.StartNew();
        var process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {name}.");
        return new ChildProcess(process, name, port, started);
    }

    /// <summary>A port nobody listens on right now.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Polls GET / until it answers 200; returns the time from process start to that answer.</summary>
    public async Task<TimeSpan> WaitForFirstAnswerAsync(TimeSpan timeout, string path = "/")
    {
        using var http = new HttpClient(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(1), PooledConnectionLifetime = TimeSpan.Zero })
        {
            Timeout = TimeSpan.FromSeconds(5),
        };
        while (SinceStart.Elapsed < timeout)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"{Name} exited with code {_process.ExitCode} before answering; see its log.");
            }

            try
            {
                using var response = await http.GetAsync(BaseUrl + path);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return SinceStart.Elapsed;
                }
            }
            catch (HttpRequestException)
            {
            }

            await Task.Delay(5);
        }

        throw new TimeoutException($"{Name} did not answer within {timeout.TotalSeconds:0} s.");
    }

    /// <summary>Resident set size in MB.</summary>
    public double RssMb() => ReadRssMb(Id);

    public static double ReadRssMb(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                var kb = long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
                return kb / 1024.0;
            }
        }

        return double.NaN;
    }

    /// <summary>User + system CPU time so far.</summary>
    public TimeSpan CpuTime()
    {
        _process.Refresh();
        return _process.TotalProcessorTime;
    }

    /// <summary>Threads of the process right now.</summary>
    public int Threads()
    {
        foreach (var line in File.ReadLines($"/proc/{Id}/status"))
        {
            if (line.StartsWith("Threads:", StringComparison.Ordinal))
            {
                return int.Parse(line["Threads:".Length..].Trim(), CultureInfo.InvariantCulture);
            }
        }

        return 0;
    }

    /// <summary>Samples RSS and the thread count every <paramref name="every"/> until cancelled; returns the peaks.</summary>
    public async Task<(double RssMb, int Threads)> PeakAsync(TimeSpan every, CancellationToken cancellationToken)
    {
        var peak = 0.0;
        var threads = 0;
        while (!cancellationToken.IsCancellationRequested && !_process.HasExited)
        {
            peak = Math.Max(peak, RssMb());
            threads = Math.Max(threads, Threads());
            try
            {
                await Task.Delay(every, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        return _process.HasExited ? (peak, threads) : (Math.Max(peak, RssMb()), Math.Max(threads, Threads()));
    }

    public async Task<string> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        return _process.ExitCode.ToString(CultureInfo.InvariantCulture);
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                _process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
        }

        _process.Dispose();
    }
}
