//! Error codes per flavour: the model refuses a call for a [`Refusal`] reason, and this module
//! words it the way the imitated cloud does and classifies it.
//!
//! | reason | Alibaba | OTC / Huawei | class |
//! | --- | --- | --- | --- |
//! | rate limit | `Throttling.User` | `APIGW.0308` | retryable, throttled, retry-after |
//! | injected fault | `ServiceUnavailable` | `VPC.0500` | retryable |
//! | unknown EIP | `InvalidAllocationId.NotFound` (tag calls: `InvalidResourceId.NotFound`) | `VPC.0504` | gone |
//! | EIP transitional | `TaskConflict` | `VPC.0512` | retryable |
//! | EIP locked | `Forbidden.FinancialLocked` | `VPC.0509` (status FREEZED) | terminal, Locked |
//! | same token, other parameters | `IdempotentParameterMismatch` | `IdempotentParameterMismatch` | terminal, InvalidRequest |
//! | invalid parameter | `InvalidParameter` | `VPC.0501` | terminal, InvalidRequest |
//! | quota | `QuotaExceeded.Eip` | `VPC.0521` | terminal, QuotaExceeded |
//! | associate: EIP already bound | `IncorrectEipStatus` (retryable) | `VPC.0510` (terminal, Other) | |
//! | associate: unknown instance | `InvalidInstanceId.NotFound` | `VPC.0514` | terminal, InvalidBindingTarget |
//! | associate: instance holds another EIP | `InvalidParameter.Duplicated` | `VPC.0511` | terminal, InvalidBindingTarget |
//! | unassociate: not bound / bound elsewhere | `IncorrectEipStatus` | (OTC: success, no-op) | retryable |
//! | unassociate: NAT entries, no force | `DependencyViolation.SnatEntry` | `VPC.0513` (simulator's choice) | terminal, NatEntriesBlockUnbind |
//! | release: bound | `IncorrectEipStatus` (retryable) | `VPC.0517`, `VPC.0516` for ELB (terminal, Other) | |
//! | release: prepaid | `Forbidden.ChargeTypeIsPrepaid` | `VPC.0502` (simulator's choice) | terminal, PrepaidCannotRelease |
//! | release: deletion protection | `InvalidOperation.DeletionProtection` (both) | | terminal, DeletionProtection |
//! | tag: more than 20 tags on the EIP | `QuotaExceeded.TagNum` (terminal, QuotaExceeded) | `VPC.0501` (terminal, InvalidRequest) | |

use std::time::Duration;

use eip_cloud::{BindTarget, Blocker, CloudError, InstanceType, Operation, Transition};

use super::config::Flavor;
use super::limits::LimitError;

/// Why the model refused a call, independent of flavour.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    Throttled {
        retry_after: Duration,
    },
    Unavailable,
    NotFound {
        allocation_id: String,
    },
    Busy {
        transition: Transition,
    },
    Locked,
    TokenMismatch {
        client_token: String,
    },
    InvalidParameter(String),
    QuotaExceeded {
        quota: u32,
    },
    AlreadyBound {
        bound_to: BindTarget,
    },
    UnknownInstance {
        target: BindTarget,
    },
    InstanceHasEip {
        target: BindTarget,
        holder: String,
    },
    /// Alibaba only: unassociate of an EIP that is not bound (OTC treats it as a no-op).
    NotBound,
    /// Alibaba only: unassociate naming another instance than the one the EIP is bound to.
    BindingMismatch {
        current: BindTarget,
        actual: BindTarget,
    },
    NatEntries {
        nat_gateway: String,
        entries: u32,
    },
    ReleaseWhileBound {
        bound_to: BindTarget,
    },
    Prepaid,
    DeletionProtection,
    /// Tagging would leave the EIP with more than `max` tags.
    TooManyTags {
        max: usize,
    },
}

impl From<LimitError> for Refusal {
    fn from(error: LimitError) -> Self {
        Refusal::InvalidParameter(error.to_string())
    }
}

/// The classified error for `refusal` in a region of `flavor`.
pub(crate) fn cloud_error(flavor: Flavor, operation: Operation, refusal: Refusal) -> CloudError {
    use Flavor::{Alibaba, Aws, Otc};
    if flavor == Aws {
        return aws_error(operation, refusal);
    }
    let op = operation;
    match refusal {
        Refusal::Throttled { retry_after } => {
            let (code, message) = match flavor {
                Alibaba | Aws => ("Throttling.User", "Request was denied due to user flow control."),
                Otc => ("APIGW.0308", "The throttling threshold has been reached."),
            };
            CloudError::throttled(op, code, message, Some(retry_after))
        }
        Refusal::Unavailable => {
            let (code, message) = match flavor {
                Alibaba | Aws => (
                    "ServiceUnavailable",
                    "The request has failed due to a temporary failure of the server.",
                ),
                Otc => ("VPC.0500", "System error, please try again later."),
            };
            CloudError::retryable(op, code, message)
        }
        Refusal::NotFound { allocation_id } => match flavor {
            // The tag APIs are generic over resource types: their own NotFound code.
            Alibaba if matches!(op, Operation::Tag | Operation::Untag) => CloudError::gone(
                op,
                "InvalidResourceId.NotFound",
                format!("The specified resource {allocation_id} is not found."),
            ),
            _ => {
                let code = pick(flavor, "InvalidAllocationId.NotFound", "VPC.0504");
                CloudError::gone(op, code, format!("Specified allocation ID {allocation_id} is not found."))
            }
        },
        Refusal::Busy { transition } => {
            let code = pick(flavor, "TaskConflict", "VPC.0512");
            CloudError::retryable(op, code, format!("The EIP is busy ({}), try again later.", transition.as_str()))
        }
        Refusal::Locked => match flavor {
            Alibaba | Aws => CloudError::terminal(
                op,
                Blocker::Locked,
                "Forbidden.FinancialLocked",
                "The ip business status is invalid (financial lock).",
            ),
            Otc => CloudError::terminal(op, Blocker::Locked, "VPC.0509", "Floating IP status is FREEZED."),
        },
        Refusal::TokenMismatch { client_token } => CloudError::terminal(
            op,
            Blocker::InvalidRequest,
            "IdempotentParameterMismatch",
            format!("The client token {client_token:?} was used before with different parameters."),
        ),
        Refusal::InvalidParameter(message) => {
            CloudError::terminal(op, Blocker::InvalidRequest, pick(flavor, "InvalidParameter", "VPC.0501"), message)
        }
        Refusal::QuotaExceeded { quota } => CloudError::terminal(
            op,
            Blocker::QuotaExceeded,
            pick(flavor, "QuotaExceeded.Eip", "VPC.0521"),
            format!("The EIP quota of {quota} in this region is exhausted."),
        ),
        Refusal::AlreadyBound { bound_to } => match flavor {
            Alibaba | Aws => incorrect_status(op, &bound_to),
            Otc => CloudError::terminal(
                op,
                Blocker::Other,
                "VPC.0510",
                format!("Floating IP is already bound to {bound_to}."),
            ),
        },
        Refusal::UnknownInstance { target } => CloudError::terminal(
            op,
            Blocker::InvalidBindingTarget,
            pick(flavor, "InvalidInstanceId.NotFound", "VPC.0514"),
            format!("Specified instance {target} does not exist."),
        ),
        Refusal::InstanceHasEip { target, holder } => CloudError::terminal(
            op,
            Blocker::InvalidBindingTarget,
            pick(flavor, "InvalidParameter.Duplicated", "VPC.0511"),
            format!("Instance {target} already has EIP {holder}."),
        ),
        Refusal::NotBound => CloudError::retryable(
            op,
            pick(flavor, "IncorrectEipStatus", "VPC.0509"),
            "The EIP is not associated with any instance.",
        ),
        Refusal::BindingMismatch { current, actual } => CloudError::retryable(
            op,
            pick(flavor, "IncorrectEipStatus", "VPC.0509"),
            format!("The EIP is associated with {actual}, not {current}."),
        ),
        Refusal::NatEntries { nat_gateway, entries } => CloudError::terminal(
            op,
            Blocker::NatEntriesBlockUnbind,
            pick(flavor, "DependencyViolation.SnatEntry", "VPC.0513"),
            format!("NAT gateway {nat_gateway} still has {entries} SNAT/DNAT entries using the EIP; unbind with force or remove them."),
        ),
        Refusal::ReleaseWhileBound { bound_to } => match flavor {
            Alibaba | Aws => incorrect_status(op, &bound_to),
            Otc if bound_to.instance_type == InstanceType::SlbInstance => CloudError::terminal(
                op,
                Blocker::Other,
                "VPC.0516",
                format!("Floating IP is in use by load balancer {}.", bound_to.instance_id),
            ),
            Otc => CloudError::terminal(
                op,
                Blocker::Other,
                "VPC.0517",
                format!("Floating IP is bound to {bound_to}; unbind it first."),
            ),
        },
        Refusal::Prepaid => CloudError::terminal(
            op,
            Blocker::PrepaidCannotRelease,
            pick(flavor, "Forbidden.ChargeTypeIsPrepaid", "VPC.0502"),
            "It's forbidden to release a prepaid EIP.",
        ),
        Refusal::DeletionProtection => CloudError::terminal(
            op,
            Blocker::DeletionProtection,
            "InvalidOperation.DeletionProtection",
            "The EIP has deletion protection enabled.",
        ),
        Refusal::TooManyTags { max } => match flavor {
            Alibaba | Aws => CloudError::terminal(
                op,
                Blocker::QuotaExceeded,
                "QuotaExceeded.TagNum",
                format!("An EIP can have at most {max} tags."),
            ),
            Otc => CloudError::terminal(op, Blocker::InvalidRequest, "VPC.0501", format!("At most {max} tags per EIP.")),
        },
    }
}

/// Alibaba's answer to associating or releasing a bound EIP: retryable, the binding may end.
fn incorrect_status(op: Operation, bound_to: &BindTarget) -> CloudError {
    CloudError::retryable(
        op,
        "IncorrectEipStatus",
        format!("Current elastic IP status does not support this operation: bound to {bound_to}."),
    )
}

/// Alibaba's or OTC's code (AWS words every refusal in [`aws_error`]).
fn pick(flavor: Flavor, alibaba: &'static str, otc: &'static str) -> &'static str {
    match flavor {
        Flavor::Alibaba | Flavor::Aws => alibaba,
        Flavor::Otc => otc,
    }
}

/// `refusal` as EC2 words it, classified as `eip_aws::errors` classifies the code.
fn aws_error(op: Operation, refusal: Refusal) -> CloudError {
    let terminal = |blocker, code: &str, message: String| CloudError::terminal(op, blocker, code, message);
    match refusal {
        Refusal::Throttled { retry_after } => {
            CloudError::throttled(op, "RequestLimitExceeded", "Request limit exceeded.", Some(retry_after))
        }
        Refusal::Unavailable => CloudError::retryable(op, "Unavailable", "The service is unavailable. Please try again shortly."),
        Refusal::NotFound { allocation_id } => CloudError::gone(
            op,
            "InvalidAllocationID.NotFound",
            format!("The allocation ID '{allocation_id}' does not exist"),
        ),
        Refusal::Busy { transition } => CloudError::retryable(
            op,
            "IncorrectState",
            format!("The address is busy ({}), try again later.", transition.as_str()),
        ),
        Refusal::Locked => terminal(Blocker::Locked, "InvalidAddress.Locked", "The address is locked.".into()),
        Refusal::TokenMismatch { client_token } => terminal(
            Blocker::InvalidRequest,
            "IdempotentParameterMismatch",
            format!("The client token {client_token:?} was used before with different parameters."),
        ),
        Refusal::InvalidParameter(message) => terminal(Blocker::InvalidRequest, "InvalidParameterValue", message),
        Refusal::QuotaExceeded { .. } => terminal(
            Blocker::QuotaExceeded,
            "AddressLimitExceeded",
            "The maximum number of addresses has been reached.".into(),
        ),
        Refusal::AlreadyBound { bound_to } => terminal(
            Blocker::InvalidBindingTarget,
            "Resource.AlreadyAssociated",
            format!("The address is already associated with {bound_to}."),
        ),
        Refusal::UnknownInstance { target } => {
            let code = match target.instance_type {
                InstanceType::NetworkInterface => "InvalidNetworkInterfaceID.NotFound",
                _ => "InvalidInstanceID.NotFound",
            };
            terminal(
                Blocker::InvalidBindingTarget,
                code,
                format!("The ID '{}' does not exist", target.instance_id),
            )
        }
        Refusal::InstanceHasEip { target, holder } => terminal(
            Blocker::InvalidBindingTarget,
            "Resource.AlreadyAssociated",
            format!("{target} is already associated with address {holder}."),
        ),
        Refusal::NotBound | Refusal::BindingMismatch { .. } => CloudError::retryable(
            op,
            "InvalidAssociationID.NotFound",
            "The association ID does not exist (the address is not associated that way).",
        ),
        Refusal::NatEntries { nat_gateway, .. } => terminal(
            Blocker::NatEntriesBlockUnbind,
            "DependencyViolation",
            format!("NAT gateway {nat_gateway} uses the address."),
        ),
        Refusal::ReleaseWhileBound { bound_to } => terminal(
            Blocker::Other,
            "InvalidIPAddress.InUse",
            format!("The address is in use (associated with {bound_to})."),
        ),
        Refusal::Prepaid | Refusal::DeletionProtection => terminal(
            Blocker::Forbidden,
            "OperationNotPermitted",
            "The address cannot be released.".into(),
        ),
        Refusal::TooManyTags { max } => terminal(
            Blocker::QuotaExceeded,
            "TagLimitExceeded",
            format!("At most {max} tags per address."),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use eip_cloud::ErrorClass;

    #[test]
    fn classification_follows_the_table() {
        let bound = BindTarget {
            instance_type: InstanceType::EcsInstance,
            instance_id: "i-1".into(),
            private_ip_address: None,
        };
        let release_bound = Refusal::ReleaseWhileBound { bound_to: bound.clone() };
        let alibaba = cloud_error(Flavor::Alibaba, Operation::Release, release_bound.clone());
        assert_eq!(
            (alibaba.code.as_str(), alibaba.class()),
            ("IncorrectEipStatus", ErrorClass::Retryable)
        );
        let otc = cloud_error(Flavor::Otc, Operation::Release, release_bound);
        assert_eq!(
            (otc.code.as_str(), otc.class(), otc.blocker()),
            ("VPC.0517", ErrorClass::Terminal, Some(Blocker::Other))
        );

        let elb = BindTarget {
            instance_type: InstanceType::SlbInstance,
            ..bound
        };
        assert_eq!(
            cloud_error(Flavor::Otc, Operation::Release, Refusal::ReleaseWhileBound { bound_to: elb }).code,
            "VPC.0516"
        );

        let throttled = cloud_error(
            Flavor::Otc,
            Operation::Describe,
            Refusal::Throttled {
                retry_after: Duration::from_millis(50),
            },
        );
        assert!(throttled.is_throttled());
        assert_eq!(throttled.retry_after(), Some(Duration::from_millis(50)));
        assert_eq!(throttled.code, "APIGW.0308");

        let gone = cloud_error(
            Flavor::Alibaba,
            Operation::Release,
            Refusal::NotFound {
                allocation_id: "eip-x".into(),
            },
        );
        assert_eq!(gone.class(), ErrorClass::Gone);
    }
}
