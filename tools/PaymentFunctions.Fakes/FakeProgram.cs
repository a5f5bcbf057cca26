using PaymentFunctions.Fakes.Events;
using PaymentFunctions.Fakes.Pyun;
using PaymentFunctions.Fakes.WeChatPay;

namespace PaymentFunctions.Fakes;

/// <summary>
/// Runs the fake payment platforms as their own process for the local walkthrough:
/// <c>dotnet run --project tools/PaymentFunctions.Fakes -- --urls http://127.0.0.1:7072</c>.
/// Credentials come from the same settings names the app uses (<c>Pyun:AppId</c>, <c>WeChatPay:MchId</c>, …);
/// the fake WeChat Pay needs the merchant's public key and WeChat Pay's private key (test keys only).
/// </summary>
public static class FakeProgram
{
    public static async Task Main(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        var config = builder.Configuration;
        var pyun = new FakePyunState(
            config["Pyun:AppId"] ?? "op-local-app",
            config["Pyun:AppSecret"] ?? throw new InvalidOperationException("Set Pyun:AppSecret for the fake P云."),
            config["Pyun:Merchant"] ?? "62626601");
        if (Enum.TryParse<QueryLayout>(config["FakePyun:QueryLayout"], out var layout))
        {
            pyun.QueryLayout = layout;
        }

        var app = builder.Build();
        var notifyClient = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        app.MapGet("/", () => "Fake payment platforms: P云 at /gate/1.0/payment/…, WeChat Pay at /v3/payscore/…, event receiver at /fake/receiver/{name}, controls at /fake/…");
        app.MapFakePyun(pyun, () => notifyClient);
        // The business system's event receiver: point Events:Endpoints:<name>:Url at /fake/receiver/<name>, and
        // GET the same path to see what arrived (headers and body, signature included).
        app.MapFakeReceiver(new FakeReceiverState());

        if (config["FakeWeChatPay:MerchantPublicKey"] is { Length: > 0 } merchantPublicKey)
        {
            var weChat = new FakeWeChatPayState(config["WeChatPay:MchId"]!, config["WeChatPay:MerchantCertificateSerial"]!, merchantPublicKey, config["WeChatPay:ApiV3Key"]!);
            var signingSerial = config["FakeWeChatPay:SigningSerial"]!;
            weChat.AddSigningKey(signingSerial, config["FakeWeChatPay:SigningPrivateKey"]!);
            weChat.ResponseSerial = signingSerial;
            app.MapFakeWeChatPay(weChat);
            app.MapFakeWeChatPayControl(weChat, new Uri(config["WeChatPay:NotifyUrl"]!), () => notifyClient);
        }

        await app.RunAsync();
    }
}
