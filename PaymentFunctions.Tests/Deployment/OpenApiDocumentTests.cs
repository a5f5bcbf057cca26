using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using PaymentFunctions.Hosting;
using PaymentFunctions.OpenApi;

namespace PaymentFunctions.Tests.Deployment;

/// <summary>
/// The OpenAPI document at <c>GET /api/openapi/v1.json</c>: every public route, as it really answers, and the copy
/// committed at docs/openapi.v1.json equal to it. <c>npm run openapi</c> rewrites the copy (it runs
/// <see cref="The_committed_document_equals_the_served_one"/> with <see cref="WriteVariable"/> set).
/// </summary>
public sealed class OpenApiDocumentTests
{
    public const string WriteVariable = "PAYMENTFUNCTIONS_WRITE_OPENAPI";

    private const string DocumentPath = "/api/openapi/v1.json";

    private static readonly Lazy<Task<string>> Served = new(() => FetchAsync(underHost: false));

    private static string CommittedPath => Path.Combine(RepositoryFiles.Root, "docs", "openapi.v1.json");

    private static async Task<string> FetchAsync(bool underHost)
    {
        var settings = new Dictionary<string, string?> { ["AzureWebJobsStorage"] = DeploymentApp.DevelopmentStorage };
        if (underHost)
        {
            settings[FunctionsHost.PortVariable] = "7071";
        }

        using var app = new DeploymentApp(settings);
        using var http = app.CreateClient();
        using var response = await http.GetAsync(DocumentPath, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
    }

    private static async Task<JsonObject> DocumentAsync() => JsonNode.Parse(await Served.Value)!.AsObject();

    /// <summary>Line endings as LF and exactly one final newline, so an editor or git's autocrlf changes nothing.</summary>
    private static string Normalize(string text) => text.Replace("\r\n", "\n", StringComparison.Ordinal).TrimEnd('\n') + "\n";

    [Fact]
    public async Task The_committed_document_equals_the_served_one()
    {
        var served = Normalize(await Served.Value);
        if (Environment.GetEnvironmentVariable(WriteVariable) == "1")
        {
            await File.WriteAllTextAsync(CommittedPath, served, TestContext.Current.CancellationToken);
        }

        var committed = File.Exists(CommittedPath) ? Normalize(await File.ReadAllTextAsync(CommittedPath, TestContext.Current.CancellationToken)) : "";
        Assert.True(committed == served,
            "docs/openapi.v1.json differs from the document the app serves at GET /api/openapi/v1.json. " +
            "Regenerate it with `npm run openapi` (from the repository root) and commit it.");
    }

    [Fact]
    public async Task The_document_is_the_same_under_the_Functions_host_and_standalone()
    {
        Assert.Equal(Normalize(await Served.Value), Normalize(await FetchAsync(underHost: true)));
    }

    [Fact]
    public async Task The_served_document_is_OpenAPI_3_JSON_naming_no_server()
    {
        var document = await DocumentAsync();
        Assert.StartsWith("3.", (string?)document["openapi"], StringComparison.Ordinal);
        Assert.Equal("v1", (string?)document["info"]?["version"]);
        Assert.Null(document["servers"]);
        Assert.NotEmpty(document["paths"]!.AsObject());
    }

    [Fact]
    public async Task Every_public_route_is_in_the_document_and_nothing_else_is()
    {
        var document = await DocumentAsync();
        var described = document["paths"]!.AsObject()
            .SelectMany(p => p.Value!.AsObject().Select(o => (Method: o.Key.ToUpperInvariant(), Path: p.Key)))
            .ToHashSet();

        // Under the host the app also maps /ProcessNotification; the readiness probe "/" is mapped both ways.
        var mapped = MappedRoutes(underHost: true);
        var expected = mapped.Where(r => r.Path.StartsWith("/api/", StringComparison.Ordinal)).Select(r => (r.Method, r.Path)).ToHashSet();
        Assert.True(expected.Count >= 11, $"Only {expected.Count} public routes are mapped.");
        Assert.Equal(expected.Order(), described.Order());
        Assert.Contains(mapped, r => r.Path == "/ProcessNotification");
        Assert.DoesNotContain(described, r => r.Path is "/" or "/ProcessNotification");

        // And they are exactly the routes the function.json files give the Functions host.
        var functions = FunctionManifestTests.HttpRoutes("api").Select(f => (f.Method, "/" + f.Pattern)).ToHashSet();
        Assert.Equal(functions.Order(), described.Select(d => (d.Method, Normalized(d.Path))).Order());
    }

    [Fact]
    public async Task Function_key_routes_require_the_key_and_anonymous_routes_do_not()
    {
        var document = await DocumentAsync();
        var schemes = document["components"]!["securitySchemes"]!;
        Assert.Equal("apiKey", (string?)schemes[ApiDocument.FunctionKeyHeaderScheme]!["type"]);
        Assert.Equal("header", (string?)schemes[ApiDocument.FunctionKeyHeaderScheme]!["in"]);
        Assert.Equal("x-functions-key", (string?)schemes[ApiDocument.FunctionKeyHeaderScheme]!["name"]);
        Assert.Equal("query", (string?)schemes[ApiDocument.FunctionKeyQueryScheme]!["in"]);
        Assert.Equal("code", (string?)schemes[ApiDocument.FunctionKeyQueryScheme]!["name"]);

        var keyed = MappedRoutes(underHost: false).Where(r => r.KeyRequired).Select(r => (r.Method, r.Path)).ToHashSet();
        var byManifest = FunctionManifestTests.HttpRoutes("api").Where(f => f.AuthLevel == "function").Select(f => (f.Method, "/" + f.Pattern)).ToHashSet();
        Assert.True(keyed.Count >= 4, $"Only {keyed.Count} function-key routes.");
        var checkedOperations = 0;
        foreach (var (path, item) in document["paths"]!.AsObject())
        {
            foreach (var (method, operation) in item!.AsObject())
            {
                var key = (method.ToUpperInvariant(), path);
                var security = operation!["security"]?.AsArray().Select(r => string.Join(",", r!.AsObject().Select(s => s.Key))).ToList() ?? [];
                if (keyed.Contains(key))
                {
                    Assert.True(byManifest.Contains((key.Item1, Normalized(path))), $"{key}: in a function-key group but its function.json is not authLevel function.");
                    Assert.Equal([ApiDocument.FunctionKeyHeaderScheme, ApiDocument.FunctionKeyQueryScheme], security);
                    Assert.NotNull(operation["responses"]!["401"]);
                }
                else
                {
                    Assert.True(security.Count == 0, $"{key} is anonymous but the document asks for {string.Join(" or ", security)}.");
                    Assert.Null(operation["responses"]!["401"]?["content"]?["application/problem+json"]);
                }

                checkedOperations++;
            }
        }

        Assert.True(checkedOperations >= 11);
    }

    [Fact]
    public async Task Amounts_are_int64_integers_and_no_schema_is_a_floating_number()
    {
        var document = await DocumentAsync();
        var schemas = document["components"]!["schemas"]!;
        foreach (var (schema, property) in new[]
                 {
                     ("CreateOrderRequest", "amount"), ("OrderView", "amount"), ("OrderView", "paidAmount"), ("PostPayment", "amount"),
                     ("PostDiscount", "amount"), ("PayScoreRiskFund", "amount"), ("CompletePayScoreOrderRequest", "totalAmount"),
                     ("PayScoreOrderView", "totalAmount"), ("PyunNotificationForm", "value"),
                 })
        {
            var amount = schemas[schema]?["properties"]?[property];
            Assert.True(amount is not null, $"{schema}.{property} is not in the document.");
            var types = amount["type"] is JsonArray array ? array.Select(t => (string?)t).ToList() : [(string?)amount["type"]];
            Assert.Contains("integer", types);
            Assert.DoesNotContain("string", types);
            Assert.DoesNotContain("number", types);
            Assert.Equal("int64", (string?)amount["format"]);
        }

        // A required amount of a request is not nullable.
        Assert.Equal("integer", (string?)schemas["CreateOrderRequest"]!["properties"]!["amount"]!["type"]);
        Assert.Contains("amount", schemas["CreateOrderRequest"]!["required"]!.AsArray().Select(n => (string?)n));
        Assert.DoesNotContain("\"number\"", await Served.Value, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Error_answers_are_problem_json_and_webhooks_answer_in_their_platform_shape()
    {
        var document = await DocumentAsync();
        var errors = 0;
        foreach (var (path, item) in document["paths"]!.AsObject())
        {
            foreach (var (method, operation) in item!.AsObject())
            {
                var responses = operation!["responses"]!.AsObject();
                var platform = path switch
                {
                    "/api/notify/pyun" => "PyunAnswer",
                    "/api/notify/wechatpay" => "FailAnswer",
                    _ => null,
                };
                if (path != "/api/health")
                {
                    Assert.True(responses.ContainsKey("503"), $"{method} {path} does not say it may answer 503.");
                }

                foreach (var (status, response) in responses.Where(r => r.Key[0] is '4' or '5'))
                {
                    var content = response!["content"]!.AsObject();
                    if (path == "/api/health")
                    {
                        Assert.EndsWith("/HealthAnswer", (string?)content["application/json"]!["schema"]!["$ref"], StringComparison.Ordinal);
                        continue;
                    }

                    if (platform is not null)
                    {
                        Assert.Equal(["application/json"], content.Select(c => c.Key));
                        Assert.Equal($"#/components/schemas/{platform}", (string?)content["application/json"]!["schema"]!["$ref"]);
                        continue;
                    }

                    Assert.Equal(["application/problem+json"], content.Select(c => c.Key));
                    var reference = (string?)content["application/problem+json"]!["schema"]!["$ref"];
                    Assert.True(reference is "#/components/schemas/ProblemDetails" or "#/components/schemas/HttpValidationProblemDetails",
                        $"{method} {path} {status} refers to {reference}.");
                    errors++;
                }
            }
        }

        Assert.True(errors >= 30, $"Only {errors} problem answers.");
        var create = document["paths"]!["/api/orders"]!["post"]!["responses"]!;
        foreach (var status in new[] { "400", "401", "408", "413", "415", "409", "503" })
        {
            Assert.NotNull(create[status]);
        }

        Assert.NotNull(document["paths"]!["/api/orders/{orderId}/prepare"]!["post"]!["responses"]!["429"]!["headers"]!["Retry-After"]);
        Assert.NotNull(document["paths"]!["/api/orders/{orderId}/prepare"]!["post"]!["responses"]!["410"]);
        Assert.NotNull(document["paths"]!["/api/notify/wechatpay"]!["post"]!["responses"]!["204"]);
        Assert.NotNull(document["paths"]!["/api/notify/pyun"]!["post"]!["requestBody"]!["content"]!["application/x-www-form-urlencoded"]);
        var wechatHeaders = document["paths"]!["/api/notify/wechatpay"]!["post"]!["parameters"]!.AsArray()
            .Where(p => (string?)p!["in"] == "header" && (bool?)p["required"] == true).Select(p => (string?)p!["name"]);
        Assert.Equal(["Wechatpay-Nonce", "Wechatpay-Serial", "Wechatpay-Signature", "Wechatpay-Timestamp"], wechatHeaders.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Request_bodies_have_schemas_and_the_examples_of_docs_api_md()
    {
        var document = await DocumentAsync();
        var create = document["paths"]!["/api/orders"]!["post"]!["requestBody"]!["content"]!["application/json"]!;
        Assert.Equal("#/components/schemas/CreateOrderRequest", (string?)create["schema"]!["$ref"]);
        Assert.Equal(1234, (long?)create["example"]!["amount"]);
        Assert.Equal("PARK-20261125-0001", (string?)create["example"]!["merchantOrderNo"]);
        foreach (var (path, item) in document["paths"]!.AsObject())
        {
            // Redeliver is a command on the event the path names: it has no body by design.
            if (item!["post"] is { } post && path != "/api/events/{eventId}/redeliver")
            {
                Assert.True(post["requestBody"]?["content"]?.AsObject().Count > 0, $"POST {path} has no request body in the document.");
            }

            foreach (var (_, operation) in item.AsObject())
            {
                Assert.False(string.IsNullOrWhiteSpace((string?)operation!["summary"]), $"{path} has no summary.");
            }
        }
    }

    [Fact]
    public async Task The_API_reference_page_exists_in_Development_standalone_only()
    {
        var cancellation = TestContext.Current.CancellationToken;
        using var app = DeploymentApp.WithDevelopmentStorage(); // WebApplicationFactory runs the app in Development
        using (var http = app.CreateClient())
        {
            using var page = await http.GetAsync("/scalar/v1", cancellation);
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
            Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
            // Scalar resolves the document's URL against the site's base path.
            Assert.Contains("\"url\":\"api/openapi/v1.json\"", await page.Content.ReadAsStringAsync(cancellation), StringComparison.Ordinal);
            using var script = await http.GetAsync("/scalar/scalar.js", cancellation);
            Assert.Equal(HttpStatusCode.OK, script.StatusCode);
        }

        using var production = app.WithWebHostBuilder(b => b.UseEnvironment("Production"));
        using (var http = production.CreateClient())
        {
            Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/scalar/v1", cancellation)).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(DocumentPath, cancellation)).StatusCode);
        }

        using var underHost = app.WithWebHostBuilder(b => b.UseSetting(FunctionsHost.PortVariable, "7071"));
        using (var http = underHost.CreateClient())
        {
            Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/scalar/v1", cancellation)).StatusCode);
        }
    }

    [Fact]
    public void Describing_a_body_does_not_let_routing_refuse_a_content_type_before_the_route_answers()
    {
        // Accepts<T>() metadata would make routing answer a bare 415 itself, not P云's {code,message} or WeChat's FAIL.
        using var app = DeploymentApp.WithDevelopmentStorage();
        var constrained = app.Services.GetServices<EndpointDataSource>().SelectMany(s => s.Endpoints).OfType<RouteEndpoint>()
            .Where(e => e.Metadata.GetMetadata<Microsoft.AspNetCore.Http.Metadata.IAcceptsMetadata>() is { ContentTypes.Count: > 0 })
            .Select(e => e.RoutePattern.RawText)
            .ToList();
        Assert.Empty(constrained);
    }

    private static string Normalized(string path) => "/" + FunctionManifestTests.Normalize(path);

    private static List<(string Method, string Path, bool KeyRequired)> MappedRoutes(bool underHost)
    {
        var settings = new Dictionary<string, string?> { ["AzureWebJobsStorage"] = DeploymentApp.DevelopmentStorage };
        if (underHost)
        {
            settings[FunctionsHost.PortVariable] = "7071";
        }

        using var app = new DeploymentApp(settings);
        return app.Services.GetServices<EndpointDataSource>()
            .SelectMany(s => s.Endpoints)
            .OfType<RouteEndpoint>()
            .SelectMany(e => (e.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? ["*"])
                .Select(m => (m.ToUpperInvariant(), "/" + (e.RoutePattern.RawText ?? "").TrimStart('/'), e.Metadata.GetMetadata<FunctionKeyRequired>() is not null)))
            .ToList();
    }
}
