//! What the cloud answered, read strictly: every answer is typed, and an answer that is not the
//! documented shape is a retryable `InvalidResponse` (it proves nothing), never an empty result
//! or a success.
//!
//! | call | success |
//! | --- | --- |
//! | list (v1 / v3) | 2xx `{"publicips":[record…]}` (v3: `page_info.next_marker`); every record with a non-empty `id` and a `status`, no ID twice |
//! | show (v1 / v3) | 2xx `{"publicip":{record}}` naming the EIP asked for; absent only on a 404 with the cloud's NotFound code |
//! | create | 2xx `{"publicip":{record}}` with a non-empty `id` |
//! | v1 update (bind / unbind) | 2xx `{"publicip":{record}}` naming the EIP |
//! | v3 associate / disassociate | 2xx `{"publicip":{record}}` naming the EIP |
//! | delete | 204, empty body |
//! | batch unbind / release | 2xx `{"job_ids":["…", …]}` (at least one non-empty ID) |
//! | tags | 204, empty body |
//! | IAM token | 2xx, `X-Subject-Token`, `{"token":{"project":{"id"}}}` |
//! | IAM projects | 2xx `{"projects":[{"id","name"}…]}` |
//!
//! A 2xx body that carries an error field (`error_code`, `code`, `error`, ...) is an error,
//! whatever else it holds.

use std::collections::HashSet;

use serde::Deserialize;
use serde::de::{DeserializeOwned, IgnoredAny};

use super::errors;
use super::records::{Id, Obj, V1Publicip, V3Publicip};
use eip_cloud::http::{self, Answer};
use eip_cloud::{CloudEip, CloudError, Operation, Receipt};

/// The header carrying the request ID.
pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// Longest IAM token accepted (PKI tokens are a few KiB).
const MAX_TOKEN: usize = 16 * 1024;

/// Top-level fields that make a 2xx body an error answer.
#[derive(Deserialize)]
#[allow(non_snake_case)]
struct ErrorMarkers {
    #[serde(default)]
    error_code: Option<IgnoredAny>,
    #[serde(default)]
    error_msg: Option<IgnoredAny>,
    #[serde(default)]
    errorCode: Option<IgnoredAny>,
    #[serde(default)]
    code: Option<IgnoredAny>,
    #[serde(default)]
    error: Option<IgnoredAny>,
    #[serde(default)]
    NeutronError: Option<IgnoredAny>,
}

impl ErrorMarkers {
    fn any(&self) -> bool {
        self.error_code.is_some()
            || self.error_msg.is_some()
            || self.errorCode.is_some()
            || self.code.is_some()
            || self.error.is_some()
            || self.NeutronError.is_some()
    }
}

/// A retryable `InvalidResponse` carrying the answer's request ID.
fn invalid(operation: Operation, answer: &Answer, what: impl std::fmt::Display) -> CloudError {
    let err = http::invalid_response(operation, what);
    match answer.request_id(&[REQUEST_ID_HEADER]) {
        Some(id) => err.with_request_id(id),
        None => err,
    }
}

/// The typed body of a 2xx answer; the classified error of any other.
pub(crate) fn success_body<T: DeserializeOwned>(operation: Operation, answer: &Answer, what: &str) -> Result<T, CloudError> {
    if !answer.is_success() {
        return Err(errors::from_answer(operation, answer));
    }
    if let Ok(Obj(markers)) = serde_json::from_slice::<Obj<ErrorMarkers>>(&answer.body)
        && markers.any()
    {
        let detail = match errors::cloud_error_of(&answer.body) {
            Some((code, message, _)) => format!("{code}: {message}"),
            None => "an error field".to_owned(),
        };
        return Err(invalid(
            operation,
            answer,
            format!("the {what} answer is HTTP {} but carries an error ({detail})", answer.status),
        ));
    }
    serde_json::from_slice::<Obj<T>>(&answer.body).map(|Obj(body)| body).map_err(|e| {
        let shown = if answer.body.is_empty() {
            "an empty body".to_owned()
        } else {
            e.to_string()
        };
        invalid(
            operation,
            answer,
            format!("the {what} answer (HTTP {}) is not what the API documents: {shown}", answer.status),
        )
    })
}

/// A 204 with no body (delete, tags); anything else is an error.
fn no_content(operation: Operation, answer: &Answer, what: &str) -> Result<(), CloudError> {
    if !answer.is_success() {
        return Err(errors::from_answer(operation, answer));
    }
    if answer.status == 204 && answer.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    if let Some((code, message, _)) = errors::cloud_error_of(&answer.body) {
        return Err(invalid(
            operation,
            answer,
            format!(
                "the {what} answer is HTTP {} but carries an error ({code}: {message})",
                answer.status
            ),
        ));
    }
    Err(invalid(
        operation,
        answer,
        format!(
            "the {what} answer is HTTP {} with {}, not the documented 204 without a body",
            answer.status,
            if answer.body.is_empty() {
                "no body".to_owned()
            } else {
                format!("a body ({})", errors::excerpt(&answer.body))
            }
        ),
    ))
}

fn receipt(answer: &Answer, body_request_id: Option<&str>) -> Receipt {
    let request_id = answer
        .request_id(&[REQUEST_ID_HEADER])
        .or_else(|| body_request_id.and_then(http::clean_request_id))
        .unwrap_or_default();
    Receipt { request_id }
}

// ----- lists and shows -----

#[derive(Deserialize)]
struct V1List {
    publicips: Vec<Obj<V1Publicip>>,
}

#[derive(Deserialize)]
struct PageInfo {
    #[serde(default)]
    next_marker: Option<String>,
}

#[derive(Deserialize)]
struct V3List {
    publicips: Vec<Obj<V3Publicip>>,
    #[serde(default)]
    page_info: Option<Obj<PageInfo>>,
}

#[derive(Deserialize)]
struct V1One {
    publicip: Obj<V1Publicip>,
}

#[derive(Deserialize)]
struct V3One {
    #[serde(default)]
    request_id: Option<String>,
    publicip: Obj<V3Publicip>,
}

/// One page of a list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    pub eips: Vec<CloudEip>,
    /// v3: the marker of the next page, when the cloud says there is one.
    pub next_marker: Option<String>,
}

/// A list page: typed, every record with an ID, no ID twice.
pub fn list_answer(operation: Operation, v3: bool, answer: &Answer) -> Result<Page, CloudError> {
    let page = if v3 {
        let list: V3List = success_body(operation, answer, "EIP list")?;
        Page {
            eips: list.publicips.into_iter().map(|Obj(r)| r.into_cloud_eip()).collect(),
            next_marker: list.page_info.and_then(|Obj(p)| p.next_marker).filter(|m| !m.is_empty()),
        }
    } else {
        let list: V1List = success_body(operation, answer, "EIP list")?;
        Page {
            eips: list.publicips.into_iter().map(|Obj(r)| r.into_cloud_eip()).collect(),
            next_marker: None,
        }
    };
    let mut seen = HashSet::new();
    if let Some(twice) = page.eips.iter().find(|e| !seen.insert(e.allocation_id.as_str())) {
        return Err(invalid(
            operation,
            answer,
            format!("the EIP list names {} twice", twice.allocation_id),
        ));
    }
    Ok(page)
}

/// What a list filtered by ID proves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Listed {
    /// Only EIPs asked for, and no further page: an ID it lacks does not exist.
    Complete(Vec<CloudEip>),
    /// EIPs nobody asked for: the cloud ignores the `id` filter. Holds the requested EIPs it
    /// listed; the others must be shown one by one.
    FilterIgnored(Vec<CloudEip>),
    /// Only EIPs asked for, but the cloud says more pages follow: the missing ones must be shown
    /// one by one.
    Partial(Vec<CloudEip>),
}

/// The answer to a list call filtered by `requested` IDs (Describe).
pub fn describe_answer(v3: bool, answer: &Answer, requested: &[String]) -> Result<Listed, CloudError> {
    let page = list_answer(Operation::Describe, v3, answer)?;
    let asked = |eip: &CloudEip| requested.contains(&eip.allocation_id);
    if !page.eips.iter().all(asked) {
        return Ok(Listed::FilterIgnored(page.eips.into_iter().filter(asked).collect()));
    }
    Ok(match page.next_marker {
        None => Listed::Complete(page.eips),
        Some(_) => Listed::Partial(page.eips),
    })
}

/// The answer to a show of `requested`: the EIP, or `None` only when the cloud says, with its
/// own NotFound code on a 404, that it does not exist.
pub fn show_answer(operation: Operation, v3: bool, answer: &Answer, requested: &str) -> Result<Option<CloudEip>, CloudError> {
    if !answer.is_success() {
        let err = errors::from_answer(operation, answer);
        return match err.class() {
            eip_cloud::ErrorClass::Gone => Ok(None),
            _ => Err(err),
        };
    }
    let eip = if v3 {
        success_body::<V3One>(operation, answer, "EIP")?.publicip.0.into_cloud_eip()
    } else {
        success_body::<V1One>(operation, answer, "EIP")?.publicip.0.into_cloud_eip()
    };
    named(operation, answer, eip, requested).map(Some)
}

/// `eip`, if it is the one asked for.
fn named(operation: Operation, answer: &Answer, eip: CloudEip, requested: &str) -> Result<CloudEip, CloudError> {
    if eip.allocation_id == requested {
        Ok(eip)
    } else {
        Err(invalid(
            operation,
            answer,
            format!("asked about EIP {requested}, the answer is about EIP {}", eip.allocation_id),
        ))
    }
}

// ----- mutations -----

/// The answer to `POST /v1/{project_id}/publicips`: the new EIP.
pub fn create_answer(answer: &Answer) -> Result<(CloudEip, Receipt), CloudError> {
    let body: V1One = success_body(Operation::Allocate, answer, "create")?;
    Ok((body.publicip.0.into_cloud_eip(), receipt(answer, None)))
}

#[derive(Deserialize)]
struct BatchJobs {
    job_ids: Vec<Id>,
}

/// A mutating call whose answer only confirms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mutation {
    /// `PUT /v1/.../publicips/{id}` with a port.
    Bind,
    /// `PUT /v1/.../publicips/{id}` with a blank port.
    Unbind,
    /// `POST /v3/.../publicips/{id}/associate-instance`.
    Associate,
    /// `POST /v3/.../publicips/{id}/disassociate-instance`.
    Disassociate,
    /// `DELETE /v1/.../publicips/{id}`.
    Release,
    /// `PATCH /v2/.../batchpublicips`.
    BatchUnbind,
    /// `DELETE /v2/.../batchpublicips`.
    BatchRelease,
    /// `POST /v2.0/.../publicips/{id}/tags/action` right after a create (part of the allocation).
    Tags,
    /// `POST /v2.0/.../publicips/{id}/tags/action` with `create` (adoption's claim).
    Tag,
    /// `POST /v2.0/.../publicips/{id}/tags/action` with `delete`.
    Untag,
}

impl Mutation {
    pub const ALL: [Mutation; 10] = [
        Mutation::Bind,
        Mutation::Unbind,
        Mutation::Associate,
        Mutation::Disassociate,
        Mutation::Release,
        Mutation::BatchUnbind,
        Mutation::BatchRelease,
        Mutation::Tags,
        Mutation::Tag,
        Mutation::Untag,
    ];

    pub fn operation(self) -> Operation {
        match self {
            Mutation::Bind | Mutation::Associate => Operation::Associate,
            Mutation::Unbind | Mutation::Disassociate | Mutation::BatchUnbind => Operation::Unassociate,
            Mutation::Release | Mutation::BatchRelease => Operation::Release,
            Mutation::Tags => Operation::Allocate,
            Mutation::Tag => Operation::Tag,
            Mutation::Untag => Operation::Untag,
        }
    }
}

/// The answer to `mutation` of EIP `requested` (batch calls: any of the batch's IDs).
pub fn mutating_answer(mutation: Mutation, answer: &Answer, requested: &str) -> Result<Receipt, CloudError> {
    let op = mutation.operation();
    match mutation {
        Mutation::Bind | Mutation::Unbind => {
            let body: V1One = success_body(op, answer, "update")?;
            named(op, answer, body.publicip.0.into_cloud_eip(), requested)?;
            Ok(receipt(answer, None))
        }
        Mutation::Associate | Mutation::Disassociate => {
            let body: V3One = success_body(op, answer, "associate/disassociate")?;
            named(op, answer, body.publicip.0.into_cloud_eip(), requested)?;
            Ok(receipt(answer, body.request_id.as_deref()))
        }
        Mutation::Release => no_content(op, answer, "delete").map(|()| receipt(answer, None)),
        Mutation::Tags | Mutation::Tag | Mutation::Untag => no_content(op, answer, "tags").map(|()| receipt(answer, None)),
        Mutation::BatchUnbind | Mutation::BatchRelease => {
            let body: BatchJobs = success_body(op, answer, "batch")?;
            let Some(first) = body.job_ids.first() else {
                return Err(invalid(op, answer, "the batch answer names no job"));
            };
            Ok(receipt(answer, Some(first.as_str())))
        }
    }
}

// ----- IAM -----

#[derive(Deserialize)]
struct TokenAnswer {
    token: Obj<TokenBody>,
}

#[derive(Deserialize)]
struct TokenBody {
    project: Obj<TokenProject>,
    #[serde(default)]
    expires_at: Option<String>,
}

#[derive(Deserialize)]
struct TokenProject {
    id: Id,
}

/// A token IAM issued.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issued {
    pub value: String,
    pub project_id: String,
    /// RFC 3339, when IAM said.
    pub expires_at: Option<String>,
}

/// The answer to `POST {iam}/v3/auth/tokens`.
pub fn token_answer(operation: Operation, answer: &Answer) -> Result<Issued, CloudError> {
    let body: TokenAnswer = success_body(operation, answer, "IAM token")?;
    let value = answer
        .header("x-subject-token")
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= MAX_TOKEN && t.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| invalid(operation, answer, "IAM answered without a usable X-Subject-Token header"))?;
    let token = body.token.0;
    Ok(Issued {
        value: value.to_owned(),
        project_id: token.project.0.id.0,
        expires_at: token.expires_at,
    })
}

#[derive(Deserialize)]
struct Projects {
    projects: Vec<Obj<Project>>,
}

#[derive(Deserialize)]
struct Project {
    id: Id,
    name: String,
}

/// The answer to `GET {iam}/v3/projects?name=`: the ID of the project called `name`, or `None`
/// when the (well-formed) list has no such project.
pub fn projects_answer(operation: Operation, answer: &Answer, name: &str) -> Result<Option<String>, CloudError> {
    let body: Projects = success_body(operation, answer, "IAM project list")?;
    Ok(body.projects.into_iter().find(|Obj(p)| p.name == name).map(|Obj(p)| p.id.0))
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderMap;

    use super::*;
    use eip_cloud::ErrorClass;

    fn answer(status: u16, body: &str) -> Answer {
        Answer {
            status,
            headers: HeaderMap::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[track_caller]
    fn assert_invalid<T: std::fmt::Debug>(result: Result<T, CloudError>) {
        let err = result.expect_err("malformed");
        assert_eq!(
            (err.class(), err.code.as_str()),
            (ErrorClass::Retryable, http::INVALID_RESPONSE),
            "{err:?}"
        );
    }

    #[test]
    fn lists_are_typed() {
        let ok = answer(200, r#"{"publicips":[{"id":"a","status":"DOWN","unknown":1}]}"#);
        assert_eq!(list_answer(Operation::Describe, false, &ok).expect("valid").eips.len(), 1);
        for body in [
            r#"{"publicips":null}"#,
            r#"{}"#,
            r#"[]"#,
            r#"[[]]"#,
            r#"{"publicips":[{"status":"DOWN"}]}"#,
            r#"{"publicips":[{"id":" ","status":"DOWN"}]}"#,
            r#"{"publicips":[["a","DOWN"]]}"#,
            r#"{"publicips":[{"id":"a","status":"DOWN","tags":[["k","v"]]}]}"#,
            r#"{"publicips":[{"id":"a","status":"DOWN"},{"id":"a","status":"DOWN"}]}"#,
            r#"{"publicips":[],"code":"VPC.0500","message":"m"}"#,
            r#"{"publicips":[],"error":{"code":401,"message":"m"}}"#,
        ] {
            assert_invalid(list_answer(Operation::Describe, false, &answer(200, body)));
        }
    }

    #[test]
    fn describe_says_what_the_list_proves() {
        let requested = vec!["a".to_owned(), "b".to_owned()];
        let list = |body: &str, v3| describe_answer(v3, &answer(200, body), &requested).expect("valid");
        assert!(matches!(list(r#"{"publicips":[{"id":"a","status":"DOWN"}]}"#, false), Listed::Complete(e) if e.len() == 1));
        assert!(matches!(
            list(r#"{"publicips":[{"id":"a","status":"DOWN"},{"id":"z","status":"DOWN"}]}"#, false),
            Listed::FilterIgnored(e) if e.len() == 1
        ));
        assert!(matches!(
            list(r#"{"publicips":[{"id":"a","status":"DOWN"}],"page_info":{"next_marker":"a"}}"#, true),
            Listed::Partial(e) if e.len() == 1
        ));
    }

    #[test]
    fn shows_name_the_eip_asked_for() {
        let show = |status, body: &str| show_answer(Operation::Describe, false, &answer(status, body), "a");
        assert!(show(200, r#"{"publicip":{"id":"a","status":"DOWN"}}"#).expect("valid").is_some());
        assert_eq!(show(404, r#"{"code":"VPC.0504","message":"m"}"#).expect("gone"), None);
        assert_invalid(show(200, r#"{"publicip":{"id":"b","status":"DOWN"}}"#));
        assert_invalid(show(200, r#"{"publicip":null}"#));
        assert_invalid(show(404, "<html></html>"));
    }

    #[test]
    fn mutations_need_their_success_shape() {
        let mutate = |m, status, body: &str| mutating_answer(m, &answer(status, body), "a");
        assert!(mutate(Mutation::Release, 204, "").is_ok());
        assert_invalid(mutate(Mutation::Release, 200, ""));
        assert_invalid(mutate(Mutation::Release, 204, "<html>"));
        assert_invalid(mutate(Mutation::Release, 200, r#"{"code":"VPC.0517","message":"m"}"#));
        assert!(mutate(Mutation::Bind, 200, r#"{"publicip":{"id":"a","status":"ACTIVE"}}"#).is_ok());
        assert_invalid(mutate(Mutation::Bind, 200, r#"{"publicip":{"id":"b","status":"ACTIVE"}}"#));
        assert!(mutate(Mutation::BatchRelease, 200, r#"{"job_ids":["j"]}"#).is_ok());
        assert_invalid(mutate(Mutation::BatchRelease, 200, r#"{"job_ids":[]}"#));
        assert_invalid(mutate(Mutation::BatchRelease, 200, r#"{"job_ids":[""]}"#));
        let gone = mutate(Mutation::Release, 404, r#"{"code":"VPC.0504","message":"m"}"#).expect_err("gone");
        assert_eq!(gone.class(), ErrorClass::Gone);
    }
}
