using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Azure.Data.Tables;
using PaymentFunctions.Http;
using PaymentFunctions.Orders;
using PaymentFunctions.Pyun;
using PaymentFunctions.Tests.Infrastructure;
using PaymentFunctions.Tests.WeChatPay;
using PaymentFunctions.WeChatPay;

namespace PaymentFunctions.Tests.Properties;

/// <summary>
/// One bad input as kept in <c>TestData/bad-inputs/&lt;route&gt;/&lt;case&gt;.http</c>: directives, then the request
/// as it goes on the wire (see README.md in that folder for the format).
/// </summary>
internal sealed partial record BadInput(string Name, int Expect, string? Code, IReadOnlyDictionary<string, string> Directives, string Method, string Target,
    IReadOnlyList<KeyValuePair<string, string>> Headers, string Body)
{
    public static string Root => Path.Combine(AppContext.BaseDirectory, "TestData", "bad-inputs");

    public static BadInput Load(string relativePath)
    {
        var lines = File.ReadAllText(Path.Combine(Root, relativePath)).Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        var directives = new Dictionary<string, string>(StringComparer.Ordinal);
        var i = 0;
        for (; i < lines.Length && (lines[i].StartsWith('#') || lines[i].Length == 0); i++)
        {
            if (Directive().Match(lines[i]) is { Success: true } m)
            {
                directives[m.Groups[1].Value] = m.Groups[2].Value.Trim();
            }
        }

        var requestLine = lines[i++].Split(' ', 2);
        var headers = new List<KeyValuePair<string, string>>();
        for (; i < lines.Length && lines[i].Length > 0; i++)
        {
            var colon = lines[i].IndexOf(':', StringComparison.Ordinal);
            headers.Add(new(lines[i][..colon], lines[i][(colon + 1)..].TrimStart()));
        }

        var body = i + 1 < lines.Length ? string.Join('\n', lines[(i + 1)..]) : "";
        body = body.EndsWith('\n') ? body[..^1] : body; // the file's final newline is not part of the body

        if (!directives.TryGetValue("expect", out var expect))
        {
            throw new InvalidOperationException($"{relativePath}: '# expect: <status>' is missing.");
        }

        return new BadInput(relativePath, int.Parse(expect, CultureInfo.InvariantCulture), directives.GetValueOrDefault("code"), directives,
            requestLine[0], requestLine[1].Trim(), headers, body);
    }

    [GeneratedRegex(@"^#\s*([a-z0-9-]+):\s?(.*)$")]
    private static partial Regex Directive();
}

/// <summary>
/// Replays every file of the bad-input corpus against the live app and checks the answer (status, and the
/// platform's code on the notify routes) and that nothing was queued, stored or sent on to WeChat Pay.
/// </summary>
[Trait("Category", "Slow")] // the whole app on a real socket, every corpus file (the stalled uploads wait out their timeout).
public sealed partial class BadInputCorpus(LiveAppFixture live) : IClassFixture<LiveAppFixture>
{
    public static TheoryData<string> Cases =>
    [
        .. Directory.EnumerateFiles(BadInput.Root, "*.http", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(BadInput.Root, f).Replace('\\', '/'))
            .Order(StringComparer.Ordinal),
    ];

    [Fact]
    public void The_corpus_covers_every_route()
    {
        var routes = Cases.Select(c => ((string)c.Data).Split('/')[0]).ToHashSet();
        Assert.Superset(new HashSet<string> { "create-order", "prepare-order", "get-order", "notify-pyun", "notify-wechatpay",
            "payscore-create", "payscore-query", "payscore-complete", "payscore-cancel", "payscore-refund", "payscore-refund-get", "create-refund" }, routes);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task A_bad_input_gets_its_answer_and_changes_nothing(string file)
    {
        var input = BadInput.Load(file);
        var merchantOrderNo = Api.NewMerchantOrderNo();
        var outOrderNo = PayScore.PayScoreApi.NewOutOrderNo();
        var request = Build(input, merchantOrderNo, outOrderNo);
        // The previous case's end state, when it passed: saves the reads (cases run one after another).
        var before = live.CorpusSnapshot ?? await SnapshotAsync();
        live.CorpusSnapshot = null;
        await live.ClearQueueAsync(); // whatever a failed case before may have left

        var response = await SendAsync(request, input);

        var context = $"{file}\n--- sent\n{request}\n--- answer {response.Status}\n{response.Text}";
        Assert.True(input.Expect == response.Status, $"expected {input.Expect}: {context}");
        if (input.Code is not null)
        {
            using var answer = JsonDocument.Parse(response.Body);
            Assert.True(input.Code == answer.RootElement.GetProperty("code").GetString(), $"expected code {input.Code}: {context}");
        }

        if (response.Status >= 400 && response.Headers.TryGetValue("Content-Type", out var type) && type.StartsWith("application/problem+json", StringComparison.Ordinal))
        {
            Assert.DoesNotContain(PaymentApp.FunctionKey, response.Text, StringComparison.Ordinal);
            Assert.DoesNotContain(PaymentApp.AppSecret, response.Text, StringComparison.Ordinal);
        }

        Assert.True(await live.App.QueueLengthAsync() == 0, $"something was queued: {context}");
        Assert.True(await live.App.IndexRowsAsync(merchantOrderNo) == 0, $"an order was stored: {context}");
        Assert.True(await live.PayScoreAsync(outOrderNo) is null, $"a Pay Score order was stored: {context}");
        Assert.DoesNotContain(live.App.WeChat!.State.Requests, r => r.Target.Contains(outOrderNo, StringComparison.Ordinal) || r.Body.Contains(outOrderNo, StringComparison.Ordinal));
        var after = await SnapshotAsync();
        Assert.True(before == after, $"a stored order changed: {context}");
        live.CorpusSnapshot = after;
    }

    /// <summary>The ETags of the fixture's orders and the length of the P云 order's timeline: any write changes one.</summary>
    private async Task<string> SnapshotAsync()
    {
        var order = await live.App.Store.GetOrderAsync(live.OrderId, CancellationToken.None);
        var attempts = new List<string>();
        await foreach (var row in live.App.Storage.Orders.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"PartitionKey eq {live.OrderId}")))
        {
            attempts.Add($"{row.RowKey}:{row.ETag}");
        }

        var paid = new List<string>();
        await foreach (var row in live.App.Storage.PayScoreOrders.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"PartitionKey eq {live.PaidOutOrderNo}")))
        {
            paid.Add($"{row.RowKey}:{row.ETag}");
        }

        var refundCalls = live.App.WeChat!.State.Requests.Count(r => r.Target.StartsWith("/v3/refund/", StringComparison.Ordinal));
        return $"{order!.ETag} {string.Join(",", attempts)} {(await live.PayScoreAsync(live.CreatedOutOrderNo))!.ETag} {(await live.PayScoreAsync(live.ConfirmedOutOrderNo))!.ETag} {string.Join(",", paid)} refunds sent {refundCalls}";
    }

    private async Task<RawResponse> SendAsync(RawRequest request, BadInput input)
    {
        if (!input.Directives.TryGetValue("stall-after", out var stall))
        {
            return await live.SendAsync(request);
        }

        // Send the head and part of the body, then nothing: the answer must come anyway, and be a 4xx.
        return await RawHttp.SendStalledAsync(live.Server, request, int.Parse(stall, CultureInfo.InvariantCulture), TimeSpan.FromSeconds(20));
    }

    private RawRequest Build(BadInput input, string merchantOrderNo, string outOrderNo)
    {
        var now = live.App.Clock.GetUtcNow();
        string Expand(string text) => Placeholder().Replace(text, m => m.Groups[1].Value switch
        {
            "functionKey" => PaymentApp.FunctionKey,
            "merchantOrderNo" => merchantOrderNo,
            "outOrderNo" => outOrderNo,
            "orderId" => live.OrderId,
            "payOrder" => live.PayOrder,
            "createdOutOrderNo" => live.CreatedOutOrderNo,
            "confirmedOutOrderNo" => live.ConfirmedOutOrderNo,
            "paidOutOrderNo" => live.PaidOutOrderNo,
            "unknownOrderId" => "abcdefghijklmnopqrstuvwx",
            "pyunAppId" => PaymentApp.AppId,
            "pyunMerchant" => PaymentApp.Merchant,
            "mchId" => WeChatPayTestData.MchId,
            "weChatAppId" => WeChatPayTestData.AppId,
            "serviceId" => WeChatPayTestData.ServiceId,
            "weChatSerial" => WeChatPayTestData.PublicKeyId,
            "timestamp" => now.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture),
            "expiresAt" => now.AddDays(1).ToString("O", CultureInfo.InvariantCulture),
            var repeat when repeat.StartsWith("repeat:", StringComparison.Ordinal) => Repeat(repeat),
            var other => throw new InvalidOperationException($"{input.Name}: unknown placeholder {{{{{other}}}}}"),
        });

        var text = Expand(input.Body);
        var body = input.Directives.GetValueOrDefault("body") == "escaped" ? Unescape(text) : Encoding.UTF8.GetBytes(text);
        var headers = input.Headers.Select(h => new KeyValuePair<string, string>(h.Key, Expand(h.Value))).ToList();
        switch (input.Directives.GetValueOrDefault("sign"))
        {
            case null:
                break;
            case "pyun":
                Assert.True(FormBody.TryParse(body, out var fields, out var error), $"{input.Name}: the form to sign does not parse: {error}");
                body = [.. body, .. Encoding.ASCII.GetBytes("&sign=" + PyunSignature.Sign(fields!, PaymentApp.AppSecret))];
                break;
            case "wechatpay" or "wechatpay-raw":
                if (input.Directives["sign"] == "wechatpay")
                {
                    body = LiveAppFixture.CallbackEnvelope(text, input.Directives.GetValueOrDefault("event", PayScoreStates.UserConfirmEvent), "EV-" + input.Name,
                        input.Directives.GetValueOrDefault("apiv3-key", WeChatPayTestData.ApiV3Key));
                }

                var offset = long.Parse(input.Directives.GetValueOrDefault("timestamp-offset", "0"), CultureInfo.InvariantCulture);
                var signed = WeChatPayTestData.Sign(body, WeChatPayTestData.WeChatPayPrivatePem, WeChatPayTestData.PublicKeyId, now.ToUnixTimeSeconds() + offset);
                foreach (var (name, value) in new[]
                         {
                             (WeChatPaySignatureHeaders.TimestampHeader, signed.Timestamp!), (WeChatPaySignatureHeaders.NonceHeader, signed.Nonce!),
                             (WeChatPaySignatureHeaders.SignatureHeader, signed.Signature!), (WeChatPaySignatureHeaders.SerialHeader, signed.Serial!),
                         })
                {
                    // A header the file sets itself (a probe signature, say) replaces the signed one.
                    if (!headers.Any(h => h.Key.Equals(name, StringComparison.OrdinalIgnoreCase)))
                    {
                        headers.Add(new(name, value));
                    }
                }

                break;
            case var other:
                throw new InvalidOperationException($"{input.Name}: unknown '# sign: {other}'");
        }

        return new RawRequest(input.Method, Expand(input.Target), headers, body);
    }

    private static string Repeat(string placeholder)
    {
        var parts = placeholder.Split(':', 3); // repeat:<count>:<text>
        return string.Concat(Enumerable.Repeat(parts[2], int.Parse(parts[1], CultureInfo.InvariantCulture)));
    }

    /// <summary><c>\xHH</c> is that byte; everything else is UTF-8.</summary>
    private static byte[] Unescape(string text)
    {
        var output = new List<byte>();
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '\\' && i + 3 < text.Length && text[i + 1] == 'x')
            {
                output.Add(byte.Parse(text.AsSpan(i + 2, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                i += 3;
            }
            else
            {
                var scalar = char.IsSurrogatePair(text, i) ? text.Substring(i++, 2) : text[i].ToString();
                output.AddRange(Encoding.UTF8.GetBytes(scalar));
            }
        }

        return [.. output];
    }

    [GeneratedRegex(@"\{\{([^}]+)\}\}")]
    private static partial Regex Placeholder();
}
