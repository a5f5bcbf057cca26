using System.Net;
using System.Text.Json;
using PaymentFunctions.Notifications;
using PaymentFunctions.Orders;
using PaymentFunctions.Tests.Infrastructure;

namespace PaymentFunctions.Tests.Processing;

public sealed class FunctionsHostAppFixture : IAsyncLifetime
{
    public PaymentApp App { get; } = new PaymentApp().UnderFunctionsHost();

    public ValueTask InitializeAsync() => App.InitializeAsync();

    public ValueTask DisposeAsync() => App.DisposeAsync();
}

/// <summary>The queue function as the Functions host invokes it: POST /ProcessNotification with {Data, Metadata}.</summary>
public sealed class HostInvocationTests(FunctionsHostAppFixture fixture) : IClassFixture<FunctionsHostAppFixture>
{
    private PaymentApp App => fixture.App;

    private async Task<HttpResponseMessage> InvokeAsync(string payload)
    {
        using var http = App.CreateClient();
        return await http.PostJsonTextAsync("/ProcessNotification", payload);
    }

    private static async Task<string> FirstLogAsync(HttpResponseMessage response)
    {
        using var answer = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(JsonValueKind.Object, answer.RootElement.GetProperty("Outputs").ValueKind);
        Assert.True(answer.RootElement.TryGetProperty("ReturnValue", out _));
        return answer.RootElement.GetProperty("Logs")[0].GetString()!;
    }

    [Fact]
    public async Task The_host_invocation_accepts_the_message_as_text_and_json_encoded_once_more()
    {
        var order = await App.CreateOrderAsync();
        var prepared = await App.PrepareAsync(order.OrderId);
        var envelope = QueueMessages.Envelope(Api.Notification(prepared.PayOrder, 0, 1000).WithSign());
        var paid = QueueMessages.Envelope(Api.Notification(prepared.PayOrder, 1, 1000).WithSign());

        using var plain = await InvokeAsync(QueueMessages.HostPayload(envelope));
        using var doubled = await InvokeAsync(QueueMessages.HostPayload(JsonSerializer.Serialize(paid)));

        Assert.True(plain.StatusCode == HttpStatusCode.OK, await plain.Content.ReadAsStringAsync());
        Assert.True(doubled.StatusCode == HttpStatusCode.OK, await doubled.Content.ReadAsStringAsync());
        Assert.Contains("Paid", await FirstLogAsync(doubled), StringComparison.Ordinal);
        Assert.Equal("Paid", (await App.GetOrderAsync(order.OrderId)).Status);
    }

    [Theory]
    [InlineData("""{"Data":{}}""")]
    [InlineData("""{"Data":{"msg":42}}""")]
    [InlineData("garbage")]
    public async Task An_invocation_without_a_message_answers_non_2xx_so_the_host_retries_it(string payload)
    {
        using var response = await InvokeAsync(payload);

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.NotEmpty(await FirstLogAsync(response));
        Assert.Equal(0, await App.QueueLengthAsync(poison: true));
    }

    public static TheoryData<string, bool> Unprocessable => new()
    {
        { "not json", false },
        { "not json", true },
        { """{"v":2,"kind":"pyun.trade","receivedAt":"2026-01-01T00:00:00Z","payload":{}}""", false },
        { """{"v":1,"kind":"other","receivedAt":"2026-01-01T00:00:00Z","payload":{}}""", true },
        { """{"v":1,"kind":"pyun.trade","receivedAt":"2026-01-01T00:00:00Z","payload":{"pay_order":"x","status":"9","value":"1"}}""", false },
        { """{"v":1,"kind":"pyun.trade","receivedAt":"2026-01-01T00:00:00Z","payload":{"pay_order":"x","status":1}}""", false },
        { """{"v":1,"kind":"wechatpay.payscore","receivedAt":"2026-01-01T00:00:00Z","payload":{"id":"EV-1"}}""", false },
        { "\"unterminated", false },
        { "{\"v\":1,\"kind\":\"pyun.trade\",\"note\":\"混合 text\"", false },
    };

    /// <summary>
    /// The host has no "poison now" answer: the handler copies the message to the poison queue itself (the text as
    /// queued: Base64 of its UTF-8 bytes, the host's extra JSON encoding undone) and answers success, so the host
    /// deletes the original instead of retrying it maxDequeueCount times.
    /// </summary>
    [Theory]
    [MemberData(nameof(Unprocessable))]
    public async Task A_message_no_retry_can_fix_is_copied_to_the_poison_queue_unchanged_and_completed(string message, bool encodedOnceMore)
    {
        using var response = await InvokeAsync(QueueMessages.HostPayload(encodedOnceMore ? JsonSerializer.Serialize(message) : message));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("poisoned: ", await FirstLogAsync(response), StringComparison.Ordinal);
        Assert.Equal([QueueMessages.Stored(message)], await QueueMessages.TakeAllRawAsync(App.Storage.RawPoison));
    }

    [Fact]
    public async Task A_notification_for_an_unknown_pay_order_is_recorded_as_an_orphan_and_completed()
    {
        var payOrder = PayOrderNumber.Format(PayOrderNumber.NewOrderId(), 3);
        var envelope = QueueMessages.Envelope(Api.Notification(payOrder, 1, 1000).WithSign());

        using var first = await InvokeAsync(QueueMessages.HostPayload(envelope));
        using var replay = await InvokeAsync(QueueMessages.HostPayload(envelope));

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, replay.StatusCode);
        Assert.Contains("orphan recorded", await FirstLogAsync(first), StringComparison.Ordinal);
        Assert.Contains("orphan already recorded", await FirstLogAsync(replay), StringComparison.Ordinal);
        var orphan = Assert.Single(await App.OrphansAsync(payOrder));
        Assert.Equal(PyunTradeNotification.Kind, orphan.Kind);
        Assert.Equal(DateTimeOffset.UnixEpoch, orphan.ReceivedAt);
        Assert.Equal(0, await App.QueueLengthAsync(poison: true));
    }

    [Fact]
    public async Task A_transient_failure_answers_non_2xx_so_the_host_retries_it()
    {
        var envelope = await App.ClaimedButNotCreatedAsync();

        using var response = await InvokeAsync(QueueMessages.HostPayload(envelope));

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Contains("not recorded yet", await FirstLogAsync(response), StringComparison.Ordinal);
        Assert.Equal(0, await App.QueueLengthAsync(poison: true));
    }
}
