using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.Extensions.Options;
using PaymentFunctions.Orders;
using PaymentFunctions.Pyun;
using PaymentFunctions.Tests.Infrastructure;

namespace PaymentFunctions.Tests.Pyun;

/// <summary>
/// The one rule that keeps P云's unescaped sign string unambiguous (<see cref="PyunSignature.IsSignable"/>), checked as
/// properties over many generated cases (fixed seeds, so a failure reproduces).
/// </summary>
public sealed class PyunSignableTests
{
    private const string Secret = "test-secret";

    // Letters, digits, Chinese, JSON and URL punctuation, spaces: everything but the two separators.
    private const string Safe = "abcXYZ019_-.:/?%+ {}[]\",'()【】停车场粤B川微信支付";

    private static string Text(Random random, string alphabet, int max) =>
        new([.. Enumerable.Range(0, random.Next(1, max + 1)).Select(_ => alphabet[random.Next(alphabet.Length)])]);

    /// <summary>Reads a sign string back into fields: split on '&amp;', then each pair at its first '='.</summary>
    private static Dictionary<string, string> Parse(string stringToSign)
    {
        var pairs = stringToSign.Split('&');
        Assert.Equal("app_secret=" + Secret, pairs[^1]);
        return pairs[..^1].ToDictionary(p => p[..p.IndexOf('=', StringComparison.Ordinal)], p => p[(p.IndexOf('=', StringComparison.Ordinal) + 1)..], StringComparer.Ordinal);
    }

    [Theory]
    [InlineData("", true)]
    [InlineData(null, true)]
    [InlineData("停车支付3.00元(川A12345)", true)]
    [InlineData("{\"plate\":\"川AA37K2\",\"park_name\":\"P云支付体验-停车场\"}", true)]
    [InlineData("https://a.b.c/notify", true)]
    [InlineData("a&b", false)]
    [InlineData("a=b", false)]
    [InlineData("&", false)]
    [InlineData("=", false)]
    [InlineData("https://a.b.c/notify?code=1", false)]
    public void Only_texts_without_amp_or_equals_are_signable(string? text, bool signable) =>
        Assert.Equal(signable, PyunSignature.IsSignable(text));

    [Fact]
    public void Signable_fields_read_back_from_their_sign_string_exactly()
    {
        var random = new Random(7);
        for (var i = 0; i < 500; i++)
        {
            var fields = new Dictionary<string, string?>(StringComparer.Ordinal);
            for (var n = random.Next(1, 8); fields.Count < n;)
            {
                fields[Text(random, "abcdefghijklmnopqrstuvwxyz_", 12)] = random.Next(5) == 0 ? "" : Text(random, Safe, 30);
            }

            Assert.All(fields, f => Assert.True(PyunSignature.IsSignable(f.Key) && PyunSignature.IsSignable(f.Value)));
            var parsed = Parse(PyunSignature.StringToSign(fields, Secret));
            Assert.Equal(fields.OrderBy(f => f.Key, StringComparer.Ordinal).Select(f => $"{f.Key}\n{f.Value}"),
                parsed.OrderBy(f => f.Key, StringComparer.Ordinal).Select(f => $"{f.Key}\n{f.Value}"));
        }
    }

    [Fact]
    public void A_field_with_amp_or_equals_never_verifies_even_with_its_own_correct_sign()
    {
        var random = new Random(11);
        for (var i = 0; i < 500; i++)
        {
            var fields = new Dictionary<string, string?>(StringComparer.Ordinal)
            {
                ["app_id"] = "op1",
                ["pay_order"] = Text(random, Safe, 20),
            };
            var poisoned = Text(random, Safe, 10) + (random.Next(2) == 0 ? "&" : "=") + Text(random, Safe, 10);
            if (random.Next(2) == 0)
            {
                fields["value"] = poisoned;
            }
            else
            {
                fields[poisoned] = "1";
            }

            Assert.NotNull(PyunSignature.FirstUnsignable(fields));
            Assert.False(PyunSignature.Verify(fields, PyunSignature.Sign(fields, Secret), Secret));
        }
    }

    [Fact]
    public void The_documented_re_split_has_the_same_sign_which_is_why_it_must_be_refused()
    {
        var genuine = new Dictionary<string, string?> { ["trade_no"] = "4200T1", ["trade_time"] = "1764036060000", ["value"] = "1000" };
        var forged = new Dictionary<string, string?> { ["trade_no"] = "4200T1&trade_time=1764036060000", ["value"] = "1000" };

        Assert.Equal(PyunSignature.Sign(genuine, Secret), PyunSignature.Sign(forged, Secret));
        Assert.True(PyunSignature.Verify(genuine, PyunSignature.Sign(genuine, Secret), Secret));
        Assert.False(PyunSignature.Verify(forged, PyunSignature.Sign(genuine, Secret), Secret));
        Assert.Equal("trade_no", PyunSignature.FirstUnsignable(forged));
    }

    [Fact]
    public void Every_order_the_validator_accepts_sends_only_signable_text()
    {
        var clock = new ManualClock();
        var validator = new CreateOrderValidator(Options.Create(new OrdersOptions()), clock);
        var relaxed = new JsonSerializerOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        var random = new Random(13);
        const string withSeparators = Safe + "&&==";
        var accepted = 0;
        for (var i = 0; i < 400; i++)
        {
            var subject = Text(random, withSeparators, 20);
            var body = Text(random, withSeparators, 40);
            var extra = new Dictionary<string, object>
            {
                ["plate"] = Text(random, withSeparators, 8),
                ["plate_color"] = "1",
                ["parking_serial"] = Text(random, withSeparators, 20),
                ["park_name"] = Text(random, withSeparators, 20),
                ["enter_time"] = "1620621689000",
                ["parking_time"] = "175",
                ["free_value"] = 0,
            };
            var request = new CreateOrderRequest(Api.NewMerchantOrderNo(), subject, body, 1000, "PARKING",
                JsonSerializer.SerializeToElement(extra), null);

            var result = validator.Validate(request);

            var texts = new[] { subject, body }.Concat(extra.Values.OfType<string>()).ToList();
            var anySeparator = texts.Any(t => !PyunSignature.IsSignable(t));
            var otherProblems = texts.Any(string.IsNullOrWhiteSpace);
            if (result.IsValid)
            {
                accepted++;
                // Whatever escaping writes extra out, the text P云 signs has no separator in it.
                Assert.True(PyunSignature.IsSignable(subject) && PyunSignature.IsSignable(body));
                Assert.True(PyunSignature.IsSignable(request.Extra!.Value.GetRawText()));
                Assert.True(PyunSignature.IsSignable(JsonSerializer.Serialize(request.Extra, relaxed)));
                Assert.True(PyunSignature.IsSignable(Encoding.UTF8.GetString(JsonSerializer.SerializeToUtf8Bytes(request.Extra))));
            }
            else if (anySeparator)
            {
                Assert.Contains(result.Errors, e => e.ErrorMessage.Contains("must not contain '&' or '='", StringComparison.Ordinal));
            }
            else
            {
                Assert.True(otherProblems, string.Join(" ", result.Errors.Select(e => e.ErrorMessage)));
            }
        }

        Assert.InRange(accepted, 1, 399); // both branches were exercised
    }
}
