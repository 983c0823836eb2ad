//! The chaos soak (issue #11), usable from `benches/chaos.rs` (`cargo bench --bench chaos`) and
//! from the e2e suite (`#[path = "../../benches/chaos/mod.rs"] mod chaos;`).
//!
//! - [`cluster`]: its own etcd + kube-apiserver, which it can restart in place;
//! - [`driver`]: the thread that owns every process and runs the chaos schedule;
//! - [`soak`]: the lifecycles, the watchdog and the checker ([`soak::run`], [`soak::Report`]).

pub mod cluster;
pub mod driver;
pub mod soak;
