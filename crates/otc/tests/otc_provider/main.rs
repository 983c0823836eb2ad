//! `OtcProvider` against the simulator's OTC / Huawei Cloud wire protocol, in process on
//! 127.0.0.1: AK/SK and IAM-token authentication, the port and load-balancer lifecycles, error
//! classification, and batch coalescing.

mod batching;
mod faults;
mod lifecycle;
mod refusals;
mod support;
