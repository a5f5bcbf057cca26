using System.Net;
using System.Net.Http.Json;
using Azure.Core;
using Azure.Core.Pipeline;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Azure;
using Microsoft.Extensions.DependencyInjection;
using PaymentFunctions.Hosting;
using PaymentFunctions.Orders;
using PaymentFunctions.Storage;
using PaymentFunctions.Tests.Deployment;
using PaymentFunctions.Tests.Infrastructure;

namespace PaymentFunctions.Tests.Processing;

/// <summary>
/// How many storage requests each step of a paid order costs, counted by a pipeline policy on every storage
/// client. The counts are deterministic; throughput and memory live in the benchmark (`npm run bench`), not here.
/// </summary>
public sealed class StorageRequestTests(PaymentApp app) : IClassFixture<PaymentApp>
{
    private const int Orders = 10;

    /// <summary>Counts every request that goes on the wire, retries included.</summary>
    private sealed class CountingPolicy : HttpPipelineSynchronousPolicy
    {
        private int _count;

        public int Count => Volatile.Read(ref _count);

        public override void OnSendingRequest(HttpMessage message) => Interlocked.Increment(ref _count);
    }

    private static async Task<double> PerOrderAsync(CountingPolicy counter, Func<Task> step)
    {
        var before = counter.Count;
        await step();
        return (double)(counter.Count - before) / Orders;
    }

    [Fact]
    public async Task A_paid_order_and_a_duplicate_notification_cost_the_designed_number_of_storage_requests()
    {
        var counter = new CountingPolicy();
        using var factory = app.WithWebHostBuilder(builder => builder.ConfigureTestServices(services =>
            services.AddAzureClients(clients => clients.ConfigureDefaults(o => o.AddPolicy(counter, HttpPipelinePosition.PerRetry)))));
        using var business = factory.CreateClient();
        business.DefaultRequestHeaders.Add("x-functions-key", PaymentApp.FunctionKey);
        using var http = factory.CreateClient();
        var settings = QueueSettings.Load(RepositoryFiles.HostJsonPath);
        Assert.True(settings.BatchSize >= Orders, "one receive must fetch every notification");
        var listener = ActivatorUtilities.CreateInstance<QueueListener>(factory.Services, settings);

        // Start-up: the two order tables, the orphans table and two queues, and no Pay Score table while Pay Score is off.
        var startup = counter.Count;
        await factory.Services.GetRequiredService<StorageResources>().EnsureCreatedAsync(CancellationToken.None);
        Assert.Equal(5, counter.Count - startup);

        var orderIds = new List<string>();
        var create = await PerOrderAsync(counter, async () =>
        {
            for (var i = 0; i < Orders; i++)
            {
                using var response = await business.PostAsJsonAsync("/api/orders", Api.OrderRequest(expiresAt: app.Clock.GetUtcNow().AddHours(1)));
                Assert.Equal(HttpStatusCode.Created, response.StatusCode);
                orderIds.Add((await response.Content.ReadFromJsonAsync<OrderView>(Api.Json))!.OrderId);
            }
        });

        var payOrders = new List<string>();
        var prepare = await PerOrderAsync(counter, async () =>
        {
            foreach (var id in orderIds)
            {
                using var response = await http.PostAsJsonAsync($"/api/orders/{id}/prepare", new { client = "wechat" });
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                payOrders.Add((await response.Content.ReadFromJsonAsync<PrepareOrderResponse>(Api.Json))!.PayOrder);
            }
        });

        async Task NotifyAllAsync()
        {
            foreach (var payOrder in payOrders)
            {
                using var response = await http.PostAsync("/api/notify/pyun", new FormUrlEncodedContent(Api.Notification(payOrder, 1, 1000).WithSign()));
                Assert.Equal("1001", await response.PyunCodeAsync());
            }
        }

        async Task ProcessAllAsync() => Assert.Equal(Orders, await listener.PollOnceAsync(CancellationToken.None));

        var intake = await PerOrderAsync(counter, NotifyAllAsync);
        var processing = await PerOrderAsync(counter, ProcessAllAsync);
        var status = await PerOrderAsync(counter, async () =>
        {
            foreach (var id in orderIds)
            {
                var view = await http.GetFromJsonAsync<OrderView>($"/api/orders/{id}", Api.Json);
                Assert.Equal("Paid", view!.Status);
            }
        });
        var duplicateIntake = await PerOrderAsync(counter, NotifyAllAsync);
        var duplicateProcessing = await PerOrderAsync(counter, ProcessAllAsync);

        Assert.Equal(3, create);            // index row + order row + the final check's send
        Assert.Equal(4, prepare);           // order read + attempt claim + pay_id (with the ETag the claim left; no re-read) + the scheduled check's send
        Assert.Equal(1, intake);            // one send
        Assert.Equal(3.1, processing, 3);   // order read + transaction + delete, and the batch's one receive
        Assert.Equal(1, status);            // one point read
        Assert.Equal(1, duplicateIntake);
        Assert.Equal(2.1, duplicateProcessing, 3); // order read + delete: the order row knows the result is applied
        foreach (var id in orderIds)
        {
            Assert.Single(await app.TimelineAsync(id), t => t.Kind == "pyun.notify"); // the payment; the replay wrote nothing
        }
    }
}
