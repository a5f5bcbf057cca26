using PaymentFunctions.Pyun;

namespace PaymentFunctions.Tests.Pyun;

/// <summary>Pyun settings: signed requests and the answers we act on travel over https, except to a fake on this machine.</summary>
public sealed class PyunOptionsValidatorTests
{
    private static PyunOptions Options(Action<PyunOptions>? change = null)
    {
        var o = new PyunOptions
        {
            BaseUrl = "https://api.4pyun.com",
            AppId = "op0096196358123123",
            AppSecret = "secret-value-0123",
            Merchant = "62626601",
            NotifyUrl = "https://pay.example.com/api/notify/pyun",
        };
        change?.Invoke(o);
        return o;
    }

    [Theory]
    [InlineData("https://api.4pyun.com")]
    [InlineData("https://papi.4pyun.com/")]
    [InlineData("http://127.0.0.1:7072")]
    [InlineData("http://127.5.6.7:8080")]
    [InlineData("http://localhost:7072")]
    [InlineData("http://LOCALHOST")]
    [InlineData("http://[::1]:7072")]
    [InlineData("http://loopback:7072")] // System.Uri reads this name as localhost
    public void Https_or_loopback_http_base_urls_are_accepted(string url) =>
        Assert.True(new PyunOptionsValidator().Validate(null, Options(o => o.BaseUrl = url)).Succeeded);

    [Theory]
    [InlineData("http://api.4pyun.com")]
    [InlineData("http://10.0.0.5:7072")]
    [InlineData("http://0.0.0.0:7072")]
    [InlineData("http://localhost.example.com/")]
    [InlineData("http://127.0.0.1.nip.io/")]
    [InlineData("http://[::ffff:10.0.0.1]/")]
    public void Plain_http_to_anywhere_else_is_one_clear_line(string url)
    {
        var result = new PyunOptionsValidator().Validate(null, Options(o => o.BaseUrl = url));

        var failure = Assert.Single(result.Failures!);
        Assert.Equal("Setting 'Pyun:BaseUrl' is malformed: expected https (http is allowed for loopback addresses only).", failure);
    }

    [Fact]
    public void A_plain_http_notify_url_is_still_allowed_since_P云_calls_it_and_the_form_is_signed() =>
        Assert.True(new PyunOptionsValidator().Validate(null, Options(o => o.NotifyUrl = "http://pay.example.com/api/notify/pyun")).Succeeded);

    [Theory]
    [InlineData("NotifyUrl")]
    [InlineData("AppId")]
    [InlineData("Merchant")]
    public void Values_signed_into_every_request_must_be_signable(string key)
    {
        var result = new PyunOptionsValidator().Validate(null, Options(o =>
        {
            switch (key)
            {
                case "NotifyUrl": o.NotifyUrl = "https://pay.example.com/api/notify/pyun?code=abc"; break;
                case "AppId": o.AppId = "op1&x"; break;
                default: o.Merchant = "6262=1"; break;
            }
        }));

        var failure = Assert.Single(result.Failures!);
        Assert.StartsWith($"Setting 'Pyun:{key}' is malformed: it must not contain '&' or '='", failure, StringComparison.Ordinal);
        Assert.DoesNotContain("secret-value", failure, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("00:00:00", "00:00:30", 5, null)]
    [InlineData("00:00:02", "00:00:01", 1, null)]
    [InlineData("6.00:00:00", "00:00:00.001", 20, null)]
    [InlineData("-00:00:01", "00:00:30", 5, "Setting 'Pyun:CheckGrace' must be a duration from 00:00:00 to 6.00:00:00, such as 00:00:30.")]
    [InlineData("7.00:00:00", "00:00:30", 5, "Setting 'Pyun:CheckGrace' must be a duration from 00:00:00 to 6.00:00:00, such as 00:00:30.")]
    [InlineData("00:00:30", "00:00:00", 5, "Setting 'Pyun:CheckBackoff' must be a positive duration such as 00:05:00.")]
    [InlineData("00:00:30", "00:00:30", 0, "Setting 'Pyun:CheckMaxRounds' must be a whole number from 1 to 20.")]
    [InlineData("00:00:30", "00:00:30", 21, "Setting 'Pyun:CheckMaxRounds' must be a whole number from 1 to 20.")]
    public void Check_settings_accept_seconds_and_refuse_what_the_queue_cannot_do(string grace, string backoff, int rounds, string? error)
    {
        var result = new PyunOptionsValidator().Validate(null, Options(o =>
        {
            o.CheckGrace = TimeSpan.Parse(grace, System.Globalization.CultureInfo.InvariantCulture);
            o.CheckBackoff = TimeSpan.Parse(backoff, System.Globalization.CultureInfo.InvariantCulture);
            o.CheckMaxRounds = rounds;
        }));

        if (error is null)
        {
            Assert.True(result.Succeeded);
        }
        else
        {
            Assert.Equal(error, Assert.Single(result.Failures!));
        }
    }
}
