using System.Net;
using PaymentFunctions.WeChatPay;

namespace PaymentFunctions.Tests.WeChatPay;

/// <summary>The refund error table (refund notes §3.6): WeChat's code decides, the HTTP status only when the code is unknown or absent.</summary>
public sealed class WeChatPayErrorsTests
{
    [Theory]
    [InlineData(500, "SYSTEM_ERROR", WeChatPayErrorKind.Retryable)]
    [InlineData(500, "BIZ_ERR_NEED_RETRY", WeChatPayErrorKind.Retryable)]
    [InlineData(429, "FREQUENCY_LIMITED", WeChatPayErrorKind.Retryable)]
    [InlineData(400, "PARAM_ERROR", WeChatPayErrorKind.Final)]
    [InlineData(400, "INVALID_REQUEST", WeChatPayErrorKind.Final)]
    [InlineData(403, "NOT_ENOUGH", WeChatPayErrorKind.Final)]
    [InlineData(403, "USER_ACCOUNT_ABNORMAL", WeChatPayErrorKind.Final)]
    [InlineData(403, "NO_AUTH", WeChatPayErrorKind.Final)]
    [InlineData(404, "RESOURCE_NOT_EXISTS", WeChatPayErrorKind.Final)]
    [InlineData(401, "SIGN_ERROR", WeChatPayErrorKind.Final)]
    // The code wins over a status that disagrees with the published table.
    [InlineData(403, "SYSTEM_ERROR", WeChatPayErrorKind.Retryable)]
    [InlineData(500, "INVALID_REQUEST", WeChatPayErrorKind.Final)]
    [InlineData(400, "FREQUENCY_LIMITED", WeChatPayErrorKind.Retryable)]
    // Unknown or missing codes fall back to the status.
    [InlineData(502, null, WeChatPayErrorKind.Retryable)]
    [InlineData(503, "SOMETHING_NEW", WeChatPayErrorKind.Retryable)]
    [InlineData(429, null, WeChatPayErrorKind.Retryable)]
    [InlineData(418, "SOMETHING_NEW", WeChatPayErrorKind.Final)]
    [InlineData(404, null, WeChatPayErrorKind.Final)]
    public void Code_first_then_status(int status, string? code, WeChatPayErrorKind expected)
    {
        Assert.Equal(expected, WeChatPayErrors.Classify((HttpStatusCode)status, code));
        var ex = new WeChatPayException("x", (HttpStatusCode)status, code);
        Assert.Equal(expected == WeChatPayErrorKind.Retryable, ex.IsTransient);
        Assert.Equal(expected == WeChatPayErrorKind.Final, ex.IsFinalRefusal);
    }

    [Fact]
    public void No_answer_is_retryable_and_an_unverified_answer_is_neither_unless_the_outcome_is_unknown()
    {
        Assert.Equal(WeChatPayErrorKind.Retryable, WeChatPayErrors.Classify(null, null));
        Assert.Equal(WeChatPayErrorKind.Unverified, WeChatPayErrors.Classify(HttpStatusCode.OK, null, WeChatPayRejection.BadSignature));
        var unverified = new WeChatPayException("x", HttpStatusCode.OK, signatureRejection: WeChatPayRejection.BadSignature);
        Assert.False(unverified.IsTransient);
        Assert.False(unverified.IsFinalRefusal);
        var unknown = new WeChatPayException("x", HttpStatusCode.OK, signatureRejection: WeChatPayRejection.BadSignature, outcomeUnknown: true);
        Assert.True(unknown.IsTransient);
        Assert.False(unknown.IsFinalRefusal);
    }

    [Theory]
    [InlineData(404, "RESOURCE_NOT_EXISTS", true)]
    [InlineData(404, "ORDER_NOT_EXIST", true)]
    [InlineData(404, null, true)]
    [InlineData(404, "MCH_NOT_EXISTS", false)]
    [InlineData(400, "INVALID_REQUEST", false)]
    public void IsNotFound(int status, string? code, bool expected) =>
        Assert.Equal(expected, new WeChatPayException("x", (HttpStatusCode)status, code).IsNotFound);

    [Theory]
    [InlineData("PROCESSING", "PROCESSING")]
    [InlineData("SUCCESS", "SUCCESS")]
    [InlineData("CLOSED", "CLOSED")]
    [InlineData("CLOSE", "CLOSED")]
    [InlineData("ABNORMAL", "ABNORMAL")]
    [InlineData("closed", null)]
    [InlineData("", null)]
    [InlineData(null, null)]
    public void Refund_states_normalize(string? raw, string? expected) => Assert.Equal(expected, RefundStates.Normalize(raw));
}
