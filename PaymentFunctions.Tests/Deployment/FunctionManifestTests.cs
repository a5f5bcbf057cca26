using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using PaymentFunctions.Hosting;
using PaymentFunctions.Storage;
using PaymentFunctions.Tests.Infrastructure;

namespace PaymentFunctions.Tests.Deployment;

/// <summary>
/// function.json files are the Functions host's description of the app; the endpoints are what the app actually
/// serves. Both must describe the same functions, or the host forwards to a route the app does not have (or an
/// endpoint is unreachable in Azure).
/// </summary>
public sealed partial class FunctionManifestTests
{
    private static readonly Lazy<IReadOnlyList<(string Method, string Pattern, string Raw, bool KeyRequired)>> MappedEndpoints = new(ReadEndpoints);

    private static IEnumerable<(string Method, string Pattern)> Endpoints => MappedEndpoints.Value.Select(e => (e.Method, e.Pattern));

    [Fact]
    public void Every_function_folder_has_a_function_json()
    {
        var folders = Directory.GetDirectories(RepositoryFiles.FunctionsDirectory).Select(Path.GetFileName).ToList();
        Assert.NotEmpty(folders);
        Assert.Equal(folders.Order(StringComparer.Ordinal), RepositoryFiles.FunctionManifests().Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Http_functions_are_forwardable_and_the_app_serves_their_route_and_methods()
    {
        var routePrefix = RoutePrefix();
        foreach (var (name, manifest) in HttpFunctions())
        {
            var bindings = Bindings(manifest);
            // enableForwardingHttpRequest applies only to exactly one httpTrigger in and one http out; anything else
            // silently falls back to the JSON payload protocol, which the app's endpoints do not speak.
            Assert.True(bindings.Count == 2 && bindings.Count(b => Type(b) == "httptrigger") == 1 && bindings.Count(b => Type(b) == "http") == 1,
                $"{name}: an HTTP function must have exactly one httpTrigger and one http output binding.");

            var trigger = bindings.Single(b => Type(b) == "httptrigger");
            var route = (string?)trigger["route"];
            Assert.False(string.IsNullOrWhiteSpace(route), $"{name}: httpTrigger has no route.");
            var methods = trigger["methods"]?.AsArray().Select(m => ((string?)m ?? "").ToUpperInvariant()).ToList() ?? [];
            Assert.True(methods.Count > 0, $"{name}: httpTrigger lists no methods (the host would accept every method).");

            var pattern = Normalize($"{routePrefix}/{route}");
            foreach (var method in methods)
            {
                Assert.True(Endpoints.Contains((method, pattern)),
                    $"{name}: the app maps no {method} /{pattern}. App endpoints under /{routePrefix}: {string.Join(", ", ApiEndpoints(routePrefix))}");
            }
        }
    }

    [Fact]
    public void Every_api_endpoint_of_the_app_has_a_function()
    {
        var routePrefix = RoutePrefix();
        var declared = HttpFunctions()
            .SelectMany(f =>
            {
                var trigger = Bindings(f.Manifest).Single(b => Type(b) == "httptrigger");
                var pattern = Normalize($"{routePrefix}/{(string?)trigger["route"]}");
                return trigger["methods"]!.AsArray().Select(m => (Method: ((string?)m ?? "").ToUpperInvariant(), Pattern: pattern));
            })
            .ToHashSet();

        var apiEndpoints = Endpoints.Where(e => e.Pattern.StartsWith(routePrefix + "/", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(apiEndpoints);
        foreach (var endpoint in apiEndpoints)
        {
            Assert.True(declared.Contains(endpoint), $"The app maps {endpoint.Method} /{endpoint.Pattern} but no function.json routes it: unreachable under the Functions host.");
        }
    }

    [Fact]
    public void Every_http_function_authLevel_agrees_with_the_function_key_filter_on_its_route()
    {
        var routePrefix = RoutePrefix();
        var checkedRoutes = 0;
        foreach (var (name, method, pattern, authLevel) in HttpRoutes(routePrefix))
        {
            Assert.True(authLevel is "function" or "anonymous", $"{name}: authLevel '{authLevel}' is neither 'function' nor 'anonymous'.");
            var endpoint = MappedEndpoints.Value.Single(e => e.Method == method && e.Pattern == pattern);
            Assert.True(endpoint.KeyRequired == (authLevel == "function"),
                $"{name}: function.json says authLevel '{authLevel}' but the app's {method} /{pattern} {(endpoint.KeyRequired ? "is" : "is not")} in the function-key group.");
            checkedRoutes++;
        }

        Assert.True(checkedRoutes >= 9, $"Only {checkedRoutes} HTTP routes were checked.");
    }

    /// <summary>Each HTTP function's (method, normalized route, authLevel) from its function.json.</summary>
    internal static IEnumerable<(string Name, string Method, string Pattern, string AuthLevel)> HttpRoutes(string routePrefix) =>
        HttpFunctions().SelectMany(f =>
        {
            var trigger = Bindings(f.Manifest).Single(b => Type(b) == "httptrigger");
            var pattern = Normalize($"{routePrefix}/{(string?)trigger["route"]}");
            var authLevel = ((string?)trigger["authLevel"] ?? "").ToLowerInvariant();
            return trigger["methods"]!.AsArray().Select(m => (f.Name, ((string?)m ?? "").ToUpperInvariant(), pattern, authLevel));
        });

    [Fact]
    public void The_queue_functions_are_the_notification_and_the_event_delivery_functions()
    {
        var queueFunctions = RepositoryFiles.FunctionManifests()
            .Where(f => Bindings(f.Value).Any(b => Type(b) == "queuetrigger"))
            .Select(f => f.Key)
            .Order(StringComparer.Ordinal);

        Assert.Equal([PaymentFunctions.Events.EventEndpoints.DeliverFunctionName, ProcessNotificationEndpoint.FunctionName], queueFunctions);
    }

    [Theory]
    [InlineData(ProcessNotificationEndpoint.FunctionName, "payment-notifications", StorageOptions.NotificationQueueName)]
    [InlineData(PaymentFunctions.Events.EventEndpoints.DeliverFunctionName, "payment-events", StorageOptions.EventQueueName)]
    public void The_queue_function_matches_its_endpoint_queue_and_connection(string name, string queueName, string storageQueueName)
    {
        var manifest = RepositoryFiles.FunctionManifests()[name];
        var trigger = Assert.Single(Bindings(manifest));
        Assert.Equal("queueTrigger", (string?)trigger["type"]);
        Assert.Equal("in", (string?)trigger["direction"]);
        Assert.Equal(queueName, (string?)trigger["queueName"]);
        Assert.Equal(storageQueueName, (string?)trigger["queueName"]);
        Assert.Equal(StorageConnection.SettingName, (string?)trigger["connection"]);
        Assert.False(string.IsNullOrEmpty((string?)trigger["name"]));

        // The host invokes a non-HTTP function with POST /<FunctionName>.
        Assert.Contains(MappedEndpoints.Value, e => e.Method == "POST" && e.Raw == "/" + name);
    }

    [Fact]
    public void Every_endpoint_outside_api_is_the_readiness_probe_or_a_non_http_function()
    {
        var routePrefix = RoutePrefix();
        var nonHttpFunctions = RepositoryFiles.FunctionManifests()
            .Where(f => !Bindings(f.Value).Any(b => Type(b) == "httptrigger"))
            .Select(f => f.Key)
            .ToHashSet(StringComparer.Ordinal);

        foreach (var (method, pattern) in Endpoints.Where(e => !e.Pattern.StartsWith(routePrefix + "/", StringComparison.Ordinal)))
        {
            var isProbe = method == "GET" && pattern.Length == 0; // the host polls GET / until the handler answers
            Assert.True(isProbe || (method == "POST" && nonHttpFunctions.Any(f => Normalize(f) == pattern)),
                $"The app maps {method} /{pattern}, which is neither GET / nor POST /<FunctionName> of a non-HTTP function.");
        }
    }

    private static IEnumerable<(string Name, JsonObject Manifest)> HttpFunctions() =>
        RepositoryFiles.FunctionManifests()
            .Where(f => Bindings(f.Value).Any(b => Type(b) == "httptrigger"))
            .Select(f => (f.Key, f.Value));

    private static List<JsonObject> Bindings(JsonObject manifest) =>
        manifest["bindings"]?.AsArray().Select(b => b!.AsObject()).ToList() ?? [];

    private static string Type(JsonObject binding) => ((string?)binding["type"] ?? "").ToLowerInvariant();

    internal static string RoutePrefix() =>
        (string?)RepositoryFiles.ReadJsonObject(RepositoryFiles.HostJsonPath)["extensions"]?["http"]?["routePrefix"] ?? "api";

    private static IEnumerable<string> ApiEndpoints(string routePrefix) =>
        Endpoints.Where(e => e.Pattern.StartsWith(routePrefix + "/", StringComparison.Ordinal)).Select(e => $"{e.Method} /{e.Pattern}");

    /// <summary>Route templates compared without parameter names, constraints or case: orders/{orderId:guid} == Orders/{id}.</summary>
    internal static string Normalize(string template) => RouteParameter().Replace(template.Trim('/'), "{}").ToLowerInvariant();

    /// <summary>The endpoints the app maps under the Functions host, which is what function.json describes.</summary>
    private static List<(string Method, string Pattern, string Raw, bool KeyRequired)> ReadEndpoints()
    {
        using var app = new DeploymentApp(new Dictionary<string, string?>
        {
            ["AzureWebJobsStorage"] = DeploymentApp.DevelopmentStorage,
            [FunctionsHost.PortVariable] = "7071",
        });
        var sources = app.Services.GetServices<EndpointDataSource>();
        return sources
            .SelectMany(s => s.Endpoints)
            .OfType<RouteEndpoint>()
            .SelectMany(e => (e.Metadata.GetMetadata<Microsoft.AspNetCore.Routing.HttpMethodMetadata>()?.HttpMethods ?? ["*"])
                .Select(m => (Method: m.ToUpperInvariant(), Pattern: Normalize(e.RoutePattern.RawText ?? ""), Raw: e.RoutePattern.RawText ?? "",
                    KeyRequired: e.Metadata.GetMetadata<FunctionKeyRequired>() is not null)))
            .Distinct()
            .ToList();
    }

    [GeneratedRegex(@"\{[^}]*\}")]
    private static partial Regex RouteParameter();
}

/// <summary>
/// The same agreement, by behaviour: on its own (no host in front) the app refuses every authLevel-function route
/// without the key, and no anonymous route asks for one.
/// </summary>
public sealed class FunctionAuthLevelTests(PaymentApp app) : IClassFixture<PaymentApp>
{
    private const string KeyRefusal = "A valid function key is required";

    [Fact]
    public async Task Every_function_route_refuses_a_request_without_the_key_and_no_anonymous_route_asks_for_one()
    {
        var routePrefix = FunctionManifestTests.RoutePrefix();
        using var anonymous = app.CreateClient();
        using var keyed = app.CreateBusinessClient();
        var routes = FunctionManifestTests.HttpRoutes(routePrefix).ToList();
        Assert.NotEmpty(routes);
        foreach (var (name, method, pattern, authLevel) in routes)
        {
            var url = "/" + pattern.Replace("{}", "X1", StringComparison.Ordinal);
            using var withoutKey = await SendAsync(anonymous, method, url);
            var body = await withoutKey.Content.ReadAsStringAsync();
            var refused = withoutKey.StatusCode == HttpStatusCode.Unauthorized && body.Contains(KeyRefusal, StringComparison.Ordinal);
            Assert.True(refused == (authLevel == "function"),
                $"{name} (authLevel {authLevel}): {method} {url} without a key answered {(int)withoutKey.StatusCode} {body}");

            if (authLevel == "function")
            {
                using var withKey = await SendAsync(keyed, method, url);
                Assert.DoesNotContain(KeyRefusal, await withKey.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            }
        }
    }

    private static async Task<HttpResponseMessage> SendAsync(HttpClient http, string method, string url)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), url)
        {
            Content = method == "GET" ? null : new StringContent("{}", Encoding.UTF8, "application/json"),
        };
        return await http.SendAsync(request, TestContext.Current.CancellationToken);
    }
}
