using System.Net;

namespace PaymentFunctions.Tests.Infrastructure;

internal static class ValidationProblems
{
    /// <summary>Asserts a 400 validation problem and returns its error keys, in the order the body gives them.</summary>
    public static async Task<string[]> ErrorKeysAsync(this HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.ProblemAsync();
        return [.. problem.GetProperty("errors").EnumerateObject().Select(e => e.Name)];
    }
}
