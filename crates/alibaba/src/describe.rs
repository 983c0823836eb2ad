//! `DescribeEipAddresses` answers, page by page, into [`CloudEip`]s — and the rule that makes
//! an absence trustworthy: a listing is returned only when every page was well-formed and
//! consistent with the request. Anything else is a retryable `InvalidResponse`, never an empty
//! (or shorter) result:
//!
//! - an item the request did not ask for (an ID outside the batch; without the owner tag on a
//!   FindByOwner) or listed twice;
//! - a `TotalCount` smaller than the items, larger than the IDs asked for, or changing between
//!   pages (the listing moved: an item may have been skipped);
//! - an empty page while `TotalCount` promises more, an answer for another page, more pages
//!   than [`MAX_PAGES`];
//! - an item whose tags contradict each other (the owner tag decides what may be released).

use std::collections::{BTreeMap, HashSet};

use super::records::{DescribeAnswer, EipItem};
use eip_cloud::http::invalid_response;
use eip_cloud::{BindTarget, ChargeType, CloudEip, CloudError, EipPhase, InstanceType, OWNER_TAG, Operation, Transition};

/// Largest `PageSize` of `DescribeEipAddresses`.
pub const PAGE_SIZE: usize = 100;
/// Pages followed per listing before giving up (10 000 EIPs at 100 a page).
pub const MAX_PAGES: u64 = 100;

/// What a listing asked for, so that the answer can be held to it.
#[derive(Clone, Debug)]
pub enum Asked {
    /// `AllocationId=<comma-separated>`: only these IDs may come back.
    Ids(HashSet<String>),
    /// `Tag.1.Key=<owner tag>`, `Tag.1.Value=<uid>`: every item must carry that tag.
    Owner(String),
    /// No filter: every EIP of the region (one page of it, [`Listing::resume`]).
    All,
}

impl Asked {
    fn admits(&self, eip: &CloudEip) -> bool {
        match self {
            Asked::Ids(ids) => ids.contains(&eip.allocation_id),
            Asked::Owner(uid) => eip.owner_uid() == Some(uid.as_str()),
            Asked::All => true,
        }
    }
}

/// Where a listing stands after a page.
#[derive(Debug, PartialEq, Eq)]
pub enum Progress {
    /// Ask for this page next.
    More(u64),
    /// Every item `TotalCount` announced has been read.
    Done,
}

/// A listing being read page by page.
#[derive(Debug)]
pub struct Listing {
    operation: Operation,
    asked: Asked,
    page: u64,
    total: Option<u64>,
    /// Items on the pages before the first one this listing read (a resumed listing).
    before: u64,
    seen: HashSet<String>,
    found: Vec<CloudEip>,
}

impl Listing {
    pub fn new(operation: Operation, asked: Asked) -> Self {
        Listing {
            operation,
            asked,
            page: 1,
            total: None,
            before: 0,
            seen: HashSet::new(),
            found: Vec::new(),
        }
    }

    /// A listing that reads page `page` of one whose first page announced `total` (`None`: this
    /// is the first page): the pages before it were full, so they held `(page - 1) × PAGE_SIZE`
    /// items. Used page by page ([`eip_cloud::CloudProvider::list_page`]), so that each page is
    /// one rate-limited call; [`Progress::More`] then requires a full page.
    pub fn resume(operation: Operation, asked: Asked, page: u64, total: Option<u64>) -> Self {
        Listing {
            page: page.max(1),
            total,
            before: (page.max(1) - 1).saturating_mul(PAGE_SIZE as u64),
            ..Listing::new(operation, asked)
        }
    }

    /// `TotalCount` as the first page announced it.
    pub fn total(&self) -> Option<u64> {
        self.total
    }

    /// Items read on this listing's pages.
    pub fn read_here(&self) -> usize {
        self.found.len()
    }

    /// The page to ask for next.
    pub fn page(&self) -> u64 {
        self.page
    }

    /// Takes the answer to [`Self::page`].
    pub fn add(&mut self, answer: DescribeAnswer) -> Result<Progress, CloudError> {
        let request_id = answer.request_id.0.clone();
        self.check(answer).map_err(|e| e.with_request_id(request_id))
    }

    fn check(&mut self, answer: DescribeAnswer) -> Result<Progress, CloudError> {
        let invalid = |what: String| invalid_response(self.operation, format!("DescribeEipAddresses: {what}"));
        if let Some(number) = answer.page_number
            && number != self.page
        {
            return Err(invalid(format!("answered page {number} to a request for page {}", self.page)));
        }
        let total = answer.total_count;
        match self.total {
            Some(first) if first != total => {
                return Err(invalid(format!(
                    "TotalCount changed from {first} to {total} between pages (the listing moved; read again)"
                )));
            }
            _ => self.total = Some(total),
        }
        if let Asked::Ids(ids) = &self.asked
            && total > ids.len() as u64
        {
            return Err(invalid(format!("TotalCount {total} for {} allocation IDs asked", ids.len())));
        }
        if total > MAX_PAGES * PAGE_SIZE as u64 {
            return Err(invalid(format!(
                "TotalCount {total}: more than {} EIPs are not listed",
                MAX_PAGES * PAGE_SIZE as u64
            )));
        }
        let items = answer.eip_addresses.eip_address;
        let empty = items.is_empty();
        for item in items {
            let eip = to_cloud_eip(item).map_err(|why| invalid(why.to_owned()))?;
            if !self.asked.admits(&eip) {
                return Err(invalid(match self.asked {
                    Asked::Ids(_) => "an item with an AllocationId the request did not ask for".to_owned(),
                    Asked::Owner(_) => "an item without the owner tag the request filtered on".to_owned(),
                    Asked::All => "an item the request did not ask for".to_owned(),
                }));
            }
            if !self.seen.insert(eip.allocation_id.clone()) {
                return Err(invalid("the same AllocationId listed twice".to_owned()));
            }
            self.found.push(eip);
        }
        let read = self.before + self.found.len() as u64;
        if read > total {
            return Err(invalid(format!("{read} items but a TotalCount of {total}")));
        }
        if read == total {
            return Ok(Progress::Done);
        }
        if empty {
            return Err(invalid(format!(
                "page {} is empty but TotalCount {total} promises {} more",
                self.page,
                total - read
            )));
        }
        if self.page >= MAX_PAGES {
            return Err(invalid(format!("more than {MAX_PAGES} pages")));
        }
        self.page += 1;
        Ok(Progress::More(self.page))
    }

    /// Every EIP read; meaningful once [`Progress::Done`].
    pub fn into_found(self) -> Vec<CloudEip> {
        self.found
    }
}

/// The EIP phase of an Alibaba `Status`; locks override it.
pub fn phase(status: &str, locked: bool) -> EipPhase {
    if locked {
        return EipPhase::Locked;
    }
    match status {
        "Available" => EipPhase::Unbound,
        "InUse" => EipPhase::Bound,
        "Associating" => EipPhase::Transitional(Transition::Associating),
        "Unassociating" => EipPhase::Transitional(Transition::Unassociating),
        "Releasing" => EipPhase::Transitional(Transition::Releasing),
        "Allocating" => EipPhase::Transitional(Transition::Allocating),
        // `Modifying` and states this code does not know: wait and look again.
        _ => EipPhase::Transitional(Transition::Updating),
    }
}

fn parse_instance_type(raw: &str) -> Option<InstanceType> {
    match raw {
        "EcsInstance" => Some(InstanceType::EcsInstance),
        "NetworkInterface" => Some(InstanceType::NetworkInterface),
        "Nat" => Some(InstanceType::Nat),
        "SlbInstance" => Some(InstanceType::SlbInstance),
        "HaVip" => Some(InstanceType::HaVip),
        "IpAddress" => Some(InstanceType::IpAddress),
        _ => None,
    }
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

/// One well-formed `DescribeEipAddresses` item as a [`CloudEip`]; an error when its tags
/// contradict each other (one key, two values).
pub fn to_cloud_eip(item: EipItem) -> Result<CloudEip, &'static str> {
    let allocation_id = item.allocation_id.0;
    let mut locks: Vec<String> = item
        .operation_locks
        .map(|locks| {
            locks
                .lock_reason
                .into_iter()
                .map(|r| r.into_string())
                .filter(|r| !r.is_empty())
                .collect()
        })
        .unwrap_or_default();
    if let Some(business) = non_empty(item.business_status)
        && business != "Normal"
        && locks.is_empty()
    {
        locks.push(business);
    }
    let bound_to = match (non_empty(item.instance_type), non_empty(item.instance_id)) {
        (Some(kind), Some(instance_id)) => match parse_instance_type(&kind) {
            Some(instance_type) => Some(BindTarget {
                instance_type,
                instance_id,
                private_ip_address: non_empty(item.private_ip_address),
            }),
            None => {
                tracing::debug!(%allocation_id, instance_type = %kind, "EIP bound to an instance type the operator does not manage");
                None
            }
        },
        _ => None,
    };
    let mut tags = BTreeMap::new();
    for tag in item.tags.map(|t| t.tag).unwrap_or_default() {
        let value = tag.value.unwrap_or_default();
        match tags.get(&tag.key.0) {
            Some(existing) if *existing != value => {
                return Err(if tag.key.0 == OWNER_TAG {
                    "an item with two different owner tags"
                } else {
                    "an item with one tag key holding two values"
                });
            }
            _ => {
                tags.insert(tag.key.0, value);
            }
        }
    }
    Ok(CloudEip {
        ip_address: item.ip_address,
        phase: phase(&item.status, !locks.is_empty()),
        raw_state: item.status,
        bound_to,
        charge_type: match item.charge_type.as_deref() {
            Some("PrePaid") => ChargeType::PrePaid,
            _ => ChargeType::PostPaid,
        },
        locks,
        tags,
        bandwidth_mbps: item.bandwidth.map(|b| b.0),
        binding_handle: None,
        created_at: item
            .allocation_time
            .and_then(|t| t.as_str().map(str::to_owned))
            .filter(|t| !t.is_empty()),
        allocation_id,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use eip_cloud::ErrorClass;

    fn item(value: Value) -> CloudEip {
        to_cloud_eip(serde_json::from_value(value).expect("well-formed item")).expect("maps")
    }

    fn page(total: u64, ids: &[&str]) -> DescribeAnswer {
        let items: Vec<Value> = ids
            .iter()
            .map(|id| json!({"AllocationId": id, "IpAddress": "1.2.3.4", "Status": "Available", "Tags": {"Tag": [{"Key": OWNER_TAG, "Value": "u"}]}}))
            .collect();
        serde_json::from_value(json!({"RequestId": "R", "TotalCount": total, "EipAddresses": {"EipAddress": items}})).expect("page")
    }

    fn ids(list: &[&str]) -> Asked {
        Asked::Ids(list.iter().map(|s| (*s).to_owned()).collect())
    }

    #[test]
    fn describe_items_map_to_cloud_eips() {
        let eip = item(json!({
            "AllocationId": "eip-1", "IpAddress": "47.1.2.3", "Status": "InUse",
            "InstanceType": "EcsInstance", "InstanceId": "i-1", "PrivateIpAddress": "10.0.0.5",
            "ChargeType": "PrePaid", "Bandwidth": "20", "BusinessStatus": "Normal",
            "OperationLocks": {"LockReason": []},
            "Tags": {"Tag": [{"Key": OWNER_TAG, "Value": "uid-1"}, {"Key": "team", "Value": "a"}]}
        }));
        assert_eq!(eip.phase, EipPhase::Bound);
        assert_eq!(eip.raw_state, "InUse");
        assert_eq!(eip.charge_type, ChargeType::PrePaid);
        assert_eq!(eip.bandwidth_mbps, Some(20));
        assert_eq!(eip.owner_uid(), Some("uid-1"));
        let bound = eip.bound_to.expect("bound");
        assert_eq!(
            (bound.instance_type, bound.instance_id.as_str(), bound.private_ip_address.as_deref()),
            (InstanceType::EcsInstance, "i-1", Some("10.0.0.5"))
        );

        // (The fixtures below gained an IpAddress, which every item must have.)
        let eip = item(json!({
            "AllocationId": "eip-2", "IpAddress": "47.1.2.4", "Status": "Available", "InstanceType": "", "InstanceId": "",
            "BusinessStatus": "FinancialLocked", "OperationLocks": {"LockReason": [{"LockReason": "financial"}]}
        }));
        assert_eq!(
            (eip.phase, eip.locks.clone(), eip.bound_to),
            (EipPhase::Locked, vec!["financial".to_owned()], None)
        );
        let business_only =
            json!({"AllocationId": "eip-3", "IpAddress": "47.1.2.5", "Status": "Available", "BusinessStatus": "FinancialLocked"});
        assert_eq!(item(business_only).locks, vec!["FinancialLocked".to_owned()]);

        for (status, expected) in [
            ("Available", EipPhase::Unbound),
            ("Associating", EipPhase::Transitional(Transition::Associating)),
            ("Unassociating", EipPhase::Transitional(Transition::Unassociating)),
            ("Releasing", EipPhase::Transitional(Transition::Releasing)),
            ("Modifying", EipPhase::Transitional(Transition::Updating)),
        ] {
            assert_eq!(phase(status, false), expected, "{status}");
        }
        assert!(serde_json::from_value::<EipItem>(json!({"Status": "InUse"})).is_err());
        let clash = json!({"AllocationId": "e", "IpAddress": "", "Status": "", "Tags": {"Tag": [{"Key": OWNER_TAG, "Value": "a"}, {"Key": OWNER_TAG, "Value": "b"}]}});
        assert!(to_cloud_eip(serde_json::from_value(clash).expect("parses")).is_err());
    }

    #[test]
    fn a_listing_is_complete_or_an_error() {
        let mut listing = Listing::new(Operation::Describe, ids(&["a", "b"]));
        assert_eq!(listing.add(page(2, &["a", "b"])).expect("complete"), Progress::Done);
        assert_eq!(listing.into_found().len(), 2);
        let mut listing = Listing::new(Operation::Describe, ids(&["a", "b"]));
        assert_eq!(listing.add(page(0, &[])).expect("nothing"), Progress::Done);

        let fails = |asked: Asked, pages: &[DescribeAnswer]| {
            let mut listing = Listing::new(Operation::FindByOwner, asked);
            let mut last = Ok(Progress::More(1));
            for answer in pages {
                last = listing.add(answer.clone());
                if last.is_err() {
                    break;
                }
            }
            let err = last.expect_err("refused");
            assert_eq!((err.class(), err.code.as_str()), (ErrorClass::Retryable, "InvalidResponse"));
            assert_eq!(err.request_id.as_deref(), Some("R"));
        };
        fails(ids(&["a"]), &[page(1, &["x"])]);
        fails(ids(&["a", "b"]), &[page(1, &["a", "b"])]);
        fails(ids(&["a"]), &[page(2, &["a"])]);
        fails(ids(&["a", "b"]), &[page(2, &["a", "a"])]);
        fails(ids(&["a", "b"]), &[page(2, &["a"]), page(2, &[])]);
        fails(Asked::Owner("u".into()), &[page(3, &["a", "b"]), page(4, &["c"])]);
        fails(Asked::Owner("someone-else".into()), &[page(1, &["a"])]);
        fails(Asked::Owner("u".into()), &[page(2, &["a"]), page(2, &["a"])]);
    }
}
