//! The CVE record (CVE JSON 5): what the CNA submits to the CVE Program.

use serde_json::{Value, json};

use super::{Document, Facts, Format, Missing, Publisher, time};
use crate::core::incident::Incident;
use crate::core::versions::{Item, Upper};

/// The CVE record of one of the incident's CVEs.
/// The longest title the CVE record schema takes.
const TITLE_MAX: usize = 256;

pub fn record(
    incident: &Incident,
    cve_id: &str,
    publisher: &Publisher,
) -> Result<Document, Missing> {
    let f = Facts::of(incident, publisher);
    let mut missing = f.common_missing(incident);
    // The record's title is the summary, and the schema caps it.
    if let Some(n) = f
        .summary
        .as_deref()
        .map(|s| s.chars().count())
        .filter(|n| *n > TITLE_MAX)
    {
        missing.push(format!(
            "a summary of at most {TITLE_MAX} characters, the record's title \
             (/set summary; it has {n})"
        ));
    }
    let (Some(affected), Some(disclosure), true) = (&f.affected, f.disclosure, missing.is_empty())
    else {
        return Err(Missing {
            format: Format::Cve.title(),
            missing,
        });
    };
    let version_type = if f.semver { "semver" } else { "custom" };
    let mut versions: Vec<Value> = affected
        .iter()
        .map(|item| match item {
            Item::Exact(v) => json!({"version": v, "status": "affected"}),
            Item::Range { from, to } => {
                let start = from.as_deref().unwrap_or("0");
                let end = match to {
                    Some(Upper::Before(v)) => ("lessThan", v.as_str()),
                    Some(Upper::Through(v)) => ("lessThanOrEqual", v.as_str()),
                    // Open-ended: up to the first fix after its start, or
                    // every later version (`*`, as the format allows).
                    None => match crate::core::versions::first_fix_after(from.as_deref(), &f.fixed)
                    {
                        Some(fix) => ("lessThan", fix),
                        None => ("lessThan", "*"),
                    },
                };
                json!({
                    "version": start,
                    "status": "affected",
                    "versionType": version_type,
                    end.0: end.1,
                })
            }
        })
        .collect();
    versions.extend(
        f.fixed
            .iter()
            .map(|v| json!({"version": v, "status": "unaffected"})),
    );
    versions.dedup();
    let mut product = json!({
        "vendor": publisher.vendor,
        "product": publisher.product,
        "versions": versions,
        "defaultStatus": "unaffected",
    });
    if let (Some(url), Some(package)) = (&publisher.collection_url, &publisher.package) {
        product["collectionURL"] = json!(url);
        product["packageName"] = json!(package);
    }
    let mut cna = json!({
        "providerMetadata": {
            "orgId": publisher.cna_org_id,
            "shortName": publisher.cna_short_name,
        },
        "title": f.summary,
        "datePublic": time(disclosure),
        "descriptions": [{"lang": "en", "value": f.description()}],
        "affected": [product],
        "references": f.references.iter().map(|u| json!({"url": u})).collect::<Vec<_>>(),
    });
    if let Some(cvss) = &f.cvss {
        let key = if cvss.version == "3.0" {
            "cvssV3_0"
        } else {
            "cvssV3_1"
        };
        cna["metrics"] = json!([{
            "format": "CVSS",
            "scenarios": [{"lang": "en", "value": "GENERAL"}],
            key: cvss.json(),
        }]);
    }
    let cwes = &incident.details.cwes;
    if !cwes.is_empty() {
        cna["problemTypes"] = json!([{
            "descriptions": cwes.iter().map(|c| json!({
                "lang": "en",
                "type": "CWE",
                "cweId": c.id,
                "description": match &c.name {
                    Some(n) => format!("{} {n}", c.id),
                    None => c.id.clone(),
                },
            })).collect::<Vec<_>>(),
        }]);
    }
    if let Some(m) = &f.mitigation {
        cna["workarounds"] = json!([{"lang": "en", "value": m}]);
    }
    if let Some(credit) = &f.credit {
        cna["credits"] = json!([{"lang": "en", "value": credit, "type": "finder"}]);
    }
    Ok(Document {
        format: Format::Cve,
        file_name: format!("{cve_id}.json"),
        json: json!({
            "dataType": "CVE_RECORD",
            "dataVersion": "5.1",
            "cveMetadata": {
                "cveId": cve_id,
                "assignerOrgId": publisher.cna_org_id,
                "assignerShortName": publisher.cna_short_name,
                "state": "PUBLISHED",
                "datePublished": time(disclosure),
            },
            "containers": {"cna": cna},
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::super::fixture::*;
    use super::*;

    #[test]
    fn a_summary_too_long_for_the_title_is_named_with_its_command() {
        let mut i = full();
        i.details.fields.summary = Some("overflow ".repeat(40));
        let missing = record(&i, "CVE-2026-1234", &publisher()).unwrap_err();
        assert!(
            missing
                .missing
                .iter()
                .any(|m| m.contains("at most 256 characters") && m.contains("/set summary")),
            "{missing:?}"
        );
    }

    #[test]
    fn versions_dates_scores_and_credits_are_the_incidents() {
        let doc = record(&full(), "CVE-2026-1234", &publisher()).unwrap();
        assert_eq!(doc.file_name, "CVE-2026-1234.json");
        let cna = &doc.json["containers"]["cna"];
        assert_eq!(cna["datePublic"], "2026-12-15T16:00:00Z");
        assert_eq!(
            cna["affected"][0]["versions"],
            json!([
                {"version": "2.3.0", "status": "affected", "versionType": "semver", "lessThan": "2.3.10"},
                {"version": "2.4.0", "status": "affected", "versionType": "semver", "lessThanOrEqual": "2.4.1"},
                {"version": "2.3.10", "status": "unaffected"},
                {"version": "2.4.2", "status": "unaffected"},
            ])
        );
        let m = &cna["metrics"][0]["cvssV3_1"];
        assert_eq!(m["baseScore"], 9.8);
        assert_eq!(m["baseSeverity"], "CRITICAL");
        assert_eq!(
            cna["problemTypes"][0]["descriptions"][0]["cweId"],
            "CWE-787"
        );
        assert_eq!(
            cna["credits"][0]["value"],
            "Jane Researcher of Example Labs"
        );
    }

    #[test]
    fn an_open_range_ends_at_its_fix() {
        let mut i = full();
        i.details.fields.affected = Some(">=2.4.0".into());
        let doc = record(&i, "CVE-2026-1234", &publisher()).unwrap();
        assert_eq!(
            doc.json["containers"]["cna"]["affected"][0]["versions"][0]["lessThan"],
            "2.4.2"
        );
    }
}
