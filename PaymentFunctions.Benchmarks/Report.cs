using System.Globalization;

namespace PaymentFunctions.Benchmarks;

/// <summary>The figures of one run and how they print: each beside its floor, with the ratio and the goal.</summary>
public sealed class Report
{
    public double ProcessorRate { get; set; } = double.NaN;
    public double ProcessorFloorRate { get; set; } = double.NaN;
    public double ProcessorCpuMs { get; set; } = double.NaN;
    public double ProcessorFloorCpuMs { get; set; } = double.NaN;
    public string ProcessorRounds { get; set; } = "";
    public double ProcessorMedianRatio { get; set; } = double.NaN;

    public double IntakeRate { get; set; } = double.NaN;
    public double IntakeFloorRate { get; set; } = double.NaN;
    public double IntakeCpuMs { get; set; } = double.NaN;
    public double IntakeFloorCpuMs { get; set; } = double.NaN;
    public string IntakeRounds { get; set; } = "";
    public double IntakeMedianRatio { get; set; } = double.NaN;

    public long StartupCreates { get; set; }
    public double Create { get; set; } = double.NaN;
    public double Prepare { get; set; } = double.NaN;
    public double Intake { get; set; } = double.NaN;
    public double Processing { get; set; } = double.NaN;
    public string ProcessingDetail { get; set; } = "";
    public double Status { get; set; } = double.NaN;
    public double DuplicateIntake { get; set; } = double.NaN;
    public double DuplicateProcessing { get; set; } = double.NaN;
    public string DuplicateDetail { get; set; } = "";

    public double IdleMb { get; set; } = double.NaN;
    public double BareIdleMb { get; set; } = double.NaN;
    public double StartedIdleMb { get; set; } = double.NaN;
    public double LoadPeakMb { get; set; } = double.NaN;
    public double LoadAfterMb { get; set; } = double.NaN;
    public int LoadFailures { get; set; }
    public int IdleThreads { get; set; }
    public int LoadThreads { get; set; }
    public int OutageThreads { get; set; }
    public double OutageBeforeMb { get; set; } = double.NaN;
    public double OutagePeakMb { get; set; } = double.NaN;
    public double OutageAfterMb { get; set; } = double.NaN;
    public string OutageAnswers { get; set; } = "";

    public double ColdProductMs { get; set; } = double.NaN;
    public double ColdBareMs { get; set; } = double.NaN;
    public double ColdStandaloneMs { get; set; } = double.NaN;

    public void Print(BenchOptions o, TimeSpan elapsed)
    {
        var perPaid = Create + Prepare + Intake + Processing + Status;
        // The design's least: index + order insert; attempt claim + pay_id write; one send; read + transaction +
        // delete (+ the batch's receive); one read.
        const double FloorPerPaid = 2 + 2 + 1 + 3 + 1;
        var perDuplicate = DuplicateIntake + DuplicateProcessing;

        Console.WriteLine($"PaymentFunctions benchmark ({Environment.ProcessorCount} cores, Azurite on 127.0.0.1, {elapsed.TotalSeconds:0} s)");
        Console.WriteLine($"{"figure",-44}{"product",11}{"floor",11}{"ratio",8}  goal");
        if (!double.IsNaN(ProcessorRate))
        {
            Row($"processor, orders/s ({o.Orders} paid, {o.Rounds} rounds)", ProcessorRate, ProcessorFloorRate, ProcessorMedianRatio, ">= 0.85");
            Row("  CPU ms per order", ProcessorCpuMs, ProcessorFloorCpuMs, ProcessorCpuMs / ProcessorFloorCpuMs, "");
            Line(F($"  ratio per round: {ProcessorRounds}; the ratio above is their median (of the totals: {ProcessorRate / ProcessorFloorRate:0.00})"));
        }

        if (!double.IsNaN(IntakeRate))
        {
            Row($"intake, notifications/s (concurrency {o.Concurrency})", IntakeRate, IntakeFloorRate, IntakeMedianRatio, ">= 0.9");
            Row("  CPU ms per notification", IntakeCpuMs, IntakeFloorCpuMs, IntakeCpuMs / IntakeFloorCpuMs, "");
            Line(F($"  ratio per round: {IntakeRounds}; the ratio above is their median (of the totals: {IntakeRate / IntakeFloorRate:0.00})"));
        }

        if (!double.IsNaN(Create))
        {
            Row("storage requests per paid order", perPaid, FloorPerPaid, perPaid / FloorPerPaid, "about 9 (create keeps 2)");
            Line(F($"  create {Create:0.##}, prepare {Prepare:0.##}, intake {Intake:0.##}, processing {Processing:0.##}, status {Status:0.##}"));
            Line($"  processing: {ProcessingDetail}");
            Row("storage requests per duplicate notification", perDuplicate, double.NaN, double.NaN, "<= 4");
            Line(F($"  intake {DuplicateIntake:0.##}, processing {DuplicateProcessing:0.##}: {DuplicateDetail}"));
            Row("storage create calls at start-up", StartupCreates, double.NaN, double.NaN, "");
        }

        if (!double.IsNaN(IdleMb))
        {
            Row("memory idle after an order, MB RSS", IdleMb, BareIdleMb, IdleMb / BareIdleMb, "<= 80 MB");
            Line("  one order created, prepared, paid and read, then 3 s quiet; floor: the bare app, started");
            Row($"memory under load, MB peak ({o.LoadClients} clients)", LoadPeakMb, double.NaN, double.NaN, "<= 150 MB");
            Line(F($"  after the load {LoadAfterMb:0} MB; {LoadFailures} requests failed; threads idle {IdleThreads}, under load {LoadThreads}"));
        }

        if (!double.IsNaN(OutagePeakMb))
        {
            Row($"memory, storage cut, MB peak ({o.OutageClients} clients)", OutagePeakMb, OutageBeforeMb, OutagePeakMb / OutageBeforeMb, "bounded");
            Line(F($"  before {OutageBeforeMb:0} MB, 3 s after {OutageAfterMb:0} MB; {OutageThreads} threads; answers: {OutageAnswers}"));
        }

        if (!double.IsNaN(StartedIdleMb))
        {
            Row("memory idle after start, MB RSS", StartedIdleMb, BareIdleMb, StartedIdleMb / BareIdleMb, "<= 80 MB");
            Line("  as the host starts it, answering only \"/\", before any storage call");
        }

        if (!double.IsNaN(ColdProductMs))
        {
            Row("cold start to the first answer, ms", ColdProductMs, ColdBareMs, ColdProductMs / ColdBareMs, "<= 1.5");
            Line("  as the Functions host starts it (FUNCTIONS_CUSTOMHANDLER_PORT, no listener of its own)");
            Row("  standalone, with its own queue listener", ColdStandaloneMs, ColdBareMs, ColdStandaloneMs / ColdBareMs, "");
        }
    }

    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    private static void Line(string text) => Console.WriteLine(text);

    private static void Row(string name, double product, double floor, double ratio, string goal) =>
        Console.WriteLine(F($"{name,-44}{Num(product),11}{Num(floor),11}{(double.IsNaN(ratio) ? "" : ratio.ToString("0.00", CultureInfo.InvariantCulture)),8}  {goal}"));

    private static string Num(double value) => double.IsNaN(value) ? "" : value.ToString(value >= 100 ? "0" : "0.00", CultureInfo.InvariantCulture);
}
