//! What the CRDs' schemas say to humans (`kubectl explain`): every description one clean
//! paragraph, every enum a plain list of strings.
//!
//! schemars copies doc comments verbatim, line breaks included, and kubectl wraps descriptions
//! itself: a doc comment's line breaks would show as lines broken mid-sentence. For an
//! `Option<Enum>` it lists `null` among the enum values, which kubectl prints as `<no value>`
//! (`nullable: true` already admits the absent value). [`ProseDescriptions`] fixes both on the
//! generated schema; [`crds`](super::crds) applies it to every CRD.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{CustomResourceDefinition, JSONSchemaProps};
use schemars::Schema;
use schemars::transform::{Transform, transform_subschemas};
use serde_json::Value;

/// A schemars [`Transform`]: reflows every `description` (the lines of a paragraph joined with
/// single spaces, paragraphs separated by one blank line) and drops `null` from `enum` lists.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProseDescriptions;

impl Transform for ProseDescriptions {
    fn transform(&mut self, schema: &mut Schema) {
        if let Some(Value::String(description)) = schema.get_mut("description") {
            *description = prose(description);
        }
        if let Some(Value::Array(values)) = schema.get_mut("enum") {
            values.retain(|value| !value.is_null());
        }
        transform_subschemas(self, schema);
    }
}

/// `text` as paragraphs: lines joined with single spaces, paragraphs (split at blank lines)
/// separated by `"\n\n"`, runs of whitespace collapsed.
pub fn prose(text: &str) -> String {
    let mut paragraphs: Vec<String> = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    for line in text.lines().chain(std::iter::once("")) {
        if line.trim().is_empty() {
            if !current.is_empty() {
                paragraphs.push(current.join(" "));
                current.clear();
            }
        } else {
            current.extend(line.split_whitespace());
        }
    }
    paragraphs.join("\n\n")
}

/// Applies `transform` to the OpenAPI schema of every version of `crd`.
pub fn transform_crd(mut crd: CustomResourceDefinition, transform: &mut impl Transform) -> CustomResourceDefinition {
    for version in &mut crd.spec.versions {
        let Some(validation) = version.schema.as_mut() else {
            continue;
        };
        let Some(props) = validation.open_api_v3_schema.take() else {
            continue;
        };
        let value = serde_json::to_value(&props).expect("JSONSchemaProps serialize");
        let mut schema = Schema::try_from(value).expect("a CRD schema is a JSON object");
        transform.transform(&mut schema);
        let props: JSONSchemaProps = serde_json::from_value(schema.to_value()).expect("transformed schema is still JSONSchemaProps");
        validation.open_api_v3_schema = Some(props);
    }
    crd
}

/// For `#[schemars(transform = ...)]` on enums whose fields explain their values: drops the
/// type's own description, which kube's `Option<Enum>` handling would otherwise put in place of
/// the field's.
pub fn described_by_the_field(schema: &mut Schema) {
    schema.remove("description");
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn doc_comment_lines_become_one_paragraph() {
        assert_eq!(
            prose("Parameters of a new EIP. Ignored for adopted EIPs (and rejected with allocationId).\nImmutable."),
            "Parameters of a new EIP. Ignored for adopted EIPs (and rejected with allocationId). Immutable."
        );
        assert_eq!(
            prose("First line\n  continued.\n\n\nSecond  paragraph,\r\nstill second.\n"),
            "First line continued.\n\nSecond paragraph, still second."
        );
        assert_eq!(prose("One line."), "One line.");
        assert_eq!(prose(""), "");
    }

    #[test]
    fn the_transform_reaches_nested_schemas_and_drops_null_enum_values() {
        let mut schema = Schema::try_from(json!({
            "description": "Root\nline.",
            "type": "object",
            "properties": {
                "mode": { "description": "A\nmode.", "type": "string", "enum": ["A", "B", null], "nullable": true },
                "list": { "type": "array", "items": { "description": "An\nitem.", "type": "string" } },
                "map": { "type": "object", "additionalProperties": { "description": "A\nvalue.", "type": "string" } },
            },
        }))
        .expect("object");
        ProseDescriptions.transform(&mut schema);
        assert_eq!(
            schema.to_value(),
            json!({
                "description": "Root line.",
                "type": "object",
                "properties": {
                    "mode": { "description": "A mode.", "type": "string", "enum": ["A", "B"], "nullable": true },
                    "list": { "type": "array", "items": { "description": "An item.", "type": "string" } },
                    "map": { "type": "object", "additionalProperties": { "description": "A value.", "type": "string" } },
                },
            })
        );
    }

    /// Every description of the served CRDs is prose and every enum lists strings only (the
    /// end-to-end `explain` scenario checks what kubectl shows of them).
    #[test]
    fn generated_crds_have_clean_descriptions_and_enums() {
        fn walk(path: &str, schema: &Value, problems: &mut Vec<String>) {
            if let Some(description) = schema.get("description").and_then(Value::as_str)
                && description.split("\n\n").any(|p| p.contains('\n'))
            {
                problems.push(format!("{path}: {description:?}"));
            }
            if let Some(values) = schema.get("enum").and_then(Value::as_array)
                && (values.iter().any(|v| !v.is_string()) || schema.get("type") != Some(&json!("string")))
            {
                problems.push(format!("{path}: enum {values:?}"));
            }
            for (name, child) in schema.get("properties").and_then(Value::as_object).into_iter().flatten() {
                walk(&format!("{path}.{name}"), child, problems);
            }
            for key in ["items", "additionalProperties"] {
                if let Some(child) = schema.get(key) {
                    walk(&format!("{path}.{key}"), child, problems);
                }
            }
        }
        let mut problems = Vec::new();
        for crd in super::super::crds() {
            let name = crd.metadata.name.clone().unwrap_or_default();
            for version in &crd.spec.versions {
                let schema = serde_json::to_value(&version.schema).expect("json");
                walk(&name, &schema["openAPIV3Schema"], &mut problems);
            }
        }
        assert!(problems.is_empty(), "{problems:#?}");
    }
}
