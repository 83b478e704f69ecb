//! The CSAF 2.0 security advisory: what distributors and vendors exchange.
//!
//! One document for the incident, one vulnerability per CVE. The public
//! copy (from the slot on) is TLP:WHITE and final; the distributors' copy
//! before it is TLP:AMBER and interim, so that nobody mistakes it for the
//! published one.

use jiff::Timestamp;
use serde_json::{Value, json};

use super::{Copy, Document, Facts, Format, Missing, PUBLIC_RELEASE, Publisher, Revision, time};
use crate::core::incident::Incident;
use crate::core::versions::{Item, Upper, first_fix_after};

/// A CSAF file name: the tracking id in lower case, other characters `_`
/// (CSAF 2.0, section 5.1).
pub fn file_name(tracking_id: &str) -> String {
    let name: String = tracking_id
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '+' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{name}.csaf.json")
}

/// The revision history: the releases the event log shows, in order. The
/// public copy continues the distributors' one (their tooling keeps the
/// higher version), its public release at the disclosure when the log
/// has none yet.
fn revisions(
    history: &[Revision],
    copy: Copy,
    disclosure: Timestamp,
    now: Timestamp,
) -> Vec<Revision> {
    let mut out: Vec<Revision> = match copy {
        Copy::Public => {
            let mut all = history.to_vec();
            if !all.iter().any(|r| r.summary == PUBLIC_RELEASE) {
                all.push(Revision {
                    at: disclosure,
                    summary: PUBLIC_RELEASE.to_owned(),
                });
            }
            all
        }
        Copy::Distributors => {
            let mut before: Vec<Revision> = history
                .iter()
                .filter(|r| r.summary != PUBLIC_RELEASE && r.at < disclosure)
                .cloned()
                .collect();
            // This copy is a release of its own (a correction is built
            // before the log records it): a version higher than the one
            // the distributors hold, so their tooling keeps it.
            let at = now.min(disclosure);
            if before.last().is_none_or(|r| r.at < at) {
                before.push(Revision {
                    at,
                    summary: if before.is_empty() {
                        "Advance copy for the distributors"
                    } else {
                        "Updated copy for the distributors"
                    }
                    .to_owned(),
                });
            }
            before
        }
    };
    if out.is_empty() {
        out.push(Revision {
            at: now.min(disclosure),
            summary: "Advance copy for the distributors".to_owned(),
        });
    }
    out.sort_by_key(|r| r.at);
    out
}

pub fn document(
    incident: &Incident,
    publisher: &Publisher,
    history: &[Revision],
    copy: Copy,
    now: Timestamp,
) -> Result<Document, Missing> {
    let f = Facts::of(incident, publisher);
    let missing = f.common_missing(incident);
    let (Some(affected), Some(disclosure), true) = (&f.affected, f.disclosure, missing.is_empty())
    else {
        return Err(Missing {
            format: Format::Csaf.title(),
            missing,
        });
    };

    // The product tree: each affected version or range, each fixed version.
    let product = &publisher.product;
    let scheme = if f.semver { "semver" } else { "generic" };
    let mut leaves = Vec::new();
    let mut affected_ids = Vec::new();
    let mut fixed_ids = Vec::new();
    let mut next_id = 0;
    let mut leaf = |category: &str, name: String, ids: &mut Vec<String>| {
        next_id += 1;
        let id = format!("CSAFPID-{next_id:04}");
        leaves.push(json!({
            "category": category,
            "name": name,
            "product": {"name": format!("{} {product} {name}", publisher.vendor), "product_id": id},
        }));
        ids.push(id);
    };
    for item in affected {
        match item {
            Item::Exact(v) => leaf("product_version", v.clone(), &mut affected_ids),
            Item::Range { from, to } => {
                let mut parts = Vec::new();
                if let Some(from) = from {
                    parts.push(format!(">={from}"));
                }
                match to {
                    Some(Upper::Before(v)) => parts.push(format!("<{v}")),
                    Some(Upper::Through(v)) => parts.push(format!("<={v}")),
                    None => {
                        if let Some(fix) = first_fix_after(from.as_deref(), &f.fixed) {
                            parts.push(format!("<{fix}"));
                        }
                    }
                }
                let range = if parts.is_empty() {
                    "vers:all/*".to_owned()
                } else {
                    format!("vers:{scheme}/{}", parts.join("|"))
                };
                leaf("product_version_range", range, &mut affected_ids);
            }
        }
    }
    for v in &f.fixed {
        leaf("product_version", v.clone(), &mut fixed_ids);
    }

    let mut product_status = json!({"known_affected": affected_ids});
    if !fixed_ids.is_empty() {
        product_status["fixed"] = json!(fixed_ids);
    }
    let mut remediations = Vec::new();
    if !f.fixed.is_empty() {
        let mut details = format!("Upgrade to {} {}.", product, f.fixed.join(" or "));
        if let Some(r) = incident.details.fields.releases.as_deref() {
            details.push_str(&format!(" The releases: {}", r.trim()));
        }
        remediations.push(json!({
            "category": "vendor_fix",
            "details": details,
            "product_ids": affected_ids,
        }));
    }
    if let Some(m) = &f.mitigation {
        remediations.push(json!({
            "category": "mitigation",
            "details": m,
            "product_ids": affected_ids,
        }));
    }
    let mut notes = vec![json!({
        "category": "description",
        "title": "Description",
        "text": f.description(),
    })];
    if let Some(impact) = &f.impact {
        notes.push(json!({"category": "details", "title": "Impact", "text": impact}));
    }
    let cwe = incident
        .details
        .cwes
        .iter()
        .find_map(|c| Some(json!({"id": c.id, "name": c.name.as_ref()?})));
    let vulnerabilities: Vec<Value> = incident
        .details
        .cves
        .iter()
        .map(|cve| {
            let mut v = json!({
                "cve": cve,
                "title": f.summary,
                "notes": notes,
                "product_status": product_status,
                "release_date": time(disclosure),
            });
            if !remediations.is_empty() {
                v["remediations"] = json!(remediations);
            }
            if let Some(cvss) = &f.cvss {
                v["scores"] = json!([{"cvss_v3": cvss.json(), "products": affected_ids}]);
            }
            if let Some(cwe) = &cwe {
                v["cwe"] = cwe.clone();
            }
            if let Some(credit) = &f.credit {
                v["acknowledgments"] = json!([{"names": [credit]}]);
            }
            v
        })
        .collect();

    let revisions = revisions(history, copy, disclosure, now);
    let (first, last) = (&revisions[0], &revisions[revisions.len() - 1]);
    let tracking_id = incident.id.to_string();
    let (tlp, status) = match copy {
        Copy::Public => ("WHITE", "final"),
        Copy::Distributors => ("AMBER", "interim"),
    };
    let mut references: Vec<Value> = vec![json!({
        "category": "self",
        "summary": "The announcement",
        "url": f.references[0],
    })];
    references.extend(
        f.references[1..]
            .iter()
            .map(|u| json!({"category": "external", "summary": "Reference", "url": u})),
    );
    let summary = f.summary.clone().unwrap_or_default();
    Ok(Document {
        format: Format::Csaf,
        file_name: file_name(&tracking_id),
        json: json!({
            "document": {
                "category": "csaf_security_advisory",
                "csaf_version": "2.0",
                "title": format!("{} {product}: {summary}", publisher.vendor),
                "lang": "en",
                "distribution": {"tlp": {"label": tlp, "url": "https://www.first.org/tlp/"}},
                "publisher": {
                    "category": "vendor",
                    "name": publisher.vendor,
                    "namespace": publisher.namespace,
                },
                "notes": [{"category": "summary", "title": "Summary", "text": summary}],
                "references": references,
                "tracking": {
                    "id": tracking_id,
                    "status": status,
                    "version": revisions.len().to_string(),
                    "initial_release_date": time(first.at),
                    "current_release_date": time(last.at),
                    "revision_history": revisions.iter().enumerate().map(|(n, r)| json!({
                        "date": time(r.at),
                        "number": (n + 1).to_string(),
                        "summary": r.summary,
                    })).collect::<Vec<_>>(),
                },
            },
            "product_tree": {
                "branches": [{
                    "category": "vendor",
                    "name": publisher.vendor,
                    "branches": [{
                        "category": "product_name",
                        "name": product,
                        "branches": leaves,
                    }],
                }],
            },
            "vulnerabilities": vulnerabilities,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::super::fixture::*;
    use super::*;

    #[test]
    fn the_public_copy_is_white_and_the_distributors_amber() {
        let i = full();
        let history = [Revision {
            at: t("2026-12-03T10:00:00Z"),
            summary: "Advance notice to the distributors".into(),
        }];
        let public = document(
            &i,
            &publisher(),
            &history,
            Copy::Public,
            t("2026-12-15T16:00:00Z"),
        )
        .unwrap();
        let d = &public.json["document"];
        assert_eq!(d["distribution"]["tlp"]["label"], "WHITE");
        assert_eq!(d["tracking"]["status"], "final");
        // It continues the distributors' copy: first released to them,
        // then publicly, so its version is higher than theirs.
        assert_eq!(
            d["tracking"]["initial_release_date"],
            "2026-12-03T10:00:00Z"
        );
        assert_eq!(
            d["tracking"]["current_release_date"],
            "2026-12-15T16:00:00Z"
        );
        assert_eq!(d["tracking"]["version"], "2");
        assert_eq!(
            d["tracking"]["revision_history"][1]["summary"],
            "Initial public release"
        );
        assert_eq!(public.file_name, "emb-2026-0007.csaf.json");

        let amber = document(
            &i,
            &publisher(),
            &history,
            Copy::Distributors,
            t("2026-12-04T10:00:00Z"),
        )
        .unwrap();
        let d = &amber.json["document"];
        assert_eq!(d["distribution"]["tlp"]["label"], "AMBER");
        assert_eq!(d["tracking"]["status"], "interim");
        assert_eq!(
            d["tracking"]["revision_history"][0]["summary"],
            "Advance notice to the distributors"
        );
        // Built a day after the advance notice (a correction): a release
        // of its own, at a version above the one the distributors hold.
        assert_eq!(d["tracking"]["version"], "2");
        assert_eq!(
            d["tracking"]["current_release_date"],
            "2026-12-04T10:00:00Z"
        );
    }

    #[test]
    fn products_scores_and_fixes_are_the_incidents() {
        let doc = document(
            &full(),
            &publisher(),
            &[],
            Copy::Public,
            t("2026-12-15T16:00:00Z"),
        )
        .unwrap();
        let j = &doc.json;
        let leaves = &j["product_tree"]["branches"][0]["branches"][0]["branches"];
        let names: Vec<&str> = leaves
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "vers:semver/>=2.3.0|<2.3.10",
                "vers:semver/>=2.4.0|<=2.4.1",
                "2.3.10",
                "2.4.2"
            ]
        );
        let v = &j["vulnerabilities"][0];
        assert_eq!(v["cve"], "CVE-2026-1234");
        assert_eq!(
            v["product_status"]["known_affected"],
            json!(["CSAFPID-0001", "CSAFPID-0002"])
        );
        assert_eq!(
            v["product_status"]["fixed"],
            json!(["CSAFPID-0003", "CSAFPID-0004"])
        );
        assert_eq!(v["scores"][0]["cvss_v3"]["baseScore"], 9.8);
        assert_eq!(v["cwe"]["id"], "CWE-787");
        assert!(
            v["remediations"][0]["details"]
                .as_str()
                .unwrap()
                .starts_with("Upgrade to frob 2.3.10 or 2.4.2.")
        );
    }
}
