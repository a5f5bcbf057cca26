using CsCheck;
using PaymentFunctions.PayScore;
using PaymentFunctions.WeChatPay;

namespace PaymentFunctions.Tests.Properties;

/// <summary>
/// What WeChat Pay reports about a Pay Score order (callbacks, query answers, the answers to complete and cancel)
/// arrives in any order and any number of times; the stored order must end at the furthest state reported,
/// with that report's amounts, whatever the order.
/// </summary>
public sealed class PayScoreDecisionProperties
{
    /// <summary>One life of an order: the reports WeChat Pay can make along it, in the order they happen.</summary>
    private static Gen<PayScoreServiceOrder[]> Lives =>
        Gen.Select<long, int, PayScoreServiceOrder[]>(Gen.Long[0, 50_000], Gen.Int[0, 3], (total, path) =>
        {
            PayScoreServiceOrder Report(string state, string? description = null, PayScoreCollection? collection = null, long? totalAmount = null) =>
                new() { OutOrderNo = "PS1", State = state, StateDescription = description, Collection = collection, TotalAmount = totalAmount };

            var created = Report(PayScoreStates.Created);
            var confirmed = Report(PayScoreStates.Doing, PayScoreStates.UserConfirm);
            return path switch
            {
                0 => // completed and paid (total_amount is present from complete on; a transaction only for a deduction > 0)
                [
                    created, confirmed,
                    Report(PayScoreStates.Doing, PayScoreStates.MchComplete,
                        new PayScoreCollection { State = PayScoreStates.UserPaying, TotalAmount = total, PayingAmount = total, PaidAmount = 0 }, total),
                    Report(PayScoreStates.Done, null,
                        new PayScoreCollection
                        {
                            State = PayScoreStates.UserPaid, TotalAmount = total, PaidAmount = total,
                            Details = total > 0 ? [new PayScoreCollectionDetail { Seq = 1, Amount = total, PaidType = "NEWTON", TransactionId = "4200000001" }] : [],
                        }, total),
                ],
                1 => [created, confirmed, Report(PayScoreStates.Revoked)], // cancelled after confirmation (cancel's answer carries no amounts)
                2 => [created, Report(PayScoreStates.Revoked)], // cancelled before confirmation
                _ => [created, Report(PayScoreStates.Expired)], // never confirmed
            };
        });

    /// <summary>A non-empty subset of a life's reports, each 1-3 times, in two random orders.</summary>
    private static Gen<(PayScoreServiceOrder[] Life, PayScoreServiceOrder[] First, PayScoreServiceOrder[] Second)> Orderings =>
        from life in Lives
        from picked in Gen.Bool.Array[life.Length].Where(p => p.Any(x => x))
        let reports = life.Where((_, i) => picked[i]).ToArray()
        from repeats in Gen.Int[0, reports.Length - 1].Array[0, 2 * reports.Length]
        let all = reports.Concat(repeats.Select(i => reports[i])).ToArray()
        from first in Gen.Shuffle(all.ToArray())
        from second in Gen.Shuffle(all.ToArray())
        select (reports, first, second);

    /// <summary>
    /// The single place that knows how the decision is called, so a change of how the processor stores its
    /// state changes only this. A new order is stored as CREATED once WeChat accepted the create.
    /// </summary>
    private static (string State, string? Description, string? Collection, long? Total, long? Paid, string? Transaction) Run(IEnumerable<PayScoreServiceOrder> reports)
    {
        var order = new PayScoreOrderEntity { PartitionKey = "PS1", State = PayScoreStates.Created };
        var rank = PayScoreLifecycle.Rank(order);
        foreach (var report in reports)
        {
            PayScoreLifecycle.Decide(order, report);
            Assert.True(PayScoreLifecycle.Rank(order) >= rank, $"{report.State}/{report.StateDescription} moved the order back");
            rank = PayScoreLifecycle.Rank(order);
        }

        return (order.State, Empty(order.StateDescription), Empty(order.CollectionState), order.TotalAmount, order.PaidAmount, order.TransactionId);
    }

    private static string? Empty(string? s) => string.IsNullOrEmpty(s) ? null : s;

    [Fact]
    public void Any_order_and_multiplicity_of_reports_ends_at_the_furthest_state_reported() =>
        Orderings.Sample(t =>
        {
            var (reports, first, second) = t;
            var inOrder = Run(reports);
            var furthest = reports.MaxBy(PayScoreLifecycle.Rank)!;

            Assert.Equal(inOrder, Run(first));
            Assert.Equal(inOrder, Run(second));
            Assert.Equal(furthest.State, inOrder.State);
            Assert.Equal(furthest.StateDescription, inOrder.Description);
            Assert.Equal(furthest.Collection?.State, inOrder.Collection);
            Assert.Equal(furthest.TotalAmount, inOrder.Total);
            Assert.Equal(furthest.Collection?.PaidAmount, inOrder.Paid);
            Assert.Equal(furthest.Collection?.Details is { Count: > 0 } details ? details[details.Count - 1].TransactionId : null, inOrder.Transaction);
        }, iter: 2000, print: t => string.Join(" | ", t.First.Select(r => $"{r.State}/{r.StateDescription}/{r.Collection?.State}")));

    [Fact]
    public void Nothing_leaves_a_final_state_and_an_unknown_state_changes_nothing() =>
        Gen.Select(Lives, Gen.OneOf("", "UNKNOWN", "done", "DOING ")).Sample((life, unknown) =>
        {
            var final = life[^1];
            var end = Run([final]);
            Assert.Equal(end, Run([final, .. life, new PayScoreServiceOrder { OutOrderNo = "PS1", State = unknown }, .. life.Reverse()]));
        });
}
