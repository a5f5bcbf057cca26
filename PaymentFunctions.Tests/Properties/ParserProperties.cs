using System.Text.Json;
using CsCheck;
using PaymentFunctions.Http;
using PaymentFunctions.Notifications;
using PaymentFunctions.Orders;

namespace PaymentFunctions.Tests.Properties;

/// <summary>
/// The parsers that stand between the wire and a decision: whatever a sender encodes correctly comes back
/// exactly, and nothing at all makes them throw an exception other than their own.
/// </summary>
public sealed class ParserProperties
{
    private static readonly Gen<Dictionary<string, string>> Fields = Gen.Dictionary(Generators.Name, Generators.Text)[1, 8];

    /// <summary>Percent-encodes every byte but the unreserved ones, as <see cref="Uri.EscapeDataString(string)"/> does (spaces as %20).</summary>
    private static string EncodePercent(Dictionary<string, string> fields) =>
        string.Join("&", fields.Select(f => Uri.EscapeDataString(f.Key) + "=" + Uri.EscapeDataString(f.Value)));

    /// <summary>The HTML form encoding (spaces as '+'), as P云's and most HTTP clients' form writers produce it.</summary>
    private static byte[] EncodeForm(Dictionary<string, string> fields)
    {
        using var content = new FormUrlEncodedContent(fields);
        return content.ReadAsByteArrayAsync().GetAwaiter().GetResult();
    }

    [Fact]
    public void FormBody_parses_back_every_dictionary_it_was_given_in_either_encoding() =>
        Fields.Sample(fields =>
        {
            foreach (var body in new[] { Generators.Utf8(EncodePercent(fields)), EncodeForm(fields) })
            {
                Assert.True(FormBody.TryParse(body, out var parsed, out var error), error);
                Assert.Equal(fields.OrderBy(f => f.Key, StringComparer.Ordinal), parsed.OrderBy(f => f.Key, StringComparer.Ordinal));
            }
        }, iter: 500);

    [Fact]
    public void FormBody_ignores_empty_pairs_and_a_missing_equals_sign_means_an_empty_value() =>
        Fields.Sample(fields =>
        {
            var pairs = fields.Select(f => f.Value.Length == 0 ? Uri.EscapeDataString(f.Key) : Uri.EscapeDataString(f.Key) + "=" + Uri.EscapeDataString(f.Value));
            var body = "&&" + string.Join("&&", pairs) + "&";

            Assert.True(FormBody.TryParse(Generators.Utf8(body), out var parsed, out var error), error);
            Assert.Equal(fields.Count, parsed.Count);
            Assert.All(fields, f => Assert.Equal(f.Value, parsed[f.Key]));
        });

    [Fact]
    public void FormBody_refuses_a_repeated_field_whatever_its_values() =>
        Gen.Select(Fields, Generators.Text).Sample((fields, other) =>
        {
            var key = fields.Keys.First();
            var body = EncodePercent(fields) + "&" + Uri.EscapeDataString(key) + "=" + Uri.EscapeDataString(other);

            Assert.False(FormBody.TryParse(Generators.Utf8(body), out _, out var error));
            Assert.Contains("more than once", error, StringComparison.Ordinal);
        });

    [Fact]
    public void FormBody_never_throws_and_whatever_it_accepts_re_encodes_to_the_same_fields() =>
        Generators.SyntaxBytes.Sample(bytes =>
        {
            if (!FormBody.TryParse(bytes, out var parsed, out var error))
            {
                Assert.NotEmpty(error);
                return;
            }

            Assert.NotEmpty(parsed);
            Assert.DoesNotContain(parsed, f => f.Key.Length == 0 || f.Key.Any(c => char.IsControl(c) && c != '\t') || f.Value.Any(c => char.IsControl(c) && c != '\t'));
            Assert.True(FormBody.TryParse(Generators.Utf8(EncodePercent(parsed)), out var again, out _));
            Assert.Equal(parsed.OrderBy(f => f.Key, StringComparer.Ordinal), again.OrderBy(f => f.Key, StringComparer.Ordinal));
        }, iter: 2000);

    [Fact]
    public void FormBody_refuses_invalid_UTF8_and_control_characters_wherever_they_are() =>
        Gen.Select(Fields, Gen.OneOf("%FF", "%C3%28", "%ED%A0%80", "%00", "%0A", "%7F", "%1B", "%E2%82", "%", "%G0", "%0"), Gen.Bool)
            .Sample((fields, bad, inKey) =>
            {
                var (key, value) = fields.First();
                var pair = inKey ? Uri.EscapeDataString(key) + bad + "=" + Uri.EscapeDataString(value) : Uri.EscapeDataString(key) + "=" + Uri.EscapeDataString(value) + bad;
                var body = string.Join("&", fields.Skip(1).Select(f => Uri.EscapeDataString(f.Key) + "=" + Uri.EscapeDataString(f.Value)).Prepend(pair));

                Assert.False(FormBody.TryParse(Generators.Utf8(body), out _, out var error));
                Assert.NotEmpty(error);
            });

    private static readonly Gen<string> OrderId = Gen.Char["abcdefghijklmnopqrstuvwxyz234567"].Array[PayOrderNumber.OrderIdLength].Select(a => new string(a));

    [Fact]
    public void PayOrderNumber_format_parses_back_for_every_attempt_number() =>
        Gen.Select(Gen.OneOf(OrderId, Gen.Const(PayOrderNumber.NewOrderId)), Gen.Int[1, 999]).Sample((orderId, attempt) =>
        {
            Assert.True(PayOrderNumber.IsOrderId(orderId));
            Assert.True(PayOrderNumber.TryParse(PayOrderNumber.Format(orderId, attempt), out var id, out var number));
            Assert.Equal(orderId, id);
            Assert.Equal(attempt, number);
        }, iter: 1000);

    [Fact]
    public void PayOrderNumber_parses_only_what_it_formats() =>
        Gen.Frequency(
                (3, Generators.AnyText),
                (3, Gen.Select(OrderId, Generators.AnyText, (id, tail) => id + tail)),
                (2, Gen.Select(OrderId, Gen.Int, (id, n) => id + "-" + n.ToString(System.Globalization.CultureInfo.InvariantCulture))))
            .Sample(text =>
            {
                if (PayOrderNumber.TryParse(text, out var id, out var attempt))
                {
                    Assert.InRange(attempt, 1, 999);
                    Assert.Equal(text, PayOrderNumber.Format(id, attempt));
                }
            }, iter: 2000);

    private static readonly Gen<NotificationEnvelope> Envelopes =
        Gen.Select(
            Gen.Frequency((3, Gen.OneOf(PyunTradeNotification.Kind, PaymentFunctions.PayScore.PayScoreNotification.Kind)), (1, Generators.Name)),
            Gen.Long[DateTimeOffset.UnixEpoch.Ticks, new DateTimeOffset(2100, 1, 1, 0, 0, 0, TimeSpan.Zero).Ticks],
            Gen.Int[-14 * 60, 14 * 60],
            Gen.Dictionary(Generators.Name, Generators.Text)[0, 8],
            (kind, ticks, offsetMinutes, payload) => new NotificationEnvelope(NotificationEnvelope.CurrentVersion, kind,
                new DateTimeOffset(ticks, TimeSpan.Zero).ToOffset(TimeSpan.FromMinutes(offsetMinutes)),
                JsonSerializer.SerializeToElement(payload)));

    [Fact]
    public void NotificationEnvelope_round_trips_through_its_json_and_through_the_hosts_extra_string_encoding() =>
        Envelopes.Sample(envelope =>
        {
            var json = envelope.ToJson();
            foreach (var text in new[] { json, JsonSerializer.Serialize(json), "  " + json + "\n" })
            {
                var parsed = NotificationEnvelope.Parse(text);
                Assert.Equal(envelope.Version, parsed.Version);
                Assert.Equal(envelope.Kind, parsed.Kind);
                Assert.True(envelope.ReceivedAt.EqualsExact(parsed.ReceivedAt), $"{envelope.ReceivedAt:O} != {parsed.ReceivedAt:O}");
                Assert.True(JsonElement.DeepEquals(envelope.Payload, parsed.Payload), parsed.Payload.GetRawText());
            }
        }, iter: 500);

    [Fact]
    public void NotificationEnvelope_parse_throws_nothing_but_InvalidMessageException() =>
        Gen.Frequency(
                (3, Generators.AnyText),
                (3, Generators.JsonValue),
                (2, Generators.JsonObjectOf("v", "kind", "receivedAt", "payload")),
                (2, Envelopes.Select(e => e.ToJson()).SelectMany(json => Gen.Int[0, json.Length].Select(cut => json[..cut]))),
                (1, Generators.AnyText.Select(t => JsonSerializer.Serialize(t))),
                (1, Generators.AnyText.Select(t => "\"" + t)))
            .Sample(text =>
            {
                try
                {
                    var envelope = NotificationEnvelope.Parse(text);
                    Assert.Equal(NotificationEnvelope.CurrentVersion, envelope.Version);
                    Assert.False(string.IsNullOrEmpty(envelope.Kind));
                }
                catch (InvalidMessageException)
                {
                }
            }, iter: 3000);

    [Theory]
    [InlineData("\"")]
    [InlineData("\"{")]
    [InlineData("\"\\u00\"")]
    [InlineData("  \"unterminated")]
    public void NotificationEnvelope_parse_refuses_a_broken_outer_string_as_an_invalid_message(string text) =>
        Assert.Throws<InvalidMessageException>(() => NotificationEnvelope.Parse(text));
}
