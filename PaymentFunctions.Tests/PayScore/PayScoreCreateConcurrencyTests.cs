using System.Net;
using System.Net.Http.Json;
using PaymentFunctions.PayScore;
using PaymentFunctions.Tests.Infrastructure;

namespace PaymentFunctions.Tests.PayScore;

/// <summary>The app for these tests alone: they move its clock.</summary>
public sealed class PayScoreConcurrencyFixture : IAsyncLifetime
{
    public PaymentApp App { get; } = new PaymentApp().EnableWeChatPay();

    public ValueTask InitializeAsync() => App.InitializeAsync();

    public ValueTask DisposeAsync() => App.DisposeAsync();
}

/// <summary>Identical creates at the same time: one WeChat call, one 201, and the same order for everyone.</summary>
[Trait("Category", "Slow")] // holds requests at the fake WeChat Pay for up to 3 s.
public sealed class PayScoreCreateConcurrencyTests(PayScoreConcurrencyFixture fixture) : IClassFixture<PayScoreConcurrencyFixture>
{
    private PaymentApp App => fixture.App;

    private int CreateCalls(string outOrderNo) =>
        App.WeChat!.State.Requests.Count(r => r.Method == "POST" && r.Target.EndsWith("/serviceorder", StringComparison.Ordinal)
                                              && r.Body.Contains(outOrderNo, StringComparison.Ordinal));

    private async Task<(HttpStatusCode Status, string? Package)> CreateAsync(string outOrderNo, Task? start = null)
    {
        if (start is not null)
        {
            await start;
        }

        using var response = await App.PostAsync("/api/payscore/orders", PayScoreApi.CreateBody(outOrderNo));
        var view = response.IsSuccessStatusCode ? await response.Content.ReadFromJsonAsync<PayScoreOrderView>(Api.Json) : null;
        return (response.StatusCode, view?.OpenBusinessView?.ExtraData.Package);
    }

    private async Task WaitForCreateCallAsync(string outOrderNo)
    {
        for (var i = 0; CreateCalls(outOrderNo) == 0; i++)
        {
            Assert.True(i < 500, "the first create never reached WeChat Pay");
            await Task.Delay(10, TestContext.Current.CancellationToken);
        }
    }

    private static void AssertOneCreated((HttpStatusCode Status, string? Package)[] results)
    {
        Assert.Single(results, r => r.Status == HttpStatusCode.Created);
        Assert.All(results, r => Assert.True(r.Status is HttpStatusCode.Created or HttpStatusCode.OK, r.Status.ToString()));
        Assert.Single(results.Select(r => r.Package).Distinct());
        Assert.NotNull(results[0].Package);
    }

    [Fact]
    public async Task Six_identical_creates_at_once_make_one_WeChat_call_and_one_201()
    {
        var outOrderNo = PayScoreApi.NewOutOrderNo();
        var start = new TaskCompletionSource();
        App.WeChat!.State.DelayNext(TimeSpan.FromMilliseconds(300)); // WeChat takes a moment, as it does
        var requests = Enumerable.Range(0, 6).Select(_ => Task.Run(() => CreateAsync(outOrderNo, start.Task))).ToArray();

        start.SetResult();
        var results = await Task.WhenAll(requests);

        AssertOneCreated(results);
        Assert.Equal(1, CreateCalls(outOrderNo));
    }

    [Fact]
    public async Task Creates_arriving_while_the_first_is_at_WeChat_wait_and_answer_200_with_its_order()
    {
        var outOrderNo = PayScoreApi.NewOutOrderNo();
        App.WeChat!.State.DelayNext(TimeSpan.FromSeconds(1));
        var first = CreateAsync(outOrderNo);
        await WaitForCreateCallAsync(outOrderNo);

        var later = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => CreateAsync(outOrderNo)));
        var results = later.Prepend(await first).ToArray();

        Assert.Equal(HttpStatusCode.Created, results[0].Status);
        Assert.All(later, r => Assert.Equal(HttpStatusCode.OK, r.Status));
        AssertOneCreated(results);
        Assert.Equal(1, CreateCalls(outOrderNo));
    }

    [Fact]
    public async Task A_claim_left_by_a_request_that_stopped_answering_is_taken_over()
    {
        var outOrderNo = PayScoreApi.NewOutOrderNo();
        App.WeChat!.State.DelayNext(TimeSpan.FromSeconds(3));
        var stuck = CreateAsync(outOrderNo);
        await WaitForCreateCallAsync(outOrderNo);

        // Long past twice the WeChat request timeout, the claim counts as abandoned: the next request re-creates
        // with the same body (WeChat answers an identical re-create with the same order) instead of waiting forever.
        App.Clock.Advance(TimeSpan.FromMinutes(5));
        var retry = await CreateAsync(outOrderNo);
        var results = new[] { retry, await stuck };

        AssertOneCreated(results);
        Assert.Equal(2, CreateCalls(outOrderNo));
    }
}
