using FluentValidation;
using Microsoft.Extensions.Options;
using PaymentFunctions.Events;
using PaymentFunctions.Hosting;
using PaymentFunctions.Http;
using PaymentFunctions.Notifications;
using PaymentFunctions.OpenApi;
using PaymentFunctions.Orders;
using PaymentFunctions.PayScore;
using PaymentFunctions.Pyun;
using PaymentFunctions.Storage;
using PaymentFunctions.Telemetry;
using PaymentFunctions.WeChatPay;

namespace PaymentFunctions;

public static class ApplicationServices
{
    /// <summary>Everything the app needs, with every option bound and validated when the app starts.</summary>
    public static WebApplicationBuilder AddApplicationServices(this WebApplicationBuilder builder)
    {
        FunctionsHost.ConfigureKestrel(builder);
        builder.AddPaymentTelemetry();
        var services = builder.Services;
        services.AddProblemDetails();
        services.AddExceptionHandler<ApiExceptionHandler>();
        services.AddSingleton(TimeProvider.System);

        AddValidatedOptions<PyunOptions, PyunOptionsValidator>(services, PyunOptions.Section);
        AddValidatedOptions<OrdersOptions, OrdersOptionsValidator>(services, OrdersOptions.Section);
        AddValidatedOptions<Refunds.RefundsOptions, Refunds.RefundsOptionsValidator>(services, Refunds.RefundsOptions.Section);
        AddValidatedOptions<FunctionKeyOptions, FunctionKeyOptionsValidator>(services, FunctionKeyOptions.Section);
        AddValidatedOptions<HttpOptions, HttpOptionsValidator>(services, HttpOptions.Section);
        AddValidatedOptions<RateLimitOptions, RateLimitOptionsValidator>(services, RateLimitOptions.Section);
        services.AddPaymentRateLimits();
        services.AddApiDocument();
        services.AddPaymentStorage(builder.Configuration);

        services.AddSingleton<IValidator<CreateOrderRequest>, CreateOrderValidator>();
        services.AddSingleton<IValidator<PrepareOrderRequest>, PrepareOrderValidator>();
        services.AddSingleton<IValidator<OrderRefundRequest>, OrderRefundValidator>();
        services.AddSingleton<IValidator<CreatePayScoreOrderRequest>, CreatePayScoreOrderValidator>();
        services.AddSingleton<IValidator<CompletePayScoreOrderRequest>, CompletePayScoreOrderValidator>();
        services.AddSingleton<IValidator<CancelPayScoreOrderRequest>, CancelPayScoreOrderValidator>();
        services.AddSingleton<IValidator<QueryPayScoreOrderRequest>, QueryPayScoreOrderValidator>();
        services.AddSingleton<IValidator<CreatePayScoreRefundRequest>, CreatePayScoreRefundValidator>();
        services.AddSingleton<FunctionKeyFilter>();

        services.AddHttpClient<PyunClient>((sp, http) =>
        {
            var options = sp.GetRequiredService<IOptions<PyunOptions>>().Value;
            http.BaseAddress = new Uri(options.BaseUrl);
            http.Timeout = Timeout.InfiniteTimeSpan; // PyunClient applies RequestTimeout per call
        }).AddPlatformTelemetry("pyun");
        // Each platform is switched on by its settings section; without WeChatPay the Pay Score routes answer 503.
        var payScore = new PayScoreFeature(builder.Configuration.GetSection(WeChatPayOptions.Section).Exists());
        services.AddSingleton(payScore);
        if (payScore.Enabled)
        {
            services.AddWeChatPay();
        }

        services.AddSingleton<PayScoreEnabledFilter>();
        services.AddSingleton<PayScoreStore>();
        services.AddSingleton<PayScoreProcessor>();
        services.AddSingleton<PayScoreCheckScheduler>();
        services.AddSingleton<PayScoreRefundProcessor>();
        services.AddSingleton<PayScoreRefundScheduler>();
        services.AddSingleton<OrderStore>();
        services.AddSingleton<NotificationQueue>();
        services.AddSingleton<PyunPaymentProcessor>();
        services.AddTransient<PyunAttemptQuery>();
        services.AddSingleton<PyunCheckScheduler>();
        services.AddSingleton<PyunRefundScheduler>();
        services.AddSingleton<PyunExpiryScheduler>();
        services.AddSingleton<OrphanStore>();
        services.AddSingleton<HealthProbe>();
        // One line per notification kind: its handler (and typed record) is all a new kind needs.
        services.AddNotificationHandler<PyunTradeNotificationHandler>();
        services.AddNotificationHandler<PyunCheckHandler>();
        services.AddNotificationHandler<PyunRefundHandler>();
        services.AddNotificationHandler<PyunExpiryHandler>();
        services.AddNotificationHandler<PayScoreNotificationHandler>();
        services.AddNotificationHandler<PayScoreCheckHandler>();
        services.AddNotificationHandler<PayScoreRefundCheckHandler>();
        services.AddNotificationHandler<WeChatRefundNotificationHandler>();
        services.AddSingleton<NotificationHandlers>();
        services.AddPaymentEvents();
        services.AddScoped<NotificationProcessor>();

        // Under the Functions host the host triggers ProcessNotification; on our own we poll the queue ourselves.
        if (!FunctionsHost.IsCustomHandler(builder.Configuration) && builder.Configuration.GetValue("QueueListener:Enabled", true))
        {
            services.AddSingleton(_ => QueueSettings.Load(Path.Combine(AppContext.BaseDirectory, "host.json")));
            services.AddSingleton<QueueListener>();
            services.AddHostedService(sp => sp.GetRequiredService<QueueListener>());
            // Event deliveries on their own queue and listener: a slow receiver never holds up a payment.
            services.AddSingleton<EventDeliveryListener>();
            services.AddHostedService(sp => sp.GetRequiredService<EventDeliveryListener>());
        }

        return builder;
    }

    public static WebApplication MapApplicationEndpoints(this WebApplication app)
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseRequestDeadlines();
        app.UseRateLimiter();
        app.UseOrderTags(); // the order numbers in a route on its request span

        // The Functions host polls "/" until the handler answers; any answer means ready.
        app.MapGet("/", () => TypedResults.Text("PaymentFunctions is running.")).ExcludeFromDescription();
        app.MapApiReference(); // /scalar, in Development and standalone only

        // The queue trigger's door, for the host alone: it checks nothing, so on our own (where this app may face the
        // network and polls the queue itself) it does not exist. Under the host, Kestrel listens on loopback only.
        if (FunctionsHost.IsCustomHandler(app.Configuration))
        {
            app.MapProcessNotification();
            app.MapDeliverEvent();
        }

        // Policy lives on the groups, not on each route: authLevel "function" in a route's function.json <=> it is in
        // a key group (FunctionManifestTests checks both agree); Pay Score routes answer 503 while WeChat Pay is off.
        var api = app.MapGroup("/api").WithCommonApiAnswers();
        api.MapHealth();
        api.MapApiDocument();
        api.MapPrepareOrder();
        api.MapGetOrder();
        api.MapPyunNotify();

        var business = api.MapGroup("").RequireFunctionKey();
        business.MapCreateOrder();
        business.MapRefunds();
        business.MapEventApi();

        var payScore = api.MapGroup("").RequirePayScore();
        payScore.MapQueryPayScoreOrder();
        payScore.MapWeChatPayNotify();

        var payScoreBusiness = business.MapGroup("").RequirePayScore();
        payScoreBusiness.MapCreatePayScoreOrder();
        payScoreBusiness.MapCompleteCancelPayScoreOrder();
        payScoreBusiness.MapPayScoreRefunds();
        payScoreBusiness.MapPayScoreEventApi();
        return app;
    }

    private static void AddValidatedOptions<TOptions, TValidator>(IServiceCollection services, string section)
        where TOptions : class
        where TValidator : class, IValidateOptions<TOptions>
    {
        services.AddOptions<TOptions>().BindConfiguration(section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<TOptions>, TValidator>();
    }
}
