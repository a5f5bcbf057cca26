using System.Text;
using PaymentFunctions.Fakes.Pyun;
using PaymentFunctions.Pyun;

namespace PaymentFunctions.Tests.Pyun;

/// <summary>
/// P云 refund create and refund query, the real client against the fake P云 over loopback: what goes on the wire
/// (one JSON text, signed as sent), and how every kind of answer is classified: accepted, found, not found, refused
/// for good, or thrown because nobody can tell whether P云 acted.
/// </summary>
public sealed class RefundProtocolTests(RefundFakePyun pyun) : IClassFixture<RefundFakePyun>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string NewOrder() => "R" + Guid.NewGuid().ToString("N")[..20];

    /// <summary>A payment the fake P云 recorded, and a refund request for part or all of it.</summary>
    private PyunRefundRequest Refundable(long paid = 2500, long? refund = null, string? reason = null)
    {
        var trade = pyun.State.AddPaidTrade(paid);
        return new PyunRefundRequest(NewOrder(), trade.PaySerial!, refund ?? paid, reason);
    }

    [Fact]
    public async Task The_body_is_one_JSON_text_with_Chinese_unescaped_and_the_Authorization_is_the_sign_of_exactly_those_bytes()
    {
        var request = Refundable(reason: "接口测试退款 \"车牌\" 川A12345 & =");

        var answer = await pyun.Client().CreateRefundAsync(request, Ct);

        Assert.Equal(PyunRefundAnswerKind.Accepted, answer.Kind);
        var sent = pyun.Refunds.CreateRequests.Single(r => r.BodyText.Contains(request.Order, StringComparison.Ordinal));
        var expected = $"{{\"app_id\":\"{RefundFakePyun.AppId}\",\"order\":\"{request.Order}\",\"pay_serial\":\"{request.PaySerial}\",\"value\":\"2500\",\"reason\":\"接口测试退款 \\\"车牌\\\" 川A12345 & =\"}}";
        Assert.Equal(Encoding.UTF8.GetBytes(expected), sent.Body);
        Assert.Equal(PyunSignature.SignJson(expected, RefundFakePyun.AppSecret), sent.Authorization);
        Assert.Equal("application/json;charset=utf-8", sent.ContentType);
        Assert.Equal(PyunOptions.DefaultRefundPath, sent.Path);
        Assert.Equal(1, pyun.Refunds.CreatesFor(request.Order));
        Assert.Equal("接口测试退款 \"车牌\" 川A12345 & =", pyun.Refunds.ByOrder[request.Order].Reason);
    }

    [Fact]
    public async Task Without_a_reason_the_field_is_left_out_and_the_amount_is_a_string_of_fen_beyond_int_range()
    {
        var request = Refundable(paid: 3_000_000_000L, refund: 2_500_000_000L, reason: "");

        var answer = await pyun.Client().CreateRefundAsync(request, Ct);

        Assert.Equal(PyunRefundAnswerKind.Accepted, answer.Kind);
        Assert.Equal(2_500_000_000L, answer.Value);
        var body = pyun.Refunds.CreateRequests.Single(r => r.BodyText.Contains(request.Order, StringComparison.Ordinal)).BodyText;
        Assert.Contains("\"value\":\"2500000000\"", body, StringComparison.Ordinal);
        Assert.DoesNotContain("reason", body, StringComparison.Ordinal);
        Assert.Equal(500_000_000L, pyun.Refunds.RefundableBalance(request.PaySerial));

        var query = await pyun.Client().QueryRefundAsync(request.Order, Ct);
        Assert.Equal(2_500_000_000L, query.Value);
    }

    [Fact]
    public async Task An_accepted_refund_carries_P云s_numbers_and_time()
    {
        var request = Refundable();

        var answer = await pyun.Client().CreateRefundAsync(request, Ct);

        var refund = pyun.Refunds.ByOrder[request.Order];
        Assert.Equal(new PyunRefundAnswer(PyunRefundAnswerKind.Accepted, "1001", null, null, refund.RefundOrder, refund.RefundSerial,
            new DateTimeOffset(refund.CreateTime.UtcDateTime.Ticks / TimeSpan.TicksPerMillisecond * TimeSpan.TicksPerMillisecond, TimeSpan.Zero),
            2500, request.PaySerial), answer);
    }

    [Fact]
    public async Task The_alias_path_from_P云s_sample_code_works_when_configured()
    {
        var request = Refundable();
        var client = pyun.Client(refundPath: FakePyun.RefundAliasPath);

        Assert.Equal(PyunRefundAnswerKind.Accepted, (await client.CreateRefundAsync(request, Ct)).Kind);
        Assert.Equal(PyunRefundAnswerKind.Found, (await client.QueryRefundAsync(request.Order, Ct)).Kind);
        Assert.Equal(FakePyun.RefundAliasPath, pyun.Refunds.CreateRequests.Single(r => r.BodyText.Contains(request.Order, StringComparison.Ordinal)).Path);
    }

    [Fact]
    public async Task Another_secret_is_refused_by_the_fake_and_nothing_is_refunded()
    {
        var request = Refundable();
        var failures = pyun.Refunds.SignatureFailures;
        var client = pyun.Client(secret: RefundFakePyun.AppSecret + "x");

        var created = await client.CreateRefundAsync(request, Ct);
        var queried = await client.QueryRefundAsync(request.Order, Ct);

        Assert.Equal((PyunRefundAnswerKind.Refused, "400"), (created.Kind, created.Code));
        Assert.Equal((PyunRefundAnswerKind.Refused, "1400"), (queried.Kind, queried.Code));
        Assert.Equal(failures + 2, pyun.Refunds.SignatureFailures);
        Assert.Equal(1, pyun.Refunds.CreatesFor(request.Order));
        Assert.False(pyun.Refunds.ByOrder.ContainsKey(request.Order));
        Assert.Equal(2500, pyun.Refunds.RefundableBalance(request.PaySerial));
    }

    [Theory]
    [InlineData(FakeRefundFault.InsufficientBalance, "1003")]
    [InlineData(FakeRefundFault.NotPermitted, "1403")]
    [InlineData(FakeRefundFault.AlreadyRefunded, "1405")]
    [InlineData(FakeRefundFault.ParameterError, "400")]
    public async Task Definite_refusals_of_a_create_are_answers_with_P云s_code_and_message(FakeRefundFault fault, string code)
    {
        var request = Refundable();
        pyun.Refunds.FailNextCreate(fault);

        var answer = await pyun.Client().CreateRefundAsync(request, Ct);

        Assert.Equal(PyunRefundAnswerKind.Refused, answer.Kind);
        Assert.Equal(code, answer.Code);
        Assert.False(string.IsNullOrEmpty(answer.Message));
        Assert.Null(answer.Process);
        Assert.False(pyun.Refunds.ByOrder.ContainsKey(request.Order));
    }

    [Fact]
    public async Task The_fakes_own_ledger_refuses_what_P云_would()
    {
        var client = pyun.Client();
        var tooMuch = Refundable(paid: 100, refund: 101);
        var unknown = new PyunRefundRequest(NewOrder(), "5030999999999", 1, null);
        var first = Refundable(paid: 100, refund: 60);
        var second = first with { Order = NewOrder(), Value = 40 };
        var third = first with { Order = NewOrder(), Value = 1 };

        Assert.Equal("1003", (await client.CreateRefundAsync(tooMuch, Ct)).Code);
        Assert.Equal("1403", (await client.CreateRefundAsync(unknown, Ct)).Code);
        Assert.Equal(PyunRefundAnswerKind.Accepted, (await client.CreateRefundAsync(first, Ct)).Kind);
        Assert.Equal(PyunRefundAnswerKind.Accepted, (await client.CreateRefundAsync(second, Ct)).Kind);
        var full = await client.CreateRefundAsync(third, Ct);

        Assert.Equal((PyunRefundAnswerKind.Refused, "1405"), (full.Kind, full.Code));
        Assert.Contains("全额退款", full.Message, StringComparison.Ordinal);
        Assert.Equal(0, pyun.Refunds.RefundableBalance(first.PaySerial));
    }

    [Fact]
    public async Task The_same_order_again_is_the_same_refund_and_with_other_fields_a_refusal()
    {
        var client = pyun.Client();
        var request = Refundable(paid: 1000, refund: 300, reason: "超时支付");

        var first = await client.CreateRefundAsync(request, Ct);
        var again = await client.CreateRefundAsync(request, Ct);
        var changed = await client.CreateRefundAsync(request with { Value = 301 }, Ct);

        Assert.Equal(first, again);
        Assert.Equal((PyunRefundAnswerKind.Refused, "1405"), (changed.Kind, changed.Code));
        Assert.Equal(3, pyun.Refunds.CreatesFor(request.Order));
        Assert.Equal(700, pyun.Refunds.RefundableBalance(request.PaySerial));
    }

    [Theory]
    [InlineData(FakeRefundFault.UnknownCode)]
    [InlineData(FakeRefundFault.NotJson)]
    [InlineData(FakeRefundFault.Http500)]
    [InlineData(FakeRefundFault.Hang)]
    public async Task A_create_without_a_definite_answer_throws_and_nothing_was_refunded(FakeRefundFault fault)
    {
        var request = Refundable();
        pyun.Refunds.FailNextCreate(fault);

        var ex = await Assert.ThrowsAsync<PyunException>(() => pyun.Client(timeout: TimeSpan.FromMilliseconds(500)).CreateRefundAsync(request, Ct));

        Assert.StartsWith("P云 refund create ", ex.Message, StringComparison.Ordinal);
        Assert.Equal(1, pyun.Refunds.CreatesFor(request.Order));
        Assert.False(pyun.Refunds.ByOrder.ContainsKey(request.Order));
    }

    [Fact]
    public async Task A_500_after_the_refund_was_made_throws_and_sending_the_same_order_again_finds_that_refund()
    {
        var client = pyun.Client();
        var request = Refundable();
        pyun.Refunds.FailNextCreate(FakeRefundFault.Http500AfterCreate);

        await Assert.ThrowsAsync<PyunException>(() => client.CreateRefundAsync(request, Ct));
        Assert.True(pyun.Refunds.ByOrder.ContainsKey(request.Order));

        var again = await client.CreateRefundAsync(request, Ct);
        var query = await client.QueryRefundAsync(request.Order, Ct);

        Assert.Equal(PyunRefundAnswerKind.Accepted, again.Kind);
        Assert.Equal(pyun.Refunds.ByOrder[request.Order].RefundSerial, again.RefundSerial);
        Assert.Equal((PyunRefundAnswerKind.Found, PyunRefundProcess.Succeeded), (query.Kind, query.Process));
        Assert.Equal(0, pyun.Refunds.RefundableBalance(request.PaySerial));
    }

    [Fact]
    public async Task A_create_answer_about_another_payment_or_with_an_unreadable_time_throws()
    {
        var client = pyun.Client();
        var other = Refundable();
        pyun.Refunds.TamperNextCreateAnswer(p => p["pay_serial"] = "5030000000000000001");
        var ex = await Assert.ThrowsAsync<PyunException>(() => client.CreateRefundAsync(other, Ct));
        Assert.Contains("cannot read", ex.Message, StringComparison.Ordinal);

        var badTime = Refundable();
        pyun.Refunds.TamperNextCreateAnswer(p => p["refund_time"] = "2022-07-24 16:46:09");
        await Assert.ThrowsAsync<PyunException>(() => client.CreateRefundAsync(badTime, Ct));

        // Absent fields P云 may leave out are fine.
        var sparse = Refundable();
        pyun.Refunds.TamperNextCreateAnswer(p =>
        {
            p.Remove("pay_serial");
            p.Remove("refund_time");
        });
        var answer = await client.CreateRefundAsync(sparse, Ct);
        Assert.Equal((PyunRefundAnswerKind.Accepted, null, sparse.PaySerial), (answer.Kind, answer.RefundTime, answer.PaySerial));
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(-1L)]
    public async Task A_refund_of_no_money_is_refused_before_anything_is_sent(long value)
    {
        var before = pyun.Refunds.CreatesReceived;
        var request = Refundable() with { Value = value };

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => pyun.Client().CreateRefundAsync(request, Ct));
        Assert.Equal(before, pyun.Refunds.CreatesReceived);
    }

    [Theory]
    [InlineData("R1&value=1")]
    [InlineData("R1=2")]
    [InlineData("")]
    public async Task A_refund_number_refund_query_could_not_sign_is_refused_before_anything_is_sent(string order)
    {
        var before = pyun.Refunds.CreatesReceived;
        var request = Refundable() with { Order = order };

        await Assert.ThrowsAnyAsync<ArgumentException>(() => pyun.Client().CreateRefundAsync(request, Ct));
        Assert.Equal(before, pyun.Refunds.CreatesReceived);
    }

    [Fact]
    public async Task A_query_follows_the_refund_from_refunding_to_succeeded()
    {
        var client = pyun.Client();
        var request = Refundable(paid: 900, refund: 900, reason: "退款");
        pyun.Refunds.QueriesWhileRefunding = 2;
        try
        {
            await client.CreateRefundAsync(request, Ct);
        }
        finally
        {
            pyun.Refunds.QueriesWhileRefunding = 0;
        }

        var refund = pyun.Refunds.ByOrder[request.Order];
        Assert.Equal(PyunRefundProcess.Refunding, (await client.QueryRefundAsync(request.Order, Ct)).Process);
        Assert.Equal(PyunRefundProcess.Refunding, (await client.QueryRefundAsync(request.Order, Ct)).Process);
        var done = await client.QueryRefundAsync(request.Order, Ct);

        Assert.Equal(new PyunRefundAnswer(PyunRefundAnswerKind.Found, "1001", null, PyunRefundProcess.Succeeded, refund.RefundOrder, refund.RefundSerial,
            done.RefundTime, 900, request.PaySerial), done);
        Assert.NotNull(done.RefundTime);
        Assert.Equal(3, pyun.Refunds.QueriesFor(request.Order));
    }

    [Fact]
    public async Task A_refund_that_fails_is_found_failed_and_its_money_is_refundable_again()
    {
        var client = pyun.Client();
        var request = Refundable();
        pyun.Refunds.FailNextCreate(FakeRefundFault.EndsFailed);

        Assert.Equal(PyunRefundAnswerKind.Accepted, (await client.CreateRefundAsync(request, Ct)).Kind);
        Assert.Equal(PyunRefundProcess.Failed, (await client.QueryRefundAsync(request.Order, Ct)).Process);
        Assert.Equal(2500, pyun.Refunds.RefundableBalance(request.PaySerial));
    }

    [Fact]
    public async Task A_refund_P云_never_heard_of_is_not_found()
    {
        var answer = await pyun.Client().QueryRefundAsync(NewOrder(), Ct);

        Assert.Equal((PyunRefundAnswerKind.NotFound, "1002"), (answer.Kind, answer.Code));
    }

    [Theory]
    [InlineData(FakeRefundFault.NotPermitted, "1403")]
    [InlineData(FakeRefundFault.ParameterError, "1400")]
    public async Task Definite_refusals_of_a_query_are_answers(FakeRefundFault fault, string code)
    {
        pyun.Refunds.FailNextQuery(fault);

        var answer = await pyun.Client().QueryRefundAsync(NewOrder(), Ct);

        Assert.Equal((PyunRefundAnswerKind.Refused, code), (answer.Kind, answer.Code));
    }

    [Fact]
    public async Task A_query_for_another_merchant_is_refused_as_P云_does()
    {
        var answer = await pyun.Client(merchant: "99999999").QueryRefundAsync(NewOrder(), Ct);

        Assert.Equal((PyunRefundAnswerKind.Refused, "1403"), (answer.Kind, answer.Code));
    }

    [Theory]
    [InlineData(FakeRefundFault.UnknownCode)]
    [InlineData(FakeRefundFault.NotJson)]
    [InlineData(FakeRefundFault.Http500)]
    [InlineData(FakeRefundFault.Hang)]
    public async Task A_query_without_a_definite_answer_throws(FakeRefundFault fault)
    {
        var request = Refundable();
        await pyun.Client().CreateRefundAsync(request, Ct);
        pyun.Refunds.FailNextQuery(fault);

        var ex = await Assert.ThrowsAsync<PyunException>(() => pyun.Client(timeout: TimeSpan.FromMilliseconds(500)).QueryRefundAsync(request.Order, Ct));

        Assert.StartsWith("P云 refund query ", ex.Message, StringComparison.Ordinal);
    }

    private static readonly Dictionary<string, Action<Dictionary<string, object?>>> BadQueryShapes = new()
    {
        ["order missing"] = p => p.Remove("order"),
        ["order empty"] = p => p["order"] = "",
        ["order of another refund"] = p => p["order"] = "R000000000000000000001",
        ["merchant of another car park"] = p => p["merchant"] = "99999999",
        ["process missing"] = p => p.Remove("process"),
        ["process empty"] = p => p["process"] = "",
        ["process 2"] = p => p["process"] = 2,
        ["process as text"] = p => p["process"] = "success",
        ["process as a decimal"] = p => p["process"] = 1.0m, // written as 1.0
        ["value with decimals"] = p => p["value"] = "25.00",
        ["value negative"] = p => p["value"] = -2500,
        ["refund_time without an offset"] = p => p["refund_time"] = "2024-03-21T08:57:08",
    };

    public static TheoryData<string> BadQueryShapeNames() => [.. BadQueryShapes.Keys];

    [Theory]
    [MemberData(nameof(BadQueryShapeNames))]
    public async Task A_query_answer_not_about_this_refund_or_without_a_readable_process_throws(string shape)
    {
        var request = Refundable();
        await pyun.Client().CreateRefundAsync(request, Ct);
        pyun.Refunds.TamperNextQueryAnswer(BadQueryShapes[shape]);

        var ex = await Assert.ThrowsAsync<PyunException>(() => pyun.Client().QueryRefundAsync(request.Order, Ct));

        Assert.Contains("cannot read", ex.Message, StringComparison.Ordinal);
        Assert.Equal("1001", ex.Code);
    }

    [Theory]
    [InlineData("1", PyunRefundProcess.Succeeded)]
    [InlineData("0", PyunRefundProcess.Refunding)]
    [InlineData("-1", PyunRefundProcess.Failed)]
    public async Task Process_and_value_may_come_as_strings(string process, PyunRefundProcess expected)
    {
        var request = Refundable();
        await pyun.Client().CreateRefundAsync(request, Ct);
        pyun.Refunds.TamperNextQueryAnswer(p =>
        {
            p["process"] = process;
            p["value"] = "2500";
            p.Remove("merchant");
            p.Remove("refund_time");
        });

        var answer = await pyun.Client().QueryRefundAsync(request.Order, Ct);

        Assert.Equal((PyunRefundAnswerKind.Found, expected, 2500L, (DateTimeOffset?)null), (answer.Kind, answer.Process, answer.Value, answer.RefundTime));
    }

    [Fact]
    public async Task P云s_message_is_kept_as_sent_but_clipped_and_without_line_breaks()
    {
        var request = Refundable();
        pyun.Refunds.FailNextCreate(FakeRefundFault.AlreadyRefunded);
        Assert.Equal("[INVALID_REQUEST]订单已全额退款", (await pyun.Client().CreateRefundAsync(request, Ct)).Message);

        pyun.Refunds.FailNextQuery(FakeRefundFault.NotPermitted, "第一行\nERROR forged log line" + new string('长', 300));
        var answer = await pyun.Client().QueryRefundAsync(request.Order, Ct);

        Assert.StartsWith("第一行\\u000aERROR forged log line长", answer.Message, StringComparison.Ordinal);
        Assert.True(answer.Message!.Length < PyunClient.MaxMessageLength + 30, answer.Message);
        Assert.DoesNotContain('\n', answer.Message);
        Assert.DoesNotContain(pyun.Logs.Entries, e => e.Message.Contains("\nERROR forged", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Each_call_logs_one_line_and_no_secret_or_signature()
    {
        var before = pyun.Logs.Entries.Count;
        var client = pyun.Client();
        var request = Refundable(reason: "退款");
        await client.CreateRefundAsync(request, Ct);
        await client.QueryRefundAsync(request.Order, Ct);
        pyun.Refunds.FailNextCreate(FakeRefundFault.Http500);
        await Assert.ThrowsAsync<PyunException>(() => client.CreateRefundAsync(Refundable(), Ct));
        pyun.Refunds.FailNextCreate(FakeRefundFault.NotPermitted);
        await client.CreateRefundAsync(Refundable(), Ct);

        var lines = pyun.Logs.Entries.Skip(before).Where(e => e.Category == typeof(PyunClient).FullName).ToList();
        Assert.Equal(4, lines.Count);
        var signature = pyun.Refunds.CreateRequests.Single(r => r.BodyText.Contains(request.Order, StringComparison.Ordinal)).Authorization!;
        Assert.All(lines, l =>
        {
            Assert.DoesNotContain(RefundFakePyun.AppSecret, l.Message, StringComparison.Ordinal);
            Assert.DoesNotContain(signature, l.Message, StringComparison.Ordinal);
        });
        Assert.Contains(request.Order, lines[0].Message, StringComparison.Ordinal);
    }
}

/// <summary>Pyun:RefundPath: P云's pages name two paths, so it is a setting, and only a plain path on the gateway is one.</summary>
public sealed class RefundPathOptionTests
{
    private static PyunOptions Options(string refundPath) => new()
    {
        BaseUrl = "https://api.4pyun.com",
        AppId = "op0096196358123123",
        AppSecret = "secret-value-0123",
        Merchant = "62626601",
        NotifyUrl = "https://pay.example.com/api/notify/pyun",
        RefundPath = refundPath,
    };

    [Fact]
    public void The_default_is_the_documented_path() =>
        Assert.Equal("/gate/1.0/payment/trade/refund", new PyunOptions().RefundPath);

    [Theory]
    [InlineData("/gate/1.0/payment/trade/refund")]
    [InlineData("/gate/1.0/payment/refund/create")]
    public void Either_documented_path_is_accepted(string path) =>
        Assert.True(new PyunOptionsValidator().Validate(null, Options(path)).Succeeded);

    [Theory]
    [InlineData("")]
    [InlineData("/")]
    [InlineData("gate/1.0/payment/trade/refund")]
    [InlineData("//evil.example.com/gate/1.0/payment/trade/refund")]
    [InlineData("https://api.4pyun.com/gate/1.0/payment/trade/refund")]
    [InlineData("/gate/1.0/payment/trade/refund?x=1")]
    [InlineData("/gate/1.0/payment/trade/refund#x")]
    [InlineData("/gate/1.0/payment/trade/ refund")]
    public void Anything_but_a_plain_path_is_one_clear_line(string path)
    {
        var failure = Assert.Single(new PyunOptionsValidator().Validate(null, Options(path)).Failures!);
        Assert.Equal("Setting 'Pyun:RefundPath' is malformed: expected a path on Pyun:BaseUrl such as /gate/1.0/payment/trade/refund.", failure);
    }
}
