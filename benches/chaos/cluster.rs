//! The soak's own etcd + kube-apiserver on loopback: the e2e suite's control plane (one
//! implementation, included with `#[path]`), whose API server it restarts in place.

#[path = "../../tests/e2e/support/control_plane.rs"]
mod control_plane;

pub use control_plane::{ControlPlane as Cluster, free_port, spawn, terminate_within as terminate, tools_bin};
