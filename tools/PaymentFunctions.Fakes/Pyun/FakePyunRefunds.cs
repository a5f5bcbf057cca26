using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using PaymentFunctions.Pyun;

namespace PaymentFunctions.Fakes.Pyun;

/// <summary>One refund as the fake P云 remembers it, keyed by the merchant's refund number (<c>order</c>).</summary>
public sealed class FakeRefund
{
    public required string Order { get; init; }
    public required string PaySerial { get; init; }
    public required long Value { get; init; }
    public string? Reason { get; init; }
    public required string RefundOrder { get; init; }
    public required string RefundSerial { get; init; }
    public required DateTimeOffset CreateTime { get; init; }

    /// <summary>0 refunding, 1 succeeded, -1 failed: what refund query answers.</summary>
    public int Process { get; set; }

    /// <summary>When it ended (process 1 or -1).</summary>
    public DateTimeOffset? RefundTime { get; set; }

    /// <summary>How it ends once its queries while refunding are used up: 1 or -1.</summary>
    public int EndProcess { get; set; } = 1;

    /// <summary>Refund queries left that still answer process 0.</summary>
    public int QueriesLeftRefunding { get; set; }
}

/// <summary>A refund create as it arrived: the raw body bytes and the headers the signature rides on.</summary>
public sealed record FakeRefundCreateRequest(string Path, string? Authorization, string? ContentType, byte[] Body)
{
    public string BodyText => Encoding.UTF8.GetString(Body);
}

/// <summary>What the fake P云 does with the next refund create or query instead of answering normally.</summary>
public enum FakeRefundFault
{
    None,

    /// <summary>Create: code 1003, refundable balance insufficient. Nothing is created.</summary>
    InsufficientBalance,

    /// <summary>Create or query: code 1403, no refund permission / app not authorized. Nothing is created.</summary>
    NotPermitted,

    /// <summary>Create: code 1405 "[INVALID_REQUEST]订单已全额退款". Nothing is created.</summary>
    AlreadyRefunded,

    /// <summary>Create: code 400; query: code 1400. Nothing is created.</summary>
    ParameterError,

    /// <summary>Create or query: code 500 "处理异常", a code the refund pages do not list. Nothing is created.</summary>
    UnknownCode,

    /// <summary>Create or query: HTTP 200 with an HTML page. Nothing is created.</summary>
    NotJson,

    /// <summary>Create or query: HTTP 500 before anything is done.</summary>
    Http500,

    /// <summary>Create or query: no answer for <see cref="FakePyunRefunds.HangFor"/> (the caller times out first). Nothing is created.</summary>
    Hang,

    /// <summary>Create: the refund IS created, but the answer is HTTP 500.</summary>
    Http500AfterCreate,

    /// <summary>Create: accepted (1001) as usual, but the refund ends with process -1 (failed) and its balance is released.</summary>
    EndsFailed,
}

/// <summary>
/// The fake P云's refund ledger and knobs (P云 开放平台 发起订单退款 / 退款订单查询). Refundable balance per pay_serial comes
/// from the paid trades the fake itself recorded. Thread-safe.
/// </summary>
public sealed class FakePyunRefunds(FakePyunState state)
{
    private readonly Lock _ledger = new();
    private readonly ConcurrentDictionary<string, int> _createsByOrder = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _queriesByOrder = new(StringComparer.Ordinal);
    private int _creates;
    private int _queries;
    private int _signatureFailures;
    private int _nextCreateFault;
    private int _nextQueryFault;
    private string? _nextFaultMessage;
    private Action<Dictionary<string, object?>>? _tamperNextCreate;
    private Action<Dictionary<string, object?>>? _tamperNextQuery;

    public ConcurrentDictionary<string, FakeRefund> ByOrder { get; } = new(StringComparer.Ordinal);

    /// <summary>Every refund create as received (signed or not), in order.</summary>
    public ConcurrentQueue<FakeRefundCreateRequest> CreateRequests { get; } = new();

    /// <summary>Every refund query as received (query-string fields).</summary>
    public ConcurrentQueue<IReadOnlyDictionary<string, string>> QueryRequests { get; } = new();

    /// <summary>Refund creates received, whatever became of them.</summary>
    public int CreatesReceived => Volatile.Read(ref _creates);

    public int QueriesReceived => Volatile.Read(ref _queries);

    /// <summary>Refund creates and queries refused for a missing or wrong signature (nothing was done for them).</summary>
    public int SignatureFailures => Volatile.Read(ref _signatureFailures);

    /// <summary>Refund creates received whose body named this <c>order</c> (signed or not).</summary>
    public int CreatesFor(string order) => _createsByOrder.GetValueOrDefault(order);

    public int QueriesFor(string order) => _queriesByOrder.GetValueOrDefault(order);

    /// <summary>How many refund queries a new refund answers process 0 before it ends; 0: the first query already sees it ended.</summary>
    public int QueriesWhileRefunding { get; set; }

    /// <summary>How long <see cref="FakeRefundFault.Hang"/> keeps a request waiting (or until the caller gives up).</summary>
    public TimeSpan HangFor { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The next refund create (one that passed the signature check) meets <paramref name="fault"/>; a fault answered
    /// with a P云 code carries <paramref name="message"/> instead of P云's usual text when one is given.
    /// </summary>
    public void FailNextCreate(FakeRefundFault fault, string? message = null)
    {
        Volatile.Write(ref _nextFaultMessage, message);
        Volatile.Write(ref _nextCreateFault, (int)fault);
    }

    /// <summary>The next refund query (one that passed the signature check) meets <paramref name="fault"/>.</summary>
    /// <exception cref="ArgumentException">A fault only a create can meet.</exception>
    public void FailNextQuery(FakeRefundFault fault, string? message = null)
    {
        if (fault is FakeRefundFault.InsufficientBalance or FakeRefundFault.AlreadyRefunded or FakeRefundFault.Http500AfterCreate or FakeRefundFault.EndsFailed)
        {
            throw new ArgumentException($"{fault} applies to refund create only.", nameof(fault));
        }

        Volatile.Write(ref _nextFaultMessage, message);
        Volatile.Write(ref _nextQueryFault, (int)fault);
    }

    /// <summary>Edits the <c>payload</c> of the next 1001 refund create answer (remove a field, change pay_serial, …).</summary>
    public void TamperNextCreateAnswer(Action<Dictionary<string, object?>> tamper) => Volatile.Write(ref _tamperNextCreate, tamper);

    /// <summary>Edits the <c>payload</c> of the next 1001 refund query answer (another order, no process, …).</summary>
    public void TamperNextQueryAnswer(Action<Dictionary<string, object?>> tamper) => Volatile.Write(ref _tamperNextQuery, tamper);

    /// <summary>Ends a refund now (1 succeeded, -1 failed), whatever queries it had left.</summary>
    public FakeRefund Settle(string order, int process)
    {
        if (process is not (1 or -1))
        {
            throw new ArgumentOutOfRangeException(nameof(process), "A refund ends with 1 (succeeded) or -1 (failed).");
        }

        var refund = ByOrder[order];
        lock (_ledger)
        {
            refund.Process = process;
            refund.RefundTime = state.Clock.GetUtcNow();
        }

        return refund;
    }

    /// <summary>What can still be refunded of a paid trade: paid minus every refund not failed; null for a pay_serial no paid trade has.</summary>
    public long? RefundableBalance(string paySerial)
    {
        lock (_ledger)
        {
            return BalanceLocked(paySerial);
        }
    }

    internal FakeRefundFault TakeCreateFault() => (FakeRefundFault)Interlocked.Exchange(ref _nextCreateFault, 0);

    internal FakeRefundFault TakeQueryFault() => (FakeRefundFault)Interlocked.Exchange(ref _nextQueryFault, 0);

    internal string? TakeFaultMessage() => Interlocked.Exchange(ref _nextFaultMessage, null);

    internal Action<Dictionary<string, object?>>? TakeCreateTamper() => Interlocked.Exchange(ref _tamperNextCreate, null);

    internal Action<Dictionary<string, object?>>? TakeQueryTamper() => Interlocked.Exchange(ref _tamperNextQuery, null);

    internal void CountCreate(FakeRefundCreateRequest request, string? order)
    {
        Interlocked.Increment(ref _creates);
        CreateRequests.Enqueue(request);
        if (order is not null)
        {
            _createsByOrder.AddOrUpdate(order, 1, (_, n) => n + 1);
        }
    }

    internal void CountQuery(IReadOnlyDictionary<string, string> fields)
    {
        Interlocked.Increment(ref _queries);
        QueryRequests.Enqueue(fields);
        if (fields.GetValueOrDefault("order") is { } order)
        {
            _queriesByOrder.AddOrUpdate(order, 1, (_, n) => n + 1);
        }
    }

    internal void CountSignatureFailure() => Interlocked.Increment(ref _signatureFailures);

    internal bool AuthorizationMatches(byte[] body, string? authorization) =>
        PyunSignature.VerifyJson(body, authorization, state.AppSecret);

    /// <summary>The ledger's decision on one signed, well-formed create: an existing or new refund, or P云's refusal (code, message).</summary>
    internal (FakeRefund? Refund, string? Code, string? Message) Create(string order, string paySerial, long value, string? reason, bool endsFailed)
    {
        lock (_ledger)
        {
            if (ByOrder.TryGetValue(order, out var existing))
            {
                return existing.PaySerial == paySerial && existing.Value == value && existing.Reason == reason
                    ? (existing, null, null)
                    : (null, "1405", "[INVALID_REQUEST]退款单号已存在, 且退款参数不一致");
            }

            if (BalanceLocked(paySerial) is not { } balance)
            {
                return (null, "1403", "该订单无退款权限");
            }

            if (balance == 0)
            {
                return (null, "1405", "[INVALID_REQUEST]订单已全额退款");
            }

            if (value > balance)
            {
                return (null, "1003", string.Create(CultureInfo.InvariantCulture, $"可用退款余额不足, 退款金额={value / 100m:0.00}元, 可用余额={balance / 100m:0.00}元"));
            }

            var refund = new FakeRefund
            {
                Order = order,
                PaySerial = paySerial,
                Value = value,
                Reason = reason,
                RefundOrder = state.NextId("7010"),
                RefundSerial = state.NextId("5030"),
                CreateTime = state.Clock.GetUtcNow(),
                EndProcess = endsFailed ? -1 : 1,
                QueriesLeftRefunding = QueriesWhileRefunding,
            };
            ByOrder[order] = refund;
            return (refund, null, null);
        }
    }

    /// <summary>A refund query's view of the refund: one query used up while refunding, or the refund ends now.</summary>
    internal void AdvanceOnQuery(FakeRefund refund)
    {
        lock (_ledger)
        {
            if (refund.Process != 0)
            {
                return;
            }

            if (refund.QueriesLeftRefunding > 0)
            {
                refund.QueriesLeftRefunding--;
                return;
            }

            refund.Process = refund.EndProcess;
            refund.RefundTime = state.Clock.GetUtcNow();
        }
    }

    private long? BalanceLocked(string paySerial)
    {
        var paid = state.TradesByPayOrder.Values.Where(t => t.Status == 1 && t.PaySerial == paySerial).Select(t => (long?)t.PaidValue).FirstOrDefault();
        return paid is { } value
            ? value - ByOrder.Values.Where(r => r.PaySerial == paySerial && r.Process != -1).Sum(r => r.Value)
            : null;
    }
}
