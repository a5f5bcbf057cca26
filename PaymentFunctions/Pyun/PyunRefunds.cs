namespace PaymentFunctions.Pyun;

/// <summary>
/// A P云 refund create (spec §8.1): <paramref name="Order"/> is our refund number (P云's refund query finds a refund only
/// by it), <paramref name="PaySerial"/> the payment it refunds, <paramref name="Value"/> the amount in fen.
/// </summary>
public sealed record PyunRefundRequest(string Order, string PaySerial, long Value, string? Reason);

/// <summary>What P云 says of a refund: still refunding, done, or failed for good.</summary>
public enum PyunRefundProcess
{
    Refunding,
    Succeeded,
    Failed,
}

/// <summary>How P云 answered a refund create or query.</summary>
public enum PyunRefundAnswerKind
{
    /// <summary>Create: code 1001, P云 took the refund. Its outcome comes from refund query.</summary>
    Accepted,

    /// <summary>Query: code 1001, <see cref="PyunRefundAnswer.Process"/> says where it stands.</summary>
    Found,

    /// <summary>Query: code 1002, P云 has no refund with this number (so a create never reached it).</summary>
    NotFound,

    /// <summary>
    /// A definite refusal that the same request will always get (create: 400, 1403, 1003, 1405; query: 1400, 1403):
    /// the refund is Failed with <see cref="PyunRefundAnswer.Code"/> and <see cref="PyunRefundAnswer.Message"/>.
    /// </summary>
    Refused,
}

/// <summary>
/// P云's answer about one refund. Network failures, non-2xx, unreadable answers and codes we do not know throw
/// <see cref="PyunException"/> instead: the caller cannot tell whether P云 acted, so it asks again later.
/// </summary>
public sealed record PyunRefundAnswer(
    PyunRefundAnswerKind Kind,
    string Code,
    string? Message,
    PyunRefundProcess? Process = null,
    string? RefundOrder = null,
    string? RefundSerial = null,
    DateTimeOffset? RefundTime = null,
    long? Value = null,
    string? PaySerial = null);

public sealed partial class PyunClient
{
    /// <summary>Refund create: JSON body signed per spec §3.2, signature in the <c>Authorization</c> header.</summary>
    public Task<PyunRefundAnswer> CreateRefundAsync(PyunRefundRequest request, CancellationToken cancellationToken) =>
        throw new NotImplementedException();

    /// <summary>Refund query by our refund number (spec §8.2).</summary>
    public Task<PyunRefundAnswer> QueryRefundAsync(string order, CancellationToken cancellationToken) =>
        throw new NotImplementedException();
}
