using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CsCheck;
using PaymentFunctions.Pyun;
using PaymentFunctions.Tests.Infrastructure;
using PaymentFunctions.Tests.WeChatPay;
using PaymentFunctions.WeChatPay;

namespace PaymentFunctions.Tests.Properties;

/// <summary>
/// No input makes a route answer 5xx, and nothing unverified is ever queued: seeded garbage (random bytes,
/// random and mutated JSON, wrong content types, odd and huge headers, random path segments, with and without
/// the function key) against every route of the live app. (A truncated upload is a corpus case: Kestrel drops a
/// connection whose client half-closes, so only a stalled one can be answered.)
/// </summary>
public sealed class RouteFuzzProperties(LiveAppFixture live) : IClassFixture<LiveAppFixture>
{
    /// <summary>Requests per route; seeded, so every run sends the same ones. Raise it locally to search further.</summary>
    private static readonly int Iterations = int.TryParse(Environment.GetEnvironmentVariable("ROUTE_FUZZ_ITERATIONS"), CultureInfo.InvariantCulture, out var n) ? n : 150;

    private const ulong Seed = 20261125;

    public static TheoryData<string> Routes => [.. RouteTable.Keys];

    private sealed record Route(string Method, string Template, string ContentType, bool NeedsKey, Func<LiveAppFixture, string[]> RealIds, Func<LiveAppFixture, (string Name, string Json)[][]> ValidBodies);

    private static readonly Dictionary<string, Route> RouteTable = new(StringComparer.Ordinal)
    {
        ["create-order"] = new("POST", "/api/orders", "application/json", true, _ => [], f => [OrderMembers(f)]),
        ["prepare-order"] = new("POST", "/api/orders/{id}/prepare", "application/json", false, f => [f.OrderId], _ => [[("client", "\"wechat\""), ("payer", "\"oUser_1\"")], [("client", "\"alipay\"")]]),
        ["get-order"] = new("GET", "/api/orders/{id}", "", false, f => [f.OrderId], _ => []),
        ["notify-pyun"] = new("POST", "/api/notify/pyun", "application/x-www-form-urlencoded", false, _ => [], _ => []),
        ["notify-wechatpay"] = new("POST", "/api/notify/wechatpay", "application/json", false, _ => [], _ => []),
        ["payscore-create"] = new("POST", "/api/payscore/orders", "application/json", true, _ => [], _ => [Members(PayScore.PayScoreApi.CreateBody(PayScore.PayScoreApi.NewOutOrderNo()))]),
        ["payscore-query"] = new("POST", "/api/payscore/orders/query", "application/json", false, _ => [],
            f => [[("outOrderNo", Json(f.CreatedOutOrderNo))], [("queryId", Json(f.App.WeChat!.State.GetQueryId(f.ConfirmedOutOrderNo)))]]),
        ["payscore-complete"] = new("POST", "/api/payscore/orders/{id}/complete", "application/json", true, f => [f.ConfirmedOutOrderNo, f.CreatedOutOrderNo],
            _ => [[("postPayments", """[{"name":"租借费","amount":600,"count":1}]"""), ("postDiscounts", """[{"name":"新用户","description":"立减","amount":100,"count":1}]"""), ("totalAmount", "500")]]),
        ["payscore-cancel"] = new("POST", "/api/payscore/orders/{id}/cancel", "application/json", true, f => [f.CreatedOutOrderNo], _ => [[("reason", "\"用户取消\"")]]),
    };

    private static string Json(string s) => JsonSerializer.Serialize(s);

    private static (string, string)[] Members(JsonObject o) => [.. o.Select(m => (m.Key, m.Value?.ToJsonString() ?? "null"))];

    private static (string, string)[] OrderMembers(LiveAppFixture f) =>
        Members(JsonSerializer.SerializeToNode(Api.OrderRequest(expiresAt: f.App.Clock.GetUtcNow().AddDays(1)), Api.Json)!.AsObject());

    [Theory]
    [MemberData(nameof(Routes))]
    public async Task No_input_makes_a_route_answer_5xx_or_queue_anything_unverified(string routeName)
    {
        var route = RouteTable[routeName];
        var requests = Requests(route, live);
        var pcg = new PCG((uint)Array.IndexOf([.. RouteTable.Keys], routeName) + 1, Seed);
        var failures = new List<string>();
        var statuses = new SortedDictionary<int, int>();
        await live.ClearQueueAsync();

        for (var i = 0; i < Iterations && failures.Count < 3; i++)
        {
            var (request, verified) = requests.Generate(pcg, null!, out _);
            RawResponse response;
            try
            {
                response = await live.SendAsync(request);
            }
            catch (Exception ex) when (ex is IOException or InvalidOperationException)
            {
                failures.Add($"#{i}: no answer ({ex.Message})\n{request}");
                continue;
            }

            statuses[response.Status] = statuses.GetValueOrDefault(response.Status) + 1;
            if (response.Status >= 500)
            {
                failures.Add($"#{i}: {response.Status} {response.Text}\n{request}");
            }

            if (routeName.StartsWith("notify-", StringComparison.Ordinal))
            {
                var queued = await live.App.QueueLengthAsync();
                if (queued > 0 && !(verified && response.Status is >= 200 and < 300))
                {
                    failures.Add($"#{i}: answered {response.Status} but queued {queued} message(s)\n{request}");
                }

                if (queued > 0)
                {
                    await live.ClearQueueAsync();
                }
            }
        }

        TestContext.Current.TestOutputHelper?.WriteLine($"{routeName}: {string.Join(", ", statuses.Select(s => $"{s.Key}×{s.Value}"))}");
        Assert.Equal(0, await live.App.QueueLengthAsync());
        Assert.True(failures.Count == 0, $"{routeName} (statuses {string.Join(", ", statuses.Select(s => $"{s.Key}×{s.Value}"))}):\n\n{string.Join("\n\n", failures)}");
    }

    /// <summary>Requests for one route; the flag says whether it carries a valid signature (so a 2xx may queue it).</summary>
    private static Gen<(RawRequest Request, bool Verified)> Requests(Route route, LiveAppFixture live)
    {
        var garbage =
            from method in Gen.Frequency((9, Gen.Const(route.Method)), (1, Gen.OneOf("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "FOO")))
            from path in Paths(route, live)
            from query in Gen.Frequency((8, Gen.Const("")), (1, Gen.Const("?code=" + PaymentApp.FunctionKey)), (1, Generators.AnyText.Select(t => "?" + Uri.EscapeDataString(t).Replace("%3D", "=", StringComparison.Ordinal))))
            from key in KeyHeaders(route)
            from contentType in ContentTypes(route)
            from extra in ExtraHeaders.Array[0, 3]
            from body in Bodies(route, live)
            select (new RawRequest(method, path + query, [.. key, .. contentType, .. extra], method is "HEAD" ? [] : body), false);

        return route.Template switch
        {
            "/api/notify/pyun" => Gen.Frequency((2, garbage), (1, SignedPyunNotifications(live))),
            "/api/notify/wechatpay" => Gen.Frequency((2, garbage), (1, SignedWeChatCallbacks(live))),
            _ => garbage,
        };
    }

    private static Gen<string> Paths(Route route, LiveAppFixture live)
    {
        if (!route.Template.Contains("{id}", StringComparison.Ordinal))
        {
            return Gen.Frequency((9, Gen.Const(route.Template)), (1, Gen.OneOf(route.Template + "/", route.Template.ToUpperInvariant(), route.Template + "/x", route.Template + "%00")));
        }

        var realIds = route.RealIds(live);
        var ids = Gen.Frequency(
            (3, realIds.Length > 0 ? Gen.OneOf(realIds) : Gen.Const("x")),
            (2, Gen.Char["abcdefghijklmnopqrstuvwxyz234567"].Array[24].Select(a => new string(a))),
            (2, Gen.Char["0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-|*"].Array[1, 40].Select(a => new string(a))),
            (2, Generators.AnyText.Select(t => Uri.EscapeDataString(t))),
            (1, Gen.Byte.Array[1, 12].Select(b => string.Concat(b.Select(x => "%" + x.ToString("X2", CultureInfo.InvariantCulture))))),
            (1, Gen.OneOf("..", ".", "%2F", "%2e%2e", "%00", "a%2Fb", "%25", "'", "a'%20or%20'1'%3D'1", "PartitionKey%20eq%20'x'", new string('a', 2000), "%E2%80%AE", "%C0%AF")));
        return ids.Select(id => route.Template.Replace("{id}", id, StringComparison.Ordinal));
    }

    private static Gen<KeyValuePair<string, string>[]> KeyHeaders(Route route) => Gen.Frequency(
        (route.NeedsKey ? 5 : 1, Gen.Const<KeyValuePair<string, string>[]>([new("x-functions-key", PaymentApp.FunctionKey)])),
        (3, Gen.Const<KeyValuePair<string, string>[]>([])),
        (1, Gen.OneOf("", "wrong", PaymentApp.FunctionKey + " ", PaymentApp.FunctionKey.ToUpperInvariant(), new string('k', 5000))
            .Select(k => (KeyValuePair<string, string>[])[new("x-functions-key", k)])),
        (1, Gen.Const<KeyValuePair<string, string>[]>([new("x-functions-key", "wrong"), new("x-functions-key", PaymentApp.FunctionKey)])));

    private static Gen<KeyValuePair<string, string>[]> ContentTypes(Route route) =>
        Gen.Frequency(
            (6, Gen.Const(route.ContentType)),
            (2, Gen.Const(route.ContentType + "; charset=utf-8")),
            (3, Gen.OneOf("", "application/json", "application/x-www-form-urlencoded", "text/plain", "application/json; charset=gbk",
                "application/json; charset=\"utf-8\"", "application/x-www-form-urlencoded; charset=utf-16", "multipart/form-data; boundary=x",
                "application/problem+json", "*/*", ";", "application/json;;;", "application/json; charset=", "APPLICATION/JSON", "text/html; charset=utf-8",
                "application/json, text/plain", "\u00e9/\u00e9")),
            (1, Generators.AnyText.Select(t => new string([.. t.Where(c => c is >= ' ' and < '\u007f')]))))
        .Select(ct => ct.Length == 0 ? (KeyValuePair<string, string>[])[] : [new("Content-Type", ct)]);

    private static readonly Gen<KeyValuePair<string, string>> ExtraHeaders = Gen.Frequency(
        (3, Gen.Select(Gen.Char["abcdefghijklmnopqrstuvwxyz-"].Array[1, 20].Select(a => "X-" + new string(a)),
            Gen.Char[' ', '\u00ff'].Array[0, 60].Select(a => new string(a).Trim()), (k, v) => new KeyValuePair<string, string>(k, v))),
        (1, Gen.Int[1, 40_000].Select(len => new KeyValuePair<string, string>("X-Big", new string('b', len)))),
        (2, Gen.Select(Gen.OneOf(WeChatPaySignatureHeaders.TimestampHeader, WeChatPaySignatureHeaders.NonceHeader, WeChatPaySignatureHeaders.SignatureHeader,
                WeChatPaySignatureHeaders.SerialHeader, "Request-ID", "Content-Encoding", "Expect", "Accept", "Accept-Charset", "Authorization", "Cookie"),
            Gen.Frequency((2, Gen.OneOf("", "0", "-1", "99999999999999999999", "1764028800", WeChatPayTestData.PublicKeyId, "PUB_KEY_ID_x", "WECHATPAY/SIGNTEST/abc",
                "gzip", "100-continue", "application/json", "utf-16", "Bearer x")), (1, Generators.AnyText.Select(t => new string([.. t.Where(c => c is >= ' ' and <= '\u00ff')]).Trim()))),
            (k, v) => new KeyValuePair<string, string>(k, v))));

    private static Gen<byte[]> Bodies(Route route, LiveAppFixture live)
    {
        var valid = route.ValidBodies(live);
        var names = valid.SelectMany(b => b).Select(m => m.Name).Concat(["client", "payer", "queryId", "outOrderNo", "reason", "totalAmount", "amount"]).Distinct().ToArray();
        var formNames = new[] { "app_id", "merchant", "pay_order", "status", "value", "sign", "pay_serial", "trade_time", "fee", "channel", "trade_no" };
        var kinds = new List<(int, IGen<byte[]>)>
        {
            (2, Gen.Byte.Array[0, 200]),
            (2, Generators.SyntaxBytes),
            (3, Generators.JsonValue.Select(Generators.Utf8)),
            (3, Generators.JsonObjectOf(names).Select(Generators.Utf8)),
            (2, Gen.Dictionary(Gen.Frequency((3, Gen.OneOf(formNames)), (1, Generators.Name)), Generators.AnyText)[0, 12]
                .Select(d => Generators.Utf8(string.Join("&", d.Select(f => Uri.EscapeDataString(f.Key) + "=" + Uri.EscapeDataString(Sanitize(f.Value))))))),
            (1, Gen.Select(Gen.Int[16 * 1024 - 4, 70_000], Gen.OneOf("x", "{\"a\":\"", "a=", "[1,"), (size, prefix) => Generators.Utf8(prefix + new string('x', size)))),
            (1, Gen.OneOf(Array.Empty<byte>(), "{}"u8.ToArray(), "null"u8.ToArray(), [0xEF, 0xBB, 0xBF, (byte)'{', (byte)'}'], [0xFF, 0xFE, (byte)'{', 0, (byte)'}', 0],
                "{\"a\":1,\"a\":2}"u8.ToArray(), "\"\\ud800\""u8.ToArray(), Encoding.UTF8.GetBytes(live.PayOrder))),
        };
        if (valid.Length > 0)
        {
            // Mostly one change away from valid; now and then valid as it is, so the paths behind validation run too.
            kinds.Add((5, Gen.OneOf(valid).SelectMany(Mutated).Select(Generators.Utf8)));
            kinds.Add((1, Gen.OneOf(valid).Select(b => Generators.Utf8("{" + string.Join(",", b.Select(m => Json(m.Name) + ":" + m.Json)) + "}"))));
        }

        return Gen.Frequency([.. kinds]);
    }

    /// <summary>Lone surrogates cannot be percent-encoded by <see cref="Uri.EscapeDataString(string)"/>; replace them.</summary>
    private static string Sanitize(string s) => new([.. s.Select(c => char.IsSurrogate(c) ? '?' : c)]);

    /// <summary>A valid body with one change: a member's value replaced, a member dropped, repeated or added.</summary>
    private static Gen<string> Mutated((string Name, string Json)[] valid) =>
        from at in Gen.Int[0, valid.Length - 1]
        from how in Gen.Int[0, 3]
        from value in Generators.JsonValue
        from name in Gen.Frequency((3, Gen.OneOf(valid.Select(v => v.Name).ToArray())), (1, Generators.ProtocolName))
        select "{" + string.Join(",", (how switch
        {
            0 => valid.Select((m, i) => i == at ? (m.Name, value) : m),
            1 => valid.Where((_, i) => i != at),
            2 => valid.Append((valid[at].Name, value)),
            _ => valid.Append((name, value)),
        }).Select(m => Json(m.Item1) + ":" + m.Item2)) + "}";

    /// <summary>Correctly signed P云 forms with arbitrary field values, so the checks after the signature are reached.</summary>
    private static Gen<(RawRequest, bool)> SignedPyunNotifications(LiveAppFixture live) =>
        Gen.Select(
            Gen.Frequency((4, Gen.Const(live.PayOrder)), (1, Generators.Text)),
            Gen.Frequency((3, Gen.OneOf("1", "0", "-1")), (1, Generators.Text)),
            Gen.Frequency((3, Gen.OneOf("1000", "999", "0")), (1, Generators.Text), (1, Gen.Long.Select(l => l.ToString(CultureInfo.InvariantCulture)))),
            Gen.Frequency((3, Gen.Long[0, 253_402_300_799_999].Select(l => l.ToString(CultureInfo.InvariantCulture))), (1, Generators.Text)),
            Gen.Frequency((4, Gen.Const(PaymentApp.AppId)), (1, Generators.Text)),
            Gen.Dictionary(Generators.ProtocolName, Generators.Text)[0, 4],
            (payOrder, status, value, time, appId, more) =>
            {
                var form = Api.Notification(live.PayOrder, 1, 1000);
                form["pay_order"] = payOrder;
                form["status"] = status;
                form["value"] = value;
                form["trade_time"] = time;
                form["app_id"] = appId;
                foreach (var (k, v) in more)
                {
                    form.TryAdd(k, v);
                }

                form.WithSign();
                var body = string.Join("&", form.Select(f => Uri.EscapeDataString(f.Key) + "=" + Uri.EscapeDataString(f.Value)));
                return (new RawRequest("POST", "/api/notify/pyun", [new("Content-Type", "application/x-www-form-urlencoded")], Generators.Utf8(body)), true);
            });

    /// <summary>Correctly signed and encrypted WeChat Pay callbacks around arbitrary resources.</summary>
    private static Gen<(RawRequest, bool)> SignedWeChatCallbacks(LiveAppFixture live) =>
        Gen.Select(
            Gen.Frequency((3, Gen.Const(Members(PayScore.PayScoreApi.Resource(live.CreatedOutOrderNo, PayScoreStates.Doing, PayScoreStates.UserConfirm)))),
                (1, Gen.Const(Members(PayScore.PayScoreApi.Resource(PayScore.PayScoreApi.NewOutOrderNo(), PayScoreStates.Done, null, PayScoreStates.UserPaid))))),
            Gen.Int[0, 3], Gen.Int[0, 20], Generators.JsonValue, Generators.ProtocolName,
            Gen.Frequency((4, Gen.OneOf(PayScoreStates.UserConfirmEvent, PayScoreStates.UserPaidEvent)), (1, Generators.Text)),
            Gen.Frequency((4, Gen.Const((string?)null)), (1, Generators.Text.Select(t => (string?)t))),
            (resource, how, pick, value, name, eventType, id) =>
            {
                var members = resource.ToList();
                var at = pick % members.Count;
                switch (how)
                {
                    case 0:
                        members[at] = (members[at].Item1, value);
                        break;
                    case 1:
                        members.RemoveAt(at);
                        break;
                    case 2:
                        members.Add((name, value));
                        break;
                }

                var plaintext = "{" + string.Join(",", members.Select(m => Json(m.Item1) + ":" + m.Item2)) + "}";
                var body = LiveAppFixture.CallbackEnvelope(plaintext, eventType, id ?? "EV-" + Guid.NewGuid().ToString("N"));
                var signed = WeChatPayTestData.Sign(body, WeChatPayTestData.WeChatPayPrivatePem, WeChatPayTestData.PublicKeyId, live.App.Clock.GetUtcNow().ToUnixTimeSeconds());
                return (new RawRequest("POST", "/api/notify/wechatpay",
                [
                    new("Content-Type", "application/json"),
                    new(WeChatPaySignatureHeaders.TimestampHeader, signed.Timestamp!),
                    new(WeChatPaySignatureHeaders.NonceHeader, signed.Nonce!),
                    new(WeChatPaySignatureHeaders.SignatureHeader, signed.Signature!),
                    new(WeChatPaySignatureHeaders.SerialHeader, signed.Serial!),
                ], body), true);
            });
}
