using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace PaymentFunctions.Tests.Deployment;

/// <summary>Files of the repository under test: host.json, the function.json files, infra/.</summary>
internal static class RepositoryFiles
{
    private static readonly Lazy<string> RootPath = new(FindRoot);

    public static string Root => RootPath.Value;

    public static string HostJsonPath => Path.Combine(Root, "host.json");

    public static string FunctionsDirectory => Path.Combine(Root, "PaymentFunctions", "Functions");

    public static JsonObject ReadJsonObject(string path) =>
        JsonNode.Parse(File.ReadAllText(path), documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip })?.AsObject()
        ?? throw new InvalidDataException($"{path} is not a JSON object.");

    /// <summary>Every Functions/&lt;Name&gt;/function.json, by function name (the folder name).</summary>
    public static IReadOnlyDictionary<string, JsonObject> FunctionManifests() =>
        Directory.GetDirectories(FunctionsDirectory)
            .Where(dir => File.Exists(Path.Combine(dir, "function.json")))
            .ToDictionary(dir => Path.GetFileName(dir), dir => ReadJsonObject(Path.Combine(dir, "function.json")), StringComparer.Ordinal);

    // The test output normally sits in PaymentFunctions.Tests/bin/<config>/<tfm>/; the source path is the fallback.
    private static string FindRoot() =>
        Ancestors(AppContext.BaseDirectory).Concat(Ancestors(Path.GetDirectoryName(SourceFile()) ?? "")).FirstOrDefault(IsRoot)
        ?? throw new DirectoryNotFoundException("Repository root (host.json next to PaymentFunctions/PaymentFunctions.csproj) not found.");

    private static bool IsRoot(string dir) =>
        File.Exists(Path.Combine(dir, "host.json")) && File.Exists(Path.Combine(dir, "PaymentFunctions", "PaymentFunctions.csproj"));

    private static IEnumerable<string> Ancestors(string start)
    {
        for (var dir = string.IsNullOrEmpty(start) ? null : new DirectoryInfo(start); dir is not null; dir = dir.Parent)
        {
            yield return dir.FullName;
        }
    }

    private static string SourceFile([CallerFilePath] string path = "") => path;
}
