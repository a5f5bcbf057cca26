using System.Runtime.CompilerServices;
using System.Text.Json;
using FluentValidation;

namespace PaymentFunctions.Http;

/// <summary>
/// FluentValidation names a failure after the C# property path (<c>RiskFund.Amount</c>); our API speaks camelCase
/// JSON, so every validator's error keys are set here, once, to the path the client sent
/// (<c>riskFund.amount</c>, <c>postPayments[1].amount</c>).
/// </summary>
public static class ApiValidation
{
    /// <summary>Runs when this assembly loads, before any validator is built (rule names are fixed at construction).</summary>
#pragma warning disable CA2255 // an application module: the global naming must hold before any validator is constructed
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void UseJsonPropertyNames()
    {
        var original = ValidatorOptions.Global.PropertyNameResolver;
        ValidatorOptions.Global.PropertyNameResolver = (type, member, expression) => CamelCasePath(original(type, member, expression));
        ValidatorOptions.Global.DisplayNameResolver = (type, member, expression) => CamelCasePath(original(type, member, expression));
    }

    /// <summary><c>RiskFund.Amount</c> → <c>riskFund.amount</c>; null stays null (a rule on the whole object).</summary>
    private static string? CamelCasePath(string? path) =>
        string.IsNullOrEmpty(path) ? path : string.Join('.', path.Split('.').Select(JsonNamingPolicy.CamelCase.ConvertName));
}
