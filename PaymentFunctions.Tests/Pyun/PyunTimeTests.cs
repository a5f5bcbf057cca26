using PaymentFunctions.Pyun;

namespace PaymentFunctions.Tests.Pyun;

/// <summary>The trade times P云 documents, and the ambiguous ones refused instead of guessed.</summary>
public sealed class PyunTimeTests
{
    [Theory]
    [InlineData("2020-12-31T16:00:15Z", "2020-12-31T16:00:15+00:00")]
    [InlineData("2022-07-24T16:46:09.755Z", "2022-07-24T16:46:09.755+00:00")]
    [InlineData("2021-01-01T00:00:15+08:00", "2020-12-31T16:00:15+00:00")]
    [InlineData("2021-01-01T00:00:15+0800", "2020-12-31T16:00:15+00:00")]
    [InlineData("2020-12-31T11:00:15-05:00", "2020-12-31T16:00:15+00:00")]
    public void Query_times_with_an_offset_are_read(string text, string expected)
    {
        Assert.True(PyunTradeResult.TryIsoTime(text, out var time));
        Assert.Equal(DateTimeOffset.Parse(expected, System.Globalization.CultureInfo.InvariantCulture), time);
    }

    [Theory]
    [InlineData("2020-12-31T16:00:15")] // no offset: UTC or Beijing?
    [InlineData("2020-12-31 16:00:15")]
    [InlineData("2020-12-31T16:00:15 Z")]
    [InlineData("2020-12-31")]
    [InlineData("1609430415000")] // epoch ms: the notification's format, not documented for the query
    [InlineData("2020-13-31T16:00:15Z")]
    [InlineData("2020-12-31T16:00:15+08")]
    [InlineData("")]
    [InlineData(null)]
    public void Ambiguous_or_undocumented_query_times_are_refused(string? text) =>
        Assert.False(PyunTradeResult.TryIsoTime(text, out _));

    [Fact]
    public void Notification_times_are_epoch_milliseconds()
    {
        Assert.True(PyunTradeResult.TryEpochMilliseconds("1609430415000", out var time));
        Assert.Equal(new DateTimeOffset(2020, 12, 31, 16, 0, 15, TimeSpan.Zero), time);
    }

    [Theory]
    [InlineData("1609430415")] // epoch seconds would read as January 1970
    [InlineData("-1609430415000")]
    [InlineData("+1609430415000")]
    [InlineData(" 1609430415000")]
    [InlineData("16094304150000")]
    [InlineData("2020-12-31T16:00:15Z")]
    [InlineData("")]
    public void Other_notification_times_are_refused(string text) =>
        Assert.False(PyunTradeResult.TryEpochMilliseconds(text, out _));
}
