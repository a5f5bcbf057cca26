using System.Diagnostics;
using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Text;
using System.Text.Json.Nodes;

namespace PaymentFunctions.Tests.Deployment;

/// <summary>
/// Builds the function-app package with the documented command (PaymentFunctions/FunctionApp.targets) from a
/// scratch copy of the sources, and checks what the Functions host needs: host.json and every
/// &lt;Name&gt;/function.json at the root, a self-contained linux-x64 executable named as host.json says, and a zip
/// that keeps its executable bit. About 10-40 s, most of it the publish.
/// </summary>
[UnsupportedOSPlatform("windows")]
[Trait("Category", "Slow")] // publishes the app (10-40 s).
public sealed class FunctionAppPackageTests(FunctionAppPackage package) : IClassFixture<FunctionAppPackage>
{
    private string PackageDir => package.Folder;

    private string PackageZip => package.Zip;

    [Fact]
    public void The_folder_is_a_function_app_root()
    {
        Assert.Equal(File.ReadAllText(RepositoryFiles.HostJsonPath), File.ReadAllText(Path.Combine(PackageDir, "host.json")));
        foreach (var (name, _) in RepositoryFiles.FunctionManifests())
        {
            var source = Path.Combine(RepositoryFiles.FunctionsDirectory, name, "function.json");
            var packaged = Path.Combine(PackageDir, name, "function.json");
            Assert.True(File.Exists(packaged), $"{name}/function.json is missing from the package root.");
            Assert.Equal(File.ReadAllText(source), File.ReadAllText(packaged));
        }

        Assert.False(Directory.Exists(Path.Combine(PackageDir, "Functions")), "function.json files must sit at <root>/<Name>/, not under Functions/.");
        Assert.False(File.Exists(Path.Combine(PackageDir, "local.settings.json")));
        Assert.False(File.Exists(Path.Combine(PackageDir, "web.config")));
    }

    [Fact]
    public void The_executable_is_self_contained_for_linux_x64_and_executable()
    {
        var executable = Path.Combine(PackageDir, DefaultExecutablePath());
        Assert.True(File.Exists(executable), $"{DefaultExecutablePath()} (host.json defaultExecutablePath) is missing from the package root.");
        Assert.True(File.GetUnixFileMode(executable).HasFlag(UnixFileMode.UserExecute), "The handler executable has no executable bit.");

        // An ELF x86-64 executable, not an apphost for the build machine's architecture.
        var header = new byte[20];
        using (var stream = File.OpenRead(executable))
        {
            stream.ReadExactly(header);
        }

        Assert.Equal("\u007fELF"u8.ToArray(), header[..4]);
        Assert.Equal(0x3E, BitConverter.ToUInt16(header, 18)); // e_machine = EM_X86_64

        // Self-contained: the runtime ships in the package and runtimeconfig names no shared framework to look for.
        Assert.True(File.Exists(Path.Combine(PackageDir, "libcoreclr.so")), "The .NET runtime is not in the package.");
        Assert.True(File.Exists(Path.Combine(PackageDir, "Microsoft.AspNetCore.dll")), "ASP.NET Core is not in the package.");
        var runtimeConfig = RepositoryFiles.ReadJsonObject(Path.Combine(PackageDir, "PaymentFunctions.runtimeconfig.json"));
        Assert.Null(runtimeConfig["runtimeOptions"]?["framework"]);
        Assert.Null(runtimeConfig["runtimeOptions"]?["frameworks"]);
        Assert.NotNull(runtimeConfig["runtimeOptions"]?["includedFrameworks"]);
    }

    [Fact]
    public void The_zip_holds_the_same_files_and_keeps_the_executable_bit()
    {
        using var zip = ZipFile.OpenRead(PackageZip);
        var entries = zip.Entries.Where(e => !e.FullName.EndsWith('/')).ToDictionary(e => e.FullName, StringComparer.Ordinal);
        var files = Directory.GetFiles(PackageDir, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(PackageDir, f).Replace(Path.DirectorySeparatorChar, '/'))
            .ToList();

        Assert.Equal(files.Order(StringComparer.Ordinal), entries.Keys.Order(StringComparer.Ordinal));
        Assert.Contains("host.json", entries.Keys);
        Assert.All(RepositoryFiles.FunctionManifests().Keys, name => Assert.Contains($"{name}/function.json", entries.Keys));

        // Unix mode lives in the high 16 bits of the external attributes; the host runs the file as is.
        var mode = (UnixFileMode)((entries[DefaultExecutablePath()].ExternalAttributes >> 16) & 0x1FF);
        Assert.True(mode.HasFlag(UnixFileMode.UserExecute), $"The zip entry of the executable has mode {Convert.ToString((int)mode, 8)}, without u+x.");
        Assert.True(mode.HasFlag(UnixFileMode.OtherExecute), "The host may run the handler as another user: o+x expected.");
    }

    private static string DefaultExecutablePath() =>
        (string?)RepositoryFiles.ReadJsonObject(RepositoryFiles.HostJsonPath)["customHandler"]?["description"]?["defaultExecutablePath"]
        ?? throw new InvalidDataException("host.json has no customHandler.description.defaultExecutablePath.");
}

/// <summary>The package, built once for all the tests that read it.</summary>
[UnsupportedOSPlatform("windows")]
public sealed class FunctionAppPackage : IAsyncLifetime
{
    private readonly string _scratch = Path.Combine(Path.GetTempPath(), "functionapp-package-" + Guid.NewGuid().ToString("N")[..8]);

    public string Folder => Path.Combine(_scratch, "artifacts", "functionapp");

    public string Zip => Path.Combine(_scratch, "artifacts", "functionapp.zip");

    public async ValueTask InitializeAsync()
    {
        Assert.SkipWhen(OperatingSystem.IsWindows(), "The package is built on Linux or macOS only (the zip must carry the executable bit).");
        CopySources(RepositoryFiles.Root, _scratch);
        await PublishAsync();
    }

    public ValueTask DisposeAsync()
    {
        if (Directory.Exists(_scratch))
        {
            Directory.Delete(_scratch, recursive: true);
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>What the app's build reads: its project folder and the repository-wide build files.</summary>
    private static void CopySources(string root, string target)
    {
        string[] rootFiles = ["host.json", "global.json", "Directory.Build.props", "Directory.Build.targets", "Directory.Packages.props", "NuGet.config", ".editorconfig"];
        Directory.CreateDirectory(target);
        foreach (var file in rootFiles.Where(f => File.Exists(Path.Combine(root, f))))
        {
            File.Copy(Path.Combine(root, file), Path.Combine(target, file));
        }

        var project = Path.Combine(root, "PaymentFunctions");
        foreach (var file in Directory.GetFiles(project, "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(project, file);
            var top = relative.Split(Path.DirectorySeparatorChar)[0];
            if (top is "bin" or "obj" || Path.GetFileName(file) == "local.settings.json")
            {
                continue;
            }

            var destination = Path.Combine(target, "PaymentFunctions", relative);
            Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
            File.Copy(file, destination);
        }
    }

    private async Task PublishAsync()
    {
        var start = new ProcessStartInfo(DotnetHost())
        {
            WorkingDirectory = _scratch,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // The documented command, plus: no build servers left behind by a test.
        foreach (var arg in new[] { "publish", "PaymentFunctions", "-c", "Release", "-p:FunctionAppPackage=true", "--nologo", "--disable-build-servers" })
        {
            start.ArgumentList.Add(arg);
        }

        // The test host's MSBuild variables point at the outer build; the child finds its own SDK.
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase) || k.StartsWith("VSTEST", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            start.Environment.Remove(key);
        }

        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";

        using var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start.");
        var output = new StringBuilder();
        var stdout = PumpAsync(process.StandardOutput, output);
        var stderr = PumpAsync(process.StandardError, output);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromMinutes(5));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"dotnet publish did not finish within 5 minutes:{Environment.NewLine}{output}");
        }

        await Task.WhenAll(stdout, stderr);
        Assert.True(process.ExitCode == 0, $"dotnet publish -p:FunctionAppPackage=true failed ({process.ExitCode}):{Environment.NewLine}{output}");
    }

    private static async Task PumpAsync(StreamReader reader, StringBuilder sink)
    {
        while (await reader.ReadLineAsync() is { } line)
        {
            lock (sink)
            {
                sink.AppendLine(line);
            }
        }
    }

    /// <summary>The dotnet executable running this test (…/dotnet/shared/Microsoft.NETCore.App/&lt;version&gt;/ → …/dotnet/dotnet).</summary>
    private static string DotnetHost()
    {
        var fromHost = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(fromHost) && File.Exists(fromHost))
        {
            return fromHost;
        }

        var root = Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", ".."));
        var candidate = Path.Combine(root, "dotnet");
        return File.Exists(candidate) ? candidate : "dotnet";
    }
}
