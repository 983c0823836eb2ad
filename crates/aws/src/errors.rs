//! EC2 (and STS) error codes, classified once into [`ErrorClass`] and [`Blocker`].
//!
//! | code | class |
//! | --- | --- |
//! | `RequestLimitExceeded`, `Throttling`, `ThrottlingException`, HTTP 429 | retryable, throttled (`Retry-After` kept, capped) |
//! | `InternalError`, `InternalFailure`, `ServiceUnavailable`, `Unavailable`, `IncorrectState`, `InvalidAssociationID.NotFound`, `IDPCommunicationError`, `RequestTimeout`, `ConnectionError`, any 5xx | retryable |
//! | `InvalidAllocationID.NotFound`, `InvalidAddress.NotFound` | gone (on Describe: never, see [`crate::records`]) |
//! | `InvalidAddress.Locked` | terminal, Locked |
//! | `InvalidIPAddress.InUse` | terminal, CloudRefused (the address is associated: unbind it first) |
//! | `Resource.AlreadyAssociated`, `InvalidInstanceID*`, `InvalidNetworkInterfaceID*`, `IncorrectInstanceState`, `Gateway.NotAttached`, `InvalidNetworkInterface.InUse` | terminal, InvalidBindingTarget |
//! | `AddressLimitExceeded`, `TagLimitExceeded` | terminal, QuotaExceeded |
//! | `AuthFailure`, `SignatureDoesNotMatch`, `IncompleteSignature`, `InvalidClientTokenId`, `MissingAuthenticationToken`, `ExpiredToken`, `RequestExpired`, `InvalidIdentityToken`, `ExpiredTokenException`, `InvalidAccessKeyId` | terminal, AuthenticationFailed (with what to check) |
//! | `UnauthorizedOperation`, `AccessDenied`, `OptInRequired`, `Blocked`, `OperationNotPermitted` | terminal, Forbidden |
//! | `InvalidParameter*`, `MissingParameter`, `UnknownParameter`, `InvalidAction`, `InvalidQueryParameter`, `MalformedQueryString`, `InvalidAllocationID.Malformed`, `InvalidFilter`, `UnsupportedOperation`, `IdempotentParameterMismatch`, `InvalidPublicIpv4PoolID*` | terminal, InvalidRequest |
//! | anything else | terminal, CloudRefused (retryable with a 5xx status) |
//!
//! `InvalidAssociationID.NotFound` is retryable, not gone: the address exists, only the binding
//! the operator saw has ended (or was replaced); the next look gives the current one.

use std::time::Duration;

use eip_cloud::http;
use eip_cloud::redact;
use eip_cloud::{Blocker, CloudError, ErrorClass, Failure, Operation};

/// The class (and, when terminal, the blocker) of an error with `code`, answered with `http_status`.
pub fn classify(code: &str, http_status: u16) -> (ErrorClass, Option<Blocker>) {
    use Blocker::*;
    use ErrorClass::{Gone, Retryable};
    let terminal = |blocker| (ErrorClass::Terminal, Some(blocker));
    match code {
        _ if is_throttling(code) || http_status == 429 => (Retryable, None),
        "InternalError"
        | "InternalFailure"
        | "ServiceUnavailable"
        | "Unavailable"
        | "IncorrectState"
        | "InvalidAssociationID.NotFound"
        | "IDPCommunicationError"
        | "RequestTimeout"
        | "ConnectionError" => (Retryable, None),
        "InvalidAllocationID.NotFound" | "InvalidAddress.NotFound" => (Gone, None),
        "InvalidAddress.Locked" => terminal(Locked),
        "InvalidIPAddress.InUse" => terminal(Other),
        "Resource.AlreadyAssociated"
        | "IncorrectInstanceState"
        | "Gateway.NotAttached"
        | "InvalidNetworkInterface.InUse"
        | "InvalidInstanceID" => terminal(InvalidBindingTarget),
        c if c.starts_with("InvalidInstanceID.") || c.starts_with("InvalidNetworkInterfaceID.") => terminal(InvalidBindingTarget),
        "AddressLimitExceeded" | "TagLimitExceeded" => terminal(QuotaExceeded),
        "AuthFailure"
        | "SignatureDoesNotMatch"
        | "IncompleteSignature"
        | "InvalidClientTokenId"
        | "MissingAuthenticationToken"
        | "ExpiredToken"
        | "ExpiredTokenException"
        | "RequestExpired"
        | "InvalidIdentityToken"
        | "InvalidAccessKeyId" => terminal(Authentication),
        "UnauthorizedOperation" | "AccessDenied" | "OptInRequired" | "Blocked" | "OperationNotPermitted" => terminal(Forbidden),
        "MissingParameter"
        | "UnknownParameter"
        | "InvalidAction"
        | "InvalidQueryParameter"
        | "MalformedQueryString"
        | "InvalidAllocationID.Malformed"
        | "InvalidFilter"
        | "UnsupportedOperation"
        | "IdempotentParameterMismatch" => terminal(InvalidRequest),
        c if c.starts_with("InvalidParameter") || c.starts_with("InvalidPublicIpv4PoolID") => terminal(InvalidRequest),
        _ if http_status >= 500 => (Retryable, None),
        _ => terminal(Other),
    }
}

fn is_throttling(code: &str) -> bool {
    matches!(code, "RequestLimitExceeded" | "Throttling" | "ThrottlingException")
}

/// The classified error for a cloud answer: the code decides the class, then the HTTP status
/// ([`http::enforce_status`]: 429 and 5xx are retryable whatever the code); a retry-after is
/// kept only on retryable errors.
pub fn cloud_error(
    operation: Operation,
    http_status: u16,
    code: &str,
    message: &str,
    request_id: Option<String>,
    retry_after: Option<Duration>,
) -> CloudError {
    let mut error = match classify(code, http_status) {
        (ErrorClass::Retryable, _) => CloudError::retryable(operation, code, message),
        (ErrorClass::Gone, _) => CloudError::gone(operation, code, message),
        (ErrorClass::Terminal, Some(Blocker::Authentication)) => CloudError::terminal(
            operation,
            Blocker::Authentication,
            code,
            redact::with_hint(message, authentication_hint(code)),
        ),
        (ErrorClass::Terminal, blocker) => CloudError::terminal(operation, blocker.unwrap_or(Blocker::Other), code, message),
    };
    error.request_id = request_id;
    if error.class() == ErrorClass::Retryable {
        error = error.reclassified(Failure::Retryable {
            retry_after,
            throttled: is_throttling(code) || http_status == 429,
        });
    }
    http::enforce_status(http_status, error, retry_after)
}

/// What a human checks after an authentication error with `code`.
pub fn authentication_hint(code: &str) -> &'static str {
    match code {
        "RequestExpired" => "check the clock of the node the operator runs on: AWS refuses requests signed more than 5 minutes off",
        "ExpiredToken" | "ExpiredTokenException" => {
            "renew sessionToken (with its accessKeyId/secretAccessKey) in the credentials Secret of the ProviderConfig"
        }
        "InvalidIdentityToken" => "check the web identity token file and the role's trust policy (its OIDC provider and audience)",
        _ => {
            "check accessKeyId/secretAccessKey (and sessionToken), or roleArn and webIdentityTokenFile, in the credentials Secret of the ProviderConfig"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reference_code_is_classified() {
        use Blocker::*;
        use ErrorClass::*;
        let cases: &[(&str, u16, ErrorClass, Option<Blocker>)] = &[
            ("InvalidAllocationID.NotFound", 400, Gone, None),
            ("InvalidAddress.NotFound", 400, Gone, None),
            ("RequestLimitExceeded", 503, Retryable, None),
            ("RequestLimitExceeded", 400, Retryable, None),
            ("Throttling", 400, Retryable, None),
            ("InternalError", 500, Retryable, None),
            ("Unavailable", 503, Retryable, None),
            ("IncorrectState", 400, Retryable, None),
            ("InvalidAssociationID.NotFound", 400, Retryable, None),
            ("AuthFailure", 401, Terminal, Some(Authentication)),
            ("SignatureDoesNotMatch", 403, Terminal, Some(Authentication)),
            ("InvalidClientTokenId", 403, Terminal, Some(Authentication)),
            ("RequestExpired", 400, Terminal, Some(Authentication)),
            ("ExpiredToken", 400, Terminal, Some(Authentication)),
            ("InvalidIdentityToken", 400, Terminal, Some(Authentication)),
            ("UnauthorizedOperation", 403, Terminal, Some(Forbidden)),
            ("AccessDenied", 403, Terminal, Some(Forbidden)),
            ("InvalidIPAddress.InUse", 400, Terminal, Some(Other)),
            ("InvalidAddress.Locked", 400, Terminal, Some(Locked)),
            ("Resource.AlreadyAssociated", 400, Terminal, Some(InvalidBindingTarget)),
            ("InvalidInstanceID.NotFound", 400, Terminal, Some(InvalidBindingTarget)),
            ("InvalidInstanceID.Malformed", 400, Terminal, Some(InvalidBindingTarget)),
            ("InvalidNetworkInterfaceID.NotFound", 400, Terminal, Some(InvalidBindingTarget)),
            ("AddressLimitExceeded", 400, Terminal, Some(QuotaExceeded)),
            ("TagLimitExceeded", 400, Terminal, Some(QuotaExceeded)),
            ("InvalidParameterValue", 400, Terminal, Some(InvalidRequest)),
            ("InvalidParameterCombination", 400, Terminal, Some(InvalidRequest)),
            ("MissingParameter", 400, Terminal, Some(InvalidRequest)),
            ("InvalidAllocationID.Malformed", 400, Terminal, Some(InvalidRequest)),
            ("InvalidAction", 400, Terminal, Some(InvalidRequest)),
            ("SomethingNew", 400, Terminal, Some(Other)),
            ("SomethingNew", 502, Retryable, None),
            ("", 429, Retryable, None),
        ];
        for (code, status, class, blocker) in cases {
            assert_eq!(classify(code, *status), (*class, *blocker), "{code} ({status})");
        }
    }

    #[test]
    fn throttling_is_counted_apart_and_keeps_its_wait() {
        let wait = Some(Duration::from_secs(2));
        let err = cloud_error(
            Operation::Allocate,
            503,
            "RequestLimitExceeded",
            "Request limit exceeded.",
            None,
            wait,
        );
        assert_eq!(
            (err.class(), err.is_throttled(), err.retry_after()),
            (ErrorClass::Retryable, true, wait)
        );
        let err = cloud_error(
            Operation::Release,
            400,
            "InvalidIPAddress.InUse",
            "in use",
            Some("RID".into()),
            wait,
        );
        assert_eq!(
            (err.blocker(), err.retry_after(), err.request_id.as_deref()),
            (Some(Blocker::Other), None, Some("RID"))
        );
        // A 5xx is retryable whatever the code says.
        let err = cloud_error(Operation::Release, 500, "InvalidAllocationID.NotFound", "gone?", None, None);
        assert_eq!(err.class(), ErrorClass::Retryable);
    }

    #[test]
    fn authentication_errors_say_what_to_check() {
        let err = cloud_error(
            Operation::Describe,
            401,
            "AuthFailure",
            "AWS was not able to validate the provided access credentials",
            None,
            None,
        );
        assert!(
            err.message.ends_with("in the credentials Secret of the ProviderConfig"),
            "{}",
            err.message
        );
        let err = cloud_error(Operation::Describe, 400, "RequestExpired", "Request has expired.", None, None);
        assert!(err.message.contains("clock"), "{}", err.message);
    }
}
