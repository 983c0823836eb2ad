//! V1-signed Alibaba RPC parameters, for the tests that talk to the simulator's Alibaba front end
//! without a client (`tests/simulator_bounds.rs`, and the property tests, which include this
//! file).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use eip_alibaba::signing;

static NONCE: AtomicU64 = AtomicU64::new(0);

/// `params` signed with V1 for `method` by the access key `(id, secret)`: a fresh nonce, the
/// current time, any `Signature` among them replaced.
pub fn sign_v1(method: &str, (id, secret): (&str, &str), mut params: BTreeMap<String, String>) -> BTreeMap<String, String> {
    params.insert("AccessKeyId".into(), id.into());
    params.insert("SignatureMethod".into(), signing::V1_METHOD.into());
    params.insert("SignatureVersion".into(), signing::V1_VERSION.into());
    params.insert(
        "Timestamp".into(),
        jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
    );
    params.insert("SignatureNonce".into(), format!("test-{}", NONCE.fetch_add(1, Ordering::Relaxed)));
    params.remove("Signature");
    let string_to_sign = signing::v1_string_to_sign(method, &params);
    params.insert("Signature".into(), signing::v1_signature(secret, &string_to_sign));
    params
}
