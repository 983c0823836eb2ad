//! Every Alibaba answer parser and the classifier, on arbitrary status, headers and body.
#![no_main]

use eip_alibaba::fuzzing as alibaba;
use eip_cloud::http::MAX_RETRY_AFTER;
use eip_cloud::{CloudError, ErrorClass, Operation};
use libfuzzer_sys::fuzz_target;

const MUTATING: [Operation; 3] = [Operation::Associate, Operation::Unassociate, Operation::Release];

fn check(err: &CloudError, status: u16) {
    assert!(err.retry_after().is_none_or(|d| d <= MAX_RETRY_AFTER));
    if status == 429 || (500..600).contains(&status) {
        assert_eq!(err.class(), ErrorClass::Retryable, "{status}: {err:?}");
    }
}

fuzz_target!(|input: (u8, u16, Vec<(String, String)>, Vec<u8>)| {
    let (which, status, headers, body) = input;
    let requested = vec!["eip-fuzz-1".to_owned(), "eip-fuzz-2".to_owned()];
    match which % 7 {
        0 => {
            if let Err(err) = alibaba::describe_answer(status, &headers, &body, &requested) {
                check(&err, status);
            } else {
                assert!((200..300).contains(&status), "Ok from HTTP {status}");
            }
        }
        1 => {
            if let Err(err) = alibaba::find_by_owner_answer(status, &headers, &body, "uid-1") {
                check(&err, status);
            }
        }
        2 => {
            if let Err(err) = alibaba::allocate_answer(status, &headers, &body) {
                check(&err, status);
            }
        }
        3 => {
            let err = alibaba::error_answer(Operation::Release, status, &headers, &body);
            check(&err, status);
        }
        4 => {
            if let Err(err) = alibaba::sts_answer(status, &headers, &body) {
                check(&err, status);
            }
        }
        n => {
            let operation = MUTATING[usize::from(n) % MUTATING.len()];
            match alibaba::mutating_answer(operation, status, &headers, &body) {
                Ok(_) => assert!((200..300).contains(&status), "Ok from HTTP {status}"),
                Err(err) => check(&err, status),
            }
        }
    }
});
