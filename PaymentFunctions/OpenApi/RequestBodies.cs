using Microsoft.AspNetCore.Mvc.ApiExplorer;
using Microsoft.AspNetCore.Mvc.ModelBinding;

namespace PaymentFunctions.OpenApi;

/// <summary>
/// Route metadata: the body the route reads itself (through <c>RequestBody</c>, which answers a wrong content type in
/// the route's own shape). Not <c>Accepts&lt;T&gt;()</c>: that also makes routing refuse another content type with a
/// bare 415 before the route runs, which would change what the webhooks answer their platforms.
/// </summary>
public sealed record RequestBodyDescription(Type Type, string ContentType);

/// <summary>Puts each <see cref="RequestBodyDescription"/> into the API description, as <c>Accepts</c> metadata would.</summary>
internal sealed class RequestBodyApiDescriptionProvider : IApiDescriptionProvider
{
    private static readonly EmptyModelMetadataProvider ModelMetadata = new();

    public int Order => 0;

    public void OnProvidersExecuting(ApiDescriptionProviderContext context)
    {
    }

    public void OnProvidersExecuted(ApiDescriptionProviderContext context)
    {
        foreach (var description in context.Results)
        {
            if (description.ActionDescriptor.EndpointMetadata?.OfType<RequestBodyDescription>().LastOrDefault() is not { } body)
            {
                continue;
            }

            description.ParameterDescriptions.Add(new ApiParameterDescription
            {
                Name = body.Type.Name,
                Type = body.Type,
                Source = BindingSource.Body,
                IsRequired = true,
                ModelMetadata = ModelMetadata.GetMetadataForType(body.Type),
            });
            description.SupportedRequestFormats.Add(new ApiRequestFormat { MediaType = body.ContentType });
        }
    }
}
