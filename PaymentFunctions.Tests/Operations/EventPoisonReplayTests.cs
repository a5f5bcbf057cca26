using System.Text.Json;
using Microsoft.Extensions.Configuration;
using PaymentFunctions.Events;
using PaymentFunctions.Operations;
using PaymentFunctions.Tests.Events;
using PaymentFunctions.Tests.Infrastructure;

namespace PaymentFunctions.Tests.Operations;

/// <summary>
/// <c>poison replay --queue events</c>: a delivery message that reached the events poison queue goes back to the
/// delivery queue and the event is delivered once, however many copies are replayed.
/// </summary>
public sealed class EventPoisonReplayTests(EventsFixture fx) : IClassFixture<EventsFixture>
{
    private async Task<(int Code, string Out, string Err)> RunAsync(params string[] args)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["AzureWebJobsStorage"] = Azurite.ConnectionString,
            ["Storage:NamePrefix"] = fx.App.Prefix,
        }).Build();
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = await PoisonCommand.RunAsync(args, configuration, output, error, TestContext.Current.CancellationToken);
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public async Task A_poisoned_delivery_message_is_listed_replayed_and_delivered_once_and_a_second_copy_sends_nothing()
    {
        // Committed, and its delivery message poisoned (say, storage was away for all 5 tries): nothing was sent.
        var staged = await fx.CommitEventAsync(dispatch: false);
        var message = JsonSerializer.Serialize(new EventDelivery(staged.Key.Id, "main", 0, 1));
        await fx.App.Storage.EventsPoison.SendMessageAsync(message);
        await fx.App.Storage.EventsPoison.SendMessageAsync(message);

        var (code, output, error) = await RunAsync("list", "--queue", "events");

        Assert.Equal(0, code);
        Assert.Equal("", error);
        Assert.StartsWith($"events: {fx.App.Prefix}payment-events-poison holds 2 message(s)", output, StringComparison.Ordinal);
        Assert.Contains(staged.Key.Id, output, StringComparison.Ordinal);

        var first = (await fx.App.Storage.RawEventsPoison.PeekMessagesAsync(32)).Value[0];
        (code, output, _) = await RunAsync("replay", first.MessageId);

        Assert.Equal(0, code);
        Assert.Contains($"moved from {fx.App.Prefix}payment-events-poison back to {fx.App.Prefix}payment-events", output, StringComparison.Ordinal);
        await fx.PumpUntilAsync(async () => (await fx.DeliveryAsync(staged, "main")).Finished);
        Assert.Equal("delivered", (await fx.DeliveryAsync(staged, "main")).Status);

        (code, output, _) = await RunAsync("replay", "--all", "--queue", "events");

        Assert.Equal(0, code);
        Assert.Contains("Replayed 1 message(s)", output, StringComparison.Ordinal);
        await fx.PumpUntilAsync(async () => (await fx.App.Storage.Events.GetPropertiesAsync()).Value.ApproximateMessagesCount == 0);
        Assert.Single(fx.Received("main", staged));
        Assert.Equal(1, (await fx.DeliveryAsync(staged, "main")).TotalAttempts);
        Assert.Empty((await fx.App.Storage.RawEventsPoison.PeekMessagesAsync(32)).Value);
    }
}
