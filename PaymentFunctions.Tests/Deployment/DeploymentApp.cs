using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using PaymentFunctions.Tests.Infrastructure;

namespace PaymentFunctions.Tests.Deployment;

/// <summary>
/// The app started in memory with the given settings and no storage calls (the queue listener is off and the
/// tables and queues are created lazily), so neither Azurite nor Azure is needed.
/// </summary>
internal sealed class DeploymentApp(IReadOnlyDictionary<string, string?> storageSettings, Action<IServiceCollection>? configureServices = null)
    : WebApplicationFactory<Program>
{
    public const string DevelopmentStorage = "UseDevelopmentStorage=true";

    public static DeploymentApp WithDevelopmentStorage(Action<IServiceCollection>? configureServices = null) =>
        new(new Dictionary<string, string?> { ["AzureWebJobsStorage"] = DevelopmentStorage }, configureServices);

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        // UseSetting reaches the configuration WebApplication.CreateBuilder sees, where the storage connection is resolved.
        foreach (var (key, value) in TestSettings.Valid.Concat(storageSettings))
        {
            builder.UseSetting(key, value);
        }

        if (configureServices is not null)
        {
            builder.ConfigureTestServices(configureServices);
        }
    }
}
