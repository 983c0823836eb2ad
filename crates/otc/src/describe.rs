//! Lookups: Describe (a list call per batch filtered by ID, shows where the filter is ignored)
//! and the walk over every EIP of the project that `find_by_owner` filters.
//!
//! An ID is reported absent only when a well-formed answer proves it: a complete list that
//! honoured the `id` filter, or a show answered 404 with the cloud's NotFound code.

use std::collections::HashSet;
use std::sync::atomic::Ordering;

use reqwest::Method;

use super::answers::{self, Listed, Page};
use super::settings::MAX_PAGES;
use super::{Inner, Session, signing};
use eip_cloud::http;
use eip_cloud::{CloudEip, CloudError, Operation};

impl Inner {
    fn list_path(&self) -> &'static str {
        if self.v3() {
            "/v3/{project}/eip/publicips"
        } else {
            "/v1/{project}/publicips"
        }
    }

    /// One EIP by ID; `None` only when the cloud says it does not exist.
    pub(super) async fn show(&self, session: &Session, operation: Operation, id: &str) -> Result<Option<CloudEip>, CloudError> {
        let path = format!("{}/{}", self.list_path(), signing::encode(id));
        let v3 = self.v3();
        self.exchange(session, operation, Method::GET, &path, Vec::new(), None, |answer| {
            answers::show_answer(operation, v3, answer, id)
        })
        .await
    }

    /// One page of the unfiltered list.
    async fn list_page(&self, session: &Session, operation: Operation, marker: Option<&str>) -> Result<Page, CloudError> {
        let mut query = vec![("limit".to_owned(), self.settings.page_size.to_string())];
        if let Some(marker) = marker {
            query.push(("marker".into(), marker.to_owned()));
        }
        let v3 = self.v3();
        self.exchange(session, operation, Method::GET, self.list_path(), query, None, |answer| {
            answers::list_answer(operation, v3, answer)
        })
        .await
    }

    /// Every EIP of the project (bounded walk). v1 pages by the last ID until an empty page;
    /// v3 follows `page_info.next_marker`. A walk that does not end properly (an ID seen twice,
    /// a marker that does not move, a marker on an empty page, too many pages) is an error: a
    /// partial list would claim that the rest does not exist.
    pub(super) async fn list_all(&self, session: &Session, operation: Operation) -> Result<Vec<CloudEip>, CloudError> {
        let mut all: Vec<CloudEip> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        let mut marker: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let page = self.list_page(session, operation, marker.as_deref()).await?;
            let empty = page.eips.is_empty();
            for eip in &page.eips {
                if !seen.insert(eip.allocation_id.clone()) {
                    return Err(http::invalid_response(
                        operation,
                        format!("the EIP list names {} on two pages", eip.allocation_id),
                    ));
                }
            }
            let last = page.eips.last().map(|eip| eip.allocation_id.clone());
            all.extend(page.eips);
            let next = if self.v3() {
                match page.next_marker {
                    None => return Ok(all),
                    Some(_) if empty => {
                        return Err(http::invalid_response(operation, "the EIP list has a next page after an empty one"));
                    }
                    Some(next) if marker.as_deref() == Some(next.as_str()) => {
                        return Err(http::invalid_response(operation, "the EIP list's next marker does not move"));
                    }
                    Some(next) => next,
                }
            } else {
                // v1: the last ID is the next marker; an empty page ends the walk.
                match last {
                    None => return Ok(all),
                    Some(last) => last,
                }
            };
            marker = Some(next);
        }
        Err(CloudError::retryable(
            operation,
            "TooManyPages",
            format!(
                "the EIP list has more than {MAX_PAGES} pages of {}; a partial list proves no absence",
                self.settings.page_size
            ),
        ))
    }

    /// One page of the unfiltered list, with the cursor of the next ([`eip_cloud::list_all`]
    /// checks the walk as a whole: IDs seen twice, a cursor that does not move).
    pub(super) async fn list_one(&self, session: &Session, cursor: Option<&str>) -> Result<eip_cloud::ListPage, CloudError> {
        let page = self.list_page(session, Operation::List, cursor).await?;
        let next = if self.v3() {
            if page.next_marker.is_some() && page.eips.is_empty() {
                return Err(http::invalid_response(
                    Operation::List,
                    "the EIP list has a next page after an empty one",
                ));
            }
            page.next_marker
        } else {
            page.eips.last().map(|eip| eip.allocation_id.clone())
        };
        Ok(eip_cloud::ListPage { eips: page.eips, next })
    }

    pub(super) async fn describe_batch(&self, session: &Session, ids: &[String]) -> Result<Vec<CloudEip>, CloudError> {
        let op = Operation::Describe;
        let mut found: Vec<CloudEip> = Vec::new();
        if self.id_filter_works.load(Ordering::Relaxed) {
            let mut query: Vec<(String, String)> = ids.iter().map(|id| ("id".to_owned(), id.clone())).collect();
            query.push(("limit".into(), ids.len().max(1).to_string()));
            let v3 = self.v3();
            let listed = self
                .exchange(session, op, Method::GET, self.list_path(), query, None, |answer| {
                    answers::describe_answer(v3, answer, ids)
                })
                .await?;
            match listed {
                Listed::Complete(eips) => return Ok(eips),
                Listed::FilterIgnored(eips) => {
                    tracing::info!(
                        provider = self.name,
                        "the EIP list ignores the id filter; describing EIPs one by one"
                    );
                    self.id_filter_works.store(false, Ordering::Relaxed);
                    found = eips;
                }
                Listed::Partial(eips) => found = eips,
            }
        }
        for id in ids {
            if found.iter().any(|eip| eip.allocation_id == *id) {
                continue;
            }
            if let Some(eip) = self.show(session, op, id).await? {
                found.push(eip);
            }
        }
        Ok(found)
    }
}
