using System.Net;
using System.Net.Http.Json;
using Azure.Data.Tables;
using PaymentFunctions.Orders;
using PaymentFunctions.Tests.Infrastructure;

namespace PaymentFunctions.Tests.Orders;

/// <summary>POST /api/orders claims the merchant order number with an insert-if-absent index row before anything else.</summary>
public sealed class CreateOrderConcurrencyTests(PaymentApp app) : IClassFixture<PaymentApp>
{
    private async Task<int> OrderRowsAsync(string merchantOrderNo)
    {
        var count = 0;
        await foreach (var _ in app.Storage.Orders.QueryAsync<TableEntity>(
                           TableClient.CreateQueryFilter($"RowKey eq {OrderRows.Order} and MerchantOrderNo eq {merchantOrderNo}"),
                           cancellationToken: TestContext.Current.CancellationToken))
        {
            count++;
        }

        return count;
    }

    [Fact]
    public async Task Six_identical_creates_at_once_answer_one_201_and_make_one_order()
    {
        var no = Api.NewMerchantOrderNo();
        var start = new TaskCompletionSource();
        var requests = Enumerable.Range(0, 6).Select(_ => Task.Run(async () =>
        {
            await start.Task;
            using var http = app.CreateBusinessClient();
            using var response = await http.PostAsJsonAsync("/api/orders", Api.OrderRequest(no, expiresAt: app.Clock.GetUtcNow().AddHours(1)));
            return (response.StatusCode, (await response.Content.ReadFromJsonAsync<OrderView>(Api.Json))!.OrderId);
        })).ToArray();

        start.SetResult();
        var results = await Task.WhenAll(requests);

        Assert.Single(results, r => r.StatusCode == HttpStatusCode.Created);
        Assert.Equal(5, results.Count(r => r.StatusCode == HttpStatusCode.OK));
        Assert.Single(results.Select(r => r.OrderId).Distinct());
        Assert.Equal(1, await app.IndexRowsAsync(no));
        Assert.Equal(1, await OrderRowsAsync(no));
    }
}
