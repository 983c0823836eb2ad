//! What the integration tests share.

pub mod alibaba_v1;
