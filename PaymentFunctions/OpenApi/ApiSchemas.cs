using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;
using PaymentFunctions.Hosting;
using PaymentFunctions.Orders;
using PaymentFunctions.PayScore;
using PaymentFunctions.WeChatPay;

namespace PaymentFunctions.OpenApi;

/// <summary>
/// What C# types cannot say about the wire. Request records take every member as nullable so that the validator,
/// not the deserializer, explains a missing one; the members the validator requires are required and non-null
/// here. Answers always carry every member (null included) unless the member is left out when null.
/// </summary>
internal static class ApiSchemas
{
    private static readonly Dictionary<Type, string[]> RequiredInRequests = new()
    {
        [typeof(CreateOrderRequest)] = ["merchantOrderNo", "subject", "amount", "scene", "extra"],
        [typeof(PrepareOrderRequest)] = ["client"],
        [typeof(CreatePayScoreOrderRequest)] = ["outOrderNo", "serviceIntroduction", "timeRange", "riskFund"],
        [typeof(CompletePayScoreOrderRequest)] = ["postPayments", "totalAmount"],
        [typeof(CancelPayScoreOrderRequest)] = ["reason"],
        [typeof(OrderRefundRequest)] = ["refundNo", "amount"],
        [typeof(CreatePayScoreRefundRequest)] = ["outRefundNo", "amount"],
        [typeof(PostPayment)] = ["name", "amount"],
        [typeof(PostDiscount)] = ["name", "amount"],
        [typeof(PayScoreRiskFund)] = ["name", "amount"],
    };

    private static readonly HashSet<Type> Answers =
    [
        typeof(OrderView), typeof(PrepareOrderResponse), typeof(LaunchData), typeof(PayScoreOrderView), typeof(PayScoreMiniProgramLaunch),
        typeof(PayScoreLaunchExtraData), typeof(HealthAnswer), typeof(PyunNotifyEndpoint.PyunAnswer), typeof(WeChatPayNotifyEndpoint.FailAnswer),
    ];

    public static Task TransformAsync(OpenApiSchema schema, OpenApiSchemaTransformerContext context, CancellationToken cancellationToken)
    {
        var type = context.JsonTypeInfo.Type;
        if (schema.Properties is not { Count: > 0 } properties)
        {
            return Task.CompletedTask;
        }

        if (RequiredInRequests.TryGetValue(type, out var required))
        {
            // Exactly these: the framework would otherwise require every constructor parameter, optional ones included.
            schema.Required = new SortedSet<string>(required, StringComparer.Ordinal);
            foreach (var name in required)
            {
                switch (properties.TryGetValue(name, out var property) ? property : null)
                {
                    case OpenApiSchema { Type: { } t } concrete:
                        concrete.Type = t & ~JsonSchemaType.Null;
                        break;
                }
            }
        }
        else if (Answers.Contains(type))
        {
            // Every member is written, null included, except one ignored when null (openBusinessView, failing).
            schema.Required = new SortedSet<string>(
                context.JsonTypeInfo.Properties.Where(p => properties.ContainsKey(p.Name) && !OmittedWhenNull(p)).Select(p => p.Name),
                StringComparer.Ordinal);
        }

        return Task.CompletedTask;
    }

    /// <summary>
    /// A required object member is the object, not "null or the object". The framework wraps a nullable reference in
    /// <c>oneOf</c> only once every schema is known, so this runs on the finished document.
    /// </summary>
    public static void RequireObjects(OpenApiDocument document)
    {
        foreach (var (type, required) in RequiredInRequests)
        {
            if (document.Components?.Schemas?.TryGetValue(type.Name, out var found) != true || found is not OpenApiSchema { Properties: { } properties })
            {
                continue;
            }

            if (type == typeof(CreateOrderRequest))
            {
                properties["extra"] = new OpenApiSchema
                {
                    Type = JsonSchemaType.Object,
                    Description = "The scene's fields under P云's own names (snake_case), e.g. PARKING: plate, plate_color, parking_serial, park_name, " +
                                  "enter_time, parking_time, free_value. Unknown or repeated keys are refused. docs/api.md lists every scene's fields.",
                };
            }

            foreach (var name in required)
            {
                if (properties.TryGetValue(name, out var property) && property is OpenApiSchema { OneOf: { Count: 2 } oneOf } && oneOf.Count(IsNull) == 1)
                {
                    properties[name] = oneOf.Single(o => !IsNull(o));
                }
            }
        }
    }

    private static bool OmittedWhenNull(System.Text.Json.Serialization.Metadata.JsonPropertyInfo property) =>
        property.AttributeProvider?.GetCustomAttributes(typeof(System.Text.Json.Serialization.JsonIgnoreAttribute), inherit: true)
            .OfType<System.Text.Json.Serialization.JsonIgnoreAttribute>()
            .Any(a => a.Condition is System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull or System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingDefault) == true;

    private static bool IsNull(IOpenApiSchema schema) => schema is OpenApiSchema { Type: JsonSchemaType.Null };
}
