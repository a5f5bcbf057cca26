using System.Net;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;

namespace PaymentFunctions.Http;

/// <summary>
/// Section <c>RateLimits</c>: how often anonymous callers may make us call a payment platform (each such call
/// spends the merchant's quota there). Per client, and for all clients together per instance.
/// </summary>
public sealed class RateLimitOptions
{
    public const string Section = "RateLimits";

    /// <summary>Platform-calling requests one client may make per <see cref="Window"/>.</summary>
    public int PerClientPermits { get; set; } = 30;

    public TimeSpan Window { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Platform-calling requests per second for all clients together (per instance).</summary>
    public int TotalPerSecond { get; set; } = 20;
}

internal sealed class RateLimitOptionsValidator : IValidateOptions<RateLimitOptions>
{
    public ValidateOptionsResult Validate(string? name, RateLimitOptions o)
    {
        var errors = new List<string>();
        if (o.PerClientPermits < 1)
        {
            errors.Add("Setting 'RateLimits:PerClientPermits' must be at least 1.");
        }

        if (o.Window < TimeSpan.FromSeconds(1))
        {
            errors.Add("Setting 'RateLimits:Window' must be at least 00:00:01.");
        }

        if (o.TotalPerSecond < 1)
        {
            errors.Add("Setting 'RateLimits:TotalPerSecond' must be at least 1.");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}

public static class RateLimits
{
    /// <summary>The policy of anonymous routes that call a payment platform.</summary>
    public const string PlatformCalls = "platform-calls";

    private const string Everyone = "*";

    public static IServiceCollection AddPaymentRateLimits(this IServiceCollection services)
    {
        services.AddRateLimiter(limiter =>
        {
            // Per client: a token bucket, so a mini program that polls a little faster is served, and a script is not.
            limiter.AddPolicy(PlatformCalls, context =>
            {
                var o = context.RequestServices.GetRequiredService<IOptions<RateLimitOptions>>().Value;
                return RateLimitPartition.GetTokenBucketLimiter(ClientKey(context), _ => new TokenBucketRateLimiterOptions
                {
                    TokenLimit = o.PerClientPermits,
                    TokensPerPeriod = o.PerClientPermits,
                    ReplenishmentPeriod = o.Window,
                    QueueLimit = 0,
                    AutoReplenishment = true,
                });
            });

            // For everyone together: only the platform-calling routes count; webhooks and the business API never wait here.
            limiter.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(context =>
            {
                if (context.GetEndpoint()?.Metadata.GetMetadata<EnableRateLimitingAttribute>() is not { PolicyName: PlatformCalls })
                {
                    return RateLimitPartition.GetNoLimiter("");
                }

                var o = context.RequestServices.GetRequiredService<IOptions<RateLimitOptions>>().Value;
                return RateLimitPartition.GetTokenBucketLimiter(Everyone, _ => new TokenBucketRateLimiterOptions
                {
                    TokenLimit = o.TotalPerSecond,
                    TokensPerPeriod = o.TotalPerSecond,
                    ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                    QueueLimit = 0,
                    AutoReplenishment = true,
                });
            });

            limiter.OnRejected = async (rejected, cancellationToken) =>
            {
                var retryAfter = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? after : TimeSpan.FromSeconds(1);
                await Problems.TooManyRequests(rejected.HttpContext, retryAfter, seconds => $"Too many requests; retry after {seconds} s.")
                    .ExecuteAsync(rejected.HttpContext);
            };
        });
        return services;
    }

    /// <summary>
    /// The caller's address. Under the Functions host every request arrives from the host on loopback, and the
    /// platform's front end appends the caller's address to X-Forwarded-For: the last entry is the one it added
    /// (earlier entries are whatever the caller claimed). Standalone, the socket's address is the caller.
    /// </summary>
    public static string ClientKey(HttpContext context)
    {
        if (Hosting.FunctionsHost.IsCustomHandler(context.RequestServices.GetRequiredService<IConfiguration>()))
        {
            var forwarded = context.Request.Headers["X-Forwarded-For"].ToString();
            var last = forwarded[(forwarded.LastIndexOf(',') + 1)..].Trim();
            if (last.Length > 0)
            {
                return StripPort(last);
            }
        }

        return context.Connection.RemoteIpAddress?.ToString() ?? "unknown";
    }

    private static string StripPort(string address)
    {
        // "1.2.3.4:5678" or "[2001:db8::1]:5678" as App Service writes them; a bare IPv6 address has no port.
        if (IPEndPoint.TryParse(address, out var endpoint))
        {
            return endpoint.Address.ToString();
        }

        return address.Length > 64 ? address[..64] : address;
    }
}
