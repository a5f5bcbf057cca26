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
/// A verified and decrypted callback, or the reason it was refused. On success <see cref="Notification"/> and <see cref="ResourceJson"/>
/// are set, and either <see cref="RefundNotice"/> (<see cref="IsRefund"/>: REFUND.* events) or <see cref="ServiceOrder"/> (every other event).
/// </summary>
public sealed record WeChatPayCallbackResult(WeChatPayRejection Rejection, string Message)
{
    public WeChatPayNotification? Notification { get; init; }

    /// <summary>The decrypted resource exactly as WeChat Pay sent it.</summary>
    public string? ResourceJson { get; init; }

    /// <summary>The decrypted resource read as a Pay Score service order (null for refund callbacks).</summary>
    public PayScoreServiceOrder? ServiceOrder { get; init; }

    /// <summary>The event is REFUND.* (or the resource's <c>original_type</c> is <c>refund</c>).</summary>
    public bool IsRefund { get; init; }

    /// <summary>The decrypted resource of a refund callback, its <c>refund_status</c> normalized (SUCCESS, CLOSED or ABNORMAL).</summary>
    public WeChatRefundNotice? RefundNotice { get; init; }

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

        string json;
        try
        {
            json = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(plaintext);
        }
        catch (ArgumentException)
        {
            return Malformed(notification, "the decrypted resource is not UTF-8 JSON");
        }

        if (RefundStates.IsRefundEvent(notification.EventType, resource.OriginalType))
        {
            // Refund resources are flat; no Pay Score order fields. associated_data may be "refund" or "": decryption used what arrived.
            return WeChatRefundNotice.TryParse(json, out var notice, out var error)
                ? new WeChatPayCallbackResult(WeChatPayRejection.None, "verified and decrypted")
                {
                    Notification = notification,
                    ResourceJson = json,
                    IsRefund = true,
                    RefundNotice = notice,
                }
                : Malformed(notification, error!);
        }

        PayScoreServiceOrder? order;
        try
        {
            order = JsonSerializer.Deserialize<PayScoreServiceOrder>(plaintext, WeChatPayJson.Options);
        }
        catch (JsonException)
        {
            order = null;
        }

        if (order is null)
        {
            return Malformed(notification, "the decrypted resource is not a JSON object");
        }

        return new WeChatPayCallbackResult(WeChatPayRejection.None, "verified and decrypted")
        {
            Notification = notification,
            ResourceJson = json,
            ServiceOrder = order,
        };
    }

    private static WeChatPayCallbackResult Malformed(WeChatPayNotification notification, string message) =>
        new(WeChatPayRejection.MalformedResource, message) { Notification = notification };
}
