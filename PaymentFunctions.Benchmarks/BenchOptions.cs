using System.Globalization;

namespace PaymentFunctions.Benchmarks;

/// <summary>The sizes of one run. The defaults keep it to about two minutes on a 2-core machine.</summary>
public sealed record BenchOptions
{
    public int Orders { get; init; } = 2000;
    public int Rounds { get; init; } = 8;
    public int Intake { get; init; } = 2000;
    public int Concurrency { get; init; } = 32;
    public int LoadClients { get; init; } = 300;
    public int LoadRounds { get; init; } = 3;
    public int OutageClients { get; init; } = 350;
    public int OutageSeconds { get; init; } = 5;
    public int ColdStarts { get; init; } = 5;
    public int CountOrders { get; init; } = 20;
    public string? Root { get; init; }
    public string Configuration { get; init; } = "Release";
    public string? App { get; init; }
    public IReadOnlySet<string> Steps { get; init; } = AllSteps;
    public static readonly IReadOnlySet<string> AllSteps = new HashSet<string>(["counts", "cold", "memory", "intake", "processor"], StringComparer.Ordinal);
    public IReadOnlyDictionary<string, string> AppEnvironment { get; init; } = new Dictionary<string, string>();

    public const string Help = """
        PaymentFunctions benchmark: the app as its own process against Azurite (127.0.0.1) and a fake P云,
        each figure side by side with its floor in the same run.

          --orders N          paid notifications drained by the processor, per side (default 2000)
          --rounds N          floor/product rounds the processor and intake runs are split into (default 8);
                              the ratio printed is the median of the rounds' ratios
          --intake N          notifications posted to intake, per side (default 2000)
          --concurrency N     intake clients, and the floor's parallel sends (default 32)
          --load-clients N    concurrent clients for the memory-under-load figure (default 300)
          --load-rounds N     notify + 3 status reads per client and round (default 3)
          --outage-clients N  concurrent clients while storage is cut (default 350)
          --outage-seconds N  how long storage stays cut (default 5)
          --cold-starts N     cold starts per side (default 5)
          --count-orders N    orders walked through while counting storage requests (default 20)
          --root PATH         repository root (default: found from the working directory)
          --configuration C   build configuration of the app (default Release)
          --app PATH          the app's PaymentFunctions.dll (default: the build output), e.g. a published one
          --steps a,b,...     only these of counts, cold, memory, intake, processor (default all)
          --app-env K=V,...   extra environment for the app's processes and the floors' (not the bare app's),
                              e.g. DOTNET_gcServer=1, to try a runtime setting without rebuilding
        """;

    /// <summary>Parses <c>--name value</c> pairs; null (and a message) when an argument is unknown or malformed.</summary>
    public static BenchOptions? Parse(string[] args, out string error)
    {
        var o = new BenchOptions();
        error = "";
        for (var i = 0; i < args.Length; i += 2)
        {
            var name = args[i];
            if (name is "-h" or "--help")
            {
                return null;
            }

            if (i + 1 >= args.Length)
            {
                error = $"{name} needs a value.";
                return null;
            }

            var value = args[i + 1];
            int Int() => int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0
                ? n
                : throw new FormatException($"{name} must be a positive whole number.");
            try
            {
                o = name switch
                {
                    "--orders" => o with { Orders = Int() },
                    "--rounds" => o with { Rounds = Int() },
                    "--intake" => o with { Intake = Int() },
                    "--concurrency" => o with { Concurrency = Int() },
                    "--load-clients" => o with { LoadClients = Int() },
                    "--load-rounds" => o with { LoadRounds = Int() },
                    "--outage-clients" => o with { OutageClients = Int() },
                    "--outage-seconds" => o with { OutageSeconds = Int() },
                    "--cold-starts" => o with { ColdStarts = Int() },
                    "--count-orders" => o with { CountOrders = Int() },
                    "--root" => o with { Root = value },
                    "--configuration" => o with { Configuration = value },
                    "--app" => o with { App = Path.GetFullPath(value) },
                    "--steps" => o with
                    {
                        Steps = value.Split(',').All(AllSteps.Contains)
                            ? value.Split(',').ToHashSet(StringComparer.Ordinal)
                            : throw new FormatException($"--steps takes {string.Join(", ", AllSteps)}."),
                    },
                    "--app-env" => o with
                    {
                        AppEnvironment = value.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(kv => kv.Split('=', 2))
                            .ToDictionary(kv => kv[0], kv => kv.Length == 2 ? kv[1] : throw new FormatException("--app-env takes K=V pairs separated by commas.")),
                    },
                    _ => throw new FormatException($"Unknown option {name}."),
                };
            }
            catch (FormatException ex)
            {
                error = ex.Message;
                return null;
            }
        }

        return o;
    }
}
