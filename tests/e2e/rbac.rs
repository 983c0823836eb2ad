//! The operator's ClusterRole (`config/rbac/`) is enough to run it (every scenario runs the
//! operator as that ServiceAccount, the pool scenarios too) and grants nothing it does not need.

use crate::support::{ControlPlane, OPERATOR_USER};

pub async fn operator_identity_is_sufficient_and_minimal(cp: &ControlPlane) {
    let can_i = |verb: &str, resource: &str, all_namespaces: bool| {
        cp.can_i(OPERATOR_USER, verb, resource, if all_namespaces { None } else { Some("default") })
    };
    let needed = [
        ("watch", "elasticips.eip-operator.dev", true),
        ("list", "elasticips.eip-operator.dev", true),
        ("patch", "elasticips.eip-operator.dev", false),
        ("patch", "elasticips.eip-operator.dev/status", false),
        ("watch", "providerconfigs.eip-operator.dev", true),
        ("create", "events.events.k8s.io", false),
        // Bindings by reference: nodeRef, serviceRef.
        ("get", "nodes", true),
        ("watch", "nodes", true),
        ("list", "nodes", true),
        ("get", "services", false),
        ("watch", "services", true),
        ("list", "services", true),
        // ElasticIPPools: their finalizer and status; the ElasticIPs they own.
        ("watch", "elasticippools.eip-operator.dev", true),
        ("list", "elasticippools.eip-operator.dev", true),
        ("patch", "elasticippools.eip-operator.dev", false),
        ("patch", "elasticippools.eip-operator.dev/status", false),
        ("update", "elasticippools.eip-operator.dev/finalizers", false),
        ("create", "elasticips.eip-operator.dev", false),
        ("delete", "elasticips.eip-operator.dev", false),
        ("list", "elasticips.eip-operator.dev", false),
    ];
    // The cluster ID: the kube-system namespace, and no other.
    let can_get_namespace = |name: &str| {
        let out = cp.kubectl(&["auth", "can-i", "get", &format!("namespaces/{name}"), "--as", OPERATOR_USER]);
        String::from_utf8_lossy(&out.stdout).trim() == "yes"
    };
    assert!(can_get_namespace("kube-system"), "the operator reads the cluster ID");
    assert!(!can_get_namespace("default"), "and no other namespace");
    assert!(!can_i("list", "namespaces", true));
    for (verb, resource, all) in needed {
        assert!(can_i(verb, resource, all), "the operator needs {verb} {resource}");
    }
    let not_needed = [
        ("list", "secrets", true),
        ("get", "secrets", false),
        ("update", "elasticips.eip-operator.dev", false),
        ("deletecollection", "elasticips.eip-operator.dev", false),
        // Pools are the user's: the operator never creates, replaces or deletes one.
        ("create", "elasticippools.eip-operator.dev", false),
        ("update", "elasticippools.eip-operator.dev", false),
        ("delete", "elasticippools.eip-operator.dev", false),
        ("patch", "providerconfigs.eip-operator.dev", true),
        ("delete", "providerconfigs.eip-operator.dev", true),
        ("create", "pods", false),
        // Read-only on what bindings name.
        ("patch", "nodes", true),
        ("update", "nodes", true),
        ("delete", "nodes", true),
        ("patch", "nodes/status", true),
        ("patch", "services", false),
        ("update", "services", false),
        ("delete", "services", false),
        ("get", "endpoints", false),
        ("list", "pods", true),
        ("create", "clusterrolebindings", true),
        ("impersonate", "users", true),
    ];
    for (verb, resource, all) in not_needed {
        assert!(!can_i(verb, resource, all), "the operator must not be able to {verb} {resource}");
    }
}
