//! eip-operator: manages cloud Elastic IP addresses as Kubernetes custom resources.

pub mod api;
pub mod cloud;
pub mod controller;
pub mod telemetry;
