using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using PaymentFunctions.Http;

namespace PaymentFunctions.Hosting;

/// <summary>Section <c>FunctionKeys</c>: the key the standalone app requires on authLevel-function routes.</summary>
public sealed class FunctionKeyOptions
{
    public const string Section = "FunctionKeys";

    public string Default { get; set; } = "";
}

internal sealed class FunctionKeyOptionsValidator(IConfiguration configuration) : IValidateOptions<FunctionKeyOptions>
{
    public ValidateOptionsResult Validate(string? name, FunctionKeyOptions o) =>
        !FunctionsHost.IsCustomHandler(configuration) && o.Default.Length < 16
            ? ValidateOptionsResult.Fail("Setting 'FunctionKeys:Default' is missing or too short: expected a random key of at least 16 characters (the standalone app checks x-functions-key against it).")
            : ValidateOptionsResult.Success;
}

/// <summary>Route metadata: the route is behind <see cref="FunctionKeyFilter"/> (authLevel "function" in its function.json).</summary>
public sealed class FunctionKeyRequired
{
    public static readonly FunctionKeyRequired Instance = new();

    private FunctionKeyRequired()
    {
    }
}

/// <summary>What a route group requires of every route in it.</summary>
public static class RouteGroupPolicies
{
    /// <summary>Every route of the group requires the function key, and says so in its metadata.</summary>
    public static RouteGroupBuilder RequireFunctionKey(this RouteGroupBuilder group) =>
        group.AddRegisteredFilter<FunctionKeyFilter>().WithMetadata(FunctionKeyRequired.Instance);

    /// <summary>
    /// Adds the filter registered in the container (a singleton), where <c>AddEndpointFilter&lt;T&gt;()</c> would
    /// construct a new one on every request.
    /// </summary>
    internal static RouteGroupBuilder AddRegisteredFilter<TFilter>(this RouteGroupBuilder group)
        where TFilter : IEndpointFilter =>
        group.AddEndpointFilterFactory((context, next) =>
        {
            var filter = context.ApplicationServices.GetRequiredService<TFilter>();
            return invocation => filter.InvokeAsync(invocation, next);
        });
}

/// <summary>
/// authLevel "function" for the standalone app: the key in <c>x-functions-key</c> (or <c>?code=</c>), as the
/// Functions host would check it. Under the host the host has already checked it before forwarding.
/// </summary>
public sealed class FunctionKeyFilter(IOptions<FunctionKeyOptions> options, IConfiguration configuration) : IEndpointFilter
{
    private readonly bool _underHost = FunctionsHost.IsCustomHandler(configuration);

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        if (_underHost)
        {
            return await next(context);
        }

        var request = context.HttpContext.Request;
        var presented = request.Headers["x-functions-key"].FirstOrDefault() ?? request.Query["code"].FirstOrDefault();
        if (presented is null || !Matches(presented, options.Value.Default))
        {
            return Problems.Unauthorized("A valid function key is required in the x-functions-key header.");
        }

        return await next(context);
    }

    private static bool Matches(string presented, string expected)
    {
        // Hash both sides so the comparison is constant-time whatever the lengths.
        var a = SHA256.HashData(Encoding.UTF8.GetBytes(presented));
        var b = SHA256.HashData(Encoding.UTF8.GetBytes(expected));
        return expected.Length > 0 && CryptographicOperations.FixedTimeEquals(a, b);
    }
}
