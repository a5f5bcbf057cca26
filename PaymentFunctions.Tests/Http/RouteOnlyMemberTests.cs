using System.Text;
using Microsoft.AspNetCore.Http;
using PaymentFunctions.Http;
using PaymentFunctions.PayScore;

namespace PaymentFunctions.Tests.Http;

/// <summary>A member the route sets is refused in the body, instead of being silently dropped.</summary>
public sealed class RouteOnlyMemberTests
{
    private static Task<(T? Value, Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult? Problem)> ReadAsync<T>(string json)
        where T : class
    {
        var context = new DefaultHttpContext();
        var bytes = Encoding.UTF8.GetBytes(json);
        context.Request.Body = new MemoryStream(bytes);
        context.Request.ContentType = "application/json";
        context.Request.ContentLength = bytes.Length;
        return RequestBody.ReadJsonAsync<T>(context.Request, CancellationToken.None);
    }

    [Theory]
    [InlineData("""{"outOrderNo":"OTHER-ORDER","reason":"用户取消"}""", "outOrderNo")]
    [InlineData("""{"reason":"用户取消","OUTORDERNO":"X"}""", "OUTORDERNO")]
    public async Task A_route_member_in_the_body_is_refused_by_name(string json, string named)
    {
        var (value, problem) = await ReadAsync<CancelPayScoreOrderRequest>(json);
        Assert.Null(value);
        Assert.Equal(400, problem!.StatusCode);
        Assert.Contains($"'{named}' comes from the route", problem.ProblemDetails.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_refund_body_reads_without_the_route_member_and_is_refused_with_it()
    {
        var (value, problem) = await ReadAsync<CreatePayScoreRefundRequest>("""{"outRefundNo":"R1","amount":100,"reason":"退款"}""");
        Assert.Null(problem);
        Assert.Equal(("R1", 100L), (value!.OutRefundNo, value.Amount));

        var (_, refused) = await ReadAsync<CreatePayScoreRefundRequest>("""{"outRefundNo":"R1","amount":100,"outOrderNo":"X"}""");
        Assert.Equal(400, refused!.StatusCode);
    }
}
