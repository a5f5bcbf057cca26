using System.Collections.Concurrent;
using System.Globalization;

namespace PaymentFunctions.Fakes.Pyun;

/// <summary>One prepared trade as the fake P云 remembers it.</summary>
public sealed class FakeTrade
{
    public required string PayId { get; init; }
    public required string PayOrder { get; init; }
    public required long Value { get; init; }
    public required string NotifyUrl { get; init; }
    public required string TradeScene { get; init; }
    public required string Extra { get; init; }
    public required string Subject { get; init; }
    public DateTimeOffset ExpireTime { get; init; }
    public string? Payer { get; init; }
    /// <summary>0 unpaid or paying, 1 paid, -1 failed: what trade query answers.</summary>
    public int Status { get; set; }
    public long PaidValue { get; set; }
    public string? PaySerial { get; set; }
    public string? TradeNo { get; set; }
    public DateTimeOffset? TradeTime { get; set; }
    public string Channel { get; set; } = "200201";
}

public enum QueryLayout
{
    /// <summary>The documented layout: business fields at the top level.</summary>
    Flat,
    /// <summary>The newer layout: business fields inside <c>payload</c>, numbers as strings.</summary>
    Payload,
}

/// <summary>The fake P云's memory and knobs. Thread-safe: tests drive it concurrently.</summary>
public sealed class FakePyunState(string appId, string appSecret, string merchant)
{
    public string AppId { get; } = appId;
    public string AppSecret { get; } = appSecret;
    public string Merchant { get; } = merchant;

    public ConcurrentDictionary<string, FakeTrade> TradesByPayOrder { get; } = new(StringComparer.Ordinal);
    public ConcurrentDictionary<string, FakeTrade> TradesByPayId { get; } = new(StringComparer.Ordinal);

    /// <summary>Every prepare request as received (form fields), for tests to inspect.</summary>
    public ConcurrentQueue<IReadOnlyDictionary<string, string>> PrepareRequests { get; } = new();
    public ConcurrentQueue<IReadOnlyDictionary<string, string>> QueryRequests { get; } = new();

    public QueryLayout QueryLayout { get; set; } = QueryLayout.Flat;

    /// <summary>P云's clock: trade times are read from it, so tests can pin it to the app's.</summary>
    public TimeProvider Clock { get; set; } = TimeProvider.System;

    /// <summary>When set, the next prepare answers this P云 code instead of creating a trade.</summary>
    public string? FailNextPrepareWithCode { get; set; }

    private long _sequence = 1_000_000;
    private Action<Dictionary<string, object?>>? _tamperNextQuery;
    private int _padNextAnswer;

    /// <summary>
    /// Error injection for the next trade query answer (code 1001): edits its business fields (remove one, change
    /// pay_order, write trade_time without an offset, …) before the layout is applied.
    /// </summary>
    public void TamperNextQueryAnswer(Action<Dictionary<string, object?>> tamper) => Volatile.Write(ref _tamperNextQuery, tamper);

    internal Action<Dictionary<string, object?>>? TakeQueryTamper() => Interlocked.Exchange(ref _tamperNextQuery, null);

    /// <summary>The next prepare or query answer carries a "padding" field of this many characters (an oversize answer).</summary>
    public void PadNextAnswer(int characters) => Volatile.Write(ref _padNextAnswer, characters);

    internal int TakePadding() => Interlocked.Exchange(ref _padNextAnswer, 0);

    /// <summary>Refund create and query: the ledger, counters and error injection.</summary>
    public FakePyunRefunds Refunds => LazyInitializer.EnsureInitialized(ref _refunds, () => new FakePyunRefunds(this));

    private FakePyunRefunds? _refunds;

    /// <summary>A trade paid (status 1) without the prepare and pay steps, e.g. for a payment to refund.</summary>
    public FakeTrade AddPaidTrade(long value, string? payOrder = null)
    {
        var trade = new FakeTrade
        {
            PayId = NextId("6217"),
            PayOrder = payOrder ?? NextId("P"),
            Value = value,
            NotifyUrl = "",
            TradeScene = "GENERIC",
            Extra = "{}",
            Subject = "停车支付",
            Status = 1,
            PaidValue = value,
            PaySerial = NextId("5030"),
            TradeNo = NextId("4200"),
            TradeTime = Clock.GetUtcNow(),
        };
        if (!TradesByPayOrder.TryAdd(trade.PayOrder, trade))
        {
            throw new InvalidOperationException($"A trade with pay_order {trade.PayOrder} exists.");
        }

        TradesByPayId[trade.PayId] = trade;
        return trade;
    }

    public string NextId(string prefix) =>
        prefix + Clock.GetUtcNow().ToString("yyyyMMdd", CultureInfo.InvariantCulture) + Interlocked.Increment(ref _sequence).ToString(CultureInfo.InvariantCulture);
}
