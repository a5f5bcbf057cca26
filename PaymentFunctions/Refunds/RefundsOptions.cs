using Microsoft.Extensions.Options;

namespace PaymentFunctions.Refunds;

/// <summary>How refunds are sent and followed up, section <c>Refunds</c>, for both P云 and Pay Score.</summary>
public sealed class RefundsOptions
{
    public const string Section = "Refunds";

    /// <summary>
    /// Money that paid for nothing (a second payment, a wrong amount, a payment after close) is refunded on its own.
    /// False: such payments stay flagged (<c>refundRequired</c>) for someone to refund by hand.
    /// </summary>
    public bool Automatic { get; set; } = true;

    /// <summary>
    /// The safety-net send: a delayed message queued before a refund is stored, so a crash between storing it and
    /// queueing its send cannot lose it. It must outlast the longest write.
    /// </summary>
    public TimeSpan RecoveryDelay { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>The first refund query after a refund was accepted; each further one doubles it.</summary>
    public TimeSpan CheckBackoff { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Refund queries (and retried sends) before the refund is left Pending with an alert.</summary>
    public int CheckMaxRounds { get; set; } = 12;
}

internal sealed class RefundsOptionsValidator : IValidateOptions<RefundsOptions>
{
    public ValidateOptionsResult Validate(string? name, RefundsOptions o)
    {
        var errors = new List<string>();
        Pyun.PyunOptionsValidator.Positive(errors, "Refunds:RecoveryDelay", o.RecoveryDelay);
        Pyun.PyunOptionsValidator.Positive(errors, "Refunds:CheckBackoff", o.CheckBackoff);
        if (o.CheckMaxRounds is < 1 or > 20)
        {
            errors.Add("Setting 'Refunds:CheckMaxRounds' must be from 1 to 20.");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
