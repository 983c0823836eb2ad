//! Every OTC / Huawei Cloud answer parser and the classifier, on arbitrary status, headers and
//! body.
#![no_main]

use eip_cloud::http::MAX_RETRY_AFTER;
use eip_otc::fuzzing as otc;
use eip_cloud::{CloudError, ErrorClass, Operation};
use libfuzzer_sys::fuzz_target;

fn check(err: &CloudError, status: u16) {
    assert!(err.retry_after().is_none_or(|d| d <= MAX_RETRY_AFTER));
    if status == 429 || ((500..600).contains(&status) && !otc::TERMINAL_AT_500.contains(&err.code.as_str())) {
        assert_eq!(err.class(), ErrorClass::Retryable, "{status}: {err:?}");
    }
    if err.class() == ErrorClass::Gone {
        assert_eq!(status, 404);
    }
}

fuzz_target!(|input: (u8, bool, u16, Vec<(String, String)>, Vec<u8>)| {
    let (which, v3, status, headers, body) = input;
    let requested = vec!["eip-fuzz-1".to_owned(), "eip-fuzz-2".to_owned()];
    let result = match which % 8 {
        0 => otc::describe_answer(v3, status, &headers, &body, &requested).map(drop),
        1 => otc::list_page_answer(v3, status, &headers, &body).map(drop),
        2 => otc::show_answer(v3, status, &headers, &body, "eip-fuzz-1").map(drop),
        3 => otc::create_answer(status, &headers, &body).map(drop),
        4 => Err(otc::error_answer(Operation::Release, status, &headers, &body)),
        5 => otc::token_answer(status, &headers, &body).map(drop),
        6 => otc::projects_answer(status, &headers, &body, "eu-de").map(drop),
        _ => {
            let mutation = otc::Mutation::ALL[usize::from(which / 8) % otc::Mutation::ALL.len()];
            otc::mutating_answer(mutation, status, &headers, &body, "eip-fuzz-1").map(drop)
        }
    };
    if let Err(err) = result {
        check(&err, status);
    }
});
