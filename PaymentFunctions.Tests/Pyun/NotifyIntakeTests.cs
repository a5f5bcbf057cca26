using System.Net;
using System.Text;
using PaymentFunctions.Tests.Infrastructure;

namespace PaymentFunctions.Tests.Pyun;

/// <summary>
/// POST /api/notify/pyun: only a verified notification is queued and answered 1001; everything else gets a
/// non-1001 code with a 4xx, queues nothing and changes nothing.
/// </summary>
public sealed class NotifyIntakeTests(PaymentApp app) : IClassFixture<PaymentApp>
{
    private async Task<(string OrderId, string PayOrder)> PreparedOrderAsync()
    {
        var order = await app.CreateOrderAsync(amount: 1000);
        var prepared = await app.PrepareAsync(order.OrderId);
        return (order.OrderId, prepared.PayOrder);
    }

    /// <summary>Posts a refused notification and proves nothing was queued and the order did not move.</summary>
    private async Task AssertRefusedAsync(HttpResponseMessage response, HttpStatusCode status, string code, string orderId)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal(code, await response.PyunCodeAsync());
        Assert.Equal(0, await app.QueueLengthAsync());
        await app.DrainQueueAsync();
        Assert.Equal("Pending", (await app.GetOrderAsync(orderId)).Status);
        Assert.Empty(await app.TimelineAsync(orderId));
    }

    [Fact]
    public async Task A_verified_notification_is_queued_then_acknowledged()
    {
        var (orderId, payOrder) = await PreparedOrderAsync();

        using var response = await app.PostNotifyAsync(Api.Notification(payOrder, 1, 1000).WithSign());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("1001", await response.PyunCodeAsync());
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(1, await app.QueueLengthAsync());
        await app.DrainQueueAsync();
        Assert.Equal("Paid", (await app.GetOrderAsync(orderId)).Status);
    }

    [Fact]
    public async Task Unknown_fields_and_empty_values_are_signed_and_accepted()
    {
        var (orderId, payOrder) = await PreparedOrderAsync();
        var form = Api.Notification(payOrder, 1, 1000);
        form["a_field_added_next_year"] = "x";
        form["payer"] = "";

        using var response = await app.PostNotifyAsync(form.WithSign());

        Assert.Equal("1001", await response.PyunCodeAsync());
        await app.DrainQueueAsync();
        Assert.Equal("Paid", (await app.GetOrderAsync(orderId)).Status);
    }

    [Fact]
    public async Task A_forged_signature_is_refused()
    {
        var (orderId, payOrder) = await PreparedOrderAsync();
        var form = Api.Notification(payOrder, 1, 1000).WithSign();
        form["value"] = "1"; // tampered after signing

        using var response = await app.PostNotifyAsync(form);
        await AssertRefusedAsync(response, HttpStatusCode.Unauthorized, "1401", orderId);
    }

    [Fact]
    public async Task A_signature_made_with_another_secret_is_refused()
    {
        var (orderId, payOrder) = await PreparedOrderAsync();
        using var response = await app.PostNotifyAsync(Api.Notification(payOrder, 1, 1000).WithSign("not-our-secret"));
        await AssertRefusedAsync(response, HttpStatusCode.Unauthorized, "1401", orderId);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    public async Task A_missing_signature_is_refused(string? sign)
    {
        var (orderId, payOrder) = await PreparedOrderAsync();
        var form = Api.Notification(payOrder, 1, 1000);
        if (sign is not null)
        {
            form["sign"] = sign;
        }

        using var response = await app.PostNotifyAsync(form);
        await AssertRefusedAsync(response, HttpStatusCode.Unauthorized, "1401", orderId);
    }

    [Fact]
    public async Task A_dropped_field_breaks_the_signature()
    {
        var (orderId, payOrder) = await PreparedOrderAsync();
        var form = Api.Notification(payOrder, 1, 1000).WithSign();
        form.Remove("fee");

        using var response = await app.PostNotifyAsync(form);
        await AssertRefusedAsync(response, HttpStatusCode.Unauthorized, "1401", orderId);
    }

    [Fact]
    public async Task Another_app_id_or_merchant_is_refused_even_when_correctly_signed()
    {
        var (orderId, payOrder) = await PreparedOrderAsync();
        var otherApp = Api.Notification(payOrder, 1, 1000);
        otherApp["app_id"] = "op-someone-else";
        using var response = await app.PostNotifyAsync(otherApp.WithSign());
        await AssertRefusedAsync(response, HttpStatusCode.Forbidden, "1403", orderId);

        var otherMerchant = Api.Notification(payOrder, 1, 1000);
        otherMerchant["merchant"] = "99999999";
        using var response2 = await app.PostNotifyAsync(otherMerchant.WithSign());
        await AssertRefusedAsync(response2, HttpStatusCode.Forbidden, "1403", orderId);
    }

    [Theory]
    [InlineData("status", "2")]
    [InlineData("status", "")]
    [InlineData("value", "10.00")]
    [InlineData("value", "-10")]
    [InlineData("value", "1e3")]
    [InlineData("value", "")]
    [InlineData("value", "99999999999999999999")]
    [InlineData("trade_time", "yesterday")]
    [InlineData("trade_time", "1764036060")] // epoch seconds: would read as January 1970, never late
    [InlineData("trade_time", "2026-11-25T02:01:00")] // not the notification's format, and no offset
    [InlineData("trade_time", "")] // a payment needs its time, or it is dated when we hear of it
    [InlineData("fee", "0.5")]
    [InlineData("pay_serial", "")]
    public async Task Malformed_fields_are_refused_even_when_correctly_signed(string field, string value)
    {
        var (orderId, payOrder) = await PreparedOrderAsync();
        var form = Api.Notification(payOrder, 1, 1000);
        form[field] = value;

        using var response = await app.PostNotifyAsync(form.WithSign());
        await AssertRefusedAsync(response, HttpStatusCode.BadRequest, "1400", orderId);
    }

    [Fact]
    public async Task A_payment_without_trade_time_is_refused_but_a_failure_without_one_is_accepted()
    {
        var (orderId, payOrder) = await PreparedOrderAsync();
        var paid = Api.Notification(payOrder, 1, 1000);
        paid.Remove("trade_time");
        using var response = await app.PostNotifyAsync(paid.WithSign());
        await AssertRefusedAsync(response, HttpStatusCode.BadRequest, "1400", orderId);

        var failed = Api.Notification(payOrder, -1, 1000);
        failed.Remove("trade_time");
        using var accepted = await app.PostNotifyAsync(failed.WithSign());
        Assert.Equal("1001", await accepted.PyunCodeAsync());
        await app.DrainQueueAsync();
        Assert.Equal("Failed", (await app.GetOrderAsync(orderId)).Status);
    }

    [Fact]
    public async Task A_missing_pay_order_is_refused()
    {
        var (orderId, payOrder) = await PreparedOrderAsync();
        var form = Api.Notification(payOrder, 1, 1000);
        form.Remove("pay_order");

        using var response = await app.PostNotifyAsync(form.WithSign());
        await AssertRefusedAsync(response, HttpStatusCode.BadRequest, "1400", orderId);
    }

    [Fact]
    public async Task Wrong_content_types_are_refused()
    {
        var (orderId, payOrder) = await PreparedOrderAsync();
        var body = await new FormUrlEncodedContent(Api.Notification(payOrder, 1, 1000).WithSign()).ReadAsByteArrayAsync();
        using var http = app.CreateClient();

        using var json = await http.PostRawAsync("/api/notify/pyun", body, "application/json");
        await AssertRefusedAsync(json, HttpStatusCode.UnsupportedMediaType, "1415", orderId);
        using var gbk = await http.PostRawAsync("/api/notify/pyun", body, "application/x-www-form-urlencoded; charset=gbk");
        await AssertRefusedAsync(gbk, HttpStatusCode.UnsupportedMediaType, "1415", orderId);
        using var none = await http.PostAsync("/api/notify/pyun", new ByteArrayContent(body));
        await AssertRefusedAsync(none, HttpStatusCode.UnsupportedMediaType, "1415", orderId);
    }

    [Fact]
    public async Task Malformed_form_bodies_are_refused()
    {
        var (orderId, payOrder) = await PreparedOrderAsync();
        using var http = app.CreateClient();
        var signed = await new FormUrlEncodedContent(Api.Notification(payOrder, 1, 1000).WithSign()).ReadAsStringAsync();

        foreach (var body in new[] { "", "%%%", signed + "&status=1", signed + "&x=%C3%28" })
        {
            using var response = await http.PostRawAsync("/api/notify/pyun", Encoding.UTF8.GetBytes(body), "application/x-www-form-urlencoded");
            await AssertRefusedAsync(response, HttpStatusCode.BadRequest, "1400", orderId);
        }

        var invalidUtf8 = Encoding.UTF8.GetBytes(signed + "&x=").Concat(new byte[] { 0xFF, 0xFE }).ToArray();
        using var raw = await http.PostRawAsync("/api/notify/pyun", invalidUtf8, "application/x-www-form-urlencoded");
        await AssertRefusedAsync(raw, HttpStatusCode.BadRequest, "1400", orderId);
    }

    [Fact]
    public async Task An_oversized_body_is_refused_with_413()
    {
        var (orderId, payOrder) = await PreparedOrderAsync();
        var form = Api.Notification(payOrder, 1, 1000);
        form["padding"] = new string('x', 20_000);
        using var response = await app.PostNotifyAsync(form.WithSign());
        await AssertRefusedAsync(response, HttpStatusCode.RequestEntityTooLarge, "1413", orderId);

        // Chunked, with no Content-Length to refuse up front: cut off at the limit.
        using var http = app.CreateClient();
        var content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes("a=" + new string('x', 100_000))));
        content.Headers.TryAddWithoutValidation("Content-Type", "application/x-www-form-urlencoded");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/notify/pyun") { Content = content };
        request.Headers.TransferEncodingChunked = true;
        using var chunked = await http.SendAsync(request);
        await AssertRefusedAsync(chunked, HttpStatusCode.RequestEntityTooLarge, "1413", orderId);
    }

    [Fact]
    public async Task A_notification_replayed_many_times_is_acknowledged_each_time_and_applied_once()
    {
        var (orderId, payOrder) = await PreparedOrderAsync();
        var form = Api.Notification(payOrder, 1, 1000).WithSign();

        for (var i = 0; i < 25; i++)
        {
            using var response = await app.PostNotifyAsync(form);
            Assert.Equal("1001", await response.PyunCodeAsync());
        }

        await app.DrainQueueAsync();
        var order = await app.GetOrderAsync(orderId);
        Assert.Equal("Paid", order.Status);
        Assert.False(order.RefundRequired);
        Assert.Single(await app.TimelineAsync(orderId));
        Assert.Equal(0, await app.QueueLengthAsync(poison: true));
    }
}
