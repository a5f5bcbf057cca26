namespace PaymentFunctions.Notifications;

/// <summary>
/// A queued message that no retry can fix. Retrying it only delays the poison alert, or fires it for something
/// nobody has to repair, so both queue paths act on it at once; what they do depends on the subclass. Anything else
/// thrown while processing (storage errors, 412 races, timeouts) is transient and keeps its retries.
/// </summary>
public abstract class PermanentMessageException(string message) : Exception(message);

/// <summary>
/// Not a message we can read: undecodable, not an envelope, another version, an unknown kind, a malformed payload.
/// That is corruption or a version mismatch an operator must look at: the message is poisoned at once, unchanged.
/// </summary>
public sealed class InvalidMessageException(string message) : PermanentMessageException(message);

/// <summary>
/// A well-formed, verified notification about an order (or <c>pay_order</c>) we do not have. No retry makes the order
/// appear, and nothing is broken on our side: it is recorded as an orphan (<see cref="OrphanStore"/>) and the message
/// is completed.
/// </summary>
public abstract class OrphanNotificationException(string platform, string reference, string message) : PermanentMessageException(message)
{
    /// <summary>Who sent it: <c>pyun</c> or <c>wechatpay</c>.</summary>
    public string Platform { get; } = platform;

    /// <summary>The platform's name for the order we do not have (<c>pay_order</c>, <c>out_order_no</c>).</summary>
    public string Reference { get; } = reference;
}
