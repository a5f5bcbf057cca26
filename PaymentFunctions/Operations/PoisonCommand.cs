using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Azure.Storage.Queues;
using PaymentFunctions.Http;
using PaymentFunctions.Storage;

namespace PaymentFunctions.Operations;

/// <summary>
/// <c>PaymentFunctions poison list|show|replay …</c>: the operator's way into the poison queues, reading the app's own
/// settings (AzureWebJobsStorage in either form, Storage:NamePrefix). Exit codes: 0 done, 1 error (settings, storage),
/// 2 usage or no such message.
/// </summary>
public static class PoisonCommand
{
    public const string Name = "poison";

    public const int Ok = 0;
    public const int Error = 1;
    public const int Usage = 2;

    private const int PreviewLength = 60;

    private static readonly JsonSerializerOptions Indented = new()
    {
        WriteIndented = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>The app's configuration exactly as the app reads it (appsettings next to the executable, user secrets in Development, environment).</summary>
    public static IConfiguration LoadConfiguration() =>
        WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory }).Configuration;

    /// <summary>Runs the command; <paramref name="args"/> are what follows <c>poison</c>.</summary>
    public static async Task<int> RunAsync(string[] args, IConfiguration configuration, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        var queueOption = new Option<string>("--queue", "-q")
        {
            Description = "Which poison queue: " + string.Join(", ", PoisonQueues.All(new StorageOptions()).Select(p => p.Name)) + " or all.",
            DefaultValueFactory = _ => "all",
        };
        queueOption.Validators.Add(result =>
        {
            var value = result.GetValueOrDefault<string>();
            if (value != "all" && PoisonQueues.All(new StorageOptions()).All(p => p.Name != value))
            {
                result.AddError($"Unknown queue '{LogValue.Safe(value, 40)}': expected {string.Join(", ", PoisonQueues.All(new StorageOptions()).Select(p => p.Name))} or all.");
            }
        });
        var idArgument = new Argument<string>("messageId") { Description = "The message id, as `list` shows it." };
        var optionalId = new Argument<string?>("messageId") { Description = "The message id, as `list` shows it.", Arity = ArgumentArity.ZeroOrOne };
        var allOption = new Option<bool>("--all") { Description = "Replay every message of the queue(s)." };

        var list = new Command("list", "List the first 32 messages of each poison queue (peeked: nothing changes).") { queueOption };
        var show = new Command("show", "Print one message in full, with its envelope's fields (peeked: nothing changes).") { idArgument, queueOption };
        var replay = new Command("replay", "Move a message (or --all) back to the queue it came from, then delete it from the poison queue.") { optionalId, allOption, queueOption };
        replay.Validators.Add(result =>
        {
            var hasId = result.GetValue(optionalId) is not null;
            if (hasId == result.GetValue(allOption))
            {
                result.AddError("replay needs a message id or --all (not both).");
            }
        });
        // Not a RootCommand, whose usage line would name the executable without "poison".
        var root = new Command(Name, "Poison queues of PaymentFunctions: list, show and replay their messages.") { list, show, replay };
        root.Options.Add(new System.CommandLine.Help.HelpOption());

        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var e in parse.Errors)
            {
                await error.WriteLineAsync($"poison: {e.Message}");
            }

            await error.WriteLineAsync("Usage: PaymentFunctions poison list [--queue name|all] | show <messageId> | replay <messageId>|--all [--queue name|all]");
            return Usage;
        }

        if (parse.CommandResult.Command == root || parse.Action is System.CommandLine.Help.HelpAction)
        {
            // --help, on any command: System.CommandLine prints it.
            return await parse.InvokeAsync(new InvocationConfiguration { Output = output, Error = error }, cancellationToken);
        }

        PoisonQueues queues;
        try
        {
            queues = Connect(configuration, parse.GetValue(queueOption) ?? "all");
        }
        catch (ConfigurationException ex)
        {
            await error.WriteLineAsync($"poison: {ex.Message}");
            return Error;
        }

        try
        {
            var command = parse.CommandResult.Command;
            if (command == list)
            {
                return await ListAsync(queues, output, cancellationToken);
            }

            if (command == show)
            {
                return await ShowAsync(queues, parse.GetValue(idArgument)!, output, error, cancellationToken);
            }

            return parse.GetValue(allOption)
                ? await ReplayAllAsync(queues, output, cancellationToken)
                : await ReplayOneAsync(queues, parse.GetValue(optionalId)!, output, error, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await error.WriteLineAsync("poison: cancelled.");
            return Error;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Storage or sign-in failures, mostly. The first line only: the SDK appends headers and content, and no stack
            // trace belongs in an operator's terminal.
            await error.WriteLineAsync($"poison: storage failed: {FirstLine(ex.Message)}");
            return Error;
        }
    }

    private static PoisonQueues Connect(IConfiguration configuration, string queue)
    {
        var prefix = configuration[$"{StorageOptions.Section}:{nameof(StorageOptions.NamePrefix)}"] ?? "";
        if (!StorageOptions.PrefixPattern().IsMatch(prefix))
        {
            throw new ConfigurationException("Setting 'Storage:NamePrefix' is malformed: expected up to 12 lowercase letters or digits.");
        }

        var connection = StorageConnection.Resolve(configuration);
        var options = new QueueClientOptions { MessageEncoding = QueueMessageEncoding.None };
        // Fail within seconds, not the SDK's default minute and a half, when storage is away.
        options.Retry.MaxRetries = 2;
        options.Retry.NetworkTimeout = TimeSpan.FromSeconds(10);
        var client = connection.IsConnectionString
            ? new QueueServiceClient(connection.ConnectionString, options)
            : new QueueServiceClient(connection.QueueServiceUri, connection.CreateCredential(), options);
        var pairs = PoisonQueues.All(new StorageOptions { NamePrefix = prefix }).Where(p => queue == "all" || p.Name == queue).ToList();
        return new PoisonQueues(client, pairs);
    }

    private static async Task<int> ListAsync(PoisonQueues queues, TextWriter output, CancellationToken cancellationToken)
    {
        foreach (var pair in queues.Pairs)
        {
            var (messages, count) = await queues.PeekAsync(pair, cancellationToken);
            var more = count > messages.Count ? $"; the first {messages.Count} shown (a peek returns at most {PoisonQueues.PageSize})" : "";
            await output.WriteLineAsync($"{pair.Name}: {pair.PoisonQueue} holds {count} message(s) (approximate){more}; source {pair.SourceQueue}");
            foreach (var m in messages)
            {
                var preview = m.Text is null ? $"({m.DecodeProblem?.TrimEnd('.')}) {m.Stored}" : m.Text;
                await output.WriteLineAsync(string.Join("  ",
                    m.MessageId,
                    m.InsertedOn?.ToString("u", CultureInfo.InvariantCulture) ?? "-",
                    $"dequeued {m.DequeueCount}",
                    LogValue.Safe(m.Kind, 40) ?? "-",
                    LogValue.Safe(preview, PreviewLength)));
            }
        }

        return Ok;
    }

    private static async Task<int> ShowAsync(PoisonQueues queues, string messageId, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        var longQueues = new List<string>();
        foreach (var pair in queues.Pairs)
        {
            var (messages, count) = await queues.PeekAsync(pair, cancellationToken);
            if (messages.FirstOrDefault(m => m.MessageId == messageId) is not { } m)
            {
                if (count > messages.Count)
                {
                    longQueues.Add(pair.PoisonQueue);
                }

                continue;
            }

            await output.WriteLineAsync($"id:           {m.MessageId}");
            await output.WriteLineAsync($"queue:        {pair.PoisonQueue} (replays to {pair.SourceQueue})");
            await output.WriteLineAsync($"inserted:     {m.InsertedOn?.ToString("u", CultureInfo.InvariantCulture) ?? "-"}");
            await output.WriteLineAsync($"dequeued:     {m.DequeueCount}");
            if (m.Fields() is { } fields)
            {
                foreach (var (name, value) in fields)
                {
                    var text = value.ValueKind == JsonValueKind.String ? value.GetString() : JsonSerializer.Serialize(value, Indented);
                    await output.WriteLineAsync($"{name + ":",-13} {text}");
                }
            }
            else
            {
                await output.WriteLineAsync($"envelope:     none ({(m.DecodeProblem ?? "The text is not a JSON object.").TrimEnd('.')})");
            }

            await output.WriteLineAsync(m.Text is null ? "stored text (as is):" : "text:");
            await output.WriteLineAsync(m.Text ?? m.Stored);
            return Ok;
        }

        var beyond = longQueues.Count > 0
            ? $" Only the first {PoisonQueues.PageSize} messages of {string.Join(", ", longQueues)} can be peeked; replay or remove the ones before it to reach it."
            : "";
        await error.WriteLineAsync($"poison: no message '{LogValue.Safe(messageId, 64)}' in {string.Join(", ", queues.Pairs.Select(p => p.PoisonQueue))}.{beyond}");
        return Usage;
    }

    private static async Task<int> ReplayOneAsync(PoisonQueues queues, string messageId, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        foreach (var pair in queues.Pairs)
        {
            if (await queues.ReplayAsync(pair, messageId, cancellationToken))
            {
                await output.WriteLineAsync($"Replayed {messageId}: moved from {pair.PoisonQueue} back to {pair.SourceQueue}.");
                return Ok;
            }
        }

        await error.WriteLineAsync($"poison: no message '{LogValue.Safe(messageId, 64)}' in {string.Join(", ", queues.Pairs.Select(p => p.PoisonQueue))}; nothing replayed.");
        return Usage;
    }

    private static async Task<int> ReplayAllAsync(PoisonQueues queues, TextWriter output, CancellationToken cancellationToken)
    {
        foreach (var pair in queues.Pairs)
        {
            var count = await queues.ReplayAllAsync(pair, cancellationToken);
            await output.WriteLineAsync($"Replayed {count} message(s): moved from {pair.PoisonQueue} back to {pair.SourceQueue}.");
        }

        return Ok;
    }

    private static string FirstLine(string message)
    {
        var end = message.IndexOfAny(['\r', '\n']);
        return LogValue.Safe(end < 0 ? message : message[..end], 300) ?? "";
    }
}
