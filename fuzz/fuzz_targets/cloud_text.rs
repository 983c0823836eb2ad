//! What the cloud says back, as text: redaction, request IDs and retry-after headers.
#![no_main]

use eip_cloud::http::{MAX_RETRY_AFTER, clean_request_id, retry_after};
use eip_cloud::redact::{MAX_MESSAGE, Redactor};
use libfuzzer_sys::fuzz_target;
use http::header::{HeaderMap, HeaderValue};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let redactor = Redactor::new(["AKIDsecretvalue", "token/with+chars="]);
    let cleaned = redactor.text(&text);
    assert!(cleaned.chars().count() <= MAX_MESSAGE + 1);
    assert!(!cleaned.contains("AKIDsecretvalue"));
    let _ = clean_request_id(&text);
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_bytes(data) {
        headers.insert("retry-after", value.clone());
        headers.insert("x-acs-retry-after", value);
    }
    assert!(retry_after(&headers).is_none_or(|d| d <= MAX_RETRY_AFTER));
});
