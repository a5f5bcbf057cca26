using System.Reflection;
using Azure.Data.Tables;
using PaymentFunctions.PayScore;
using PaymentFunctions.Storage;

namespace PaymentFunctions.Tests.PayScore;

/// <summary>
/// <see cref="PayScoreStore"/> is the only Pay Score code that touches storage: no endpoint, processor or their
/// compiler-made helpers (lambdas, async state machines) takes or holds a <see cref="StorageResources"/> or a
/// <see cref="TableClient"/>.
/// </summary>
public sealed class PayScoreStoreOwnershipTests
{
    private const BindingFlags All = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.Instance | BindingFlags.DeclaredOnly;

    private static bool IsStorage(Type t) => t == typeof(StorageResources) || t == typeof(TableClient);

    [Fact]
    public void Only_the_store_touches_storage()
    {
        var offenders =
            from type in typeof(PayScoreStore).Assembly.GetTypes()
            where type.Namespace == typeof(PayScoreStore).Namespace && type != typeof(PayScoreStore) && !IsNestedIn(type, typeof(PayScoreStore))
            from member in type.GetFields(All).Select(f => (Name: f.Name, Type: f.FieldType))
                .Concat(type.GetProperties(All).Select(p => (Name: p.Name, Type: p.PropertyType)))
                .Concat(type.GetConstructors(All).Cast<MethodBase>().Concat(type.GetMethods(All))
                    .SelectMany(m => m.GetParameters().Select(p => (Name: $"{m.Name}({p.Name})", Type: p.ParameterType))))
            where IsStorage(member.Type)
            select $"{type.FullName}.{member.Name}";

        Assert.Empty(offenders);
    }

    private static bool IsNestedIn(Type type, Type outer) =>
        type.DeclaringType is { } declaring && (declaring == outer || IsNestedIn(declaring, outer));
}
