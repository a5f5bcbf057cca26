using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.AspNetCore.Routing.Patterns;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.OpenApi;
using PaymentFunctions.Hosting;
using Scalar.AspNetCore;

namespace PaymentFunctions.OpenApi;

/// <summary>
/// The OpenAPI document of every public route, served at <c>GET /api/openapi/v1.json</c> and committed as
/// <c>docs/openapi.v1.json</c> (<c>npm run openapi</c> rewrites it; a test fails when the two differ).
/// A route describes itself on its Map line (summary, body, its own answers); what every route of a kind shares
/// (the function key, the 503 of storage trouble, the refusals of a JSON body, rate limiting) is added here from
/// the route's metadata, so a new route gets it without saying so.
/// </summary>
public static class ApiDocument
{
    public const string Name = "v1";

    /// <summary>Under the <c>/api</c> group; a literal path, as its function.json route is.</summary>
    public const string Route = "/openapi/v1.json";

    public const string FunctionKeyHeaderScheme = "functionKey";
    public const string FunctionKeyQueryScheme = "functionKeyQuery";

    private const string ProblemJson = "application/problem+json";

    public static IServiceCollection AddApiDocument(this IServiceCollection services)
    {
        // The document describes what the app reads: RequestBody reads numbers strictly (a string "1000" is refused),
        // so an amount is `integer`, never `integer | string`. The app reads no body through these options otherwise.
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.NumberHandling = JsonNumberHandling.Strict);
        services.TryAddEnumerable(ServiceDescriptor.Transient<Microsoft.AspNetCore.Mvc.ApiExplorer.IApiDescriptionProvider, RequestBodyApiDescriptionProvider>());
        services.AddOpenApi(Name, options =>
        {
            options.AddDocumentTransformer(DescribeDocumentAsync);
            options.AddOperationTransformer(DescribeOperationAsync);
            options.AddSchemaTransformer(ApiSchemas.TransformAsync);
        });
        return services;
    }

    /// <summary><c>GET /api/openapi/v1.json</c>, anonymous, listed in the document itself like every public route.</summary>
    public static IEndpointConventionBuilder MapApiDocument(this IEndpointRouteBuilder api) =>
        api.MapOpenApi(Route)
            .WithName("OpenApiDocument")
            .WithSummary("This OpenAPI document")
            .WithDescription("The OpenAPI 3.1 description of every public route; the same text is committed as docs/openapi.v1.json.")
            .WithMetadata(new ProducesResponseTypeMetadata(StatusCodes.Status200OK, null, ["application/json"]), IncludedInDescription.Instance)
            .Describes(StatusCodes.Status200OK, "The document (application/json).")
            .AddOpenApiOperationTransformer((operation, _, _) =>
            {
                operation.Parameters = null; // the handler's documentName, fixed by the literal path
                return Task.CompletedTask;
            });

    /// <summary>
    /// A browsable API reference (Scalar) of this document at <c>/scalar</c>, for local development only: never in
    /// production and never under the Functions host, which forwards only the function.json routes anyway.
    /// </summary>
    public static WebApplication MapApiReference(this WebApplication app)
    {
        if (app.Environment.IsDevelopment() && !FunctionsHost.IsCustomHandler(app.Configuration))
        {
            app.MapScalarApiReference("/scalar", options => options
                    .WithTitle("PaymentFunctions API")
                    .WithOpenApiRoutePattern("/api" + Route.Replace(Name, "{documentName}", StringComparison.Ordinal)))
                .ExcludeFromDescription();
        }

        return app;
    }

    /// <summary>
    /// Adds, once every route's own metadata is known, the answers a route gives because of what it is: 401 behind
    /// the function key, 400/408/413/415 for a JSON body, 429 when rate-limited, 503 when storage or the deadline
    /// fails (webhooks answer in their platform's shape instead, and describe that themselves), and a tag by path.
    /// </summary>
    public static RouteGroupBuilder WithCommonApiAnswers(this RouteGroupBuilder api)
    {
        ((IEndpointConventionBuilder)api).Finally(endpoint =>
        {
            var metadata = endpoint.Metadata;
            var path = (endpoint as RouteEndpointBuilder)?.RoutePattern.RawText ?? "";
            if (!metadata.OfType<ITagsMetadata>().Any())
            {
                metadata.Add(new TagsAttribute(TagFor(path)));
            }

            if (metadata.OfType<PlatformAnswers>().Any())
            {
                return;
            }

            var declared = metadata.OfType<IProducesResponseTypeMetadata>().Select(p => p.StatusCode).ToHashSet();
            void Problem(int status, Type? type = null)
            {
                if (declared.Add(status))
                {
                    metadata.Add(new ProducesResponseTypeMetadata(status, type ?? typeof(ProblemDetails), [ProblemJson]));
                }
            }

            if (metadata.OfType<RequestBodyDescription>().Any(b => b.ContentType == "application/json"))
            {
                Problem(StatusCodes.Status400BadRequest, typeof(HttpValidationProblemDetails));
                Problem(StatusCodes.Status408RequestTimeout);
                Problem(StatusCodes.Status413PayloadTooLarge);
                Problem(StatusCodes.Status415UnsupportedMediaType);
            }

            if (metadata.OfType<FunctionKeyRequired>().Any())
            {
                Problem(StatusCodes.Status401Unauthorized);
            }

            if (metadata.OfType<EnableRateLimitingAttribute>().Any())
            {
                Problem(StatusCodes.Status429TooManyRequests);
            }

            Problem(StatusCodes.Status503ServiceUnavailable);
        });
        return api;
    }

    private static string TagFor(string path) =>
        path.Contains("/payscore", StringComparison.Ordinal) ? "WeChat Pay Score"
        : path.Contains("/notify/", StringComparison.Ordinal) ? "Webhooks"
        : path.Contains("/orders", StringComparison.Ordinal) ? "P云 orders"
        : "Operations";

    private static Task DescribeDocumentAsync(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken cancellationToken)
    {
        document.Info = new OpenApiInfo
        {
            Title = "PaymentFunctions",
            Version = Name,
            Description = "The payment backend of WeChat/Alipay mini programs: P云 half-screen payments and WeChat Pay Score. " +
                          "JSON is camelCase; amounts are whole fen (integers: 1234 is 12.34 yuan); errors are application/problem+json, " +
                          "except on the webhook routes, which answer in the calling platform's own shape. Reference: docs/api.md.",
        };
        ApiSchemas.RequireObjects(document);
        // The paths carry /api already; the host is wherever the app runs, so the document names none.
        document.Servers = null;
        document.Components ??= new OpenApiComponents();
        document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>(StringComparer.Ordinal);
        document.Components.SecuritySchemes[FunctionKeyHeaderScheme] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.ApiKey,
            In = ParameterLocation.Header,
            Name = "x-functions-key",
            Description = "The function key (authLevel function). Under the Functions host the host checks it; standalone the app checks it against FunctionKeys:Default.",
        };
        document.Components.SecuritySchemes[FunctionKeyQueryScheme] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.ApiKey,
            In = ParameterLocation.Query,
            Name = "code",
            Description = "The function key as the code query parameter, as Azure Functions also accepts it.",
        };
        return Task.CompletedTask;
    }

    private static Task DescribeOperationAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        var metadata = context.Description.ActionDescriptor.EndpointMetadata;
        if (metadata.OfType<FunctionKeyRequired>().Any())
        {
            // Either one: the header, or ?code=.
            operation.Security =
            [
                new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(FunctionKeyHeaderScheme, context.Document)] = [] },
                new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(FunctionKeyQueryScheme, context.Document)] = [] },
            ];
        }

        foreach (var (status, response) in operation.Responses ?? [])
        {
            if (response is OpenApiResponse concrete)
            {
                concrete.Description = ApiResponses.Describe(metadata, context.Description.RelativePath ?? "", status, concrete.Description);
                if (status == "429")
                {
                    concrete.Headers ??= new Dictionary<string, IOpenApiHeader>(StringComparer.Ordinal);
                    concrete.Headers["Retry-After"] = new OpenApiHeader
                    {
                        Description = "Whole seconds to wait before trying again.",
                        Schema = new OpenApiSchema { Type = JsonSchemaType.Integer, Format = "int32" },
                    };
                }
            }
        }

        if (operation.OperationId is { } id && ApiExamples.ForOperation(id) is { } examples)
        {
            if (examples.Request is { } request && operation.RequestBody?.Content is { } content)
            {
                foreach (var media in content.Values)
                {
                    media.Example = JsonNode.Parse(request);
                }
            }

            foreach (var (status, example) in examples.Responses)
            {
                if (operation.Responses?.GetValueOrDefault(status.ToString(System.Globalization.CultureInfo.InvariantCulture)) is { Content: { } answers })
                {
                    foreach (var media in answers.Values)
                    {
                        media.Example = JsonNode.Parse(example);
                    }
                }
            }
        }

        return Task.CompletedTask;
    }

    /// <summary>Undoes the exclusion <c>MapOpenApi</c> puts on its own route (the last such metadata wins).</summary>
    private sealed class IncludedInDescription : IExcludeFromDescriptionMetadata
    {
        public static readonly IncludedInDescription Instance = new();

        public bool ExcludeFromDescription => false;
    }
}

/// <summary>Route metadata: the route answers in its calling platform's shape, not ProblemDetails (the webhooks).</summary>
public sealed class PlatformAnswers
{
    public static readonly PlatformAnswers Instance = new();

    private PlatformAnswers()
    {
    }
}
