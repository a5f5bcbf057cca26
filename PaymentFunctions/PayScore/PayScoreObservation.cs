using PaymentFunctions.WeChatPay;

namespace PaymentFunctions.PayScore;

/// <summary>
/// The observation a successful complete or cancel call lets us apply. WeChat's answer to those calls is not a full
/// service order: cancel answers a small object without <c>state</c> (or nothing at all, 204), and complete may leave
/// out <c>total_amount</c>. What the call itself establishes fills those gaps, and only those: every member WeChat
/// did send is applied as sent. Callbacks and query answers are full service orders and are applied as they are.
/// </summary>
public static class PayScoreObservation
{
    /// <summary>
    /// After <c>complete</c> succeeded: WeChat's answer, for the order we named in the path, with the amount we asked
    /// it to collect when the answer does not say (WeChat accepted the call, so that is the amount it collects).
    /// </summary>
    public static PayScoreServiceOrder AfterComplete(PayScoreServiceOrder answer, string outOrderNo, long completedAmount) =>
        answer with { OutOrderNo = outOrderNo, TotalAmount = answer.TotalAmount ?? completedAmount };

    /// <summary>
    /// After <c>cancel</c> succeeded: WeChat's answer, for the order we named in the path; a successful cancel revokes
    /// the order, so a state the answer does not carry is <see cref="PayScoreStates.Revoked"/>.
    /// </summary>
    public static PayScoreServiceOrder AfterCancel(PayScoreServiceOrder answer, string outOrderNo) =>
        answer with { OutOrderNo = outOrderNo, State = answer.State ?? PayScoreStates.Revoked };
}
