//! Pure entry points for an external fuzzer (cargo-fuzz) and the property tests: the answer
//! parsers and the error classifier of the provider, from a raw status, headers and body. They
//! are exactly what the provider runs on each answer (no network, no credentials, no
//! redaction). Not a stable API.
//!
//! Headers whose name or value is not valid HTTP are dropped (a real answer cannot carry them).

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

pub use super::answers::{Issued, Listed, Mutation, Page};
use super::{answers, errors};
use eip_cloud::http::Answer;
use eip_cloud::{CloudEip, CloudError, Operation, Receipt};

/// An answer as [`eip_cloud::http::send`] hands it over.
pub fn answer(status: u16, headers: &[(String, String)], body: &[u8]) -> Answer {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_bytes(value.as_bytes())) {
            map.append(name, value);
        }
    }
    Answer {
        status,
        headers: map,
        body: body.to_vec(),
    }
}

/// A list call filtered by the `requested` IDs (Describe), v1 or v3.
pub fn describe_answer(
    v3: bool,
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
    requested: &[String],
) -> Result<Listed, CloudError> {
    answers::describe_answer(v3, &answer(status, headers, body), requested)
}

/// One page of the unfiltered list (the walk `find_by_owner` makes), v1 or v3.
pub fn list_page_answer(v3: bool, status: u16, headers: &[(String, String)], body: &[u8]) -> Result<Page, CloudError> {
    answers::list_answer(Operation::FindByOwner, v3, &answer(status, headers, body))
}

/// A show of EIP `requested`, v1 or v3: `Ok(None)` means "proven not to exist".
pub fn show_answer(
    v3: bool,
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
    requested: &str,
) -> Result<Option<CloudEip>, CloudError> {
    answers::show_answer(Operation::Describe, v3, &answer(status, headers, body), requested)
}

/// The create call's answer.
pub fn create_answer(status: u16, headers: &[(String, String)], body: &[u8]) -> Result<(CloudEip, Receipt), CloudError> {
    answers::create_answer(&answer(status, headers, body))
}

/// The answer to a mutating call about EIP `requested` (for batches: one of the batch's IDs).
pub fn mutating_answer(
    mutation: Mutation,
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
    requested: &str,
) -> Result<Receipt, CloudError> {
    answers::mutating_answer(mutation, &answer(status, headers, body), requested)
}

/// The classified error of an answer that is not a success (any status may be given).
pub fn error_answer(operation: Operation, status: u16, headers: &[(String, String)], body: &[u8]) -> CloudError {
    errors::from_answer(operation, &answer(status, headers, body))
}

/// The IAM token answer.
pub fn token_answer(status: u16, headers: &[(String, String)], body: &[u8]) -> Result<Issued, CloudError> {
    answers::token_answer(Operation::Describe, &answer(status, headers, body))
}

/// The IAM project list answer: the ID of the project called `name`.
pub fn projects_answer(status: u16, headers: &[(String, String)], body: &[u8], name: &str) -> Result<Option<String>, CloudError> {
    answers::projects_answer(Operation::Describe, &answer(status, headers, body), name)
}

/// The codes that are `Gone` on a 404, and the codes that stay terminal on a 500 (for oracles).
pub const NOT_FOUND_CODES: &[&str] = errors::NOT_FOUND_CODES;
pub const TERMINAL_AT_500: &[&str] = errors::TERMINAL_AT_500;
