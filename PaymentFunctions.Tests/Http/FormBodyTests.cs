using System.Text;
using PaymentFunctions.Http;

namespace PaymentFunctions.Tests.Http;

public sealed class FormBodyTests
{
    [Fact]
    public void Decodes_plus_percent_and_keeps_empty_values()
    {
        var ok = FormBody.TryParse("a=1+2&b=&c=%E5%BE%AE%E4%BF%A1&d=%7B%22k%22%3A1%7D"u8, out var fields, out var error);

        Assert.True(ok, error);
        Assert.Equal("1 2", fields["a"]);
        Assert.Equal("", fields["b"]);
        Assert.Equal("微信", fields["c"]);
        Assert.Equal("{\"k\":1}", fields["d"]);
    }

    [Theory]
    [InlineData("a=1&a=2", "more than once")]
    [InlineData("a=%ZZ", "percent-encoded")]
    [InlineData("a=%E5%BE", "UTF-8")]
    [InlineData("=1", "without a name")]
    [InlineData("a=%00", "UTF-8")]
    [InlineData("", "empty")]
    [InlineData("&&", "no fields")]
    public void Rejects_malformed_bodies(string body, string reason)
    {
        Assert.False(FormBody.TryParse(Encoding.UTF8.GetBytes(body), out _, out var error));
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Rejects_raw_invalid_utf8()
    {
        Assert.False(FormBody.TryParse([(byte)'a', (byte)'=', 0xC3, 0x28], out _, out var error));
        Assert.Contains("UTF-8", error, StringComparison.Ordinal);
    }
}
