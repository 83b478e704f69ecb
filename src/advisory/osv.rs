//! The OSV record: what ecosystems and scanners read.

use jiff::Timestamp;
use serde_json::{Value, json};

use super::{Document, Facts, Format, Missing, Publisher, time};
use crate::core::incident::Incident;
use crate::core::versions::{Item, Upper, first_fix_after};

/// The OSV id of one of the incident's CVEs: the config's prefix, the
/// incident's year and number, and for the second CVE on, which one. The
/// CVEs are only ever appended, so a published id never changes when
/// another CVE is added.
pub fn id(incident: &Incident, cve_id: &str, publisher: &Publisher) -> String {
    let base = format!(
        "{}-{}-{:04}",
        publisher.osv_prefix,
        incident.id.year(),
        incident.id.seq()
    );
    let cves = &incident.details.cves;
    match cves.iter().position(|c| c == cve_id) {
        Some(n) if n > 0 => format!("{base}-{}", n + 1),
        _ => base,
    }
}

pub fn record(
    incident: &Incident,
    cve_id: &str,
    publisher: &Publisher,
    now: Timestamp,
) -> Result<Document, Missing> {
    let f = Facts::of(incident, publisher);
    let mut missing = f.common_missing(incident);
    if publisher.ecosystem.is_none() {
        missing.push("the package's ecosystem ([advisory] ecosystem in the config)".to_owned());
    }
    if publisher.package.is_none() {
        missing.push("the package's name ([advisory] package in the config)".to_owned());
    }
    let (Some(affected), Some(disclosure), Some(ecosystem), Some(package), true) = (
        &f.affected,
        f.disclosure,
        &publisher.ecosystem,
        &publisher.package,
        missing.is_empty(),
    ) else {
        return Err(Missing {
            format: Format::Osv.title(),
            missing,
        });
    };
    // Each range its own: OSV reads the events of one range in order, and
    // a `last_affected` may not share a range with a `fixed`.
    let range_type = if f.semver { "SEMVER" } else { "ECOSYSTEM" };
    let mut ranges = Vec::new();
    let mut exact = Vec::new();
    for item in affected {
        match item {
            Item::Exact(v) => exact.push(v.clone()),
            Item::Range { from, to } => {
                let mut events = vec![json!({"introduced": from.as_deref().unwrap_or("0")})];
                match to {
                    Some(Upper::Before(v)) => events.push(json!({"fixed": v})),
                    Some(Upper::Through(v)) => events.push(json!({"last_affected": v})),
                    None => {
                        if let Some(fix) = first_fix_after(from.as_deref(), &f.fixed) {
                            events.push(json!({"fixed": fix}));
                        }
                    }
                }
                ranges.push(json!({"type": range_type, "events": events}));
            }
        }
    }
    let mut affected = json!({"package": {"ecosystem": ecosystem, "name": package}});
    if !ranges.is_empty() {
        affected["ranges"] = json!(ranges);
    }
    if !exact.is_empty() {
        affected["versions"] = json!(exact);
    }
    let id = id(incident, cve_id, publisher);
    let mut references: Vec<Value> = f
        .references
        .iter()
        .enumerate()
        .map(|(i, u)| json!({"type": if i == 0 { "ADVISORY" } else { "WEB" }, "url": u}))
        .collect();
    references.dedup();
    let mut doc = json!({
        "schema_version": "1.7.0",
        "id": id,
        "aliases": [cve_id],
        "summary": f.summary,
        "details": f.description(),
        "published": time(disclosure),
        // Changed at the latest now; never before it became public.
        "modified": time(now.max(disclosure)),
        "affected": [affected],
        "references": references,
    });
    if let Some(cvss) = &f.cvss {
        doc["severity"] = json!([{"type": "CVSS_V3", "score": cvss.vector}]);
    }
    if let Some(credit) = &f.credit {
        doc["credits"] = json!([{"name": credit, "type": "FINDER"}]);
    }
    Ok(Document {
        format: Format::Osv,
        file_name: format!("{id}.osv.json"),
        json: doc,
    })
}

#[cfg(test)]
mod tests {
    use super::super::fixture::*;
    use super::*;

    #[test]
    fn ranges_come_from_affected_and_fixed() {
        let doc = record(
            &full(),
            "CVE-2026-1234",
            &publisher(),
            t("2026-12-20T00:00:00Z"),
        )
        .unwrap();
        assert_eq!(doc.file_name, "x_EMB-2026-0007.osv.json");
        let j = &doc.json;
        assert_eq!(j["aliases"], json!(["CVE-2026-1234"]));
        assert_eq!(
            j["affected"][0]["ranges"],
            json!([
                {"type": "SEMVER", "events": [{"introduced": "2.3.0"}, {"fixed": "2.3.10"}]},
                {"type": "SEMVER", "events": [{"introduced": "2.4.0"}, {"last_affected": "2.4.1"}]},
            ])
        );
        assert_eq!(j["published"], "2026-12-15T16:00:00Z");
        assert_eq!(j["modified"], "2026-12-20T00:00:00Z");
        assert_eq!(
            j["severity"][0]["score"],
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
        );
        assert_eq!(j["credits"][0]["name"], "Jane Researcher of Example Labs");
    }

    #[test]
    fn several_cves_get_one_id_each() {
        let mut i = full();
        i.details.cves.push("CVE-2026-9999".into());
        assert_eq!(id(&i, "CVE-2026-9999", &publisher()), "x_EMB-2026-0007-2");
        let mut p = publisher();
        p.ecosystem = None;
        let m = record(&i, "CVE-2026-9999", &p, t("2026-12-20T00:00:00Z")).unwrap_err();
        assert!(m.to_string().contains("[advisory] ecosystem"), "{m}");
    }
}
