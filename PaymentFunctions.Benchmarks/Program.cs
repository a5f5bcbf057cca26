using System.Globalization;

namespace PaymentFunctions.Benchmarks;

public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        var culture = CultureInfo.InvariantCulture;
        switch (args.FirstOrDefault())
        {
            case "floor-processor":
                return await Floors.ProcessorAsync(args[1], int.Parse(args[2], culture), int.Parse(args[3], culture));
            case "seed":
                // A profiling aid: `seed <prefix> <orders>` leaves prepared orders and their paid notifications
                // queued, for an app started by hand (e.g. under dotnet-trace) with Storage__NamePrefix=<prefix>.
                await Workload.CreateAsync(args[1]);
                await Workload.FillQueueAsync(args[1], await Workload.SeedOrdersAsync(args[1], int.Parse(args[2], culture), 32), 32);
                return 0;
            case "notify":
                // A profiling aid: `notify <base url> <count> <concurrency>` posts signed paid notifications to an app.
                return await NotifyAsync(args[1], int.Parse(args[2], culture), int.Parse(args[3], culture));
            case "clean-up":
                // `clean-up <prefix>...` deletes the tables and queues an interrupted run or a profiling seed left.
                await Workload.CleanUpAsync(args.Skip(1));
                return 0;
            case "floor-intake":
                return await Floors.IntakeAsync(args[1], int.Parse(args[2], culture), int.Parse(args[3], culture), int.Parse(args[4], culture));
        }

        var options = BenchOptions.Parse(args, out var error);
        if (options is null)
        {
            if (error.Length > 0)
            {
                await Console.Error.WriteLineAsync(error);
            }

            Console.WriteLine(BenchOptions.Help);
            return error.Length > 0 ? 2 : 0;
        }

        await using var bench = new Bench(options);
        try
        {
            await bench.RunAsync();
            return 0;
        }
        catch (Exception ex)
        {
            await Console.Error.WriteLineAsync($"Benchmark failed: {ex.Message}");
            await Console.Error.WriteLineAsync(ex.ToString());
            return 1;
        }
    }

    private static async Task<int> NotifyAsync(string baseUrl, int count, int concurrency)
    {
        using var http = new HttpClient();
        var bodies = Enumerable.Range(0, count)
            .Select(_ => Workload.FormBody(Workload.PaidForm(Orders.PayOrderNumber.Format(Orders.PayOrderNumber.NewOrderId(), 1)))).ToList();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await Parallel.ForEachAsync(bodies, new ParallelOptions { MaxDegreeOfParallelism = concurrency }, async (body, ct) =>
        {
            using var response = await http.PostAsync(baseUrl + "/api/notify/pyun", new StringContent(body, System.Text.Encoding.UTF8, "application/x-www-form-urlencoded"), ct);
            response.EnsureSuccessStatusCode();
        });
        Console.WriteLine($"{count} notifications in {clock.Elapsed.TotalSeconds:0.00} s");
        return 0;
    }
}
