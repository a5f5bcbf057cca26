using System.Net.Http.Json;
using System.Text;
using PaymentFunctions.Http;
using PaymentFunctions.Tests.Infrastructure;
using PaymentFunctions.Tests.PayScore;

namespace PaymentFunctions.Tests.Http;

/// <summary>Values from outside reach the log escaped and capped: no forged lines, no terminal escapes, no 20 KB lines.</summary>
public sealed class LogForgingTests : IAsyncLifetime
{
    private const string Hostile = "\u001b[31mALERT\u001b[0m\r\ninfo: PaymentFunctions[0] Order paid\u202e";
    private readonly PaymentApp _app = new PaymentApp().EnableWeChatPay();

    public ValueTask InitializeAsync() => _app.InitializeAsync();

    [Fact]
    public void Control_and_bidi_characters_are_escaped_and_long_values_capped()
    {
        Assert.Equal("abc", LogValue.Safe("abc"));
        Assert.Null(LogValue.Safe((string?)null));
        Assert.Equal("\\u001b[31m\\u000d\\u000aX\\u202e", LogValue.Safe("\u001b[31m\r\nX\u202e"));
        var capped = LogValue.Safe(new string('a', 20_000))!;
        Assert.StartsWith(new string('a', LogValue.DefaultMaxLength), capped, StringComparison.Ordinal);
        Assert.EndsWith($"…(+{20_000 - LogValue.DefaultMaxLength} chars)", capped, StringComparison.Ordinal);
        Assert.Equal("停车 粤B12345", LogValue.Safe("停车 粤B12345"));
    }

    [Fact]
    public async Task Hostile_headers_paths_and_fields_never_reach_the_log_raw()
    {
        var huge = new string('R', 20 * 1024);
        // WeChat Pay callback with a forged Request-ID (and no valid signature).
        var (headers, body) = PayScoreApi.Callback(PayScoreApi.Resource("PS1", "DOING", "USER_CONFIRM"), "PAYSCORE.USER_CONFIRM", "id1", _app.Clock.GetUtcNow());
        headers["Wechatpay-Signature"] = "forged";
        headers["Request-ID"] = Hostile + huge;
        using (var refused = await _app.PostCallbackAsync(headers, body))
        {
            Assert.Equal(401, (int)refused.StatusCode);
        }

        // P云 notification whose fields carry escapes (refused: control characters, or the sign).
        using (var http = _app.CreateClient())
        {
            var form = "app_id=" + Uri.EscapeDataString(Hostile) + "&pay_order=" + Uri.EscapeDataString(Hostile + huge[..2000]) + "&sign=x";
            using var content = new StringContent(form, Encoding.UTF8, "application/x-www-form-urlencoded");
            using var _ = await http.PostAsync("/api/notify/pyun", content);

            // A hostile path on every kind of route.
            using var a = await http.GetAsync("/api/orders/" + Uri.EscapeDataString(Hostile));
            using var b = await http.PostAsJsonAsync("/api/payscore/orders/query", new { outOrderNo = Hostile });
            using var c = await http.PostAsJsonAsync("/api/payscore/orders/query", new { queryId = "Q" + huge });
        }

        Assert.NotEmpty(_app.Logs.Entries);
        foreach (var entry in _app.Logs.Entries)
        {
            var text = entry.Message;
            Assert.False(text.Any(ch => char.IsControl(ch) || ch is '\u202e'), $"{entry.Category}: {LogValue.Safe(text, 300)}");
            Assert.True(text.Length < 2048, $"{entry.Category} logged {text.Length} characters");
        }
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();
}
