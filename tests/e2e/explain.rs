//! `kubectl explain` documents every field in clean prose: the real kubectl, on the CRDs the API
//! server serves (installed from `crds/`, as users install them).
//!
//! kubectl wraps descriptions itself (at 76 columns, greedily), so a description must be one
//! paragraph per idea with no line breaks of its own: a doc comment's line breaks that reach the
//! schema show up as lines broken mid-sentence. Enum values are printed from the schema's `enum`
//! list, where a `null` entry prints as `<no value>`.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{ControlPlane, INSTANCE_TYPES};

/// kubectl's wrap width for a DESCRIPTION block.
const WRAP: usize = 76;

/// Fields whose `kubectl explain` must list exactly these values, and whose description must
/// name each of them.
const ENUM_FIELDS: &[(&str, &[&str])] = &[
    ("elasticip.spec.binding.instanceType", &INSTANCE_TYPES),
    ("elasticip.spec.binding.mode", &["NAT", "MULTI_BINDED", "BINDED"]),
    ("elasticip.spec.deletionPolicy", &["Delete", "Unbind", "Retain"]),
    ("elasticip.spec.allocation.chargeType", &["PostPaid", "PrePaid"]),
    ("elasticip.spec.allocation.internetChargeType", &["PayByBandwidth", "PayByTraffic"]),
    ("providerconfig.spec.provider", &["simulator", "alibaba", "otc", "huawei", "aws"]),
    ("providerconfig.spec.alibaba.signatureVersion", &["V3", "V1"]),
    (
        "elasticip.status.phase",
        &[
            "Pending",
            "Allocating",
            "Binding",
            "Unbinding",
            "Ready",
            "Releasing",
            "Deleting",
            "Stalled",
        ],
    ),
    ("elasticip.status.ownership", &["Allocated", "Adopted"]),
    ("elasticip.status.effectiveDeletionPolicy", &["Delete", "Unbind", "Retain"]),
    ("elasticip.status.boundTo.instanceType", &INSTANCE_TYPES),
    ("elasticippool.spec.reclaimPolicy", &["Retain", "Delete"]),
];

/// Other fields whose long descriptions must wrap cleanly.
const PROSE_FIELDS: &[&str] = &[
    "elasticip",
    "elasticip.spec",
    "elasticip.spec.allocationId",
    "elasticip.spec.binding",
    "elasticip.spec.binding.privateIpAddress",
    "elasticip.spec.forceUnbind",
    "elasticip.spec.providerConfigRef",
    "elasticip.spec.allocation.tags",
    "elasticip.status",
    "elasticip.status.cloudState",
    "elasticip.status.lastOperation",
    "elasticippool",
    "elasticippool.spec.nodeSelector",
    "elasticippool.spec.spare",
    "elasticippool.spec.template",
    "elasticippool.status",
    "providerconfig.spec",
    "providerconfig.spec.default",
    "providerconfig.spec.otc.batchOperations",
    "providerconfig.spec.credentialsSecretRef",
];

pub async fn kubectl_explain_reads_cleanly(cp: &ControlPlane) {
    let mut failures = Vec::new();

    // The schema the API server serves: every description one clean, complete paragraph; every
    // enum a list of strings its description explains.
    for crd in [
        "elasticips.eip-operator.dev",
        "elasticippools.eip-operator.dev",
        "providerconfigs.eip-operator.dev",
    ] {
        let served: Value = serde_json::from_str(&cp.kubectl_ok(&["get", "crd", crd, "-o", "json"])).expect("CRD json");
        let versions = served["spec"]["versions"].as_array().expect("versions");
        for version in versions {
            let name = version["name"].as_str().unwrap_or_default();
            check_schema(&format!("{crd}/{name}"), &version["schema"]["openAPIV3Schema"], &mut failures);
        }
    }

    // What users read: the recursive field list...
    for resource in [
        "elasticip.spec",
        "elasticip.status",
        "elasticippool.spec",
        "elasticippool.status",
        "providerconfig.spec",
    ] {
        let out = explain(cp, &[resource, "--recursive"]);
        if out.contains("<no value>") {
            failures.push(format!("kubectl explain {resource} --recursive shows <no value>:\n{out}"));
        }
    }

    // ...and each field's page.
    for (field, values) in ENUM_FIELDS {
        let out = explain(cp, &[field]);
        check_page(field, &out, &mut failures);
        match enum_block(&out) {
            None => failures.push(format!("{field}: no ENUM block:\n{out}")),
            Some(listed) if listed != *values => {
                failures.push(format!("{field}: ENUM lists {listed:?}, expected {values:?}:\n{out}"));
            }
            Some(_) => {}
        }
        let description = description_block(&out).join(" ");
        for value in *values {
            if !description
                .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                .any(|w| w == *value)
            {
                failures.push(format!("{field}: the description does not explain the value {value}:\n{out}"));
            }
        }
    }
    for field in PROSE_FIELDS {
        let out = explain(cp, &[field]);
        check_page(field, &out, &mut failures);
    }

    assert!(
        failures.is_empty(),
        "{} problems in what kubectl explain shows:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// `kubectl explain` (retried while the API server's OpenAPI does not list the CRDs yet).
fn explain(cp: &ControlPlane, args: &[&str]) -> String {
    let mut full = vec!["explain"];
    full.extend_from_slice(args);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = cp.kubectl(&full);
        if out.status.success() {
            return String::from_utf8_lossy(&out.stdout).into_owned();
        }
        assert!(
            Instant::now() < deadline,
            "kubectl {full:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Descriptions and enums of `schema` and everything below it.
fn check_schema(path: &str, schema: &Value, failures: &mut Vec<String>) {
    match schema.get("description").and_then(Value::as_str) {
        Some(description) => {
            if let Some(problem) = prose_problem(description) {
                failures.push(format!("{path}: description {problem}: {description:?}"));
            }
        }
        None => failures.push(format!("{path}: no description")),
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        if schema.get("type").and_then(Value::as_str) != Some("string") {
            failures.push(format!("{path}: enum without type: string"));
        }
        if values.iter().any(|v| !v.is_string()) {
            failures.push(format!(
                "{path}: enum has non-string values (kubectl prints null as <no value>): {values:?}"
            ));
        }
        let description = schema.get("description").and_then(Value::as_str).unwrap_or_default();
        for value in values.iter().filter_map(Value::as_str) {
            if !description.contains(value) {
                failures.push(format!(
                    "{path}: description does not explain the enum value {value}: {description:?}"
                ));
            }
        }
    }
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        for (name, property) in properties {
            check_schema(&format!("{path}.{name}"), property, failures);
        }
    }
    if let Some(items) = schema.get("items") {
        check_schema(&format!("{path}[]"), items, failures);
    }
    if let Some(values) = schema.get("additionalProperties").filter(|v| v.is_object())
        && values.get("description").is_some()
    {
        check_schema(&format!("{path}{{}}"), values, failures);
    }
}

/// What is wrong with a description as prose, if anything.
fn prose_problem(description: &str) -> Option<&'static str> {
    let single_newline = description.split("\n\n").any(|paragraph| paragraph.contains('\n'));
    if single_newline {
        Some("breaks a line inside a paragraph (a doc comment's line break)")
    } else if description.trim() != description || description.contains("  ") {
        Some("has stray whitespace")
    } else if !description.ends_with('.') {
        Some("does not end as a sentence")
    } else {
        None
    }
}

/// One field page: nothing unrendered, and a DESCRIPTION wrapped by kubectl alone.
fn check_page(field: &str, out: &str, failures: &mut Vec<String>) {
    if out.contains("<no value>") || out.contains("<no description>") || out.contains("<empty>") {
        failures.push(format!("kubectl explain {field} shows a placeholder:\n{out}"));
    }
    let lines = description_block(out);
    if lines.is_empty() {
        failures.push(format!("kubectl explain {field} has no DESCRIPTION:\n{out}"));
    }
    // kubectl wraps greedily: a line is only broken when the next word would not fit. A shorter
    // break is a line break of the description itself.
    for pair in lines.windows(2) {
        let (line, next) = (pair[0], pair[1]);
        let Some(word) = next.split_whitespace().next() else { continue };
        if line.is_empty() {
            continue;
        }
        if line.chars().count() + 1 + word.chars().count() <= WRAP {
            failures.push(format!(
                "kubectl explain {field}: the DESCRIPTION breaks a line before {word:?} although it fits:\n  {line}\n  {next}"
            ));
        }
    }
}

/// The lines (indentation removed) of the DESCRIPTION block of a field page.
fn description_block(out: &str) -> Vec<&str> {
    let mut lines = out.lines().skip_while(|l| l.trim_end() != "DESCRIPTION:").skip(1);
    let mut block = Vec::new();
    for line in lines.by_ref() {
        if line.is_empty() {
            // A paragraph break, or the end of the block.
            block.push("");
            continue;
        }
        match line.strip_prefix("    ") {
            Some(text) => block.push(text.trim_end()),
            None => break,
        }
    }
    while block.last() == Some(&"") {
        block.pop();
    }
    block
}

/// The values of the ENUM block of a field page.
fn enum_block(out: &str) -> Option<Vec<&str>> {
    let mut lines = out.lines().skip_while(|l| !l.starts_with("ENUM:"));
    lines.next()?;
    Some(lines.take_while(|l| l.starts_with("    ")).map(str::trim).collect())
}
