using Microsoft.Extensions.Options;

namespace PaymentFunctions.Http;

/// <summary>
/// Section <c>Http</c>: how long a request may take as a whole, whatever it waits on. Webhooks must be answered
/// inside the platforms' ack windows (WeChat Pay waits 5 s), so a hung storage call answers 503 in time and the
/// platform retries, instead of the SDK's retries adding up to 15 s. API calls may include one platform call.
/// </summary>
public sealed class HttpOptions
{
    public const string Section = "Http";

    public TimeSpan WebhookDeadline { get; set; } = TimeSpan.FromSeconds(4);

    public TimeSpan ApiDeadline { get; set; } = TimeSpan.FromSeconds(20);
}

internal sealed class HttpOptionsValidator : IValidateOptions<HttpOptions>
{
    public ValidateOptionsResult Validate(string? name, HttpOptions o)
    {
        var errors = new List<string>();
        if (o.WebhookDeadline <= TimeSpan.Zero || o.WebhookDeadline > TimeSpan.FromSeconds(30))
        {
            errors.Add("Setting 'Http:WebhookDeadline' must be a duration between 00:00:00 and 00:00:30 (the platforms stop waiting after a few seconds).");
        }

        if (o.ApiDeadline <= TimeSpan.Zero || o.ApiDeadline > TimeSpan.FromMinutes(4))
        {
            errors.Add("Setting 'Http:ApiDeadline' must be a duration between 00:00:00 and 00:04:00.");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}

/// <summary>
/// Gives every <c>/api</c> request an overall deadline: <see cref="HttpContext.RequestAborted"/> (which every
/// handler receives as its CancellationToken) is replaced by one that also fires at the deadline. Which of the
/// two fired is kept in <see cref="RequestDeadlineFeature"/>, so a client that left is not answered, and a
/// deadline that passed is answered 503.
/// </summary>
public static class RequestDeadline
{
    public const string WebhookPrefix = "/api/notify";

    public static IApplicationBuilder UseRequestDeadlines(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        if (!context.Request.Path.StartsWithSegments("/api", StringComparison.OrdinalIgnoreCase))
        {
            await next(context);
            return;
        }

        var options = context.RequestServices.GetRequiredService<IOptions<HttpOptions>>().Value;
        var clock = context.RequestServices.GetRequiredService<TimeProvider>();
        var deadline = IsWebhook(context) ? options.WebhookDeadline : options.ApiDeadline;
        var clientAborted = context.RequestAborted;
        using var timer = new CancellationTokenSource(deadline, clock);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(clientAborted, timer.Token);
        context.Features.Set(new RequestDeadlineFeature(deadline, clientAborted, timer.Token));
        context.RequestAborted = linked.Token;
        try
        {
            await next(context);
        }
        finally
        {
            // The exception handler outside must see the client's own token to tell "client left" from "too slow".
            context.RequestAborted = clientAborted;
        }
    });

    public static bool IsWebhook(HttpContext context) => context.Request.Path.StartsWithSegments(WebhookPrefix, StringComparison.OrdinalIgnoreCase);

    /// <summary>True when the request's deadline passed while the client was still waiting.</summary>
    public static bool Expired(HttpContext context) => context.Features.Get<RequestDeadlineFeature>() is { Expired: true };

    /// <summary>True when the client went away; nothing we answer will reach it.</summary>
    public static bool ClientGone(HttpContext context) =>
        context.Features.Get<RequestDeadlineFeature>()?.ClientAborted.IsCancellationRequested ?? context.RequestAborted.IsCancellationRequested;
}

public sealed record RequestDeadlineFeature(TimeSpan Limit, CancellationToken ClientAborted, CancellationToken Deadline)
{
    public bool Expired => Deadline.IsCancellationRequested && !ClientAborted.IsCancellationRequested;
}
