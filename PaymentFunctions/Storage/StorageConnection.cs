using Azure.Core;
using Azure.Identity;

namespace PaymentFunctions.Storage;

/// <summary>
/// The storage account the app uses, read from the same settings as the Functions host: either the
/// connection string <c>AzureWebJobsStorage</c> (Azurite: <c>UseDevelopmentStorage=true</c>) or the
/// identity-based form <c>AzureWebJobsStorage__queueServiceUri</c> / <c>__tableServiceUri</c> (or
/// <c>__accountName</c>) with <c>__credential=managedidentity</c> and <c>__clientId</c>.
/// </summary>
public sealed record StorageConnection(string? ConnectionString, Uri? QueueServiceUri, Uri? TableServiceUri, string? ClientId, bool UseManagedIdentity)
{
    public const string SettingName = "AzureWebJobsStorage";

    public bool IsConnectionString => ConnectionString is not null;

    public TokenCredential CreateCredential() => UseManagedIdentity
        ? new ManagedIdentityCredential(ClientId is null ? ManagedIdentityId.SystemAssigned : ManagedIdentityId.FromUserAssignedClientId(ClientId))
        : new DefaultAzureCredential(new DefaultAzureCredentialOptions { ManagedIdentityClientId = ClientId });

    /// <summary>Reads the setting; throws <see cref="InvalidOperationException"/> with one line naming what is wrong.</summary>
    public static StorageConnection Resolve(IConfiguration configuration)
    {
        var section = configuration.GetSection(SettingName);
        if (!string.IsNullOrWhiteSpace(section.Value))
        {
            if (!LooksLikeConnectionString(section.Value))
            {
                throw new ConfigurationException($"Setting '{SettingName}' is malformed: expected a storage connection string such as 'UseDevelopmentStorage=true' or 'DefaultEndpointsProtocol=https;AccountName=…'.");
            }

            return new StorageConnection(section.Value, null, null, null, false);
        }

        var accountName = section["accountName"];
        var queueUri = ReadUri(section, "queueServiceUri") ?? AccountUri(accountName, "queue");
        var tableUri = ReadUri(section, "tableServiceUri") ?? AccountUri(accountName, "table");
        if (queueUri is null || tableUri is null)
        {
            throw new ConfigurationException(
                $"Setting '{SettingName}' is missing: expected a connection string, or '{SettingName}__queueServiceUri' and '{SettingName}__tableServiceUri' (or '{SettingName}__accountName') for identity-based access.");
        }

        var credential = section["credential"];
        if (credential is not null && !credential.Equals("managedidentity", StringComparison.OrdinalIgnoreCase))
        {
            throw new ConfigurationException($"Setting '{SettingName}__credential' is malformed: expected 'managedidentity' or nothing.");
        }

        var clientId = section["clientId"];
        if (clientId is not null && !Guid.TryParse(clientId, out _))
        {
            throw new ConfigurationException($"Setting '{SettingName}__clientId' is malformed: expected the client id (a GUID) of the user-assigned identity.");
        }

        return new StorageConnection(null, queueUri, tableUri, clientId, credential is not null);
    }

    private static bool LooksLikeConnectionString(string value) =>
        value.Contains('=', StringComparison.Ordinal) &&
        (value.Contains("UseDevelopmentStorage", StringComparison.OrdinalIgnoreCase) ||
         value.Contains("AccountName", StringComparison.OrdinalIgnoreCase) ||
         value.Contains("Endpoint", StringComparison.OrdinalIgnoreCase));

    private static Uri? ReadUri(IConfiguration section, string key)
    {
        var value = section[key];
        if (value is null)
        {
            return null;
        }

        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || uri.Scheme is not ("https" or "http"))
        {
            throw new ConfigurationException($"Setting '{SettingName}__{key}' is malformed: expected an absolute URL such as https://account.{key[..5]}.core.windows.net.");
        }

        return uri;
    }

    private static Uri? AccountUri(string? accountName, string service)
    {
        if (accountName is null)
        {
            return null;
        }

        if (accountName.Length is < 3 or > 24 || !accountName.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c)))
        {
            throw new ConfigurationException($"Setting '{SettingName}__accountName' is malformed: expected 3-24 lowercase letters or digits.");
        }

        return new Uri($"https://{accountName}.{service}.core.windows.net");
    }
}
