using System.Net;
using System.Text.Json.Nodes;
using PaymentFunctions.PayScore;
using PaymentFunctions.Tests.Infrastructure;

namespace PaymentFunctions.Tests.PayScore;

/// <summary>A Pay Score app with paid orders to refund; the refund sends themselves are exercised by PayScoreRefundFlowTests.</summary>
public sealed class PayScoreRefundAppFixture : IAsyncLifetime
{
    public PaymentApp App { get; } = new PaymentApp().EnableWeChatPay();

    public ValueTask InitializeAsync() => App.InitializeAsync();

    public ValueTask DisposeAsync() => App.DisposeAsync();
}

/// <summary>The refund API: what it accepts, what it refuses (clearly, storing and sending nothing), and idempotency on outRefundNo.</summary>
public sealed class PayScoreRefundApiTests(PayScoreRefundAppFixture fixture) : IClassFixture<PayScoreRefundAppFixture>
{
    private PaymentApp App => fixture.App;

    private async Task<long> QueuedAsync()
    {
        await App.Storage.EnsureCreatedAsync(CancellationToken.None);
        return (await App.Storage.Notifications.GetPropertiesAsync()).Value.ApproximateMessagesCount;
    }

    [Fact]
    public async Task A_refund_is_stored_pending_with_the_deduction_and_queued_with_its_safety_net()
    {
        var outOrderNo = await App.PaidOrderAsync(300);
        var paid = (await App.PayScoreOrderAsync(outOrderNo))!;
        var queued = await QueuedAsync();
        var outRefundNo = PayScoreRefundApi.NewOutRefundNo();

        using var response = await App.RefundAsync(outOrderNo, PayScoreRefundApi.RefundBody(outRefundNo, 100));

        Assert.True(response.StatusCode == HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        Assert.Equal($"/api/payscore/orders/{outOrderNo}/refunds/{outRefundNo}", response.Headers.Location?.OriginalString);
        var view = await response.ReadRefundAsync();
        Assert.Equal((outRefundNo, 100L, "服务未完成", RefundStatuses.Pending), (view.OutRefundNo, view.Amount, view.Reason, view.Status));
        Assert.Equal(App.Clock.GetUtcNow(), view.CreatedAt);
        Assert.Null(view.CompletedAt);

        var refund = (await App.StoredRefundAsync(outOrderNo, outRefundNo))!;
        Assert.Equal((paid.TransactionId, 300L, RefundStages.New), (refund.TransactionId, refund.Total, refund.Stage));
        var order = (await App.PayScoreOrderAsync(outOrderNo))!;
        Assert.Equal((100L, 0L, 1), (order.RefundingAmount, order.RefundedAmount, order.RefundCount));
        Assert.Equal(queued + 2, await QueuedAsync()); // the immediate send and the delayed safety net

        using var read = await App.GetRefundAsync(outOrderNo, outRefundNo);
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        Assert.Equal(view, await read.ReadRefundAsync());
    }

    [Fact]
    public async Task The_same_request_again_answers_the_same_refund_and_another_one_under_its_number_is_refused()
    {
        var outOrderNo = await App.PaidOrderAsync(300);
        var otherOrder = await App.PaidOrderAsync(300);
        var outRefundNo = PayScoreRefundApi.NewOutRefundNo();
        using (var first = await App.RefundAsync(outOrderNo, PayScoreRefundApi.RefundBody(outRefundNo, 100)))
        {
            Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        }

        var before = await App.PartitionAsync(outOrderNo);
        var queued = await QueuedAsync();
        using (var again = await App.RefundAsync(outOrderNo, PayScoreRefundApi.RefundBody(outRefundNo, 100)))
        {
            Assert.Equal(HttpStatusCode.OK, again.StatusCode);
            var view = await again.ReadRefundAsync();
            Assert.Equal((outRefundNo, 100L, RefundStatuses.Pending), (view.OutRefundNo, view.Amount, view.Status));
        }

        foreach (var other in new[] { PayScoreRefundApi.RefundBody(outRefundNo, 101), PayScoreRefundApi.RefundBody(outRefundNo, 100, "其他原因"), PayScoreRefundApi.RefundBody(outRefundNo, 100, null) })
        {
            using var conflict = await App.RefundAsync(outOrderNo, other);
            Assert.Equal(HttpStatusCode.Conflict, conflict.StatusCode);
            Assert.Contains("already names a different refund", (await conflict.ProblemAsync()).GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        // WeChat Pay wants the number unique per merchant: not even another order may reuse it.
        var otherBefore = await App.PartitionAsync(otherOrder);
        using (var elsewhere = await App.RefundAsync(otherOrder, PayScoreRefundApi.RefundBody(outRefundNo, 100)))
        {
            Assert.Equal(HttpStatusCode.Conflict, elsewhere.StatusCode);
        }

        Assert.Equal(otherBefore, await App.PartitionAsync(otherOrder));
        Assert.Equal(before, await App.PartitionAsync(outOrderNo));
        Assert.Equal(queued, await QueuedAsync());
    }

    [Fact]
    public async Task Parallel_identical_requests_store_one_refund()
    {
        var outOrderNo = await App.PaidOrderAsync(300);
        var outRefundNo = PayScoreRefundApi.NewOutRefundNo();
        var answers = await Task.WhenAll(Enumerable.Range(0, 4).Select(async _ =>
        {
            using var response = await App.RefundAsync(outOrderNo, PayScoreRefundApi.RefundBody(outRefundNo, 100));
            return response.StatusCode;
        }));

        Assert.Single(answers, HttpStatusCode.Accepted);
        Assert.All(answers, a => Assert.True(a is HttpStatusCode.Accepted or HttpStatusCode.OK, a.ToString()));
        var order = (await App.PayScoreOrderAsync(outOrderNo))!;
        Assert.Equal((100L, 1), (order.RefundingAmount, order.RefundCount));
    }

    [Fact]
    public async Task Refunds_are_a_minute_apart_and_within_the_paid_amount()
    {
        var outOrderNo = await App.PaidOrderAsync(300);
        using (var first = await App.RefundAsync(outOrderNo, PayScoreRefundApi.RefundBody(PayScoreRefundApi.NewOutRefundNo(), 200)))
        {
            Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        }

        App.Clock.Advance(TimeSpan.FromSeconds(30));
        var before = await App.PartitionAsync(outOrderNo);
        var soon = PayScoreRefundApi.NewOutRefundNo();
        using (var tooSoon = await App.RefundAsync(outOrderNo, PayScoreRefundApi.RefundBody(soon, 100)))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, tooSoon.StatusCode);
            Assert.Equal("30", tooSoon.Headers.GetValues("Retry-After").Single());
            Assert.Contains("at least 1 minute between two refunds", (await tooSoon.ProblemAsync()).GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        App.Clock.Advance(TimeSpan.FromSeconds(30));
        using (var over = await App.RefundAsync(outOrderNo, PayScoreRefundApi.RefundBody(PayScoreRefundApi.NewOutRefundNo(), 101)))
        {
            Assert.Equal(HttpStatusCode.Conflict, over.StatusCode);
            Assert.Contains("exceeds what is left to refund: 100 fen of 300 paid (0 refunded, 200 pending)", (await over.ProblemAsync()).GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        Assert.Equal(before, await App.PartitionAsync(outOrderNo));
        Assert.Null(await App.Services.GetRequiredServiceStore().GetRefundIndexAsync(soon, CancellationToken.None));
        using (var rest = await App.RefundAsync(outOrderNo, PayScoreRefundApi.RefundBody(soon, 100)))
        {
            Assert.Equal(HttpStatusCode.Accepted, rest.StatusCode);
        }
    }

    [Fact]
    public async Task A_deduction_older_than_365_days_is_not_refunded()
    {
        var outOrderNo = await App.PaidOrderAsync(300);
        App.Clock.Advance(TimeSpan.FromDays(365) + TimeSpan.FromSeconds(1));
        var before = await App.PartitionAsync(outOrderNo);
        using var response = await App.RefundAsync(outOrderNo, PayScoreRefundApi.RefundBody(PayScoreRefundApi.NewOutRefundNo(), 100));
        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.Contains("within 365 days of payment", (await response.ProblemAsync()).GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(before, await App.PartitionAsync(outOrderNo));
    }

    public static TheoryData<string, string, int, string> BadInputs => new()
    {
        { "zero", """{"outRefundNo":"{n}","amount":0}""", 400, "amount: must be a whole number of fen from 1" },
        { "negative", """{"outRefundNo":"{n}","amount":-100}""", 400, "amount: must be a whole number of fen from 1" },
        { "missing amount", """{"outRefundNo":"{n}"}""", 400, "amount: is required" },
        { "over int32", """{"outRefundNo":"{n}","amount":2147483648}""", 400, "amount: must be a whole number of fen" },
        { "missing number", """{"amount":100}""", 400, "out_refund_no: must be 1 to 64 characters" },
        { "number with |", """{"outRefundNo":"R|{n}","amount":100}""", 400, "out_refund_no: must be 1 to 64 characters" },
        { "number of 65", """{"outRefundNo":"{n}12345678901234567890123456789012345678901234567890","amount":100}""", 400, "out_refund_no" },
        { "reason of 81 bytes", """{"outRefundNo":"{n}","amount":100,"reason":"退退退退退退退退退退退退退退退退退退退退退退退退退退退"}""", 400, "reason: at most 80 UTF-8 bytes" },
        { "empty reason", """{"outRefundNo":"{n}","amount":100,"reason":""}""", 400, "reason: must be omitted rather than empty" },
        { "emoji reason", """{"outRefundNo":"{n}","amount":100,"reason":"退款😀"}""", 400, "reason: must not contain emoji" },
        { "more than paid", """{"outRefundNo":"{n}","amount":301}""", 409, "exceeds what is left to refund: 300 fen" },
        { "amount as text", """{"outRefundNo":"{n}","amount":"100"}""", 400, "" },
        { "not JSON", """{"outRefundNo":""", 400, "" },
    };

    [Theory]
    [MemberData(nameof(BadInputs))]
    public async Task A_bad_refund_request_is_refused_clearly_and_changes_nothing(string name, string body, int status, string detail)
    {
        _ = name;
        var outOrderNo = await App.PaidOrderAsync(300);
        var outRefundNo = PayScoreRefundApi.NewOutRefundNo();
        var before = await App.PartitionAsync(outOrderNo);
        var queued = await QueuedAsync();
        var calls = App.RefundCalls().Count;

        using var http = App.CreateBusinessClient();
        using var response = await http.PostJsonTextAsync($"/api/payscore/orders/{outOrderNo}/refunds", body.Replace("{n}", outRefundNo, StringComparison.Ordinal));

        Assert.Equal(status, (int)response.StatusCode);
        Assert.Contains(detail, (await response.ProblemAsync()).GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(before, await App.PartitionAsync(outOrderNo));
        Assert.Null(await App.Services.GetRequiredServiceStore().GetRefundIndexAsync(outRefundNo, CancellationToken.None));
        Assert.Equal(queued, await QueuedAsync());
        Assert.Equal(calls, App.RefundCalls().Count);
    }

    [Fact]
    public async Task An_unpaid_or_unknown_order_or_a_missing_key_is_refused_and_changes_nothing()
    {
        var created = PayScoreApi.NewOutOrderNo();
        await App.CreatePayScoreOrderAsync(created);
        var before = await App.PartitionAsync(created);
        var queued = await QueuedAsync();
        var calls = App.RefundCalls().Count;

        using (var unpaid = await App.RefundAsync(created, PayScoreRefundApi.RefundBody(PayScoreRefundApi.NewOutRefundNo())))
        {
            Assert.Equal(HttpStatusCode.Conflict, unpaid.StatusCode);
            Assert.Contains("only a paid order (DONE/USER_PAID) can be refunded", (await unpaid.ProblemAsync()).GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        var unknown = PayScoreApi.NewOutOrderNo();
        using (var missing = await App.RefundAsync(unknown, PayScoreRefundApi.RefundBody(PayScoreRefundApi.NewOutRefundNo())))
        {
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        }

        using (var noKey = await App.RefundAsync(created, PayScoreRefundApi.RefundBody(PayScoreRefundApi.NewOutRefundNo()), withKey: false))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, noKey.StatusCode);
        }

        using (var read = await App.GetRefundAsync(created, PayScoreRefundApi.NewOutRefundNo()))
        {
            Assert.Equal(HttpStatusCode.NotFound, read.StatusCode);
        }

        using (var readNoKey = await App.GetRefundAsync(created, PayScoreRefundApi.NewOutRefundNo(), withKey: false))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, readNoKey.StatusCode);
        }

        Assert.Equal(before, await App.PartitionAsync(created));
        Assert.Equal("", await App.PartitionAsync(unknown));
        Assert.Equal(queued, await QueuedAsync());
        Assert.Equal(calls, App.RefundCalls().Count);
    }
}

internal static class RefundTestServices
{
    public static PayScoreStore GetRequiredServiceStore(this IServiceProvider services) =>
        Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<PayScoreStore>(services);
}
