using Microsoft.Extensions.Options;

namespace PaymentFunctions.Orders;

/// <summary>Limits on what the business system may create, section <c>Orders</c>.</summary>
public sealed class OrdersOptions
{
    public const string Section = "Orders";

    /// <summary>The largest amount one order may carry, in fen (default 100,000.00 yuan).</summary>
    public long MaxAmount { get; set; } = 10_000_000;

    /// <summary>Lifetime of an order created without <c>expiresAt</c>.</summary>
    public TimeSpan DefaultLifetime { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>The furthest <c>expiresAt</c> may lie in the future.</summary>
    public TimeSpan MaxLifetime { get; set; } = TimeSpan.FromDays(7);
}

internal sealed class OrdersOptionsValidator : IValidateOptions<OrdersOptions>
{
    public ValidateOptionsResult Validate(string? name, OrdersOptions o)
    {
        var errors = new List<string>();
        if (o.MaxAmount <= 0)
        {
            errors.Add("Setting 'Orders:MaxAmount' must be a positive whole number of fen.");
        }

        Pyun.PyunOptionsValidator.Positive(errors, "Orders:DefaultLifetime", o.DefaultLifetime);
        if (o.MaxLifetime < o.DefaultLifetime)
        {
            errors.Add("Setting 'Orders:MaxLifetime' must not be shorter than 'Orders:DefaultLifetime'.");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
