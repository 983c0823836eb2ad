//! The XML answers of the EC2 Query API (version 2016-11-15) and of STS, read strictly.
//!
//! A success answer is believed only when it has the documented shape: the root element is
//! `<{Action}Response>`, it carries a `requestId`, and every field the operator relies on is
//! there and well-formed. Anything else is a retryable `InvalidResponse`, never "the address is
//! gone": `Gone` comes only from an error answer naming `InvalidAllocationID.NotFound`.
//!
//! Error answers: EC2 `<Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response>`,
//! STS `<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>`.

use std::collections::BTreeMap;

use roxmltree::{Document, Node};

use eip_cloud::http::{self, invalid_response};
use eip_cloud::{BindTarget, BindingHandle, ChargeType, CloudEip, CloudError, EipPhase, InstanceType, Operation};

use crate::signing::Credentials;

/// Raw state of an address with an association.
pub const ASSOCIATED: &str = "associated";
/// Raw state of an address without one (EC2 reports no state: the operator names the two cases).
pub const UNASSOCIATED: &str = "unassociated";

/// One `addressesSet/item` of `DescribeAddresses`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Address {
    pub allocation_id: String,
    pub public_ip: String,
    pub association_id: Option<String>,
    pub instance_id: Option<String>,
    pub network_interface_id: Option<String>,
    pub private_ip_address: Option<String>,
    pub tags: BTreeMap<String, String>,
}

impl Address {
    /// The address as the reconciler sees it. Bound to an instance when EC2 names one (an
    /// address associated through an instance's ENI names both), otherwise to the ENI.
    pub fn to_cloud_eip(&self) -> CloudEip {
        let bound_to = match (&self.instance_id, &self.network_interface_id) {
            (Some(instance), _) => Some(BindTarget {
                instance_type: InstanceType::EcsInstance,
                instance_id: instance.clone(),
                private_ip_address: self.private_ip_address.clone(),
            }),
            (None, Some(eni)) => Some(BindTarget {
                instance_type: InstanceType::NetworkInterface,
                instance_id: eni.clone(),
                private_ip_address: self.private_ip_address.clone(),
            }),
            (None, None) => None,
        };
        let (raw_state, phase) = match bound_to {
            Some(_) => (ASSOCIATED, EipPhase::Bound),
            None => (UNASSOCIATED, EipPhase::Unbound),
        };
        CloudEip {
            allocation_id: self.allocation_id.clone(),
            ip_address: self.public_ip.clone(),
            raw_state: raw_state.to_owned(),
            phase,
            bound_to,
            charge_type: ChargeType::PostPaid,
            locks: Vec::new(),
            tags: self.tags.clone(),
            bandwidth_mbps: None,
            binding_handle: self.association_id.clone().map(BindingHandle::new),
            // DescribeAddresses says nothing of when an address was allocated.
            created_at: None,
        }
    }
}

/// The parsed document, or an `InvalidResponse`.
fn parse(operation: Operation, body: &str) -> Result<Document<'_>, CloudError> {
    Document::parse(body).map_err(|e| invalid_response(operation, format!("not XML: {e}")))
}

fn child<'a, 'input>(node: Node<'a, 'input>, name: &str) -> Option<Node<'a, 'input>> {
    node.children().find(|c| c.is_element() && c.tag_name().name() == name)
}

/// The trimmed text of `node`'s child `name`, when present and not empty.
fn text(node: Node<'_, '_>, name: &str) -> Option<String> {
    child(node, name)
        .and_then(|c| c.text())
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

fn items<'a, 'input>(node: Node<'a, 'input>) -> impl Iterator<Item = Node<'a, 'input>> {
    node.children().filter(|c| c.is_element() && c.tag_name().name() == "item")
}

/// The root of a success answer to `action`, with its request ID.
fn success_root<'a, 'input>(
    operation: Operation,
    action: &str,
    doc: &'a Document<'input>,
) -> Result<(Node<'a, 'input>, String), CloudError> {
    let root = doc.root_element();
    let expected = format!("{action}Response");
    if root.tag_name().name() != expected {
        return Err(invalid_response(
            operation,
            format!(
                "the root element is <{}>, not <{expected}>",
                http::clean_request_id(root.tag_name().name()).unwrap_or_default()
            ),
        ));
    }
    let request_id = text(root, "requestId")
        .or_else(|| child(root, "ResponseMetadata").and_then(|m| text(m, "RequestId")))
        .and_then(|id| http::clean_request_id(&id))
        .ok_or_else(|| invalid_response(operation, "the answer has no requestId"))?;
    Ok((root, request_id))
}

/// An error answer: code, message and request ID, when the body is one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorAnswer {
    pub code: String,
    pub message: String,
    pub request_id: Option<String>,
}

/// Reads an EC2 or STS error body; `None` when it is neither.
pub fn error_answer(body: &str) -> Option<ErrorAnswer> {
    let doc = Document::parse(body).ok()?;
    let root = doc.root_element();
    let (error, request_id) = match root.tag_name().name() {
        "Response" => (
            child(child(root, "Errors")?, "Error")?,
            text(root, "RequestID").or_else(|| text(root, "RequestId")),
        ),
        "ErrorResponse" => (child(root, "Error")?, text(root, "RequestId")),
        _ => return None,
    };
    Some(ErrorAnswer {
        code: text(error, "Code")?,
        message: text(error, "Message").unwrap_or_default(),
        request_id: request_id.and_then(|id| http::clean_request_id(&id)),
    })
}

/// The request ID of a success answer to an action answered with `<return>true</return>`
/// (DisassociateAddress, ReleaseAddress, CreateTags, DeleteTags).
pub fn returned_true(operation: Operation, action: &str, body: &str) -> Result<String, CloudError> {
    let doc = parse(operation, body)?;
    let (root, request_id) = success_root(operation, action, &doc)?;
    match text(root, "return").as_deref() {
        Some("true") => Ok(request_id),
        other => Err(invalid_response(
            operation,
            format!("{action} returned {:?}, not true", other.unwrap_or("nothing")),
        )),
    }
}

/// `AllocateAddress`: the new allocation ID and address, and the request ID.
pub fn allocated(body: &str) -> Result<(String, String, String), CloudError> {
    let operation = Operation::Allocate;
    let doc = parse(operation, body)?;
    let (root, request_id) = success_root(operation, "AllocateAddress", &doc)?;
    let allocation_id = text(root, "allocationId").ok_or_else(|| invalid_response(operation, "no allocationId"))?;
    let public_ip = text(root, "publicIp").ok_or_else(|| invalid_response(operation, "no publicIp"))?;
    if !allocation_id.starts_with("eipalloc-") {
        return Err(invalid_response(operation, "the allocationId is not an eipalloc- ID"));
    }
    Ok((allocation_id, public_ip, request_id))
}

/// `AssociateAddress`: the association ID and the request ID.
pub fn associated(body: &str) -> Result<(String, String), CloudError> {
    let operation = Operation::Associate;
    let doc = parse(operation, body)?;
    let (root, request_id) = success_root(operation, "AssociateAddress", &doc)?;
    let association_id = text(root, "associationId").ok_or_else(|| invalid_response(operation, "no associationId"))?;
    Ok((association_id, request_id))
}

/// `DescribeAddresses`: every address of `addressesSet` (each well-formed) and the request ID.
/// EC2 does not page this call; an answer that says there is more is not believed.
pub fn addresses(operation: Operation, body: &str) -> Result<(Vec<Address>, String), CloudError> {
    let doc = parse(operation, body)?;
    let (root, request_id) = success_root(operation, "DescribeAddresses", &doc)?;
    if text(root, "nextToken").is_some() {
        return Err(invalid_response(
            operation,
            "DescribeAddresses answered with a nextToken: the listing is not complete",
        ));
    }
    let set = child(root, "addressesSet").ok_or_else(|| invalid_response(operation, "no addressesSet"))?;
    let mut found = Vec::new();
    for item in items(set) {
        found.push(address(operation, item)?);
    }
    Ok((found, request_id))
}

fn address(operation: Operation, item: Node<'_, '_>) -> Result<Address, CloudError> {
    let allocation_id = text(item, "allocationId").ok_or_else(|| invalid_response(operation, "an address without allocationId"))?;
    let public_ip = text(item, "publicIp").ok_or_else(|| invalid_response(operation, "an address without publicIp"))?;
    let mut tags = BTreeMap::new();
    if let Some(set) = child(item, "tagSet") {
        for tag in items(set) {
            let key = text(tag, "key").ok_or_else(|| invalid_response(operation, "a tag without key"))?;
            // An empty value is a value (EC2 allows it); roxmltree gives no text for `<value/>`.
            let value = child(tag, "value").and_then(|v| v.text()).unwrap_or_default().to_owned();
            tags.insert(key, value);
        }
    }
    let found = Address {
        association_id: text(item, "associationId"),
        instance_id: text(item, "instanceId"),
        network_interface_id: text(item, "networkInterfaceId"),
        private_ip_address: text(item, "privateIpAddress"),
        allocation_id,
        public_ip,
        tags,
    };
    let bound = found.instance_id.is_some() || found.network_interface_id.is_some();
    if bound != found.association_id.is_some() {
        return Err(invalid_response(
            operation,
            format!(
                "address {} names a binding without an association, or the reverse",
                found.allocation_id
            ),
        ));
    }
    Ok(found)
}

/// STS `AssumeRoleWithWebIdentity`: the temporary keys and when they expire.
pub fn web_identity_credentials(operation: Operation, body: &str) -> Result<(Credentials, jiff::Timestamp), CloudError> {
    let doc = parse(operation, body)?;
    let (root, _request_id) = success_root(operation, "AssumeRoleWithWebIdentity", &doc)?;
    let credentials = child(root, "AssumeRoleWithWebIdentityResult")
        .and_then(|result| child(result, "Credentials"))
        .ok_or_else(|| invalid_response(operation, "AssumeRoleWithWebIdentity answered without Credentials"))?;
    let field = |name: &str| text(credentials, name).ok_or_else(|| invalid_response(operation, format!("Credentials without {name}")));
    let expiration: jiff::Timestamp = field("Expiration")?
        .parse()
        .map_err(|_| invalid_response(operation, "Credentials.Expiration is not an RFC 3339 time"))?;
    Ok((
        Credentials {
            access_key_id: field("AccessKeyId")?,
            secret_access_key: field("SecretAccessKey")?,
            session_token: Some(field("SessionToken")?),
        },
        expiration,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use eip_cloud::ErrorClass;

    const DESCRIBE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<DescribeAddressesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>f7de5e98-491a-4c19-a92d-908d6EXAMPLE</requestId>
  <addressesSet>
    <item>
      <publicIp>203.0.113.41</publicIp>
      <allocationId>eipalloc-08229861</allocationId>
      <domain>vpc</domain>
      <instanceId>i-0598c7d356eba48d7</instanceId>
      <associationId>eipassoc-f0229899</associationId>
      <networkInterfaceId>eni-ef229886</networkInterfaceId>
      <networkInterfaceOwnerId>053230519467</networkInterfaceOwnerId>
      <privateIpAddress>10.0.0.228</privateIpAddress>
      <tagSet><item><key>eip-operator.dev/owner-uid</key><value>u-1</value></item><item><key>empty</key><value/></item></tagSet>
    </item>
    <item>
      <publicIp>198.51.100.2</publicIp>
      <allocationId>eipalloc-1</allocationId>
      <domain>vpc</domain>
    </item>
  </addressesSet>
</DescribeAddressesResponse>"#;

    #[test]
    fn describe_answers_become_cloud_eips() {
        let (found, request_id) = addresses(Operation::Describe, DESCRIBE).expect("parses");
        assert_eq!(request_id, "f7de5e98-491a-4c19-a92d-908d6EXAMPLE");
        let bound = found[0].to_cloud_eip();
        assert_eq!(bound.phase, EipPhase::Bound);
        assert_eq!(bound.raw_state, ASSOCIATED);
        assert_eq!(bound.binding_handle, Some(BindingHandle::new("eipassoc-f0229899")));
        let target = bound.bound_to.expect("bound");
        assert_eq!(
            (
                target.instance_type,
                target.instance_id.as_str(),
                target.private_ip_address.as_deref()
            ),
            (InstanceType::EcsInstance, "i-0598c7d356eba48d7", Some("10.0.0.228"))
        );
        assert_eq!(bound.tags.get("eip-operator.dev/owner-uid").map(String::as_str), Some("u-1"));
        assert_eq!(bound.tags.get("empty").map(String::as_str), Some(""));
        let free = found[1].to_cloud_eip();
        assert_eq!((free.phase, free.bound_to, free.binding_handle), (EipPhase::Unbound, None, None));
    }

    #[test]
    fn surprising_answers_are_invalid_never_gone() {
        let cases = [
            "not xml",
            "<DescribeAddressesResponse><addressesSet/></DescribeAddressesResponse>",
            "<AllocateAddressResponse><requestId>r</requestId><addressesSet/></AllocateAddressResponse>",
            "<DescribeAddressesResponse><requestId>r</requestId></DescribeAddressesResponse>",
            "<DescribeAddressesResponse><requestId>r</requestId><addressesSet><item><publicIp>1.2.3.4</publicIp></item></addressesSet></DescribeAddressesResponse>",
            "<DescribeAddressesResponse><requestId>r</requestId><addressesSet><item><allocationId>eipalloc-1</allocationId><publicIp>1.2.3.4</publicIp><instanceId>i-1</instanceId></item></addressesSet></DescribeAddressesResponse>",
            "<DescribeAddressesResponse><requestId>r</requestId><addressesSet/><nextToken>more</nextToken></DescribeAddressesResponse>",
        ];
        for body in cases {
            let err = addresses(Operation::Describe, body).expect_err(body);
            assert_eq!(
                (err.class(), err.code.as_str()),
                (ErrorClass::Retryable, http::INVALID_RESPONSE),
                "{body}"
            );
        }
        let err = returned_true(
            Operation::Release,
            "ReleaseAddress",
            "<ReleaseAddressResponse><requestId>r</requestId><return>false</return></ReleaseAddressResponse>",
        )
        .expect_err("false");
        assert_eq!(err.class(), ErrorClass::Retryable);
        assert!(allocated("<AllocateAddressResponse><requestId>r</requestId><publicIp>1.2.3.4</publicIp><allocationId>x</allocationId></AllocateAddressResponse>").is_err());
    }

    #[test]
    fn both_error_shapes_are_read() {
        let ec2 = r#"<?xml version="1.0" encoding="UTF-8"?>
<Response><Errors><Error><Code>InvalidAllocationID.NotFound</Code><Message>The allocation ID 'eipalloc-1' does not exist</Message></Error></Errors><RequestID>ea966190-f9aa-478e-9ede-example</RequestID></Response>"#;
        assert_eq!(
            error_answer(ec2),
            Some(ErrorAnswer {
                code: "InvalidAllocationID.NotFound".into(),
                message: "The allocation ID 'eipalloc-1' does not exist".into(),
                request_id: Some("ea966190-f9aa-478e-9ede-example".into()),
            })
        );
        let sts = "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidIdentityToken</Code><Message>bad</Message></Error><RequestId>r-2</RequestId></ErrorResponse>";
        assert_eq!(
            error_answer(sts).map(|e| (e.code, e.request_id)),
            Some(("InvalidIdentityToken".into(), Some("r-2".into())))
        );
        assert_eq!(error_answer("<html>502</html>"), None);
    }

    #[test]
    fn web_identity_keys_are_read() {
        let body = r#"<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <Credentials><SessionToken>tok</SessionToken><SecretAccessKey>sec</SecretAccessKey><Expiration>2026-12-02T20:00:00Z</Expiration><AccessKeyId>ASIA1</AccessKeyId></Credentials>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata><RequestId>r-3</RequestId></ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>"#;
        let (keys, expires) = web_identity_credentials(Operation::Describe, body).expect("parses");
        assert_eq!((keys.access_key_id.as_str(), keys.session_token.as_deref()), ("ASIA1", Some("tok")));
        assert_eq!(expires.to_string(), "2026-12-02T20:00:00Z");
    }
}
