using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using PaymentFunctions.PayScore;
using PaymentFunctions.Tests.Infrastructure;
using PaymentFunctions.Tests.PayScore;
using PaymentFunctions.Tests.WeChatPay;
using PaymentFunctions.WeChatPay;

namespace PaymentFunctions.Tests.Properties;

/// <summary>
/// The whole app (P云 and Pay Score) on a real Kestrel socket against Azurite and the fakes, so requests can
/// carry any bytes, and a few orders to aim at: a prepared P云 order, a CREATED and a confirmed Pay Score order.
/// </summary>
public sealed class LiveAppFixture : IAsyncLifetime
{
    public PaymentApp App { get; } = new PaymentApp().EnableWeChatPay();

    public Uri Server { get; private set; } = null!;

    public string OrderId { get; private set; } = "";

    public string PayOrder { get; private set; } = "";

    public string CreatedOutOrderNo { get; private set; } = "";

    public string ConfirmedOutOrderNo { get; private set; } = "";

    /// <summary>A DONE/USER_PAID order with 300 fen deducted by 支付分, for the refund routes.</summary>
    public string PaidOutOrderNo { get; private set; } = "";

    /// <summary>What the corpus saw of the stored orders after its last passing case.</summary>
    internal string? CorpusSnapshot { get; set; }

    public async ValueTask InitializeAsync()
    {
        await App.InitializeAsync();
        App.UseKestrel(0);
        App.StartServer();
        var addresses = App.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
        Server = new Uri(addresses.First().Replace("[::]", "127.0.0.1", StringComparison.Ordinal).Replace("localhost", "127.0.0.1", StringComparison.Ordinal));

        var order = await App.CreateOrderAsync(amount: 1000);
        OrderId = order.OrderId;
        PayOrder = (await App.PrepareAsync(OrderId)).PayOrder;

        CreatedOutOrderNo = PayScoreApi.NewOutOrderNo();
        await App.CreatePayScoreOrderAsync(CreatedOutOrderNo);
        ConfirmedOutOrderNo = PayScoreApi.NewOutOrderNo();
        await App.CreatePayScoreOrderAsync(ConfirmedOutOrderNo);
        var status = await App.WeChat!.State.SendCallbackAsync(ConfirmedOutOrderNo, PayScoreStates.UserConfirmEvent, new Uri(Server, "/api/notify/wechatpay"), App.CreateClient());
        Assert.Equal(HttpStatusCode.NoContent, status);
        await App.DrainQueueAsync();
        Assert.Equal(PayScoreStates.UserConfirm, (await PayScoreAsync(ConfirmedOutOrderNo))!.StateDescription);

        PaidOutOrderNo = PayScoreApi.NewOutOrderNo();
        await App.CreatePayScoreOrderAsync(PaidOutOrderNo);
        var notify = new Uri(Server, "/api/notify/wechatpay");
        Assert.Equal(HttpStatusCode.NoContent, await App.WeChat.State.SendCallbackAsync(PaidOutOrderNo, PayScoreStates.UserConfirmEvent, notify, App.CreateClient()));
        await App.DrainQueueAsync();
        using (var complete = await App.PostAsync($"/api/payscore/orders/{PaidOutOrderNo}/complete", new JsonObject
               {
                   ["postPayments"] = new JsonArray(new JsonObject { ["name"] = "租借费", ["amount"] = 300, ["count"] = 1 }),
                   ["totalAmount"] = 300,
               }))
        {
            Assert.Equal(HttpStatusCode.OK, complete.StatusCode);
        }

        Assert.Equal(HttpStatusCode.NoContent, await App.WeChat.State.SendCallbackAsync(PaidOutOrderNo, PayScoreStates.UserPaidEvent, notify, App.CreateClient()));
        await App.DrainQueueAsync();
        Assert.Equal(300, (await PayScoreAsync(PaidOutOrderNo))!.TransactionAmount);
    }

    public ValueTask DisposeAsync() => App.DisposeAsync();

    public async Task<PayScoreOrderEntity?> PayScoreAsync(string outOrderNo) =>
        await App.Services.GetRequiredService<PayScoreStore>().GetAsync(outOrderNo, CancellationToken.None);

    internal Task<RawResponse> SendAsync(RawRequest request) => RawHttp.SendAsync(Server, request);

    /// <summary>Removes whatever a verified request queued, so the next check starts from an empty queue.</summary>
    public async Task ClearQueueAsync()
    {
        await App.Storage.EnsureCreatedAsync(CancellationToken.None);
        await App.Storage.Notifications.ClearMessagesAsync();
    }

    /// <summary>The envelope WeChat Pay posts: the resource sealed with the APIv3 key (nonce and time fixed; the signature is added by the caller).</summary>
    internal static byte[] CallbackEnvelope(string resourcePlaintext, string eventType, string id, string apiV3Key = WeChatPayTestData.ApiV3Key)
    {
        const string nonce = "livenonce123";
        var envelope = new JsonObject
        {
            ["id"] = id,
            ["create_time"] = "2026-11-25T10:00:00+08:00",
            ["resource_type"] = "encrypt-resource",
            ["event_type"] = eventType,
            ["summary"] = "test",
            ["resource"] = new JsonObject
            {
                ["algorithm"] = WeChatPayAesGcm.Algorithm,
                ["ciphertext"] = WeChatPayAesGcm.Encrypt(Encoding.UTF8.GetBytes(apiV3Key), nonce, "payscore", Encoding.UTF8.GetBytes(resourcePlaintext)),
                ["nonce"] = nonce,
                ["associated_data"] = "payscore",
                ["original_type"] = "payscore",
            },
        };
        return Encoding.UTF8.GetBytes(envelope.ToJsonString());
    }
}
