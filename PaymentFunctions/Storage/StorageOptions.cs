using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace PaymentFunctions.Storage;

/// <summary>
/// Names of the tables and queues. <see cref="NamePrefix"/> exists so tests can share one Azurite without
/// sharing data; under the Functions host it must stay empty, because function.json names the queue.
/// </summary>
public sealed partial class StorageOptions
{
    public const string Section = "Storage";
    public const string NotificationQueueName = "payment-notifications";

    /// <summary>The event delivery queue (function DeliverEvent): one message per event and endpoint.</summary>
    public const string EventQueueName = "payment-events";

    public string NamePrefix { get; set; } = "";

    public string OrdersTable => $"{NamePrefix}PaymentOrders";
    public string OrderIndexTable => $"{NamePrefix}PaymentOrderIndex";
    public string PayScoreOrdersTable => $"{NamePrefix}PayScoreOrders";
    public string OrphansTable => $"{NamePrefix}PaymentOrphans";
    public string NotificationQueue => $"{NamePrefix}{NotificationQueueName}";
    public string PoisonQueue => $"{NotificationQueue}-poison";
    public string EventQueue => $"{NamePrefix}{EventQueueName}";
    public string EventPoisonQueue => $"{EventQueue}-poison";

    [GeneratedRegex("^[a-z0-9]{0,12}$")]
    internal static partial Regex PrefixPattern();
}

internal sealed class StorageOptionsValidator(IConfiguration configuration) : IValidateOptions<StorageOptions>
{
    public ValidateOptionsResult Validate(string? name, StorageOptions o)
    {
        if (!StorageOptions.PrefixPattern().IsMatch(o.NamePrefix))
        {
            return ValidateOptionsResult.Fail("Setting 'Storage:NamePrefix' is malformed: expected up to 12 lowercase letters or digits.");
        }

        if (o.NamePrefix.Length > 0 && Hosting.FunctionsHost.IsCustomHandler(configuration))
        {
            return ValidateOptionsResult.Fail("Setting 'Storage:NamePrefix' must be empty under the Functions host: function.json names the queue.");
        }

        return ValidateOptionsResult.Success;
    }
}
