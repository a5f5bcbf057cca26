using System.Text;
using Microsoft.AspNetCore.Http;
using PaymentFunctions.Events;
using StandardWebhooks;

namespace PaymentFunctions.Tests.Events;

/// <summary>The app's own signer against the Standard Webhooks test vector and the independent StandardWebhooks package.</summary>
public sealed class WebhookSignerTests
{
    [Fact]
    public void The_published_test_vector_reproduces_exactly()
    {
        Assert.True(WebhookSigner.TryParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", out var key));
        var signature = WebhookSigner.Sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, """{"test": 2432232314}"""u8);
        Assert.Equal("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", signature);
    }

    [Fact]
    public void The_package_verifier_accepts_what_we_sign_and_refuses_a_changed_body()
    {
        var secret = "whsec_" + Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        Assert.True(WebhookSigner.TryParseSecret(secret, out var key));
        const string id = "evt_order_ABCDEFGHJKLMNPQRSTUV_3";
        var body = """{"id":"evt_order_ABCDEFGHJKLMNPQRSTUV_3","type":"order.paid","data":{"amount":100,"note":"停车费"}}""";
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var headers = new HeaderDictionary
        {
            ["webhook-id"] = id,
            ["webhook-timestamp"] = now.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["webhook-signature"] = WebhookSigner.Sign(key, id, now, Encoding.UTF8.GetBytes(body)),
        };

        new StandardWebhook(secret).Verify(body, headers); // throws if it does not verify
        Assert.ThrowsAny<Exception>(() => new StandardWebhook(secret).Verify(body.Replace("100", "1", StringComparison.Ordinal), headers));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")] // no prefix
    [InlineData("whsec_")]
    [InlineData("whsec_not base64!")]
    [InlineData("whsec_c2hvcnQ=")] // 5 bytes: too short to be a key
    [InlineData("WHSEC_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    public void A_secret_that_is_not_whsec_and_base64_of_a_key_is_refused(string? secret) =>
        Assert.False(WebhookSigner.TryParseSecret(secret, out _));
}

public sealed class EventKeyTests
{
    [Theory]
    [InlineData("order", "ABCDEFGHJKLMNPQRSTUV", 1L)]
    [InlineData("payscore", "RENT_2026-11_a|b*c", 12L)] // outOrderNo may hold '_' itself
    public void An_id_leads_back_to_its_product_partition_and_sequence(string product, string partition, long sequence)
    {
        var key = new EventKey(product, partition, sequence);
        Assert.True(EventKey.TryParse(key.Id, out var parsed));
        Assert.Equal(key, parsed);
        Assert.Equal($"event-{sequence:D10}", parsed.RowKey);
        Assert.False(parsed.RowKey.StartsWith(PaymentFunctions.Storage.TableWrites.TimelinePrefix, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("")]
    [InlineData("evt_")]
    [InlineData("evt_order_1")]
    [InlineData("evt_order__1")]
    [InlineData("evt_Order_X_1")]
    [InlineData("evt_order_X_01")]
    [InlineData("evt_order_X_0")]
    [InlineData("evt_order_X_")]
    [InlineData("evt_order_X_12345678901")]
    [InlineData("evt_order_a#b_1")]
    [InlineData("ev_order_X_1")]
    [InlineData("msg_p5jXN8AQM9LWM0D4loKWxJek")]
    public void Other_ids_are_not_ours(string id) => Assert.False(EventKey.TryParse(id, out _));

    [Fact]
    public void The_default_schedule_is_5s_30s_2m_10m_1h_6h_then_12h_up_to_3_days()
    {
        var options = new EventsOptions();
        var delays = Enumerable.Range(1, 20).Select(options.DelayAfter).TakeWhile(d => d is not null).Select(d => d!.Value).ToList();
        TimeSpan[] expected =
        [
            TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(2), TimeSpan.FromMinutes(10), TimeSpan.FromHours(1), TimeSpan.FromHours(6),
            TimeSpan.FromHours(12), TimeSpan.FromHours(12), TimeSpan.FromHours(12), TimeSpan.FromHours(12), TimeSpan.FromHours(12),
        ];
        Assert.Equal(expected, delays);
        Assert.True(delays.Aggregate(TimeSpan.Zero, (a, b) => a + b) <= TimeSpan.FromDays(3));
        Assert.Null(options.DelayAfter(expected.Length + 1));
    }
}
