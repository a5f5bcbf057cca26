using System.Text.Json;

namespace PaymentFunctions.Hosting;

/// <summary>
/// The queue-trigger settings of host.json (<c>extensions.queues</c>), with the host's defaults, so the
/// standalone listener behaves as the Functions host would (all but <c>newBatchThreshold</c>, which is only
/// range-checked: see <see cref="QueueListener"/>).
/// </summary>
public sealed record QueueSettings(int BatchSize, int NewBatchThreshold, TimeSpan MaxPollingInterval, TimeSpan VisibilityTimeout, int MaxDequeueCount)
{
    public static QueueSettings Defaults { get; } = new(16, 8, TimeSpan.FromMinutes(1), TimeSpan.Zero, 5);

    public static QueueSettings Load(string path)
    {
        if (!File.Exists(path))
        {
            throw new ConfigurationException($"host.json was not found at '{path}': the standalone queue listener reads its settings there.");
        }

        using var document = JsonDocument.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        if (!document.RootElement.TryGetProperty("extensions", out var extensions) || !extensions.TryGetProperty("queues", out var queues))
        {
            return Defaults;
        }

        var d = Defaults;
        var batch = Int(queues, "batchSize", d.BatchSize);
        var settings = new QueueSettings(
            batch,
            Int(queues, "newBatchThreshold", batch / 2),
            Span(queues, "maxPollingInterval", d.MaxPollingInterval),
            Span(queues, "visibilityTimeout", d.VisibilityTimeout),
            Int(queues, "maxDequeueCount", d.MaxDequeueCount));
        if (settings.BatchSize is < 1 or > 32 || settings.MaxDequeueCount < 1 || settings.MaxPollingInterval < TimeSpan.FromMilliseconds(100) ||
            settings.VisibilityTimeout < TimeSpan.Zero || settings.NewBatchThreshold < 0)
        {
            throw new ConfigurationException("host.json extensions.queues is out of range: batchSize 1-32, maxDequeueCount >= 1, maxPollingInterval >= 100 ms.");
        }

        return settings;
    }

    private static int Int(JsonElement e, string name, int fallback) =>
        e.TryGetProperty(name, out var v) && v.TryGetInt32(out var i) ? i : fallback;

    private static TimeSpan Span(JsonElement e, string name, TimeSpan fallback) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String &&
        TimeSpan.TryParse(v.GetString(), System.Globalization.CultureInfo.InvariantCulture, out var t) ? t : fallback;
}
