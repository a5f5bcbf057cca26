using System.Reflection;
using PaymentFunctions.Orders;
using PaymentFunctions.Pyun;
using PaymentFunctions.WeChatPay;

namespace PaymentFunctions.Tests.Deployment;

/// <summary>
/// The app contains only what it runs: the platforms' half of the protocols (sealing callbacks, parsing our
/// Authorization header, …) lives in the fakes project (tools/PaymentFunctions.Fakes/Protocol/PlatformSide.cs), not in the deployed assembly.
/// </summary>
public sealed class AppAssemblyTests
{
    public static TheoryData<Type, string> TestOnlyMembers => new()
    {
        { typeof(PyunSignature), "VerifyJson" },
        { typeof(WeChatPayAesGcm), "Encrypt" },
        { typeof(WeChatPaySignature), "TryParseAuthorization" },
        { typeof(WeChatPaySignatureHeaders), "SignatureTypeHeader" },
        { typeof(PayScoreServiceOrder), "IsPaid" },
        { typeof(PayScoreServiceOrder), "IsConfirmed" },
        { typeof(PayScoreMiniProgramLaunch), "FromOrder" },
        { typeof(OrderStore), "GetTimelineAsync" },
    };

    [Theory]
    [MemberData(nameof(TestOnlyMembers))]
    public void The_app_assembly_has_no_member_only_tests_use(Type type, string member)
    {
        Assert.Equal(typeof(Program).Assembly, type.Assembly);
        Assert.Empty(type.GetMember(member, BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.Instance));
    }
}
