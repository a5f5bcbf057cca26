using System.Net;

namespace PaymentFunctions.WeChatPay;

/// <summary>How a failed WeChat Pay call may be followed up.</summary>
public enum WeChatPayErrorKind
{
    /// <summary>The answer was a verified success (not an error at all); only for completeness of <see cref="WeChatPayErrors.Classify"/>.</summary>
    None,

    /// <summary>No answer, rate limit or WeChat-side failure: retry later with the identical request. For a refund, query first: it may exist.</summary>
    Retryable,

    /// <summary>A definite refusal: the identical request will fail again. A refund is Failed, with WeChat's code and message as the reason.</summary>
    Final,

    /// <summary>A 2xx answer that failed signature verification: nobody can say what happened; treat like <see cref="Retryable"/> for refunds.</summary>
    Unverified,
}

/// <summary>
/// WeChat Pay v3 error codes and their classification (shared wechatpay-refund notes §3.6, §8; codes from the official SDK's table, statuses
/// from a third-party copy, so the code decides and the status is only the fallback, §10 Q7):
/// <code>
/// code                                        status  kind       why
/// SYSTEM_ERROR, BIZ_ERR_NEED_RETRY            500     Retryable  WeChat failed; a refund may have been created anyway: query, then resend
/// FREQUENCY_LIMITED, RATELIMIT_EXCEEDED       429     Retryable  later, identical parameters ("原参重试")
/// PARAM_ERROR                                 400     Final      our request is malformed: a bug
/// INVALID_REQUEST                             400     Final      a business rule (over the refundable amount, mismatch with an earlier request)
/// NOT_ENOUGH                                  403     Final      merchant balance too low: Failed with the reason; ops top up and start a new attempt
/// USER_ACCOUNT_ABNORMAL                       403     Final      user's account closed: refund offline
/// NO_AUTH, REQUEST_BLOCKED                    403     Final      permission / mode mismatch
/// RESOURCE_NOT_EXISTS, ORDER_NOT_EXIST        404     Final      on create: no such paid order; on query: no such refund (see IsNotFound)
/// MCH_NOT_EXISTS, SIGN_ERROR                  404/401 Final      configuration
/// (any other code, or none)                   429/5xx Retryable
///                                             other 4xx Final
/// (no answer: timeout, connection reset)      —       Retryable
/// </code>
/// </summary>
public static class WeChatPayErrors
{
    public const string SystemError = "SYSTEM_ERROR";
    public const string BizErrNeedRetry = "BIZ_ERR_NEED_RETRY";
    public const string FrequencyLimited = "FREQUENCY_LIMITED";
    public const string RateLimitExceeded = "RATELIMIT_EXCEEDED";
    public const string ParamError = "PARAM_ERROR";
    public const string InvalidRequest = "INVALID_REQUEST";
    public const string NotEnough = "NOT_ENOUGH";
    public const string UserAccountAbnormal = "USER_ACCOUNT_ABNORMAL";
    public const string NoAuth = "NO_AUTH";
    public const string RequestBlocked = "REQUEST_BLOCKED";
    public const string ResourceNotExists = "RESOURCE_NOT_EXISTS";
    public const string OrderNotExist = "ORDER_NOT_EXIST";
    public const string MchNotExists = "MCH_NOT_EXISTS";
    public const string SignError = "SIGN_ERROR";

    private static readonly HashSet<string> RetryableCodes = new(StringComparer.Ordinal)
    {
        SystemError, BizErrNeedRetry, FrequencyLimited, RateLimitExceeded,
    };

    private static readonly HashSet<string> FinalCodes = new(StringComparer.Ordinal)
    {
        ParamError, InvalidRequest, NotEnough, UserAccountAbnormal, NoAuth, RequestBlocked, ResourceNotExists, OrderNotExist, MchNotExists, SignError,
    };

    /// <summary>The kind of a failed call: <paramref name="status"/> null means no answer arrived.</summary>
    public static WeChatPayErrorKind Classify(HttpStatusCode? status, string? code, WeChatPayRejection signatureRejection = WeChatPayRejection.None)
    {
        if (signatureRejection != WeChatPayRejection.None)
        {
            return WeChatPayErrorKind.Unverified;
        }

        if (status is null)
        {
            return WeChatPayErrorKind.Retryable;
        }

        if (code is not null)
        {
            if (RetryableCodes.Contains(code))
            {
                return WeChatPayErrorKind.Retryable;
            }

            if (FinalCodes.Contains(code))
            {
                return WeChatPayErrorKind.Final;
            }
        }

        var value = (int)status.Value;
        return value switch
        {
            < 400 => WeChatPayErrorKind.None,
            429 or >= 500 => WeChatPayErrorKind.Retryable,
            _ => WeChatPayErrorKind.Final,
        };
    }
}
