//! The call log: one [`CallRecord`] per provider call, bounded by count
//! ([`CALL_LOG_CAPACITY`]) and by estimated size ([`CALL_LOG_MAX_BYTES`]); every string a
//! record keeps is cut to [`MAX_LOGGED_STRING`] bytes and its ID list to [`MAX_LOGGED_IDS`].

use std::collections::VecDeque;
use std::mem::size_of;

use serde::{Deserialize, Serialize};

use super::faults::FaultKind;
use super::limits::{CALL_LOG_MAX_BYTES, MAX_LOGGED_IDS, MAX_LOGGED_STRING, bounded};
use eip_cloud::Operation;

/// Calls kept in the log; older ones are dropped (counters keep counting).
pub const CALL_LOG_CAPACITY: usize = 200_000;

/// Whether a logged call succeeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum CallOutcome {
    Ok,
    Error,
}

impl CallOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            CallOutcome::Ok => "Ok",
            CallOutcome::Error => "Error",
        }
    }
}

impl PartialEq<&str> for CallOutcome {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// One provider call as the cloud saw it. Strings are cut to [`MAX_LOGGED_STRING`] bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallRecord {
    /// 1-based, increasing across all regions.
    pub seq: u64,
    /// Milliseconds since the simulator was created.
    pub at_ms: u64,
    pub region: String,
    pub operation: Operation,
    /// The IDs the call named (at most [`MAX_LOGGED_IDS`]); for Allocate, the EIP it created
    /// (or replayed).
    pub allocation_ids: Vec<String>,
    pub client_token: Option<String>,
    pub outcome: CallOutcome,
    pub code: Option<String>,
    pub request_id: String,
    /// The injected fault the call suffered, if any (after-the-model kinds: `outcome` is what
    /// the model did, which the client never learnt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<FaultKind>,
}

impl CallRecord {
    /// The record with every string cut to [`MAX_LOGGED_STRING`] and at most
    /// [`MAX_LOGGED_IDS`] IDs.
    pub(crate) fn bounded(mut self) -> Self {
        fn cut(text: &mut String) {
            if text.len() > MAX_LOGGED_STRING {
                *text = bounded(text);
            }
        }
        cut(&mut self.region);
        self.allocation_ids.truncate(MAX_LOGGED_IDS);
        self.allocation_ids.shrink_to_fit();
        self.allocation_ids.iter_mut().for_each(cut);
        if let Some(token) = &mut self.client_token {
            cut(token);
        }
        if let Some(code) = &mut self.code {
            cut(code);
        }
        cut(&mut self.request_id);
        self
    }

    /// Estimated heap and inline bytes of the record.
    pub fn estimated_size(&self) -> usize {
        size_of::<CallRecord>()
            + self.region.capacity()
            + self.allocation_ids.capacity() * size_of::<String>()
            + self.allocation_ids.iter().map(String::capacity).sum::<usize>()
            + self.client_token.as_ref().map_or(0, String::capacity)
            + self.code.as_ref().map_or(0, String::capacity)
            + self.request_id.capacity()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CounterRow {
    pub operation: Operation,
    pub outcome: CallOutcome,
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<FaultKind>,
    pub count: u64,
}

/// The retained records, oldest first, with their estimated total size.
#[derive(Debug, Default)]
pub(crate) struct CallLog {
    records: VecDeque<CallRecord>,
    bytes: usize,
}

impl CallLog {
    /// Appends `record` (bounded first), dropping the oldest records until both limits hold.
    pub fn push(&mut self, record: CallRecord) {
        let record = record.bounded();
        let size = record.estimated_size();
        while !self.records.is_empty() && (self.records.len() >= CALL_LOG_CAPACITY || self.bytes + size > CALL_LOG_MAX_BYTES) {
            if let Some(old) = self.records.pop_front() {
                self.bytes = self.bytes.saturating_sub(old.estimated_size());
            }
        }
        self.bytes += size;
        self.records.push_back(record);
    }

    pub fn iter(&self) -> impl Iterator<Item = &CallRecord> {
        self.records.iter()
    }

    /// Records with `seq > since`.
    pub fn since(&self, since: u64) -> impl Iterator<Item = &CallRecord> {
        let start = self.records.partition_point(|record| record.seq <= since);
        self.records.range(start..)
    }

    /// Estimated bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.records.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seq: u64, id: &str, token: &str) -> CallRecord {
        CallRecord {
            seq,
            at_ms: 0,
            region: "cn-hangzhou".into(),
            operation: Operation::Associate,
            allocation_ids: vec![id.to_owned()],
            client_token: Some(token.to_owned()),
            outcome: CallOutcome::Ok,
            code: None,
            request_id: "req".into(),
            fault: None,
        }
    }

    #[test]
    fn huge_strings_are_cut_and_the_log_is_bounded_by_bytes() {
        let huge = "x".repeat(4096);
        let mut log = CallLog::default();
        for seq in 1..=20_000 {
            log.push(record(seq, &huge, &huge));
            assert!(log.bytes() <= CALL_LOG_MAX_BYTES);
        }
        let last = log.iter().last().expect("kept");
        assert_eq!(last.seq, 20_000);
        assert_eq!(last.allocation_ids[0].len(), MAX_LOGGED_STRING);
        assert_eq!(last.client_token.as_ref().map(String::len), Some(MAX_LOGGED_STRING));
        // Far fewer than the count limit fit in the byte budget.
        assert!(log.len() < 20_000 && log.len() > 1000, "{}", log.len());
        assert_eq!(log.since(19_999).count(), 1);
        let recount: usize = log.iter().map(CallRecord::estimated_size).sum();
        assert_eq!(recount, log.bytes());
    }

    #[test]
    fn many_ids_are_cut_to_the_limit() {
        let mut r = record(1, "a", "t");
        r.allocation_ids = (0..5000).map(|n| format!("eip-{n}")).collect();
        let r = r.bounded();
        assert_eq!(r.allocation_ids.len(), MAX_LOGGED_IDS);
    }
}
