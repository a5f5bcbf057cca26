using System.Collections.Concurrent;
using System.Diagnostics.Tracing;
using System.Net;
using Azure.Core.Diagnostics;
using Azure.Core.Pipeline;
using Azure.Storage.Queues;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using PaymentFunctions.Storage;

namespace PaymentFunctions.Tests.Deployment;

/// <summary>Settings of the storage clients beyond the connection: SDK log events and the connection pool.</summary>
public sealed class StorageClientSettingsTests
{
    /// <summary>The SDK's per-request events cost CPU on every request and the "Azure" log filter drops them.</summary>
    [Theory]
    [InlineData(null, false)]
    [InlineData("true", true)]
    public async Task Sdk_request_events_are_off_unless_the_setting_turns_them_on(string? setting, bool expected)
    {
        var queueName = "q" + Guid.NewGuid().ToString("N")[..16];
        var seen = new ConcurrentQueue<string>();
        using var listener = new AzureEventSourceListener((_, message) =>
        {
            if (message.Contains(queueName, StringComparison.Ordinal))
            {
                seen.Enqueue(message);
            }
        }, EventLevel.Verbose);
        var settings = new Dictionary<string, string?>(StringComparer.Ordinal) { ["AzureWebJobsStorage"] = DeploymentApp.DevelopmentStorage };
        if (setting is not null)
        {
            settings["AzureClientDefaults:Diagnostics:IsLoggingEnabled"] = setting;
        }

        using var app = new DeploymentApp(settings, services => services.ConfigureAll<QueueClientOptions>(o =>
        {
            o.Transport = new HttpClientTransport(new HttpClient(new CreatedHandler()));
            o.Retry.MaxRetries = 0;
        }));

        var queue = app.Services.GetRequiredService<QueueServiceClient>().GetQueueClient(queueName);
        await queue.CreateIfNotExistsAsync(cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal(expected, !seen.IsEmpty);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-3")]
    [InlineData("many")]
    [InlineData("1001")]
    [InlineData("")]
    public void A_bad_connection_limit_is_refused_with_one_clear_line(string value)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Storage:MaxConnections"] = value }).Build();

        var failure = Assert.Throws<ConfigurationException>(() => StorageServiceCollectionExtensions.MaxConnections(configuration));

        Assert.Equal("Setting 'Storage:MaxConnections' is malformed: expected a whole number of connections from 1 to 1000.", failure.Message);
    }

    [Theory]
    [InlineData(null, StorageServiceCollectionExtensions.DefaultMaxConnections)]
    [InlineData("1", 1)]
    [InlineData("64", 64)]
    public void The_connection_limit_defaults_or_takes_the_setting(string? value, int expected)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Storage:MaxConnections"] = value }).Build();

        Assert.Equal(expected, StorageServiceCollectionExtensions.MaxConnections(configuration));
    }

    /// <summary>Answers every request as a queue service creating the queue would; nothing leaves the test.</summary>
    private sealed class CreatedHandler : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Task.FromResult(new HttpResponseMessage(HttpStatusCode.Created));
    }
}
