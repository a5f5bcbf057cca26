using PaymentFunctions.PayScore;
using PaymentFunctions.WeChatPay;

namespace PaymentFunctions.Tests.PayScore;

/// <summary>What a complete or cancel answer is applied as: WeChat's members as sent, the call's own facts only in the gaps.</summary>
public sealed class PayScoreObservationTests
{
    [Fact]
    public void A_cancel_answer_without_a_state_is_revoked_for_the_order_named_in_the_path()
    {
        var observed = PayScoreObservation.AfterCancel(new PayScoreServiceOrder(), "PS1");
        Assert.Equal(("PS1", PayScoreStates.Revoked), (observed.OutOrderNo, observed.State));
    }

    [Fact]
    public void A_cancel_answer_with_a_state_keeps_wechats_state()
    {
        var observed = PayScoreObservation.AfterCancel(new PayScoreServiceOrder { State = PayScoreStates.Done, OutOrderNo = "PS1" }, "PS1");
        Assert.Equal(PayScoreStates.Done, observed.State);
    }

    [Fact]
    public void A_complete_answer_without_an_amount_has_the_amount_we_completed_with_and_otherwise_wechats()
    {
        var answer = new PayScoreServiceOrder { State = PayScoreStates.Doing, StateDescription = PayScoreStates.MchComplete };
        var filled = PayScoreObservation.AfterComplete(answer, "PS1", 700);
        Assert.Equal(("PS1", 700L, PayScoreStates.Doing, PayScoreStates.MchComplete), (filled.OutOrderNo, filled.TotalAmount, filled.State, filled.StateDescription));
        Assert.Equal(650L, PayScoreObservation.AfterComplete(answer with { TotalAmount = 650 }, "PS1", 700).TotalAmount);
    }
}
