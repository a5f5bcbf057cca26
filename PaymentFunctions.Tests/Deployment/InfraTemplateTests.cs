using System.Text.RegularExpressions;
using PaymentFunctions.Storage;

namespace PaymentFunctions.Tests.Deployment;

/// <summary>
/// What the Bicep template and azure.yaml must agree on with the app. (Compiling and linting the template is
/// .ci/bicep.sh's job: it needs the Bicep CLI.)
/// </summary>
public sealed partial class InfraTemplateTests
{
    private static readonly string Infra = Path.Combine(RepositoryFiles.Root, "infra");

    private static string MainBicep => File.ReadAllText(Path.Combine(Infra, "main.bicep"));

    [Fact]
    public void Every_azd_parameter_is_a_template_parameter()
    {
        var declared = ParamDeclaration().Matches(MainBicep).Select(m => m.Groups[1].Value).ToHashSet(StringComparer.Ordinal);
        var parameters = RepositoryFiles.ReadJsonObject(Path.Combine(Infra, "main.parameters.json"))["parameters"]!.AsObject();

        Assert.NotEmpty(parameters);
        Assert.All(parameters.Select(p => p.Key), name => Assert.Contains(name, declared));
    }

    [Fact]
    public void The_template_creates_the_tables_and_queues_the_app_uses()
    {
        var names = new StorageOptions(); // no prefix, as under the Functions host
        var bicep = MainBicep;

        Assert.Contains($"'{names.OrdersTable}'", bicep, StringComparison.Ordinal);
        Assert.Contains($"'{names.OrderIndexTable}'", bicep, StringComparison.Ordinal);
        Assert.Contains($"'{names.OrphansTable}'", bicep, StringComparison.Ordinal);
        Assert.Contains($"var notificationQueueName = '{names.NotificationQueue}'", bicep, StringComparison.Ordinal);
        Assert.Contains("var poisonQueueName = '${notificationQueueName}-poison'", bicep, StringComparison.Ordinal);
        Assert.Equal(names.PoisonQueue, names.NotificationQueue + "-poison");
        Assert.Contains($"var eventQueueName = '{names.EventQueue}'", bicep, StringComparison.Ordinal);
        Assert.Contains("var eventPoisonQueueName = '${eventQueueName}-poison'", bicep, StringComparison.Ordinal);
        Assert.Equal(names.EventPoisonQueue, names.EventQueue + "-poison");
    }

    [Fact]
    public void Every_key_vault_reference_names_a_secret_the_template_can_create()
    {
        var created = SecretResource().Matches(File.ReadAllText(Path.Combine(Infra, "modules", "keyvault.bicep")))
            .Select(m => m.Groups[1].Value)
            .ToHashSet(StringComparer.Ordinal);
        var referenced = KeyVaultReference().Matches(MainBicep).Select(m => m.Groups[1].Value).ToList();

        Assert.Contains("pyun-app-secret", referenced);
        Assert.All(referenced, name => Assert.Contains(name, created));
    }

    [Fact]
    public void Azd_deploys_the_zip_the_package_command_makes()
    {
        var yaml = File.ReadAllText(Path.Combine(RepositoryFiles.Root, "azure.yaml"));

        Assert.Matches(@"(?m)^\s+host: function\s*$", yaml);
        Assert.Matches(@"(?m)^\s+dist: artifacts/functionapp\.zip\s*$", yaml);
        Assert.Matches(@"(?m)^\s+run: dotnet publish PaymentFunctions -c Release -p:FunctionAppPackage=true\s*$", yaml);
        var targets = File.ReadAllText(Path.Combine(RepositoryFiles.Root, "PaymentFunctions", "FunctionApp.targets"));
        Assert.Contains("<FunctionAppZip>$(FunctionAppArtifactsDir)functionapp.zip</FunctionAppZip>", targets, StringComparison.Ordinal);
    }

    [GeneratedRegex(@"(?m)^param (\w+) ")]
    private static partial Regex ParamDeclaration();

    [GeneratedRegex(@"(?m)^\s+name: '([a-z0-9-]+)'\s*$")]
    private static partial Regex SecretResource();

    [GeneratedRegex(@"keyVaultReference\(keyVaultName, '([a-z0-9-]+)'\)")]
    private static partial Regex KeyVaultReference();
}
