using System.Collections.Concurrent;
using System.Diagnostics.Tracing;
using System.Net;
using Azure.Core.Diagnostics;
using Azure.Core.Pipeline;
using Azure.Storage.Queues;
using Microsoft.Extensions.DependencyInjection;

namespace PaymentFunctions.Tests.Deployment;

/// <summary>
/// The storage SDK's per-request log events cost CPU on every request and the app's "Azure" log filter drops them,
/// so they are off unless a setting asks for them.
/// </summary>
public sealed class StorageClientDiagnosticsTests
{
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

    /// <summary>Answers every request as a queue service creating the queue would; nothing leaves the test.</summary>
    private sealed class CreatedHandler : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Task.FromResult(new HttpResponseMessage(HttpStatusCode.Created));
    }
}
