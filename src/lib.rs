//! eip-operator: manages cloud Elastic IP addresses as Kubernetes custom resources.
//!
//! This crate is the operator: the controller, the telemetry it reports through, and the
//! wiring of the cloud layer into both. The custom resources are `eip-api`, the cloud boundary
//! `eip-cloud`, the providers `eip-alibaba` and `eip-otc`, the simulated cloud `eip-simulator`
//! (see docs/architecture.md).

pub mod cloud_metrics;
pub mod controller;
pub mod day2;
pub mod registry;
pub mod telemetry;
