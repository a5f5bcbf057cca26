using PaymentFunctions.Pyun;

namespace PaymentFunctions.Tests.Pyun;

/// <summary>The five sign examples published in P云 开放平台's pages (交易预下单, 查询交易状态, 授权支付, the README, 发起订单退款), and the verification rules.</summary>
public sealed class PyunSignatureTests
{
    /// <summary>Splits a documented string-to-sign back into its parameters (the values contain no '&amp;').</summary>
    private static (Dictionary<string, string?> Parameters, string Secret) Split(string stringToSign)
    {
        var parts = stringToSign.Split('&');
        var parameters = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var part in parts[..^1])
        {
            var eq = part.IndexOf('=', StringComparison.Ordinal);
            parameters[part[..eq]] = part[(eq + 1)..];
        }

        return (parameters, parts[^1]["app_secret=".Length..]);
    }

    [Theory]
    [InlineData("app_id=op0096196358123123&body=【川A12345】在【XXXXX-停车场】于【2021-07-01 00:00:00】支付费1.00元&callback_url=https://a.b.c/backurl&channel=200201&extra={\"plate_color\":\"-1\",\"parking_serial\":\"01009970545516206225805859659\",\"plate\":\"川AA37K2\",\"enter_time\":\"1620621689000\",\"park_name\":\"P云支付体验-停车场\",\"parking_time\":\"175\"}&merchant=62626601&notify_url=https://a.b.c/notify&pay_order=11111111118&subject=停车支付3.00元(川A12345)&value=10&app_secret=6409292d66625a2a12342134", "96FD052F81BBB3C25B5BD628E189A154")]
    [InlineData("app_id=op009619634544&merchant=62626666666&pay_order=00202101010000060755912770312323&app_secret=6409292d66625a2a0912ac345345", "8FFDCC0A8C51BB92F183CAE2DD0C70D6")]
    [InlineData("app_id=op009619631234213&auth_code=135680596336872323&body=【川A12345】在【XXXXX-停车场】于【2021-07-01 00:00:00】支付费1.00元&merchant=62626601&notify_url=https://a.b.c/notify&pay_order=11111111111&payer=o1kTSt3wG76-vZh_ORgd9Ef6MXYQ&subject=停车支付3.00元(川A12345)&value=10&app_secret=6409292d666251341234213", "8E0050337ACD79D9FFA44CFCFD6A2919")]
    [InlineData("app_id=op88641899bd20661&car_type=1&enter_time=1563242533431&park_uuid=40e06b24-7320-4a61-8d97-7ebccb364a87&plate=粤B660PP&sign_type=MD5&timestamp=1563242932357&app_secret=29b72e85f56f9d20b2303d5289fe78c9", "1A6FE20BDD05B654F8FD33A299D75DF3")]
    public void Form_vectors_reproduce(string stringToSign, string expected)
    {
        var (parameters, secret) = Split(stringToSign);
        // Shuffle the order: the signer must sort.
        var shuffled = parameters.Reverse().ToList();

        Assert.Equal(stringToSign, PyunSignature.StringToSign(shuffled, secret));
        Assert.Equal(expected, PyunSignature.Sign(shuffled, secret));
        Assert.True(PyunSignature.Verify(shuffled, expected, secret));
        Assert.True(PyunSignature.Verify(shuffled, expected.ToLowerInvariant(), secret));
    }

    [Fact]
    public void Json_vector_reproduces()
    {
        const string body = "{\"reason\":\"接口测试退款\",\"pay_serial\":\"20220721102644066066610031\",\"app_id\":\"op00961963581daa7\",\"value\":\"1\"}";
        Assert.Equal("55D9BC675B3B042A015895FA9F9D037B", PyunSignature.SignJson(body, "6409292d66625a2a0912acfc61ed956c"));
        // The client signs the bytes it sends: the same bytes give the same sign, one byte more does not.
        var bytes = System.Text.Encoding.UTF8.GetBytes(body);
        Assert.Equal("55D9BC675B3B042A015895FA9F9D037B", PyunSignature.SignJson(bytes, "6409292d66625a2a0912acfc61ed956c"));
        Assert.NotEqual("55D9BC675B3B042A015895FA9F9D037B", PyunSignature.SignJson([.. bytes, (byte)' '], "6409292d66625a2a0912acfc61ed956c"));
        // The same text with Chinese escaped (System.Text.Json's default) is another body with another sign.
        Assert.NotEqual("55D9BC675B3B042A015895FA9F9D037B", PyunSignature.SignJson(body.Replace("接口测试退款", "\\u63a5\\u53e3\\u6d4b\\u8bd5\\u9000\\u6b3e", StringComparison.Ordinal), "6409292d66625a2a0912acfc61ed956c"));
    }

    [Fact]
    public void Sign_field_is_excluded_and_null_is_dropped_but_empty_is_signed()
    {
        var withEmpty = new Dictionary<string, string?> { ["a"] = "1", ["b"] = "", ["sign"] = "X" };
        var withNull = new Dictionary<string, string?> { ["a"] = "1", ["b"] = null };

        Assert.Equal("a=1&b=&app_secret=s", PyunSignature.StringToSign(withEmpty, "s"));
        Assert.Equal("a=1&app_secret=s", PyunSignature.StringToSign(withNull, "s"));
    }

    [Theory]
    [InlineData("8FFDCC0A8C51BB92F183CAE2DD0C70D7")] // one digit off
    [InlineData("8FFDCC0A8C51BB92F183CAE2DD0C70D")] // truncated
    [InlineData("")]
    [InlineData("8FFDCC0A8C51BB92F183CAE2DD0C70D6 ")]
    public void Wrong_signatures_are_rejected(string sign)
    {
        var (parameters, secret) = Split("app_id=op009619634544&merchant=62626666666&pay_order=00202101010000060755912770312323&app_secret=6409292d66625a2a0912ac345345");
        Assert.False(PyunSignature.Verify(parameters, sign, secret));
    }

    [Fact]
    public void Another_secret_or_an_unknown_added_field_changes_the_sign()
    {
        var (parameters, secret) = Split("app_id=op009619634544&merchant=62626666666&pay_order=00202101010000060755912770312323&app_secret=6409292d66625a2a0912ac345345");
        Assert.False(PyunSignature.Verify(parameters, "8FFDCC0A8C51BB92F183CAE2DD0C70D6", secret + "x"));
        parameters["new_field"] = "";
        Assert.False(PyunSignature.Verify(parameters, "8FFDCC0A8C51BB92F183CAE2DD0C70D6", secret));
    }
}
