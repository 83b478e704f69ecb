//! The official schemas, vendored under `schemas/` and built into the
//! binary: a document that does not validate never goes out, and the
//! validator's words say why.
//!
//! CSAF 2.0 refers to FIRST's CVSS schemas by URL; they are registered
//! under those URLs here, so validation never reaches for the network.

use std::sync::OnceLock;

use jsonschema::{Registry, Validator};
use serde_json::Value;

use super::Format;

const CVE: &str = include_str!("../../schemas/cve-5/CVE_Record_Format_bundled.json");
const OSV: &str = include_str!("../../schemas/osv/schema.json");
const CSAF: &str = include_str!("../../schemas/csaf-2.0/csaf_json_schema.json");
const CVSS: [&str; 3] = [
    include_str!("../../schemas/cvss/cvss-v2.0.json"),
    include_str!("../../schemas/cvss/cvss-v3.0.json"),
    include_str!("../../schemas/cvss/cvss-v3.1.json"),
];

/// A document its official schema refuses, with the validator's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the {format} does not match its official schema: {}", .errors.join("; "))]
pub struct Invalid {
    pub format: &'static str,
    /// `at /json/pointer: what is wrong`, one per problem.
    pub errors: Vec<String>,
}

/// A vendored schema that cannot be built: the build itself is broken.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "the vendored {format} schema cannot be used: {reason}; restore schemas/ from the repository"
)]
pub struct Broken {
    pub format: &'static str,
    pub reason: String,
}

/// The validators of the three formats.
pub struct Schemas {
    cve: Validator,
    osv: Validator,
    csaf: Validator,
}

fn parse(format: &'static str, text: &str) -> Result<Value, Broken> {
    serde_json::from_str(text).map_err(|e| Broken {
        format,
        reason: e.to_string(),
    })
}

/// FIRST's identifiers carry a `?date` that CSAF's references lack: the
/// schema is registered (and its own `id` read) without it, as the CSAF
/// TC's validator does.
fn without_query(mut schema: Value) -> (String, Value) {
    let key = if schema.get("$id").is_some() {
        "$id"
    } else {
        "id"
    };
    let id = schema[key].as_str().unwrap_or_default();
    let id = id.split('?').next().unwrap_or(id).to_owned();
    schema[key] = Value::String(id.clone());
    (id, schema)
}

impl Schemas {
    pub fn build() -> Result<Schemas, Broken> {
        let build = |format: &'static str, text: &str| -> Result<Validator, Broken> {
            let schema = parse(format, text)?;
            jsonschema::options()
                .should_validate_formats(true)
                .build(&schema)
                .map_err(|e| Broken {
                    format,
                    reason: e.to_string(),
                })
        };
        let mut registry = Registry::new();
        for text in CVSS {
            let (id, schema) = without_query(parse("CVSS", text)?);
            registry = registry.add(id, schema).map_err(|e| Broken {
                format: "CVSS",
                reason: e.to_string(),
            })?;
        }
        let registry = registry.prepare().map_err(|e| Broken {
            format: "CVSS",
            reason: e.to_string(),
        })?;
        let csaf = jsonschema::options()
            .should_validate_formats(true)
            .with_registry(&registry)
            .build(&parse("CSAF 2.0", CSAF)?)
            .map_err(|e| Broken {
                format: "CSAF 2.0",
                reason: e.to_string(),
            })?;
        Ok(Schemas {
            cve: build("CVE JSON 5", CVE)?,
            osv: build("OSV", OSV)?,
            csaf,
        })
    }

    /// Whether a document is valid in its format; every problem if not.
    pub fn check(&self, format: Format, document: &Value) -> Result<(), Invalid> {
        let validator = match format {
            Format::Cve => &self.cve,
            Format::Osv => &self.osv,
            Format::Csaf => &self.csaf,
        };
        let errors: Vec<String> = validator
            .iter_errors(document)
            .map(|e| {
                let at = e.instance_path().to_string();
                format!("at {}: {e}", if at.is_empty() { "/" } else { &at })
            })
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Invalid {
                format: format.title(),
                errors,
            })
        }
    }
}

/// Whether OSV's schema accepts `value` for one of its definitions
/// (`prefix` for the id, `ecosystemWithSuffix` for the ecosystem): what
/// `check-config` asks, so that a wrong setting shows before any advisory.
pub fn osv_accepts(definition: &str, value: &str) -> bool {
    let Ok(schema) = serde_json::from_str::<Value>(OSV) else {
        return false;
    };
    let Some(pattern) = schema["$defs"][definition]["pattern"].as_str() else {
        return false;
    };
    let check = serde_json::json!({"type": "string", "pattern": pattern});
    jsonschema::validator_for(&check).is_ok_and(|v| v.is_valid(&Value::String(value.to_owned())))
}

/// The schemas, built once per process.
pub fn schemas() -> Result<&'static Schemas, Broken> {
    static SCHEMAS: OnceLock<Result<Schemas, Broken>> = OnceLock::new();
    SCHEMAS
        .get_or_init(Schemas::build)
        .as_ref()
        .map_err(Clone::clone)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::json;

    use super::super::fixture::*;
    use super::super::{Copy, all};
    use super::*;

    fn examples(dir: &str) -> Vec<(String, Value)> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("schemas")
            .join(dir)
            .join("examples");
        let mut out: Vec<(String, Value)> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| {
                let path = e.unwrap().path();
                let text = std::fs::read_to_string(&path).unwrap();
                (
                    path.display().to_string(),
                    serde_json::from_str(&text).unwrap(),
                )
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        assert!(!out.is_empty(), "no examples in {}", dir.display());
        out
    }

    #[test]
    fn the_examples_shipped_with_each_schema_validate() {
        let s = schemas().unwrap();
        for (format, dir) in [
            (Format::Cve, "cve-5"),
            (Format::Osv, "osv"),
            (Format::Csaf, "csaf-2.0"),
        ] {
            for (path, doc) in examples(dir) {
                if let Err(e) = s.check(format, &doc) {
                    panic!("{path}: {e}");
                }
            }
        }
    }

    #[test]
    fn every_document_of_a_full_and_a_minimal_incident_validates() {
        let s = schemas().unwrap();
        for incident in [full(), minimal()] {
            for copy in [Copy::Public, Copy::Distributors] {
                let docs = all(
                    &incident,
                    &publisher(),
                    &[],
                    copy,
                    t("2026-12-20T00:00:00Z"),
                );
                assert_eq!(docs.len(), 3);
                for doc in docs {
                    let doc = doc.unwrap();
                    if let Err(e) = s.check(doc.format, &doc.json) {
                        panic!("{} of {}: {e}\n{}", doc.file_name, incident.id, doc.text());
                    }
                }
            }
        }
    }

    #[test]
    fn the_validator_refuses_an_invalid_document_in_each_format() {
        let s = schemas().unwrap();
        let docs = all(
            &full(),
            &publisher(),
            &[],
            Copy::Public,
            t("2026-12-20T00:00:00Z"),
        );
        for doc in docs {
            let mut broken = doc.unwrap();
            match broken.format {
                // Not a CVE id; a version range with no start.
                Format::Cve => broken.json["cveMetadata"]["cveId"] = json!("CVE-26-1"),
                Format::Osv => {
                    broken.json["affected"][0]["ranges"][0]["events"] = json!([{"fixed": "2.3.10"}])
                }
                // A CVSS 3.1 score out of range: only FIRST's schema,
                // registered by URL, knows that.
                Format::Csaf => {
                    broken.json["vulnerabilities"][0]["scores"][0]["cvss_v3"]["baseScore"] =
                        json!(11.0)
                }
            }
            let e = s.check(broken.format, &broken.json).unwrap_err();
            assert!(!e.errors.is_empty());
            assert!(
                e.to_string().contains("does not match its official schema"),
                "{e}"
            );
        }
        // An unregistered OSV prefix is refused, as OSV's schema says.
        let mut p = publisher();
        p.osv_prefix = "EMB".into();
        let doc =
            super::super::osv::record(&full(), "CVE-2026-1234", &p, t("2026-12-20T00:00:00Z"))
                .unwrap();
        let e = s.check(Format::Osv, &doc.json).unwrap_err();
        assert!(e.errors.iter().any(|l| l.starts_with("at /id")), "{e}");
        assert!(!osv_accepts("prefix", "EMB-2026-0007"));
        assert!(osv_accepts("prefix", "x_EMB-2026-0007"));
        assert!(osv_accepts("ecosystemWithSuffix", "crates.io"));
        assert!(!osv_accepts("ecosystemWithSuffix", "cargo"));
    }
}
