using System.Net;
using Microsoft.Extensions.DependencyInjection;
using PaymentFunctions.Http;
using PaymentFunctions.PayScore;
using PaymentFunctions.Tests.Infrastructure;

namespace PaymentFunctions.Tests.PayScore;

/// <summary>WeChat Pay's answers are read up to <see cref="OutboundHttp.MaxResponseBytes"/>, even when sent chunked with no length.</summary>
public sealed class WeChatResponseSizeCapTests(PayScoreAppFixture fixture) : IClassFixture<PayScoreAppFixture>
{
    private PaymentApp App => fixture.App;

    [Fact]
    public async Task An_oversize_signed_answer_is_a_502_and_stores_nothing()
    {
        var outOrderNo = PayScoreApi.NewOutOrderNo();
        App.WeChat!.State.PadNextAnswer(200_000);

        using var response = await App.PostAsync("/api/payscore/orders", PayScoreApi.CreateBody(outOrderNo));

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        var problem = await response.ProblemAsync();
        Assert.Contains("answered more than 64 KiB", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.StartsWith("08", problem.GetProperty("requestId").GetString(), StringComparison.Ordinal);
        Assert.Null(await App.Services.GetRequiredService<PayScoreStore>().GetAsync(outOrderNo, default));
    }

    [Fact]
    public async Task An_answer_just_under_the_cap_is_read()
    {
        var outOrderNo = PayScoreApi.NewOutOrderNo();
        App.WeChat!.State.PadNextAnswer(OutboundHttp.MaxResponseBytes - 4096);

        var created = await App.CreatePayScoreOrderAsync(outOrderNo);

        Assert.Equal(outOrderNo, created.OutOrderNo);
    }
}
