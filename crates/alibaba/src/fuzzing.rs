//! Pure entry points for fuzzers (cargo-fuzz) and property tests: the answer parsers and the
//! classifier exactly as the provider runs them, without I/O. Not an API.
//!
//! Headers are `(name, value)` pairs; pairs that are not valid HTTP headers are skipped (they
//! could not arrive over the wire). Errors come back as the provider returns them (through a
//! [`Redactor`], here one without secrets).
//!
//! Properties the provider relies on (checked in `properties.rs`, 3000 cases each):
//! - nothing here panics, whatever the input;
//! - a Describe or FindByOwner is `Ok` only for well-formed, complete answers;
//! - `ErrorClass::Gone` only for a mutating call's 4xx cloud error body naming
//!   `InvalidAllocationId.NotFound`;
//! - 429 and 5xx are always retryable; a retry-after is at most [`http::MAX_RETRY_AFTER`];
//! - a mutating call's 2xx answer carrying a `Code` is never `Ok`.

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use super::answers;
use super::credentials::{self, Credentials};
use super::describe::{Asked, Listing, Progress};
use super::records::{AllocateAnswer, DescribeAnswer, MutatingAnswer, StsAnswer};
use eip_cloud::http::{self, Answer};
use eip_cloud::redact::Redactor;
use eip_cloud::{AllocateRequest, Allocated, CloudEip, CloudError, Operation, Receipt};

/// One answer: HTTP status, headers, body.
pub type Page = (u16, Vec<(String, String)>, Vec<u8>);

/// An answer as [`http::send`] would hand it over.
pub fn answer(status: u16, headers: &[(String, String)], body: &[u8]) -> Answer {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) {
            map.append(name, value);
        }
    }
    Answer {
        status,
        headers: map,
        body: body.to_vec(),
    }
}

fn shown<T>(result: Result<T, CloudError>) -> Result<T, CloudError> {
    result.map_err(|e| Redactor::default().error(e))
}

fn listing(operation: Operation, asked: Asked, pages: &[Page]) -> Result<Vec<CloudEip>, CloudError> {
    let mut listing = Listing::new(operation, asked);
    for (status, headers, body) in pages {
        let answer: DescribeAnswer = answers::interpret(operation, &answer(*status, headers, body))?;
        if listing.add(answer)? == Progress::Done {
            return Ok(listing.into_found());
        }
    }
    Err(http::invalid_response(operation, "the listing needs more pages than were given"))
}

/// `DescribeEipAddresses` for the allocation IDs `requested`, answered by one page.
pub fn describe_answer(status: u16, headers: &[(String, String)], body: &[u8], requested: &[String]) -> Result<Vec<CloudEip>, CloudError> {
    describe_pages(&[(status, headers.to_vec(), body.to_vec())], requested)
}

/// `DescribeEipAddresses` for the allocation IDs `requested`, answered by `pages` in order
/// (`(status, headers, body)`); an error when they end before the listing is complete.
pub fn describe_pages(pages: &[Page], requested: &[String]) -> Result<Vec<CloudEip>, CloudError> {
    let asked = Asked::Ids(requested.iter().cloned().collect());
    shown(listing(Operation::Describe, asked, pages))
}

/// `DescribeEipAddresses` filtered on the owner tag `owner_uid` (FindByOwner), one page.
pub fn find_by_owner_answer(status: u16, headers: &[(String, String)], body: &[u8], owner_uid: &str) -> Result<Vec<CloudEip>, CloudError> {
    let pages = [(status, headers.to_vec(), body.to_vec())];
    shown(listing(Operation::FindByOwner, Asked::Owner(owner_uid.to_owned()), &pages))
}

/// `AllocateEipAddress` (of a default request).
pub fn allocate_answer(status: u16, headers: &[(String, String)], body: &[u8]) -> Result<Allocated, CloudError> {
    shown((|| {
        let reply = answers::reply(Operation::Allocate, &answer(status, headers, body))?;
        let parsed: AllocateAnswer = reply.parse(Operation::Allocate)?;
        Ok(super::allocated(&AllocateRequest::default(), parsed, reply.request_id))
    })())
}

/// `AssociateEipAddress`, `UnassociateEipAddress` or `ReleaseEipAddress` (by `operation`).
pub fn mutating_answer(operation: Operation, status: u16, headers: &[(String, String)], body: &[u8]) -> Result<Receipt, CloudError> {
    shown((|| {
        let reply = answers::reply(operation, &answer(status, headers, body))?;
        reply.parse::<MutatingAnswer>(operation)?;
        Ok(Receipt {
            request_id: reply.request_id,
        })
    })())
}

/// The classified error of a non-2xx answer to `operation` (what any call returns for it).
pub fn error_answer(operation: Operation, status: u16, headers: &[(String, String)], body: &[u8]) -> CloudError {
    Redactor::default().error(answers::error(operation, &answer(status, headers, body)))
}

/// STS `AssumeRoleWithOIDC`: the temporary keys, as the credential source would take them.
pub fn sts_answer(status: u16, headers: &[(String, String)], body: &[u8]) -> Result<Credentials, CloudError> {
    shown((|| {
        let parsed: StsAnswer = answers::interpret(Operation::Describe, &answer(status, headers, body))?;
        credentials::sts_credentials(Operation::Describe, parsed, jiff::Timestamp::now()).map(|(credentials, _)| credentials)
    })())
}
