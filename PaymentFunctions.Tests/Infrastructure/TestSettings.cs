using System.Diagnostics;

namespace PaymentFunctions.Tests.Infrastructure;

/// <summary>
/// The one set of valid app settings the tests start from: P云 at a closed loopback port and the standalone queue
/// listener off, so an app started with them alone calls nothing. <see cref="PaymentApp"/> points P云 and storage at
/// the fake and Azurite on top of them; the deployment tests add storage settings; the tests that start the real
/// executable pass them as environment variables. A test that needs a bad setting changes one of these.
/// </summary>
internal static class TestSettings
{
    public static IReadOnlyDictionary<string, string?> Valid { get; } = new Dictionary<string, string?>(StringComparer.Ordinal)
    {
        ["Pyun:BaseUrl"] = "http://127.0.0.1:9",
        ["Pyun:AppId"] = "op-test",
        ["Pyun:AppSecret"] = "test-secret",
        ["Pyun:Merchant"] = "62626601",
        ["Pyun:NotifyUrl"] = "http://127.0.0.1:9/api/notify/pyun",
        ["FunctionKeys:Default"] = "test-function-key-0123456789",
        ["QueueListener:Enabled"] = "false",
    };

    /// <summary><see cref="Valid"/> plus development storage, as environment variables (<c>Pyun__AppId</c>).</summary>
    public static Dictionary<string, string?> ValidEnvironment()
    {
        var environment = Valid.ToDictionary(setting => setting.Key.Replace(":", "__", StringComparison.Ordinal), setting => setting.Value, StringComparer.Ordinal);
        environment["AzureWebJobsStorage"] = "UseDevelopmentStorage=true";
        return environment;
    }

    /// <summary>
    /// The real executable from the test output with exactly the given environment (a null value leaves the variable
    /// out): nothing from the developer's environment leaks in beyond what finds dotnet.
    /// </summary>
    public static ProcessStartInfo AppProcess(IEnumerable<KeyValuePair<string, string?>> environment, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "PaymentFunctions.dll"), .. args])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        start.Environment.Clear();
        start.Environment["PATH"] = Environment.GetEnvironmentVariable("PATH");
        start.Environment["HOME"] = Environment.GetEnvironmentVariable("HOME");
        start.Environment["DOTNET_ROOT"] = Environment.GetEnvironmentVariable("DOTNET_ROOT");
        foreach (var (key, value) in environment)
        {
            if (value is null)
            {
                start.Environment.Remove(key);
            }
            else
            {
                start.Environment[key] = value;
            }
        }

        return start;
    }
}
