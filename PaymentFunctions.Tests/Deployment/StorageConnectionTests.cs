using Azure.Identity;
using Microsoft.Extensions.Configuration;
using PaymentFunctions.Storage;

namespace PaymentFunctions.Tests.Deployment;

/// <summary>
/// <see cref="StorageConnection.Resolve"/> reads the same AzureWebJobsStorage settings as the Functions host: the
/// connection string locally, the identity-based form in Azure (see infra/modules/functionapp.bicep).
/// </summary>
public sealed class StorageConnectionTests
{
    private const string ClientId = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b";

    [Fact]
    public void A_connection_string_is_used_as_is()
    {
        var connection = Resolve(new() { ["AzureWebJobsStorage"] = "UseDevelopmentStorage=true" });

        Assert.True(connection.IsConnectionString);
        Assert.Equal("UseDevelopmentStorage=true", connection.ConnectionString);
        Assert.Null(connection.QueueServiceUri);
        Assert.Null(connection.TableServiceUri);
        Assert.False(connection.UseManagedIdentity);
    }

    [Fact]
    public void Service_uris_with_a_user_assigned_managed_identity()
    {
        // Exactly what the Bicep template writes, in the environment-variable form App Service uses.
        var connection = Resolve(new()
        {
            ["AzureWebJobsStorage__accountName"] = "stpayments",
            ["AzureWebJobsStorage__blobServiceUri"] = "https://stpayments.blob.core.windows.net/",
            ["AzureWebJobsStorage__queueServiceUri"] = "https://stpayments.queue.core.windows.net/",
            ["AzureWebJobsStorage__tableServiceUri"] = "https://stpayments.table.core.windows.net/",
            ["AzureWebJobsStorage__credential"] = "managedidentity",
            ["AzureWebJobsStorage__clientId"] = ClientId,
        });

        Assert.False(connection.IsConnectionString);
        Assert.Equal(new Uri("https://stpayments.queue.core.windows.net/"), connection.QueueServiceUri);
        Assert.Equal(new Uri("https://stpayments.table.core.windows.net/"), connection.TableServiceUri);
        Assert.Equal(ClientId, connection.ClientId);
        Assert.True(connection.UseManagedIdentity);
        Assert.IsType<ManagedIdentityCredential>(connection.CreateCredential());
    }

    [Fact]
    public void Service_uris_without_credential_use_the_default_credential_chain()
    {
        var connection = Resolve(new()
        {
            ["AzureWebJobsStorage:queueServiceUri"] = "https://acct.queue.core.windows.net",
            ["AzureWebJobsStorage:tableServiceUri"] = "https://acct.table.core.windows.net",
        });

        Assert.False(connection.UseManagedIdentity);
        Assert.Null(connection.ClientId);
        Assert.IsType<DefaultAzureCredential>(connection.CreateCredential());
    }

    [Fact]
    public void Account_name_alone_gives_the_public_cloud_endpoints()
    {
        var connection = Resolve(new()
        {
            ["AzureWebJobsStorage__accountName"] = "stpayments01",
            ["AzureWebJobsStorage__credential"] = "managedidentity",
        });

        Assert.Equal(new Uri("https://stpayments01.queue.core.windows.net"), connection.QueueServiceUri);
        Assert.Equal(new Uri("https://stpayments01.table.core.windows.net"), connection.TableServiceUri);
        Assert.True(connection.UseManagedIdentity);
        Assert.Null(connection.ClientId); // system-assigned
        Assert.IsType<ManagedIdentityCredential>(connection.CreateCredential());
    }

    [Fact]
    public void A_service_uri_overrides_the_one_derived_from_the_account_name()
    {
        var connection = Resolve(new()
        {
            ["AzureWebJobsStorage__accountName"] = "stpayments",
            ["AzureWebJobsStorage__queueServiceUri"] = "https://stpayments.queue.core.chinacloudapi.cn/",
        });

        Assert.Equal(new Uri("https://stpayments.queue.core.chinacloudapi.cn/"), connection.QueueServiceUri);
        Assert.Equal(new Uri("https://stpayments.table.core.windows.net"), connection.TableServiceUri);
    }

    [Fact]
    public void The_connection_string_wins_over_identity_settings()
    {
        var connection = Resolve(new()
        {
            ["AzureWebJobsStorage"] = "UseDevelopmentStorage=true",
            ["AzureWebJobsStorage__accountName"] = "stpayments",
        });

        Assert.True(connection.IsConnectionString);
    }

    public static TheoryData<string, string, string> Malformed => new()
    {
        // setting, value, the setting name the message must carry
        { "AzureWebJobsStorage", "SharedAccessSignature=sv=2024&sig=s3cr3tSignatureValue", "'AzureWebJobsStorage'" },
        { "AzureWebJobsStorage", "@Microsoft.KeyVault(VaultName=kv;SecretName=s3cr3t-storage)", "'AzureWebJobsStorage'" },
        { "AzureWebJobsStorage__queueServiceUri", "s3cr3t not a url", "'AzureWebJobsStorage__queueServiceUri'" },
        { "AzureWebJobsStorage__tableServiceUri", "ftp://s3cr3t.example/", "'AzureWebJobsStorage__tableServiceUri'" },
        { "AzureWebJobsStorage__accountName", "S3CR3T_Account", "'AzureWebJobsStorage__accountName'" },
        { "AzureWebJobsStorage__credential", "s3cr3t-connectionstring", "'AzureWebJobsStorage__credential'" },
        { "AzureWebJobsStorage__clientId", "s3cr3t-not-a-guid", "'AzureWebJobsStorage__clientId'" },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void A_malformed_setting_gives_one_line_naming_it_without_its_value(string key, string value, string named)
    {
        var settings = new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["AzureWebJobsStorage__accountName"] = "stpayments",
            ["AzureWebJobsStorage__credential"] = "managedidentity",
            ["AzureWebJobsStorage__clientId"] = ClientId,
        };
        settings[key] = value;

        var error = Assert.Throws<ConfigurationException>(() => Resolve(settings));

        Assert.Contains(named, error.Message, StringComparison.Ordinal);
        Assert.Contains("malformed", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cr3t", error.Message, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(value, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void Nothing_set_names_both_forms()
    {
        var error = Assert.Throws<ConfigurationException>(() => Resolve([]));

        Assert.Contains("'AzureWebJobsStorage' is missing", error.Message, StringComparison.Ordinal);
        Assert.Contains("AzureWebJobsStorage__queueServiceUri", error.Message, StringComparison.Ordinal);
        Assert.Contains("AzureWebJobsStorage__accountName", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Only_one_service_uri_is_not_enough()
    {
        var error = Assert.Throws<ConfigurationException>(() => Resolve(new() { ["AzureWebJobsStorage__queueServiceUri"] = "https://acct.queue.core.windows.net" }));

        Assert.Contains("AzureWebJobsStorage__tableServiceUri", error.Message, StringComparison.Ordinal);
    }

    // Environment variables reach IConfiguration with "__" turned into ":", as on App Service.
    private static StorageConnection Resolve(Dictionary<string, string?> settings) =>
        StorageConnection.Resolve(new ConfigurationBuilder()
            .AddInMemoryCollection(settings.Select(s => KeyValuePair.Create(s.Key.Replace("__", ":", StringComparison.Ordinal), s.Value)))
            .Build());
}
