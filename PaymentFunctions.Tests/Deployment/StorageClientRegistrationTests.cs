using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Data.Tables;
using Azure.Storage.Queues;
using Microsoft.Extensions.Azure;
using Microsoft.Extensions.DependencyInjection;
using PaymentFunctions.Storage;

namespace PaymentFunctions.Tests.Deployment;

/// <summary>
/// The storage clients the app registers, for each way the deployment can configure storage. Requests are answered
/// in process by a fake transport and tokens come from a fake credential, so nothing leaves the test.
/// </summary>
public sealed class StorageClientRegistrationTests
{
    private const string ClientId = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b";

    private static readonly Dictionary<string, string?> IdentitySettings = new(StringComparer.Ordinal)
    {
        ["AzureWebJobsStorage:accountName"] = "stpayments",
        ["AzureWebJobsStorage:blobServiceUri"] = "https://stpayments.blob.core.windows.net/",
        ["AzureWebJobsStorage:queueServiceUri"] = "https://stpayments.queue.core.windows.net/",
        ["AzureWebJobsStorage:tableServiceUri"] = "https://stpayments.table.core.windows.net/",
        ["AzureWebJobsStorage:credential"] = "managedidentity",
        ["AzureWebJobsStorage:clientId"] = ClientId,
    };

    [Fact]
    public void Identity_settings_register_clients_for_the_service_uris()
    {
        using var app = new DeploymentApp(IdentitySettings);

        var connection = app.Services.GetRequiredService<StorageConnection>();
        var queues = app.Services.GetRequiredService<QueueServiceClient>();
        var tables = app.Services.GetRequiredService<TableServiceClient>();

        Assert.True(connection.UseManagedIdentity);
        Assert.Equal(ClientId, connection.ClientId);
        Assert.Equal(new Uri("https://stpayments.queue.core.windows.net/"), queues.Uri);
        Assert.Equal("stpayments", queues.AccountName);
        Assert.Equal(new Uri("https://stpayments.table.core.windows.net/"), tables.Uri);
        Assert.Equal("stpayments", tables.AccountName);
    }

    [Fact]
    public void Account_name_alone_registers_clients_for_the_derived_endpoints()
    {
        using var app = new DeploymentApp(new Dictionary<string, string?>
        {
            ["AzureWebJobsStorage:accountName"] = "stpayments02",
            ["AzureWebJobsStorage:credential"] = "managedidentity",
        });

        Assert.Equal(new Uri("https://stpayments02.queue.core.windows.net"), app.Services.GetRequiredService<QueueServiceClient>().Uri);
        Assert.Equal("stpayments02", app.Services.GetRequiredService<TableServiceClient>().AccountName);
    }

    [Fact]
    public void Development_storage_registers_the_azurite_clients()
    {
        using var app = DeploymentApp.WithDevelopmentStorage();

        var queues = app.Services.GetRequiredService<QueueServiceClient>();
        var tables = app.Services.GetRequiredService<TableServiceClient>();

        Assert.Equal("devstoreaccount1", queues.AccountName);
        Assert.Equal(10001, queues.Uri.Port);
        Assert.Equal("devstoreaccount1", tables.AccountName);
        Assert.Equal(10002, tables.Uri.Port);
    }

    [Fact]
    public async Task Identity_based_queue_client_sends_base64_with_a_bearer_token()
    {
        var transport = new RecordingHandler();
        using var app = new DeploymentApp(IdentitySettings, services => UseFakes(services, transport, new FakeCredential()));

        var notifications = app.Services.GetRequiredService<StorageResources>().Notifications;
        await notifications.SendMessageAsync("""{"kind":"test"}""", TestContext.Current.CancellationToken);

        var request = Assert.Single(transport.Requests, r => r.Method == HttpMethod.Post);
        Assert.Equal("https://stpayments.queue.core.windows.net/payment-notifications/messages", request.Uri.GetLeftPart(UriPartial.Path));
        Assert.Equal("Bearer fake-token", request.Authorization);
        Assert.Contains($"<MessageText>{Base64("""{"kind":"test"}""")}</MessageText>", request.Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Identity_based_raw_queue_clients_send_the_text_as_is_with_a_bearer_token()
    {
        var transport = new RecordingHandler();
        using var app = new DeploymentApp(IdentitySettings, services => UseFakes(services, transport, new FakeCredential()));

        // The listener's view of the queues: a stored text is copied to the poison queue exactly as it was.
        var storage = app.Services.GetRequiredService<StorageResources>();
        await storage.RawPoison.SendMessageAsync("not-base64 {text}", TestContext.Current.CancellationToken);

        var request = Assert.Single(transport.Requests, r => r.Method == HttpMethod.Post);
        Assert.Equal("https://stpayments.queue.core.windows.net/payment-notifications-poison/messages", request.Uri.GetLeftPart(UriPartial.Path));
        Assert.Equal("Bearer fake-token", request.Authorization);
        Assert.Contains("<MessageText>not-base64 {text}</MessageText>", request.Body, StringComparison.Ordinal);
        Assert.Equal(storage.Notifications.Uri, storage.RawNotifications.Uri);
    }

    [Fact]
    public async Task Connection_string_queue_client_sends_base64()
    {
        var transport = new RecordingHandler();
        using var app = DeploymentApp.WithDevelopmentStorage(services => UseFakes(services, transport, credential: null));

        var queues = app.Services.GetRequiredService<QueueServiceClient>();
        await queues.GetQueueClient("payment-notifications").SendMessageAsync("""{"kind":"test"}""", TestContext.Current.CancellationToken);

        var request = Assert.Single(transport.Requests, r => r.Method == HttpMethod.Post);
        Assert.StartsWith("SharedKey devstoreaccount1:", request.Authorization, StringComparison.Ordinal);
        Assert.Contains($"<MessageText>{Base64("""{"kind":"test"}""")}</MessageText>", request.Body, StringComparison.Ordinal);
    }

    private static void UseFakes(IServiceCollection services, RecordingHandler transport, TokenCredential? credential)
    {
        // Registered after the app's own configuration, so the app's MessageEncoding setting stays in force.
        services.ConfigureAll<QueueClientOptions>(o =>
        {
            o.Transport = new HttpClientTransport(new HttpClient(transport));
            o.Retry.MaxRetries = 0;
        });
        if (credential is not null)
        {
            services.AddAzureClients(clients => clients.UseCredential(credential));
        }
    }

    private static string Base64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

    private sealed record RecordedRequest(HttpMethod Method, Uri Uri, string? Authorization, string Body);

    /// <summary>Answers every request as the queue service would, and keeps a copy.</summary>
    private sealed class RecordingHandler : HttpMessageHandler
    {
        public ConcurrentQueue<RecordedRequest> Requests { get; } = new();

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var body = request.Content is null ? "" : await request.Content.ReadAsStringAsync(cancellationToken);
            Requests.Enqueue(new RecordedRequest(request.Method, request.RequestUri!, request.Headers.Authorization?.ToString(), body));
            if (request.Method != HttpMethod.Post)
            {
                return new HttpResponseMessage(HttpStatusCode.NoContent);
            }

            const string Time = "Mon, 01 Jan 2024 00:00:00 GMT";
            var xml = $"""<?xml version="1.0" encoding="utf-8"?><QueueMessagesList><QueueMessage><MessageId>m1</MessageId><InsertionTime>{Time}</InsertionTime><ExpirationTime>{Time}</ExpirationTime><PopReceipt>p1</PopReceipt><TimeNextVisible>{Time}</TimeNextVisible></QueueMessage></QueueMessagesList>""";
            return new HttpResponseMessage(HttpStatusCode.Created) { Content = new StringContent(xml, Encoding.UTF8, "application/xml") };
        }
    }

    private sealed class FakeCredential : TokenCredential
    {
        public override AccessToken GetToken(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
            new("fake-token", DateTimeOffset.UtcNow.AddHours(1));

        public override ValueTask<AccessToken> GetTokenAsync(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
            ValueTask.FromResult(GetToken(requestContext, cancellationToken));
    }
}
