using System.Globalization;
using System.Text;
using FluentValidation;
using FluentValidation.Validators;
using PaymentFunctions.WeChatPay;
using static PaymentFunctions.PayScore.PayScoreRules;

namespace PaymentFunctions.PayScore;

/// <summary>
/// The Pay Score API's rules (WeChat Pay API v3, 支付分 创建支付分订单: field limits), checked before calling WeChat Pay so that a bad order is refused by us
/// with a clear message instead of by WeChat with PARAM_ERROR. Keys are the camelCase paths the client sent
/// (<see cref="Http.ApiValidation"/>); messages name WeChat's field, as in "risk_fund.amount: must be …".
/// </summary>
public sealed class CreatePayScoreOrderValidator : AbstractValidator<CreatePayScoreOrderRequest>
{
    public CreatePayScoreOrderValidator()
    {
        RuleFor(r => r.OutOrderNo).WeChat(OutOrderNo);
        RuleFor(r => r.ServiceIntroduction).WeChat(v => Text(v, 20, required: true));
        RuleFor(r => r.PostPayments).WeChat(v => v is { Count: > WeChatPayFormats.MaxPostPayments } ? $"at most {WeChatPayFormats.MaxPostPayments} items." : null);
        RuleForEach(r => r.PostPayments).WeChat(NotNull).SetValidator(new PostPaymentValidator());
        RuleFor(r => r.PostDiscounts).WeChat(TooManyDiscounts);
        RuleForEach(r => r.PostDiscounts).WeChat(NotNull).SetValidator(new PostDiscountValidator());
        RuleFor(r => r.TimeRange!).WeChat(Required).SetValidator(new TimeRangeValidator(startRequired: true));
        RuleFor(r => r.Location!).SetValidator(new LocationValidator(endNeedsStart: true));
        RuleFor(r => r.RiskFund!).WeChat(Required).SetValidator(new RiskFundValidator());
        RuleFor(r => r.Attach).WeChat(v => Text(v, 256, required: false));
    }
}

/// <summary>
/// The complete rules that need no stored state. Whether an end location may be sent depends on what the order was
/// created with, so the endpoint checks that against the stored create request.
/// </summary>
public sealed class CompletePayScoreOrderValidator : AbstractValidator<CompletePayScoreOrderRequest>
{
    private static readonly PostPaymentValidator Payment = new();
    private static readonly PostDiscountValidator Discount = new();

    public CompletePayScoreOrderValidator()
    {
        RuleFor(r => r.TotalAmount).WeChat(v => v is null ? "is required, in fen." : null);
        When(r => r.TotalAmount is not null, () =>
        {
            RuleFor(r => r.OutOrderNo).WeChat(OutOrderNo);
            RuleFor(r => r.PostPayments).WeChat(v => v is null or { Count: 0 } ? "at least one item is required."
                : v.Count > WeChatPayFormats.MaxPostPayments ? $"at most {WeChatPayFormats.MaxPostPayments} items." : null);
            RuleForEach(r => r.PostPayments).WeChat(NotNull).SetValidator(Payment);
            RuleFor(r => r.PostDiscounts).WeChat(TooManyDiscounts);
            RuleForEach(r => r.PostDiscounts).WeChat(NotNull).SetValidator(Discount);
            RuleFor(r => r.TotalAmount).WeChat(v => Amount(v!.Value, minimum: 0));
            RuleFor(r => r.TotalAmount).WeChat((r, v) =>
            {
                if (!ItemsValid(r))
                {
                    return null; // the items' own problems are reported; a sum over them would only add noise
                }

                // Each amount is bounded by MaxAmountFen, so these sums cannot overflow a long.
                var expected = r.PostPayments!.Sum(p => p.Amount) - (r.PostDiscounts?.Sum(d => d.Amount) ?? 0);
                return expected == v ? null : string.Create(CultureInfo.InvariantCulture,
                    $"must equal the sum of post_payments.amount minus the sum of post_discounts.amount ({expected} fen), not {v}.");
            });
            RuleFor(r => r.TimeRange!).SetValidator(new TimeRangeValidator(startRequired: false));
            RuleFor(r => r.Location!).SetValidator(new LocationValidator(endNeedsStart: false));
        });
    }

    private static bool ItemsValid(CompletePayScoreOrderRequest r) =>
        r.PostPayments is { Count: > 0 and <= WeChatPayFormats.MaxPostPayments } payments && payments.All(p => p is not null && Payment.Validate(p).IsValid) &&
        (r.PostDiscounts is not { } discounts || (discounts.Count <= WeChatPayFormats.MaxPostDiscounts &&
            discounts.All(d => d is not null && Discount.Validate(d).IsValid) &&
            discounts.Select(d => d.Name).Distinct(StringComparer.Ordinal).Count() == discounts.Count));
}

public sealed class CancelPayScoreOrderValidator : AbstractValidator<CancelPayScoreOrderRequest>
{
    public CancelPayScoreOrderValidator()
    {
        RuleFor(r => r.OutOrderNo).WeChat(OutOrderNo);
        RuleFor(r => r.Reason).WeChat(v => Text(v, 50, required: true));
    }
}

public sealed class QueryPayScoreOrderValidator : AbstractValidator<QueryPayScoreOrderRequest>
{
    public QueryPayScoreOrderValidator()
    {
        // A malformed outOrderNo is simply no order of ours (404, answered by the endpoint), as for any unknown one.
        RuleFor(r => r.QueryId).Cascade(CascadeMode.Stop)
            .Must((r, q) => (q is null) != (r.OutOrderNo is null)).WithMessage("Send exactly one of 'queryId' and 'outOrderNo'.")
            .Must(q => q is null || WeChatPayFormats.IsValidQueryId(q)).WithMessage("'queryId' is not a Pay Score query_id.");
    }
}

public sealed class PostPaymentValidator : AbstractValidator<PostPayment>
{
    public PostPaymentValidator()
    {
        RuleFor(p => p.Name).WeChat(v => Text(v, 20, required: true));
        RuleFor(p => p.Amount).WeChat(v => Amount(v, minimum: 0));
        RuleFor(p => p.Description).WeChat(v => Text(v, 30, required: false));
        RuleFor(p => p.Count).WeChat(Count);
    }
}

public sealed class PostDiscountValidator : AbstractValidator<PostDiscount>
{
    private const string NamesSeen = "PostDiscountNames";

    public PostDiscountValidator()
    {
        RuleFor(d => d.Name).WeChat(v => Text(v, 20, required: true))
            .WeChat((context, name) => name is not null && !Seen(context).Add(name) ? "must be unique among post_discounts." : null);
        RuleFor(d => d.Description).WeChat(v => Text(v, 30, required: false));
        RuleFor(d => d.Amount).WeChat(v => Amount(v, minimum: 0));
        RuleFor(d => d.Count).WeChat(Count);
    }

    /// <summary>The names of the discounts before this one in the same request (root data is one per validation run).</summary>
    private static HashSet<string> Seen(ValidationContext<PostDiscount> context)
    {
        if (!context.RootContextData.TryGetValue(NamesSeen, out var seen))
        {
            context.RootContextData[NamesSeen] = seen = new HashSet<string>(StringComparer.Ordinal);
        }

        return (HashSet<string>)seen;
    }
}

public sealed class TimeRangeValidator : AbstractValidator<PayScoreTimeRange>
{
    public TimeRangeValidator(bool startRequired)
    {
        RuleFor(t => t.StartTime).WeChat(v => v is null
            ? startRequired ? "is required (OnAccept, yyyyMMddHHmmss or yyyyMMdd)." : null
            : v != "OnAccept" && WeChatPayFormats.ParseTime(v) is null ? "must be OnAccept, yyyyMMddHHmmss or yyyyMMdd." : null);
        RuleFor(t => t.EndTime).WeChat((t, v) => v is null ? null
            : WeChatPayFormats.ParseTime(v) is not { } end ? "must be yyyyMMddHHmmss or yyyyMMdd."
            : t.StartTime is { } start && start != "OnAccept" && WeChatPayFormats.ParseTime(start) is { } begin && end < begin ? "must not be before start_time."
            : null);
        RuleFor(t => t.StartTimeRemark).WeChat(v => Text(v, 20, required: false));
        RuleFor(t => t.EndTimeRemark).WeChat(v => Text(v, 20, required: false));
    }
}

public sealed class LocationValidator : AbstractValidator<PayScoreLocation>
{
    public LocationValidator(bool endNeedsStart)
    {
        RuleFor(l => l.StartLocation).WeChat(v => Text(v, 50, required: false));
        RuleFor(l => l.EndLocation).WeChat(v => Text(v, 50, required: false));
        if (endNeedsStart)
        {
            RuleFor(l => l.EndLocation).WeChat((l, v) => v is not null && l.StartLocation is null ? "is only allowed together with start_location." : null);
        }
    }
}

public sealed class RiskFundValidator : AbstractValidator<PayScoreRiskFund>
{
    public RiskFundValidator()
    {
        RuleFor(r => r.Name).WeChat(v => v is null || !WeChatPayFormats.RiskFundNames.Contains(v)
            ? "must be DEPOSIT, ADVANCE, CASH_DEPOSIT or ESTIMATE_ORDER_COST."
            : null);
        RuleFor(r => r.Amount).WeChat(v => Amount(v, minimum: 1));
        RuleFor(r => r.Description).WeChat(v => Text(v, 30, required: false));
    }
}

/// <summary>The checks behind the Pay Score validators: each answers the problem with a value, or null.</summary>
public static class PayScoreRules
{
    public const string OutOrderNoProblem = "must be 1 to 32 characters of 0-9, a-z, A-Z, _, -, | or *.";

    /// <summary>Adds a check whose failure reads "wechat_field: problem"; the failure's key stays the API path.</summary>
    public static IRuleBuilderOptions<T, TProperty> WeChat<T, TProperty>(this IRuleBuilder<T, TProperty> rule, Func<TProperty, string?> problemOf) =>
        rule.SetValidator(new WeChatFieldValidator<T, TProperty>((_, value) => problemOf(value)));

    public static IRuleBuilderOptions<T, TProperty> WeChat<T, TProperty>(this IRuleBuilder<T, TProperty> rule, Func<T, TProperty, string?> problemOf) =>
        rule.SetValidator(new WeChatFieldValidator<T, TProperty>((context, value) => problemOf(context.InstanceToValidate, value)));

    public static IRuleBuilderOptions<T, TProperty> WeChat<T, TProperty>(this IRuleBuilder<T, TProperty> rule, Func<ValidationContext<T>, TProperty, string?> problemOf) =>
        rule.SetValidator(new WeChatFieldValidator<T, TProperty>(problemOf));

    public static string? OutOrderNo(string? value) => WeChatPayFormats.IsValidOutOrderNo(value) ? null : OutOrderNoProblem;

    public static string? Required<TValue>(TValue? value) where TValue : class => value is null ? "is required." : null;

    public static string? NotNull<TValue>(TValue? value) where TValue : class => value is null ? "must not be null." : null;

    public static string? TooManyDiscounts(IReadOnlyList<PostDiscount>? discounts) =>
        discounts is { Count: > WeChatPayFormats.MaxPostDiscounts } ? $"at most {WeChatPayFormats.MaxPostDiscounts} items." : null;

    public static string? Text(string? value, int maxLength, bool required)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            // An empty optional field is the same mistake as a null one: WeChat wants it omitted.
            return required ? "is required." : value is not null ? "must be omitted rather than empty." : null;
        }

        return WeChatPayFormats.HasFourByteUtf8(value) ? "must not contain emoji or other 4-byte UTF-8 characters."
            : value.Length > maxLength ? $"at most {maxLength} characters."
            : null;
    }

    public static string? Amount(long value, long minimum) => value < minimum || value > WeChatPayFormats.MaxAmountFen
        ? string.Create(CultureInfo.InvariantCulture, $"must be a whole number of fen from {minimum} to {WeChatPayFormats.MaxAmountFen}.")
        : null;

    public static string? Count(int? count) => count is < 1 or > 100 ? "must be from 1 to 100." : null;

    /// <summary>WeChat's name for an API path: <c>postPayments[1].amount</c> → <c>post_payments[1].amount</c>.</summary>
    public static string WeChatName(string path)
    {
        var name = new StringBuilder(path.Length + 8);
        foreach (var c in path)
        {
            if (char.IsAsciiLetterUpper(c))
            {
                name.Append('_').Append(char.ToLowerInvariant(c));
            }
            else
            {
                name.Append(c);
            }
        }

        return name.ToString();
    }
}

/// <summary>One check of a WeChat field; its message names the field as WeChat does, for a caller reading WeChat's spec.</summary>
internal sealed class WeChatFieldValidator<T, TProperty>(Func<ValidationContext<T>, TProperty, string?> problemOf) : PropertyValidator<T, TProperty>
{
    public override string Name => "WeChatFieldValidator";

    public override bool IsValid(ValidationContext<T> context, TProperty value)
    {
        if (problemOf(context, value) is not { } problem)
        {
            return true;
        }

        context.MessageFormatter.AppendArgument("WeChatField", PayScoreRules.WeChatName(context.PropertyPath));
        context.MessageFormatter.AppendArgument("Problem", problem);
        return false;
    }

    protected override string GetDefaultMessageTemplate(string errorCode) => "{WeChatField}: {Problem}";
}
