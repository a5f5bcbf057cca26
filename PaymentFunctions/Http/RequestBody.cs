using System.Buffers;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Net.Http.Headers;

namespace PaymentFunctions.Http;

/// <summary>The outcome of reading a request body: the bytes, or the 4xx that explains why not.</summary>
public readonly record struct BodyRead(byte[]? Bytes, ProblemHttpResult? Problem)
{
    public bool Ok => Bytes is not null;
}

/// <summary>
/// Reads request bodies with a hard size limit: a declared Content-Length over the limit is refused before a
/// byte is read, and a chunked body is cut off as soon as it passes the limit, so an oversized body is
/// never buffered whole.
/// </summary>
public static class RequestBody
{
    public const int JsonLimitBytes = 16 * 1024;
    public const int FormLimitBytes = 16 * 1024;

    public static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web)
    {
        UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow,
        // "Last wins" would let two readers of one body see different values; a repeated key is refused at
        // every depth, in typed members, dictionaries and JsonElement members (e.g. extra) alike.
        AllowDuplicateProperties = false,
        AllowTrailingCommas = false,
        ReadCommentHandling = JsonCommentHandling.Disallow,
        MaxDepth = 16,
        // The web defaults read "1000" as a number; an amount must arrive as a JSON integer, nothing else.
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.Strict,
        // Chinese text (plates, subjects) stays readable in stored rows and in what we send to P云.
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static bool HasMediaType(HttpRequest request, string mediaType)
    {
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var parsed) ||
            !parsed.MediaType.Equals(mediaType, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        // Only UTF-8 is understood; another declared charset would make us verify different characters.
        var charset = parsed.Charset;
        return !charset.HasValue || charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase) || charset.Equals("utf8", StringComparison.OrdinalIgnoreCase);
    }

    public static async Task<BodyRead> ReadAsync(HttpRequest request, string mediaType, int limitBytes, CancellationToken cancellationToken)
    {
        if (!HasMediaType(request, mediaType))
        {
            return new(null, Problems.UnsupportedMediaType($"The body must be {mediaType} in UTF-8."));
        }

        if (request.ContentLength > limitBytes)
        {
            return new(null, Problems.TooLarge(limitBytes));
        }

        // The body is read against the client's own token, not the request deadline: Kestrel's minimum data rate
        // already cuts off a body that trickles in (408), and cancelling a read in flight leaves Kestrel's body
        // reader unable to drain the rest of the request.
        cancellationToken = request.HttpContext.Features.Get<RequestDeadlineFeature>()?.ClientAborted ?? cancellationToken;
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Min(limitBytes + 1, 64 * 1024));
        try
        {
            var total = 0;
            var output = new MemoryStream();
            while (true)
            {
                var read = await request.Body.ReadAsync(buffer.AsMemory(0, Math.Min(buffer.Length, limitBytes + 1 - total)), cancellationToken);
                if (read == 0)
                {
                    break;
                }

                total += read;
                if (total > limitBytes)
                {
                    return new(null, Problems.TooLarge(limitBytes));
                }

                output.Write(buffer, 0, read);
            }

            return new(output.ToArray(), null);
        }
        catch (BadHttpRequestException ex)
        {
            // The client's fault, not ours: a body shorter than its Content-Length, a bad chunk, or data too slow.
            return new(null, Problems.Create(ex.StatusCode, Problems.TitleFor(ex.StatusCode), Unreadable(ex.StatusCode)));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>A name or value from the request as quoted in an error: at most <paramref name="max"/> characters, then "…".</summary>
    public static string Clip(string text, int max = 32) => text.Length <= max ? text : text[..max] + "…";

    /// <summary>Why a body could not be read, in words for the client (Kestrel's own message names internals).</summary>
    public static string Unreadable(int status) => status switch
    {
        StatusCodes.Status408RequestTimeout => "The request body arrived too slowly.",
        StatusCodes.Status413PayloadTooLarge => "The request body is too large.",
        _ => "The request body is incomplete or malformed (it ended before its declared length, or its chunked encoding is invalid).",
    };

    /// <summary>
    /// <see cref="ReadJsonAsync{T}"/>, then <paramref name="withRoute"/> (the route's values, which a body may not carry),
    /// then the validator: the request to act on, or the 4xx to answer (400, 413, 415, or the 400 of every invalid field).
    /// </summary>
    public static async Task<(T? Value, ProblemHttpResult? Problem)> ReadValidJsonAsync<T>(HttpRequest request, FluentValidation.IValidator<T> validator,
        CancellationToken cancellationToken, Func<T, T>? withRoute = null)
        where T : class
    {
        var (body, problem) = await ReadJsonAsync<T>(request, cancellationToken);
        if (problem is not null)
        {
            return (null, problem);
        }

        var value = withRoute is null ? body! : withRoute(body!);
        var validation = await validator.ValidateAsync(value, cancellationToken);
        return validation.IsValid ? (value, null) : (null, Problems.Validation(validation.ToDictionary()));
    }

    /// <summary>Reads and deserializes a JSON body; unknown members, wrong types and invalid UTF-8 are 400s.</summary>
    public static async Task<(T? Value, ProblemHttpResult? Problem)> ReadJsonAsync<T>(HttpRequest request, CancellationToken cancellationToken)
        where T : class
    {
        var body = await ReadAsync(request, "application/json", JsonLimitBytes, cancellationToken);
        if (!body.Ok)
        {
            return (null, body.Problem);
        }

        if (body.Bytes!.Length == 0)
        {
            return (null, Problems.BadRequest("The request body is empty."));
        }

        try
        {
            var value = JsonSerializer.Deserialize<T>(body.Bytes, JsonOptions);
            if (value is null)
            {
                return (null, Problems.BadRequest("The request body must be a JSON object."));
            }

            // A member the route sets ([JsonIgnore]) is not read from the body, so the serializer lets its name pass
            // silently: the caller would believe it chose it. Refused, like any other member the body may not carry.
            return RouteOnlyMember<T>(body.Bytes) is { } routeOnly
                ? (null, Problems.BadRequest($"'{routeOnly}' comes from the route, not the request body."))
                : (value, null);
        }
        catch (JsonException ex)
        {
            // A repeated key is named by its full path; the serializer's own path stops at a JsonElement member.
            if (FindDuplicateKey(body.Bytes) is { } duplicate)
            {
                return (null, Problems.BadRequest($"The request body is not valid at {duplicate}: '{duplicate[(duplicate.StartsWith("$.", StringComparison.Ordinal) ? 2 : 1)..]}' appears more than once."));
            }

            // The path says which member is wrong; the message text is the framework's and names only types.
            var where = string.IsNullOrEmpty(ex.Path) || ex.Path == "$" ? "the body" : ex.Path;
            return (null, Problems.BadRequest($"The request body is not valid at {where}: {Describe(ex)}"));
        }
    }

    /// <summary>The first top-level key of <paramref name="json"/> that names a [JsonIgnore] member of <typeparamref name="T"/>.</summary>
    private static string? RouteOnlyMember<T>(ReadOnlySpan<byte> json)
    {
        var names = RouteOnlyNames<T>.Names;
        if (names.Length == 0)
        {
            return null;
        }

        var reader = new Utf8JsonReader(json);
        while (reader.Read())
        {
            if (reader.TokenType == JsonTokenType.PropertyName && reader.CurrentDepth == 1 &&
                names.Contains(reader.GetString()!, StringComparer.OrdinalIgnoreCase))
            {
                return reader.GetString();
            }
        }

        return null;
    }

    private static class RouteOnlyNames<T>
    {
        public static readonly string[] Names = [.. typeof(T).GetProperties()
            .Where(p => p.GetCustomAttributes(typeof(System.Text.Json.Serialization.JsonIgnoreAttribute), true)
                .Cast<System.Text.Json.Serialization.JsonIgnoreAttribute>().Any(a => a.Condition == System.Text.Json.Serialization.JsonIgnoreCondition.Always))
            .Select(p => JsonOptions.PropertyNamingPolicy?.ConvertName(p.Name) ?? p.Name)];
    }

    /// <summary>
    /// The path (<c>$.a.b[0].c</c>) of the first key that occurs twice in one JSON object, compared after
    /// unescaping; null when there is none or the text is not well-formed JSON.
    /// </summary>
    public static string? FindDuplicateKey(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow });
        var containers = new Stack<Container>();
        try
        {
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.PropertyName:
                        var current = containers.Peek();
                        var name = reader.GetString()!;
                        current.Member = current.Path + Segment(name);
                        if (!current.Names!.Add(name))
                        {
                            return current.Member;
                        }

                        continue;
                    case JsonTokenType.EndObject or JsonTokenType.EndArray:
                        containers.Pop();
                        continue;
                }

                var path = "$";
                if (containers.TryPeek(out var parent))
                {
                    path = parent.Names is null ? $"{parent.Path}[{++parent.Index}]" : parent.Member!;
                }

                if (reader.TokenType == JsonTokenType.StartObject)
                {
                    containers.Push(new Container(path, new HashSet<string>(StringComparer.Ordinal)));
                }
                else if (reader.TokenType == JsonTokenType.StartArray)
                {
                    containers.Push(new Container(path, null));
                }
            }
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            // Malformed JSON or invalid UTF-8: the serializer's own error describes it.
        }

        return null;
    }

    private static string Segment(string name)
    {
        var clipped = Clip(name);
        return name.Length > 0 && name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_') ? "." + clipped : $"['{clipped.Replace("'", "\\'", StringComparison.Ordinal)}']";
    }

    /// <summary>An object (with the names seen so far and the current member's path) or an array (with its index).</summary>
    private sealed class Container(string path, HashSet<string>? names)
    {
        public string Path { get; } = path;
        public HashSet<string>? Names { get; } = names;
        public string? Member { get; set; }
        public int Index { get; set; } = -1;
    }

    private static string Describe(JsonException ex)
    {
        if (ex.InnerException is InvalidOperationException or FormatException or OverflowException)
        {
            return "the value has the wrong type or is out of range.";
        }

        var message = ex.Message;
        if (message.Contains("Duplicate propert", StringComparison.Ordinal))
        {
            // Member names are matched case-insensitively, so "amount" and "Amount" are the same member.
            return "a member appears more than once (member names are not case-sensitive).";
        }

        if (message.Contains("could not be mapped", StringComparison.Ordinal))
        {
            return "it has a member this API does not accept.";
        }

        if (message.Contains("could not be converted", StringComparison.Ordinal))
        {
            return "the value has the wrong type or is out of range.";
        }

        if (message.Contains("missing required", StringComparison.OrdinalIgnoreCase))
        {
            return "a required member is missing.";
        }

        return "it is not well-formed JSON.";
    }
}

/// <summary>ProblemDetails answers used across the API, one clear sentence each.</summary>
public static class Problems
{
    public static ProblemHttpResult BadRequest(string detail) => Create(StatusCodes.Status400BadRequest, "Bad request", detail);

    public static ProblemHttpResult Validation(IDictionary<string, string[]> errors)
    {
        var problem = new HttpValidationProblemDetails(errors)
        {
            Status = StatusCodes.Status400BadRequest,
            Title = "The request is not valid",
            Detail = string.Join(" ", errors.SelectMany(e => e.Value)),
        };
        return TypedResults.Problem(problem);
    }

    public static ProblemHttpResult NotFound(string detail) => Create(StatusCodes.Status404NotFound, "Not found", detail);

    public static ProblemHttpResult Conflict(string detail) => Create(StatusCodes.Status409Conflict, "Conflict", detail);

    public static ProblemHttpResult Gone(string detail) => Create(StatusCodes.Status410Gone, "Gone", detail);

    public static ProblemHttpResult Unauthorized(string detail) => Create(StatusCodes.Status401Unauthorized, "Unauthorized", detail);

    public static ProblemHttpResult TooLarge(int limitBytes) =>
        Create(StatusCodes.Status413PayloadTooLarge, "Payload too large", $"The body is larger than {limitBytes} bytes.");

    public static ProblemHttpResult UnsupportedMediaType(string detail) =>
        Create(StatusCodes.Status415UnsupportedMediaType, "Unsupported media type", detail);

    public static ProblemHttpResult BadGateway(string detail) => Create(StatusCodes.Status502BadGateway, "Payment platform error", detail);

    public static ProblemHttpResult Unavailable(string detail) => Create(StatusCodes.Status503ServiceUnavailable, "Service unavailable", detail);

    /// <summary>
    /// 429 with <c>Retry-After</c> in whole seconds (at least 1), set on <paramref name="context"/>'s response;
    /// <paramref name="detail"/> is given those seconds.
    /// </summary>
    public static ProblemHttpResult TooManyRequests(HttpContext context, TimeSpan wait, Func<int, string> detail)
    {
        var seconds = Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds));
        context.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return Create(StatusCodes.Status429TooManyRequests, "Too many requests", detail(seconds));
    }

    /// <summary>The title of a refusal of the request itself, or of a 5xx, by status.</summary>
    public static string TitleFor(int status) => status switch
    {
        StatusCodes.Status408RequestTimeout => "Request timeout",
        StatusCodes.Status413PayloadTooLarge => "Payload too large",
        >= 500 => "Service unavailable",
        _ => "Bad request",
    };

    public static ProblemHttpResult Create(int status, string title, string detail) =>
        TypedResults.Problem(new Microsoft.AspNetCore.Mvc.ProblemDetails { Status = status, Title = title, Detail = detail });
}
