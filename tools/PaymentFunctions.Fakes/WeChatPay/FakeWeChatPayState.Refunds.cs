using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using PaymentFunctions.WeChatPay;

namespace PaymentFunctions.Fakes.WeChatPay;

/// <summary>What the next refund create answers instead of the normal outcome (spec: wechatpay-refund §3.6, §9.1).</summary>
public enum FakeRefundFailure
{
    /// <summary>403 NOT_ENOUGH; nothing is created.</summary>
    NotEnough,

    /// <summary>400 INVALID_REQUEST; nothing is created.</summary>
    InvalidRequest,

    /// <summary>404 RESOURCE_NOT_EXISTS; nothing is created.</summary>
    ResourceNotExists,

    /// <summary>429 FREQUENCY_LIMITED; nothing is created.</summary>
    FrequencyLimited,

    /// <summary>500 SYSTEM_ERROR, but the refund IS created (what makes "query before resending" necessary).</summary>
    SystemErrorAfterCreate,

    /// <summary>The refund is created and no answer ever comes (the caller times out).</summary>
    Hang,
}

/// <summary>A refund callback the fake sent on its own (when a refund settled): its target's answer, or why there was none.</summary>
public sealed record FakeRefundCallbackSent(string OutRefundNo, string EventType, HttpStatusCode? Status, string? Error);

/// <summary>
/// Refunds of the deductions this fake made (USER_PAID orders' NEWTON <c>collection.details</c>, each with its <c>transaction_id</c>).
/// A refund is PROCESSING when created; it settles (to <see cref="RefundOutcome"/>) on its <see cref="RefundSettleAfterQueries"/>-th query,
/// after <see cref="RefundSettleDelay"/>, or by <see cref="SettleRefundAsync"/>; then a signed REFUND.* callback goes to its notify_url.
/// </summary>
public sealed partial class FakeWeChatPayState
{
    private readonly Dictionary<string, FakeRefund> _refunds = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _refundCreates = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<FakeRefundFailure> _refundFailures = new();
    private readonly ConcurrentBag<Task> _refundCallbackTasks = [];
    private readonly ConcurrentBag<ITimer> _refundTimers = [];

    /// <summary>A refund settles on this query (1: the first query already answers the final state; 0: never by queries).</summary>
    public int RefundSettleAfterQueries { get; set; } = 1;

    /// <summary>When set, a refund settles this long (on <see cref="Clock"/>) after it was created.</summary>
    public TimeSpan? RefundSettleDelay { get; set; }

    /// <summary>SUCCESS, CLOSED or ABNORMAL: where refunds settle unless <see cref="SettleRefundAsync"/> says otherwise.</summary>
    public string RefundOutcome { get; set; } = RefundStates.Success;

    /// <summary>Settling sends no callback (the merchant must find out by querying).</summary>
    public bool SuppressRefundCallbacks { get; set; }

    /// <summary>The client refund callbacks are sent with; without one, settling sends nothing.</summary>
    public Func<HttpClient>? CallbackHttp { get; set; }

    /// <summary>Every refund callback sent when a refund settled, in order.</summary>
    public ConcurrentQueue<FakeRefundCallbackSent> RefundCallbacks { get; } = new();

    /// <summary>The next refund create (after its signature is checked) fails this way; calls queue up in order.</summary>
    public void FailNextRefundCreate(FakeRefundFailure failure) => _refundFailures.Enqueue(failure);

    /// <summary>How many create requests carried this <c>out_refund_no</c> (whatever they were answered).</summary>
    public int RefundCreateCount(string outRefundNo)
    {
        lock (_gate)
        {
            return _refundCreates.GetValueOrDefault(outRefundNo);
        }
    }

    public bool HasRefund(string outRefundNo)
    {
        lock (_gate)
        {
            return _refunds.ContainsKey(outRefundNo);
        }
    }

    /// <summary>A copy of the refund as a query would answer it.</summary>
    public JsonObject GetRefund(string outRefundNo)
    {
        lock (_gate)
        {
            return (JsonObject)FindRefund(outRefundNo).Data.DeepClone();
        }
    }

    /// <summary>
    /// Settles a PROCESSING refund to <paramref name="outcome"/> (default <see cref="RefundOutcome"/>) and sends its callback to the refund's
    /// notify_url unless suppressed; returns the target's status (null when nothing was sent). An ABNORMAL refund may settle again.
    /// </summary>
    public async Task<HttpStatusCode?> SettleRefundAsync(string outRefundNo, string? outcome = null, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            var refund = FindRefund(outRefundNo);
            var status = Text(refund.Data, "status");
            if (status is not (RefundStates.Processing or RefundStates.Abnormal))
            {
                throw new InvalidOperationException($"Refund {outRefundNo} is {status}; only a PROCESSING or ABNORMAL refund settles.");
            }

            Settle(refund, outcome ?? RefundOutcome);
        }

        return await SendRefundCallbackAsync(outRefundNo, cancellationToken);
    }

    /// <summary>The signed REFUND.* callback for the refund's current (settled) state.</summary>
    public FakeWeChatPayCallback BuildRefundCallback(string outRefundNo)
    {
        string plaintext;
        string status;
        lock (_gate)
        {
            var refund = FindRefund(outRefundNo);
            status = Text(refund.Data, "status")!;
            if (status == RefundStates.Processing)
            {
                throw new InvalidOperationException($"Refund {outRefundNo} is PROCESSING; WeChat sends no callback for that.");
            }

            var data = refund.Data;
            var resource = new JsonObject();
            if (refund.SubMchId is null)
            {
                resource["mchid"] = MchId;
            }
            else
            {
                resource["sp_mchid"] = MchId;
                resource["sub_mchid"] = refund.SubMchId;
            }

            foreach (var name in (string[])["out_trade_no", "transaction_id", "out_refund_no", "refund_id"])
            {
                resource[name] = data[name]?.DeepClone();
            }

            resource["refund_status"] = status;
            if (data["success_time"] is { } successTime)
            {
                resource["success_time"] = successTime.DeepClone();
            }

            resource["user_received_account"] = data["user_received_account"]?.DeepClone();
            var amount = data["amount"]!;
            resource["amount"] = new JsonObject
            {
                ["total"] = amount["total"]!.DeepClone(),
                ["refund"] = amount["refund"]!.DeepClone(),
                ["payer_total"] = amount["payer_total"]!.DeepClone(),
                ["payer_refund"] = amount["payer_refund"]!.DeepClone(),
            };
            plaintext = resource.ToJsonString(Json);
        }

        var (eventType, summary) = status switch
        {
            RefundStates.Success => (RefundStates.SuccessEvent, "退款成功"),
            RefundStates.Closed => (RefundStates.ClosedEvent, "退款关闭"),
            _ => (RefundStates.AbnormalEvent, "退款异常"),
        };
        return BuildEnvelope(eventType, summary, RefundStates.ResourceType, plaintext);
    }

    /// <summary>Waits for the callbacks that settling refunds started in the background.</summary>
    public Task WhenRefundCallbacksSentAsync() => Task.WhenAll(_refundCallbackTasks);

    internal bool TryTakeRefundFailure(out FakeRefundFailure failure) => _refundFailures.TryDequeue(out failure);

    internal void CountRefundCreate(string outRefundNo)
    {
        lock (_gate)
        {
            _refundCreates[outRefundNo] = _refundCreates.GetValueOrDefault(outRefundNo) + 1;
        }
    }

    /// <summary>The NEWTON deduction with this transaction_id: its order and amount, or null.</summary>
    internal (FakeOrder Order, long Amount)? FindDeduction(string transactionId)
    {
        foreach (var order in _orders.Values)
        {
            if (order.Data["collection"]?["details"] is not JsonArray details)
            {
                continue;
            }

            foreach (var detail in details.OfType<JsonObject>())
            {
                if (Text(detail, "transaction_id") == transactionId && Text(detail, "paid_type") == "NEWTON")
                {
                    return (order, detail["amount"]!.GetValue<long>());
                }
            }
        }

        return null;
    }

    internal T WithRefunds<T>(Func<Dictionary<string, FakeRefund>, T> action)
    {
        lock (_gate)
        {
            return action(_refunds);
        }
    }

    /// <summary>Called with the gate held: a query reached a refund; it may settle now (its callback then goes out in the background).</summary>
    internal void OnRefundQueried(FakeRefund refund)
    {
        refund.Queries++;
        if (RefundSettleAfterQueries > 0 && refund.Queries >= RefundSettleAfterQueries && Text(refund.Data, "status") == RefundStates.Processing)
        {
            Settle(refund, RefundOutcome);
            StartCallback(Text(refund.Data, "out_refund_no")!);
        }
    }

    /// <summary>Called with the gate held, once per new refund.</summary>
    internal void OnRefundCreated(FakeRefund refund)
    {
        if (RefundSettleDelay is not { } delay)
        {
            return;
        }

        var outRefundNo = Text(refund.Data, "out_refund_no")!;
        _refundTimers.Add(Clock.CreateTimer(_ =>
        {
            lock (_gate)
            {
                if (Text(refund.Data, "status") != RefundStates.Processing)
                {
                    return;
                }

                Settle(refund, RefundOutcome);
            }

            StartCallback(outRefundNo);
        }, null, delay, Timeout.InfiniteTimeSpan));
    }

    internal string NowChinaTime() => ChinaTime(Clock.GetUtcNow()).ToString("yyyy-MM-dd'T'HH:mm:ss'+08:00'", CultureInfo.InvariantCulture);

    private void Settle(FakeRefund refund, string outcome)
    {
        if (outcome is not (RefundStates.Success or RefundStates.Closed or RefundStates.Abnormal))
        {
            throw new ArgumentException("A refund settles to SUCCESS, CLOSED or ABNORMAL.", nameof(outcome));
        }

        refund.Data["status"] = outcome;
        if (outcome == RefundStates.Success)
        {
            refund.Data["success_time"] = NowChinaTime();
        }
        else if (outcome == RefundStates.Abnormal)
        {
            refund.Data["user_received_account"] = "招商银行信用卡0403";
        }
    }

    private void StartCallback(string outRefundNo) =>
        _refundCallbackTasks.Add(Task.Run(() => SendRefundCallbackAsync(outRefundNo, CancellationToken.None)));

    private async Task<HttpStatusCode?> SendRefundCallbackAsync(string outRefundNo, CancellationToken cancellationToken)
    {
        var http = CallbackHttp;
        if (SuppressRefundCallbacks || http is null)
        {
            return null;
        }

        var callback = BuildRefundCallback(outRefundNo);
        var eventType = System.Text.Json.JsonDocument.Parse(callback.Body).RootElement.GetProperty("event_type").GetString()!;
        Uri notifyUrl;
        lock (_gate)
        {
            notifyUrl = new Uri(FindRefund(outRefundNo).NotifyUrl);
        }

        try
        {
            var status = await PostAsync(callback, notifyUrl, http(), cancellationToken);
            RefundCallbacks.Enqueue(new FakeRefundCallbackSent(outRefundNo, eventType, status, null));
            return status;
        }
        catch (HttpRequestException ex)
        {
            RefundCallbacks.Enqueue(new FakeRefundCallbackSent(outRefundNo, eventType, null, ex.Message));
            return null;
        }
    }

    private void DisposeRefundTimers()
    {
        foreach (var timer in _refundTimers)
        {
            timer.Dispose();
        }
    }

    private FakeRefund FindRefund(string outRefundNo) =>
        _refunds.TryGetValue(outRefundNo, out var refund) ? refund : throw new KeyNotFoundException($"The fake has no refund {outRefundNo}.");
}

/// <summary>One refund: what a query answers, plus what idempotency and the callback need.</summary>
internal sealed class FakeRefund(JsonObject data, string createBody, string transactionId, string notifyUrl, string? subMchId)
{
    public JsonObject Data { get; } = data;

    /// <summary>The create body: the same <c>out_refund_no</c> with the same body answers this refund again, another body is refused.</summary>
    public string CreateBody { get; } = createBody;

    public string TransactionId { get; } = transactionId;
    public string NotifyUrl { get; } = notifyUrl;

    /// <summary>Set in partner mode.</summary>
    public string? SubMchId { get; } = subMchId;

    public int Queries { get; set; }
}
