using System.Diagnostics;
using PaymentFunctions.Tests.Infrastructure;

namespace PaymentFunctions.Tests.Deployment;

/// <summary>
/// The real executable with a bad configuration: it stops with exit code 1 and one line on stderr naming every
/// bad setting and the expected form; no stack trace, nothing half-started, and no secret value in the message.
/// </summary>
[Trait("Category", "Slow")] // starts the real executable once per case.
public sealed class StartupFailureTests
{
    private const string Secret = "THIS-IS-A-SECRET-VALUE-0123456789";

    private static async Task<(int ExitCode, string StdOut, string StdErr)> RunAsync(Dictionary<string, string?> changes)
    {
        var environment = TestSettings.ValidEnvironment();
        environment["Pyun__AppSecret"] = Secret;
        foreach (var (key, value) in changes)
        {
            environment[key] = value;
        }

        var start = TestSettings.AppProcess(environment, "--urls", "http://127.0.0.1:0");
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException("The app started instead of refusing its configuration.");
        }

        return (process.ExitCode, await stdout, await stderr);
    }

    [Theory]
    [InlineData("AzureWebJobsStorage", null, "Setting 'AzureWebJobsStorage' is missing")]
    [InlineData("AzureWebJobsStorage", "not a connection string", "Setting 'AzureWebJobsStorage' is malformed")]
    [InlineData("Pyun__AppId", null, "Setting 'Pyun:AppId' is missing")]
    [InlineData("Pyun__BaseUrl", "ftp://p", "Setting 'Pyun:BaseUrl' is malformed")]
    [InlineData("Pyun__BaseUrl", "http://api.4pyun.com", "Setting 'Pyun:BaseUrl' is malformed: expected https (http is allowed for loopback addresses only).")]
    [InlineData("Pyun__AttemptLifetime", "-00:01:00", "Setting 'Pyun:AttemptLifetime' must be a positive duration")]
    [InlineData("Pyun__CheckMaxRounds", "0", "Setting 'Pyun:CheckMaxRounds' must be a whole number from 1 to 20.")]
    [InlineData("FunctionKeys__Default", null, "Setting 'FunctionKeys:Default' is missing")]
    [InlineData("WeChatPay__MchId", "1900000001", "Setting 'WeChatPay:ApiV3Key'")]
    public async Task A_bad_setting_stops_the_app_with_one_clear_line(string key, string? value, string expected)
    {
        var (exitCode, stdout, stderr) = await RunAsync(new() { [key] = value });

        Assert.Equal(1, exitCode);
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("PaymentFunctions cannot start: ", lines[0], StringComparison.Ordinal);
        Assert.Contains(expected, lines[0], StringComparison.Ordinal);
        Assert.DoesNotMatch(@"\bat [\w.`<>]+\(", lines[0]); // no stack frame
        Assert.DoesNotContain("Exception", lines[0], StringComparison.Ordinal);
        Assert.DoesNotContain(Secret, stderr + stdout, StringComparison.Ordinal);
        Assert.Equal("", stdout.Trim());
    }

    [Fact]
    public async Task Several_bad_sections_are_all_named_on_the_one_line()
    {
        var (exitCode, _, stderr) = await RunAsync(new()
        {
            ["Pyun__Merchant"] = null,
            ["WeChatPay__ApiV3Key"] = Secret, // 33 characters: malformed, and must not be echoed
        });

        Assert.Equal(1, exitCode);
        Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("'Pyun:Merchant'", stderr, StringComparison.Ordinal);
        Assert.Contains("'WeChatPay:ApiV3Key' is malformed", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain(Secret, stderr, StringComparison.Ordinal);
    }
}
