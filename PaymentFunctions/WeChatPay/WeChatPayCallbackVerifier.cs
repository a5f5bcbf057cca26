using System.Text;
using System.Text.Json;

namespace PaymentFunctions.WeChatPay;

/// <summary>The encrypted <c>resource</c> of a callback envelope.</summary>
public sealed record WeChatPayNotificationResource
{
    public string? Algorithm { get; init; }
    public string? Ciphertext { get; init; }
    public string? Nonce { get; init; }
    public string? AssociatedData { get; init; }
    public string? OriginalType { get; init; }
}

/// <summary>The callback envelope WeChat Pay POSTs to <c>notify_url</c>.</summary>
public sealed record WeChatPayNotification
{
    public string? Id { get; init; }
    public string? CreateTime { get; init; }
    public string? EventType { get; init; }
    public string? ResourceType { get; init; }
    public string? Summary { get; init; }
    public WeChatPayNotificationResource? Resource { get; init; }
}

/// <summary>
/// A verified and decrypted callback, or the reason it was refused. On success <see cref="Notification"/>,
/// <see cref="ResourceJson"/> and <see cref="ServiceOrder"/> are set.
/// </summary>
public sealed record WeChatPayCallbackResult(WeChatPayRejection Rejection, string Message)
{
    public WeChatPayNotification? Notification { get; init; }

    /// <summary>The decrypted resource exactly as WeChat Pay sent it.</summary>
    public string? ResourceJson { get; init; }

    /// <summary>The decrypted resource read as a Pay Score service order.</summary>
    public PayScoreServiceOrder? ServiceOrder { get; init; }

    public bool IsValid => Rejection == WeChatPayRejection.None;
}

/// <summary>
/// Callback processing, in this order: the four <c>Wechatpay-*</c> headers, timestamp freshness, key by serial,
/// probe signatures, SHA256withRSA over the raw body; only then the JSON envelope and AES-256-GCM decryption of
/// <c>resource</c> with the APIv3 key. Nothing is parsed before the signature is verified. Never throws for bad input.
/// </summary>
public sealed class WeChatPayCallbackVerifier(WeChatPaySignatureVerifier signatures, WeChatPayKeyRing keys)
{
    public WeChatPayCallbackResult Verify(WeChatPaySignatureHeaders headers, ReadOnlySpan<byte> body)
    {
        var signature = signatures.Verify(headers, body);
        if (!signature.IsValid)
        {
            return new WeChatPayCallbackResult(signature.Rejection, signature.Message);
        }

        WeChatPayNotification? notification;
        try
        {
            notification = JsonSerializer.Deserialize<WeChatPayNotification>(body, WeChatPayJson.Options);
        }
        catch (JsonException)
        {
            return new WeChatPayCallbackResult(WeChatPayRejection.MalformedEnvelope, "the body is not a JSON notification envelope");
        }

        var resource = notification?.Resource;
        if (notification is null || string.IsNullOrEmpty(notification.Id) || string.IsNullOrEmpty(notification.EventType) || resource is null
            || string.IsNullOrEmpty(resource.Ciphertext) || string.IsNullOrEmpty(resource.Nonce))
        {
            return new WeChatPayCallbackResult(WeChatPayRejection.MalformedEnvelope,
                "the envelope lacks id, event_type or resource.{ciphertext,nonce}");
        }

        if (resource.Algorithm != WeChatPayAesGcm.Algorithm)
        {
            return new WeChatPayCallbackResult(WeChatPayRejection.UnsupportedAlgorithm,
                $"resource.algorithm must be {WeChatPayAesGcm.Algorithm}");
        }

        if (!WeChatPayAesGcm.TryDecrypt(keys.ApiV3Key, resource.Nonce, resource.AssociatedData, resource.Ciphertext, out var plaintext))
        {
            return new WeChatPayCallbackResult(WeChatPayRejection.DecryptionFailed,
                "the resource does not decrypt with the APIv3 key (wrong key, or tampered ciphertext, tag, nonce or associated data)")
            {
                Notification = notification,
            };
        }

        PayScoreServiceOrder? order;
        string json;
        try
        {
            json = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(plaintext);
            order = JsonSerializer.Deserialize<PayScoreServiceOrder>(plaintext, WeChatPayJson.Options);
        }
        catch (Exception ex) when (ex is JsonException or ArgumentException)
        {
            return new WeChatPayCallbackResult(WeChatPayRejection.MalformedResource, "the decrypted resource is not a JSON object")
            {
                Notification = notification,
            };
        }

        if (order is null)
        {
            return new WeChatPayCallbackResult(WeChatPayRejection.MalformedResource, "the decrypted resource is not a JSON object")
            {
                Notification = notification,
            };
        }

        return new WeChatPayCallbackResult(WeChatPayRejection.None, "verified and decrypted")
        {
            Notification = notification,
            ResourceJson = json,
            ServiceOrder = order,
        };
    }
}
