namespace PaymentFunctions.OpenApi;

/// <summary>Route metadata: what one answer of the route means, as the document says it.</summary>
public sealed record AnswerDescription(int Status, string Text);

/// <summary>The Map-line vocabulary of the document: a route's JSON body and what each of its answers means.</summary>
public static class ApiResponses
{
    /// <summary>The route reads a JSON body of <typeparamref name="T"/> itself (through <c>RequestBody</c>).</summary>
    public static RouteHandlerBuilder AcceptsJson<T>(this RouteHandlerBuilder builder) => builder.ReadsBody<T>("application/json");

    /// <summary>The route reads a body of <typeparamref name="T"/> in <paramref name="contentType"/> itself (see <see cref="RequestBodyDescription"/>).</summary>
    public static RouteHandlerBuilder ReadsBody<T>(this RouteHandlerBuilder builder, string contentType) =>
        builder.WithMetadata(new RequestBodyDescription(typeof(T), contentType));

    /// <summary>The route answers <paramref name="status"/> as <c>application/problem+json</c>, for the reason given.</summary>
    public static TBuilder Refuses<TBuilder>(this TBuilder builder, int status, string description)
        where TBuilder : IEndpointConventionBuilder =>
        builder.ProducesProblem(status).WithMetadata(new AnswerDescription(status, description));

    /// <summary>What the route's <paramref name="status"/> answer (declared by its result type) means.</summary>
    public static TBuilder Describes<TBuilder>(this TBuilder builder, int status, string description)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new AnswerDescription(status, description));

    /// <summary>The route's own description of <paramref name="status"/>, else the common one, else the framework's.</summary>
    internal static string? Describe(IList<object> metadata, string path, string status, string? fallback)
    {
        var code = int.Parse(status, System.Globalization.CultureInfo.InvariantCulture);
        var text = metadata.OfType<AnswerDescription>().LastOrDefault(d => d.Status == code)?.Text ?? Common(code) ?? fallback;
        return code == StatusCodes.Status503ServiceUnavailable && path.StartsWith("api/payscore/", StringComparison.Ordinal)
            ? text + " Also while WeChat Pay is not configured on this app (no WeChatPay settings section)."
            : text;
    }

    private static string? Common(int status) => status switch
    {
        StatusCodes.Status400BadRequest =>
            "The body is not valid: not JSON, a wrong type, an unknown or repeated member, or a rule broken. `detail` says what; " +
            "for a rule, `errors` is keyed by the camelCase path sent (`riskFund.amount`, `postPayments[1].amount`). Nothing changed.",
        StatusCodes.Status401Unauthorized => "The function key is missing or wrong (x-functions-key header or ?code=).",
        StatusCodes.Status408RequestTimeout => "The body arrived too slowly (not at 240 B/s after 3 s).",
        StatusCodes.Status413PayloadTooLarge => "The body is over 16 KiB (refused from Content-Length before reading, or cut off at the limit).",
        StatusCodes.Status415UnsupportedMediaType => "The content type is not application/json in UTF-8.",
        StatusCodes.Status429TooManyRequests => "Too many requests from this client, or from everyone together: retry after Retry-After seconds.",
        StatusCodes.Status503ServiceUnavailable => "Storage is unavailable or the request passed its deadline: retry shortly. Nothing was left half done.",
        _ => null,
    };
}
