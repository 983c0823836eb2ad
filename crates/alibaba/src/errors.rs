//! Alibaba Cloud error codes, classified once into [`ErrorClass`] and [`Blocker`].
//!
//! | code | class |
//! | --- | --- |
//! | any code containing `Throttling`, HTTP 429 (whatever the code) | retryable, throttled (`x-acs-retry-after` ms / `Retry-After` s, capped at [`http::MAX_RETRY_AFTER`]) |
//! | `TaskConflict*`, `IncorrectEipStatus`, `OperationConflict`, `OperationFailed.SystemBusy`, `LastTokenProcessing`, `SignatureNonceUsed`, `InvalidBindingStatus`, `IncorrectInstanceStatus`, `IncorrectHaVipStatus`, `InvalidStatus.SnatOrDnat`, `InvalidStatus.EcsStatusNotSupport`, `InvalidStatus.NotAllow`, `ServiceUnavailable`, `InternalError`, `UnknownError`, any 5xx | retryable |
//! | `InvalidAllocationId.NotFound` | gone (on a mutating call; retryable on Describe, see [`super::answers`]) |
//! | `Forbidden.ChargeTypeIsPrepaid` | terminal, PrepaidCannotRelease |
//! | `Forbidden.FinancialLocked`, `InvalidEIPStatus.BizDisabled` | terminal, Locked |
//! | `InvalidOperation.DeletionProtection` | terminal, DeletionProtection |
//! | `InvalidIpStatus.HasBeenUsedBySnatTable`, `InvalidIpStatus.HasBeenUsedByForwardEntry`, `DependencyViolation.*` | terminal, NatEntriesBlockUnbind |
//! | `InvalidInstanceType.ValueNotSupported`, `InvalidInstanceId.NotFound`, `InvalidBindInstance.NotFound`, `InvalidLoadBalancerId.NotFound`, `InvalidParameter.Duplicated`, `Eni.Attached` | terminal, InvalidBindingTarget |
//! | `QuotaExceeded*` | terminal, QuotaExceeded |
//! | `SignatureDoesNotMatch`, `IncompleteSignature`, `InvalidAccessKeyId*`, `InvalidAccessKeySecret`, `InvalidSecurityToken*`, `InvalidTimeStamp*`, `InvalidCredentials`, `AuthenticationFail*`, `EntityNotExist.Role` | terminal, AuthenticationFailed |
//! | `Forbidden`, `Forbidden.*` (others), `NoPermission`, `OperationDenied*` | terminal, Forbidden |
//! | `InvalidParameter*`, `MissingParameter*`, `Mismatch.*`, `IdempotentParameterMismatch`, `Forbidden.RegionNotFound`, `InvalidRegionId*`, `InvalidAction*`, `InvalidVersion` | terminal, InvalidRequest |
//! | anything else 4xx | terminal, CloudRefused |
//!
//! The message of an `AuthenticationFailed` error ends with what to check: which keys of the
//! ProviderConfig's credentials Secret (or the node's clock), see [`authentication_hint`].
//!
//! Any 5xx is retryable whatever its code ([`http::enforce_status`]). Which answers reach this
//! table at all (only the cloud's well-formed error body) is decided in [`super::answers`].
//!
//! `InvalidStatus.SnatOrDnat` ("SNAT or DNAT entry in an unstable state") is retryable: the entry
//! is changing, not holding the address for good (unlike `DependencyViolation.SnatEntry`).

use std::time::Duration;

use eip_cloud::{Blocker, CloudError, ErrorClass, Failure, Operation, http, redact};

/// The class and blocker of `code` (with the HTTP status for codes this table does not know).
pub fn classify(code: &str, http_status: u16) -> (ErrorClass, Option<Blocker>) {
    use Blocker::*;
    use ErrorClass::{Gone, Retryable, Terminal};
    let terminal = |blocker| (Terminal, Some(blocker));
    if code.contains("Throttling") || http_status == 429 {
        return (Retryable, None);
    }
    match code {
        "InvalidAllocationId.NotFound" => (Gone, None),
        "TaskConflict"
        | "IncorrectEipStatus"
        | "OperationConflict"
        | "OperationFailed.SystemBusy"
        | "LastTokenProcessing"
        | "SignatureNonceUsed"
        | "InvalidBindingStatus"
        | "IncorrectInstanceStatus"
        | "IncorrectHaVipStatus"
        | "IncorrectStatus"
        | "InvalidStatus.SnatOrDnat"
        | "InvalidStatus.EcsStatusNotSupport"
        | "InvalidStatus.NotAllow"
        | "ServiceUnavailable"
        | "InternalError"
        | "UnknownError"
        | "RequestTimeout"
        | "ConnectionError" => (Retryable, None),
        c if c.starts_with("TaskConflict.") => (Retryable, None),
        "Forbidden.ChargeTypeIsPrepaid" => terminal(PrepaidCannotRelease),
        "Forbidden.FinancialLocked" | "InvalidEIPStatus.BizDisabled" => terminal(Locked),
        "InvalidOperation.DeletionProtection" => terminal(DeletionProtection),
        "InvalidIpStatus.HasBeenUsedBySnatTable" | "InvalidIpStatus.HasBeenUsedByForwardEntry" => terminal(NatEntriesBlockUnbind),
        c if c.starts_with("DependencyViolation") => terminal(NatEntriesBlockUnbind),
        "InvalidInstanceType.ValueNotSupported"
        | "InvalidInstanceId.NotFound"
        | "InvalidBindInstance.NotFound"
        | "InvalidLoadBalancerId.NotFound"
        | "InvalidParameter.Duplicated"
        | "Eni.Attached" => terminal(InvalidBindingTarget),
        c if c.starts_with("QuotaExceeded") => terminal(QuotaExceeded),
        "SignatureDoesNotMatch" | "IncompleteSignature" | "InvalidAccessKeySecret" | "InvalidCredentials" | "EntityNotExist.Role" => {
            terminal(Authentication)
        }
        c if c.starts_with("InvalidAccessKeyId")
            || c.starts_with("InvalidSecurityToken")
            || c.starts_with("InvalidTimeStamp")
            || c.starts_with("AuthenticationFail") =>
        {
            terminal(Authentication)
        }
        "Forbidden.RegionNotFound" | "IdempotentParameterMismatch" | "InvalidVersion" => terminal(InvalidRequest),
        c if c.starts_with("InvalidParameter")
            || c.starts_with("MissingParameter")
            || c.starts_with("Mismatch.")
            || c.starts_with("InvalidRegionId")
            || c.starts_with("InvalidAction") =>
        {
            terminal(InvalidRequest)
        }
        c if c == "Forbidden" || c.starts_with("Forbidden.") || c == "NoPermission" || c.starts_with("OperationDenied") => {
            terminal(Forbidden)
        }
        _ if http_status >= 500 => (Retryable, None),
        _ => terminal(Other),
    }
}

/// The classified error for a cloud answer: the code decides the class, then the HTTP status
/// ([`http::enforce_status`]: 429 and 5xx are retryable whatever the code) and the retry-after,
/// capped at [`http::MAX_RETRY_AFTER`] and kept only on retryable errors.
pub fn cloud_error(
    operation: Operation,
    http_status: u16,
    code: &str,
    message: &str,
    request_id: Option<String>,
    retry_after: Option<Duration>,
) -> CloudError {
    let message = sanitize_message(message);
    let mut error = match classify(code, http_status) {
        (ErrorClass::Retryable, _) => CloudError::retryable(operation, code, message),
        (ErrorClass::Gone, _) => CloudError::gone(operation, code, message),
        (ErrorClass::Terminal, Some(Blocker::Authentication)) => CloudError::terminal(
            operation,
            Blocker::Authentication,
            code,
            redact::with_hint(&message, authentication_hint(code)),
        ),
        (ErrorClass::Terminal, blocker) => CloudError::terminal(operation, blocker.unwrap_or(Blocker::Other), code, message),
    };
    error.request_id = request_id;
    if error.class() == ErrorClass::Retryable {
        error = error.reclassified(Failure::Retryable {
            retry_after,
            throttled: code.contains("Throttling") || http_status == 429,
        });
    }
    http::enforce_status(http_status, error, retry_after)
}

/// What a human checks after an authentication error with `code`. The provider does not know
/// the ProviderConfig's name; the controller's condition and Event name the object, and the
/// ProviderConfig is spec.providerConfigRef (or the default one).
pub fn authentication_hint(code: &str) -> &'static str {
    match code {
        "SignatureDoesNotMatch" | "IncompleteSignature" | "InvalidAccessKeySecret" => {
            "check accessKeyId/accessKeySecret in the credentials Secret of the ProviderConfig"
        }
        c if c.starts_with("InvalidAccessKeyId") => "check accessKeyId in the credentials Secret of the ProviderConfig",
        c if c.starts_with("InvalidSecurityToken") => {
            "renew securityToken (with its accessKeyId/accessKeySecret) in the credentials Secret of the ProviderConfig"
        }
        c if c.starts_with("InvalidTimeStamp") => {
            "check the clock of the node the operator runs on: the cloud refuses requests with a skewed timestamp"
        }
        "EntityNotExist.Role" => "check roleArn in the credentials Secret of the ProviderConfig",
        _ => {
            "check accessKeyId/accessKeySecret, or roleArn, oidcProviderArn and oidcTokenFile for RRSA, in the credentials Secret of the ProviderConfig"
        }
    }
}

/// Cloud messages go into conditions and Events: drop the server's string-to-sign (it echoes the
/// request's parameters, security token included) and bound the length.
pub fn sanitize_message(message: &str) -> String {
    let lower = message.to_ascii_lowercase();
    let cut = lower.find("string to sign").map_or(message.len(), |at| at);
    let mut kept = message[..cut].trim_end();
    if cut < message.len() {
        // "... standards. server string to sign is:...": the word introducing it goes too.
        kept = kept.strip_suffix("server").or_else(|| kept.strip_suffix("Server")).unwrap_or(kept);
    }
    let mut kept = kept.trim_end().trim_end_matches([':', ',', '.']).trim_end().to_owned();
    if cut < message.len() {
        kept.push_str(" (string-to-sign omitted)");
    }
    if kept.len() > 512 {
        let mut end = 512;
        while !kept.is_char_boundary(end) {
            end -= 1;
        }
        kept.truncate(end);
        kept.push('…');
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reference_code_is_classified() {
        use Blocker::*;
        use ErrorClass::*;
        let cases: &[(&str, u16, ErrorClass, Option<Blocker>)] = &[
            ("TaskConflict", 400, Retryable, None),
            ("TaskConflict.AssociateGlobalAccelerationInstance", 400, Retryable, None),
            ("IncorrectEipStatus", 400, Retryable, None),
            ("OperationConflict", 400, Retryable, None),
            ("OperationFailed.SystemBusy", 400, Retryable, None),
            ("LastTokenProcessing", 400, Retryable, None),
            ("ServiceUnavailable", 503, Retryable, None),
            ("InternalError", 500, Retryable, None),
            ("Throttling.User", 400, Retryable, None),
            ("Throttling", 503, Retryable, None),
            ("Forbidden.ChargeTypeIsPrepaid", 400, Terminal, Some(PrepaidCannotRelease)),
            ("Forbidden", 400, Terminal, Some(Forbidden)),
            ("Forbidden.FinancialLocked", 400, Terminal, Some(Locked)),
            ("InvalidEIPStatus.BizDisabled", 400, Terminal, Some(Locked)),
            ("InvalidOperation.DeletionProtection", 400, Terminal, Some(DeletionProtection)),
            ("InvalidInstanceType.ValueNotSupported", 400, Terminal, Some(InvalidBindingTarget)),
            ("InvalidParameter", 400, Terminal, Some(InvalidRequest)),
            ("InvalidParameter.Bandwidth", 400, Terminal, Some(InvalidRequest)),
            ("OperationDenied", 400, Terminal, Some(Forbidden)),
            ("QuotaExceeded.Eip", 400, Terminal, Some(QuotaExceeded)),
            ("SignatureDoesNotMatch", 400, Terminal, Some(Authentication)),
            ("InvalidAccessKeyId.NotFound", 404, Terminal, Some(Authentication)),
            ("Forbidden.RegionNotFound", 404, Terminal, Some(InvalidRequest)),
            ("InvalidAllocationId.NotFound", 404, Gone, None),
            ("InvalidIpStatus.HasBeenUsedBySnatTable", 400, Terminal, Some(NatEntriesBlockUnbind)),
            (
                "InvalidIpStatus.HasBeenUsedByForwardEntry",
                400,
                Terminal,
                Some(NatEntriesBlockUnbind),
            ),
            ("InvalidStatus.SnatOrDnat", 400, Retryable, None),
            ("DependencyViolation.SnatEntry", 400, Terminal, Some(NatEntriesBlockUnbind)),
            ("InvalidInstanceId.NotFound", 400, Terminal, Some(InvalidBindingTarget)),
            ("InvalidBindInstance.NotFound", 400, Terminal, Some(InvalidBindingTarget)),
            ("IncorrectInstanceStatus", 400, Retryable, None),
            ("InvalidParameter.Duplicated", 400, Terminal, Some(InvalidBindingTarget)),
            ("IdempotentParameterMismatch", 400, Terminal, Some(InvalidRequest)),
            ("Mismatch.AllocationIdAndInstanceId", 400, Terminal, Some(InvalidRequest)),
            ("InvalidBindingStatus", 400, Retryable, None),
            ("InvalidSecurityToken.Expired", 400, Terminal, Some(Authentication)),
            ("SomethingNew", 502, Retryable, None),
            ("SomethingNew", 400, Terminal, Some(Other)),
            ("", 429, Retryable, None),
        ];
        for (code, status, class, blocker) in cases {
            assert_eq!(classify(code, *status), (*class, *blocker), "{code} ({status})");
        }
    }

    #[test]
    fn throttling_keeps_retry_after_and_terminal_drops_it() {
        let err = cloud_error(
            Operation::Allocate,
            400,
            "Throttling.User",
            "Request was denied due to user flow control.",
            Some("RID".into()),
            Some(Duration::from_millis(250)),
        );
        assert!(err.is_throttled());
        assert_eq!(err.retry_after(), Some(Duration::from_millis(250)));
        assert_eq!(err.request_id.as_deref(), Some("RID"));
        let err = cloud_error(Operation::Release, 400, "Forbidden", "no", None, Some(Duration::from_secs(1)));
        assert_eq!(err.retry_after(), None);
        assert!(!err.is_throttled());
    }

    #[test]
    fn the_status_wins_and_waits_are_capped() {
        let err = cloud_error(Operation::Release, 503, "Forbidden", "no", None, Some(Duration::from_secs(1)));
        assert_eq!(
            (err.class(), err.blocker(), err.retry_after()),
            (ErrorClass::Retryable, None, Some(Duration::from_secs(1)))
        );
        let err = cloud_error(Operation::Release, 429, "Forbidden.ChargeTypeIsPrepaid", "no", None, None);
        assert_eq!((err.class(), err.is_throttled()), (ErrorClass::Retryable, true));
        let err = cloud_error(Operation::Release, 500, "InvalidAllocationId.NotFound", "gone?", None, None);
        assert_eq!(err.class(), ErrorClass::Retryable);
        let err = cloud_error(
            Operation::Allocate,
            400,
            "Throttling.User",
            "slow down",
            None,
            Some(Duration::from_millis(u64::MAX)),
        );
        assert_eq!(err.retry_after(), Some(http::MAX_RETRY_AFTER));
    }

    #[test]
    fn string_to_sign_is_not_echoed() {
        let message = "Specified signature is not matched with our calculation. server string to sign is:GET&%2F&AccessKeyId%3Dx%26SecurityToken%3Dsecret";
        let clean = sanitize_message(message);
        assert!(!clean.contains("secret"), "{clean}");
        assert_eq!(
            clean,
            "Specified signature is not matched with our calculation (string-to-sign omitted)"
        );
        assert_eq!(sanitize_message("plain"), "plain");
        assert!(sanitize_message(&"x".repeat(2000)).chars().count() <= 513);
    }

    #[test]
    fn authentication_errors_say_what_to_check_and_end_cleanly() {
        let err = cloud_error(
            Operation::Describe,
            400,
            "SignatureDoesNotMatch",
            "The request signature does not conform to Aliyun standards. server string to sign is:POST&%2F&AccessKeyId%3DLTAI",
            Some("RID".into()),
            None,
        );
        assert_eq!((err.class(), err.blocker()), (ErrorClass::Terminal, Some(Blocker::Authentication)));
        assert_eq!(
            err.message,
            "The request signature does not conform to Aliyun standards (string-to-sign omitted); check \
             accessKeyId/accessKeySecret in the credentials Secret of the ProviderConfig"
        );
        assert!(!err.message.contains("server"), "no dangling word: {}", err.message);

        let hint = |code: &str, message: &str| cloud_error(Operation::Allocate, 404, code, message, None, None).message;
        assert_eq!(
            hint("InvalidAccessKeyId.NotFound", "Specified access key is not found."),
            "Specified access key is not found; check accessKeyId in the credentials Secret of the ProviderConfig"
        );
        assert!(
            hint("InvalidSecurityToken.Expired", "Specified SecurityToken is expired.")
                .starts_with("Specified SecurityToken is expired; renew securityToken")
        );
        assert!(
            hint("InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")
                .ends_with("check the clock of the node the operator runs on: the cloud refuses requests with a skewed timestamp")
        );
        assert!(
            hint("EntityNotExist.Role", "The role not exists.").contains("check roleArn in the credentials Secret of the ProviderConfig")
        );
        assert!(hint("AuthenticationFail.OIDCToken.Invalid", "").starts_with("check accessKeyId/accessKeySecret, or roleArn"));
        // Other terminal errors keep the cloud's message as it is.
        assert_eq!(
            hint("Forbidden.RAM", "User not authorized to operate on the specified resource."),
            "User not authorized to operate on the specified resource"
        );
    }

    #[test]
    fn the_hint_survives_long_messages_and_the_redactor() {
        let err = cloud_error(Operation::Describe, 400, "SignatureDoesNotMatch", &"x".repeat(2000), None, None);
        let redacted = redact::Redactor::new(["not-in-the-text"]).error(err);
        assert!(redacted.message.chars().count() <= redact::MAX_MESSAGE, "{}", redacted.message);
        assert!(
            redacted
                .message
                .ends_with("; check accessKeyId/accessKeySecret in the credentials Secret of the ProviderConfig"),
            "{}",
            redacted.message
        );
        // A message ending with a sensitive name keeps its hint through the redactor.
        let err = cloud_error(
            Operation::Describe,
            400,
            "InvalidSecurityToken.Malformed",
            "Invalid SecurityToken",
            None,
            None,
        );
        let redacted = redact::Redactor::default().error(err);
        assert_eq!(
            redacted.message,
            "Invalid SecurityToken; renew securityToken (with its accessKeyId/accessKeySecret) in the credentials Secret of the ProviderConfig"
        );
        assert_eq!(redact::with_hint("", "check x"), "check x");
        assert_eq!(redact::with_hint("Refused.", "check x"), "Refused; check x");
    }
}
