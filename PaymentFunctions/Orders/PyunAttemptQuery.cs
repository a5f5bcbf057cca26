using PaymentFunctions.Pyun;

namespace PaymentFunctions.Orders;

/// <summary>
/// The one place that asks P云's trade query about an attempt and applies the answer through
/// <see cref="PyunPaymentProcessor"/>, as a notification would be: used by the status poll (GET) and by the
/// scheduled checks. Throws <see cref="PyunException"/> when P云 is unreachable or its answer unreadable.
/// Transient: it holds the typed <see cref="PyunClient"/>, whose HttpClient the factory rotates.
/// </summary>
public sealed class PyunAttemptQuery(PyunClient pyun, PyunPaymentProcessor processor, TimeProvider clock)
{
    /// <summary>P云's answer, and what applying it did (null when P云 has no record of the pay_order yet).</summary>
    public async Task<(PyunQueryAnswer Answer, ProcessResult? Applied)> QueryAndApplyAsync(string payOrder, string source, CancellationToken cancellationToken)
    {
        var answer = await pyun.QueryAsync(payOrder, cancellationToken);
        var applied = answer.Result is { } result
            ? await processor.ApplyAsync(result, source, clock.GetUtcNow(), cancellationToken)
            : null;
        return (answer, applied);
    }
}
