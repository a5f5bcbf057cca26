using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using PaymentFunctions.Telemetry;

namespace PaymentFunctions.WeChatPay;

public static class WeChatPayServiceCollectionExtensions
{
    /// <summary>
    /// The WeChat Pay v3 protocol layer: options from section <c>WeChatPay</c> validated at start, the key ring,
    /// signer, verifiers, and the typed <see cref="WeChatPayClient"/>.
    /// </summary>
    public static IServiceCollection AddWeChatPay(this IServiceCollection services)
    {
        services.AddOptions<WeChatPayOptions>().BindConfiguration(WeChatPayOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<WeChatPayOptions>, WeChatPayOptionsValidator>();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IWeChatPayNonceSource, RandomWeChatPayNonceSource>();
        services.TryAddSingleton<WeChatPayKeyRing>();
        services.TryAddSingleton<WeChatPayRequestSigner>();
        services.TryAddSingleton<WeChatPaySignatureVerifier>();
        services.TryAddSingleton<WeChatPayCallbackVerifier>();
        services.AddHttpClient<WeChatPayClient>(http => http.Timeout = Timeout.InfiniteTimeSpan) // the client applies RequestTimeout per call
            .AddPlatformTelemetry("wechatpay");
        return services;
    }
}
