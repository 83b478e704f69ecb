//! Affected and fixed versions in a form the advisories can carry.
//!
//! `/set affected` and `/set fixed` record text, and the notices show that
//! text as written. When the text is written as versions — a range such as
//! `>=2.3.0 <2.3.10` or `2.4.0 - 2.4.1`, a list such as `2.3.10, 2.4.2`, or
//! several of those separated by commas — it also reads as [`Item`]s, which
//! the CVE record, OSV and CSAF need. Text that does not read so stays prose
//! only: nothing is guessed from a sentence.

use std::cmp::Ordering;

/// The end of a range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upper {
    /// `<X`: X itself is not affected (it is usually the fix).
    Before(String),
    /// `<=X`, or the right side of `A - B`: X is the last affected.
    Through(String),
}

/// One affected (or fixed) version or range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Exact(String),
    /// From `from` (inclusive; every earlier version when `None`) up to
    /// `to` (or every later version when `None`).
    Range {
        from: Option<String>,
        to: Option<Upper>,
    },
}

/// The versions a `/set affected` or `/set fixed` text names, when it is
/// written as versions; `None` when it is prose.
pub fn parse(text: &str) -> Option<Vec<Item>> {
    let items: Vec<&str> = text
        .split([',', ';'])
        .flat_map(|s| s.split("||"))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if items.is_empty() {
        return None;
    }
    items.into_iter().map(item).collect()
}

/// The fixed versions, when the text is a plain list of versions.
pub fn fixed(text: &str) -> Option<Vec<String>> {
    parse(text)?
        .into_iter()
        .map(|i| match i {
            Item::Exact(v) => Some(v),
            Item::Range { .. } => None,
        })
        .collect()
}

fn item(s: &str) -> Option<Item> {
    // `A - B` (spaces around the hyphen: a version may hold one) or `A – B`.
    for dash in [" - ", "–", "—", " to "] {
        if let Some((a, b)) = s.split_once(dash) {
            let (a, b) = (version(a.trim())?, version(b.trim())?);
            // `2.4.1 - 2.4.0` is a slip, not a range of nothing.
            if compare(&a, &b) == Ordering::Greater {
                return None;
            }
            return Some(Item::Range {
                from: Some(a),
                to: Some(Upper::Through(b)),
            });
        }
    }
    if !s.starts_with(['<', '>', '=']) {
        return version(s).map(Item::Exact);
    }
    // Comparators, with or without a space after the operator.
    let mut from = None;
    let mut to = None;
    let mut words = s.split_whitespace().peekable();
    while let Some(w) = words.next() {
        let (op, rest) = match w.find(|c: char| !matches!(c, '<' | '>' | '=')) {
            Some(i) => w.split_at(i),
            None => (w, words.next()?),
        };
        let v = version(rest)?;
        match op {
            ">=" if from.is_none() => from = Some(v),
            "<" if to.is_none() => to = Some(Upper::Before(v)),
            "<=" if to.is_none() => to = Some(Upper::Through(v)),
            "=" | "==" if from.is_none() && to.is_none() && words.peek().is_none() => {
                return Some(Item::Exact(v));
            }
            // `>X` has no inclusive start to give: prose it stays.
            _ => return None,
        }
    }
    let inverted = match (&from, &to) {
        (Some(f), Some(Upper::Before(t))) => compare(f, t) != Ordering::Less,
        (Some(f), Some(Upper::Through(t))) => compare(f, t) == Ordering::Greater,
        _ => false,
    };
    (!inverted).then_some(Item::Range { from, to })
}

/// A version as written, without a leading `v`: a digit first, then
/// digits, letters and `.-+_~`.
fn version(s: &str) -> Option<String> {
    let s = s.strip_prefix(['v', 'V']).unwrap_or(s);
    let ok = s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+' | '_' | '~'))
        // `2.3.x` is a family, not a version.
        && !s.split('.').any(|p| p.eq_ignore_ascii_case("x"))
        // `2.4.0-2.4.1` reads as a pre-release of 2.4.0 to a machine and
        // as a range to a person: neither is guessed (`2.4.0 - 2.4.1`).
        && !s
            .split('-')
            .skip(1)
            .any(|p| p.starts_with(|c: char| c.is_ascii_digit()) && p.contains('.'));
    ok.then(|| s.to_owned())
}

/// The versions as the `/set` reply shows how they were read:
/// `2.3.0 up to (not including) 2.3.10; 2.4.1`.
pub fn describe(items: &[Item]) -> String {
    items
        .iter()
        .map(|i| match i {
            Item::Exact(v) => v.clone(),
            Item::Range { from, to } => {
                let from = from.as_deref().unwrap_or("every version");
                match to {
                    None => format!("{from} and later"),
                    Some(Upper::Before(v)) => format!("{from} up to (not including) {v}"),
                    Some(Upper::Through(v)) => format!("{from} through {v}"),
                }
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Whether a version is Semantic Versioning 2.0 (`1.2.3`, `1.2.3-rc.1+b5`):
/// OSV's `SEMVER` ranges take only those.
pub fn is_semver(v: &str) -> bool {
    let core = v.split(['-', '+']).next().unwrap_or(v);
    let numeric = |p: &str| {
        !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && (p == "0" || !p.starts_with('0'))
    };
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| numeric(p))
        && v[core.len()..]
            .split(['-', '+', '.'])
            .skip(1)
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
}

/// Orders versions by their numeric parts (`2.3.9 < 2.3.10`); a
/// pre-release (`2.4.0-rc.1`) comes before its release.
pub fn compare(a: &str, b: &str) -> Ordering {
    let split = |v: &str| -> (Vec<String>, bool) {
        let v = v.split('+').next().unwrap_or(v);
        let (core, pre) = match v.split_once('-') {
            Some((c, _)) => (c, true),
            None => (v, false),
        };
        (core.split('.').map(str::to_owned).collect(), pre)
    };
    let ((pa, pre_a), (pb, pre_b)) = (split(a), split(b));
    for i in 0..pa.len().max(pb.len()) {
        let (x, y) = (
            pa.get(i).map_or("0", String::as_str),
            pb.get(i).map_or("0", String::as_str),
        );
        let o = match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(x), Ok(y)) => x.cmp(&y),
            _ => x.cmp(y),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    let label = |v: &str| {
        v.split('+')
            .next()
            .unwrap_or(v)
            .split_once('-')
            .map(|(_, p)| p.to_owned())
    };
    match (pre_a, pre_b) {
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (true, true) => label(a).cmp(&label(b)),
        (false, false) => Ordering::Equal,
    }
}

/// An open-ended range (`>=2.3.0`) that more than one fixed version follows
/// (`2.3.10, 2.4.2`): where it ends on each branch cannot be read from it.
pub fn ambiguous_open_range(items: &[Item], fixes: &[String]) -> Option<String> {
    items.iter().find_map(|i| match i {
        Item::Range { from, to: None } => {
            let after = fixes
                .iter()
                .filter(|f| {
                    from.as_deref()
                        .is_none_or(|s| compare(f, s) == Ordering::Greater)
                })
                .count();
            (after > 1).then(|| {
                format!(
                    "{} and later is followed by {after} fixed versions: write where each \
                     branch ends (/set affected >=2.3.0 <2.3.10, >=2.4.0 <2.4.2)",
                    from.as_deref().unwrap_or("every version")
                )
            })
        }
        _ => None,
    })
}

/// Where an open-ended range ends: the first fixed version after its start.
pub fn first_fix_after<'a>(from: Option<&str>, fixes: &'a [String]) -> Option<&'a str> {
    fixes
        .iter()
        .filter(|f| from.is_none_or(|s| compare(f, s) == Ordering::Greater))
        .min_by(|a, b| compare(a, b))
        .map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_machine_and_a_person_would_read_differently_stays_prose() {
        for text in [
            "2.4.0-2.4.1",
            "2.3.x",
            ">=2.4.0 <2.3.0",
            ">=2.4.0 <2.4.0",
            "2.4.1 - 2.4.0",
        ] {
            assert_eq!(parse(text), None, "{text}");
        }
        assert!(parse("1.0.0-rc.1").is_some(), "a pre-release is a version");
        let open = parse(">=2.3.0").unwrap();
        let fixes = ["2.3.10".to_owned(), "2.4.2".to_owned()];
        assert!(ambiguous_open_range(&open, &fixes).is_some());
        assert_eq!(ambiguous_open_range(&open, &fixes[..1]), None);
    }

    fn range(from: Option<&str>, to: Option<Upper>) -> Item {
        Item::Range {
            from: from.map(str::to_owned),
            to,
        }
    }

    #[test]
    fn comparators_read_as_a_range() {
        assert_eq!(
            parse(">=2.3.0 <2.3.10"),
            Some(vec![range(
                Some("2.3.0"),
                Some(Upper::Before("2.3.10".into()))
            )])
        );
        assert_eq!(
            parse(">= 2.3.0, <= v2.3.9"),
            Some(vec![
                range(Some("2.3.0"), None),
                range(None, Some(Upper::Through("2.3.9".into())))
            ])
        );
        assert_eq!(
            parse("<1.0.0"),
            Some(vec![range(None, Some(Upper::Before("1.0.0".into())))])
        );
    }

    #[test]
    fn a_dash_between_two_versions_is_an_inclusive_range() {
        let want = Some(vec![range(
            Some("2.4.0"),
            Some(Upper::Through("2.4.1".into())),
        )]);
        assert_eq!(parse("2.4.0 - 2.4.1"), want);
        assert_eq!(parse("2.4.0 – 2.4.1"), want);
        assert_eq!(parse("2.4.0–2.4.1"), want);
        // A hyphen inside a version is a pre-release, not a range.
        assert_eq!(
            parse("2.4.0-rc.1"),
            Some(vec![Item::Exact("2.4.0-rc.1".into())])
        );
    }

    #[test]
    fn a_list_reads_as_exact_versions_and_several_ranges() {
        assert_eq!(
            fixed("2.3.10, 2.4.2"),
            Some(vec!["2.3.10".into(), "2.4.2".into()])
        );
        assert_eq!(
            parse(">=2.3.0 <2.3.10, >=2.4.0 <2.4.2").map(|v| v.len()),
            Some(2)
        );
        assert_eq!(fixed(">=2.3.0 <2.3.10"), None);
    }

    #[test]
    fn prose_stays_prose() {
        for text in [
            "all versions before 2.3.10",
            "2.3.x and earlier",
            ">2.3.0",
            ">=2.3.0 >=2.4.0",
            "",
            "see the release notes",
        ] {
            assert_eq!(parse(text), None, "{text}");
        }
    }

    #[test]
    fn versions_order_by_their_numbers() {
        assert_eq!(compare("2.3.9", "2.3.10"), Ordering::Less);
        assert_eq!(compare("2.4.0-rc.1", "2.4.0"), Ordering::Less);
        assert_eq!(compare("2.4", "2.4.0"), Ordering::Equal);
        let fixes = ["2.4.2".to_owned(), "2.3.10".to_owned()];
        assert_eq!(first_fix_after(Some("2.3.0"), &fixes), Some("2.3.10"));
        assert_eq!(first_fix_after(Some("2.4.0"), &fixes), Some("2.4.2"));
        assert_eq!(first_fix_after(Some("2.5.0"), &fixes), None);
    }

    #[test]
    fn semver_is_three_numbers_and_optional_labels() {
        assert!(is_semver("2.3.10"));
        assert!(is_semver("1.0.0-rc.1+build.5"));
        assert!(!is_semver("2.3"));
        assert!(!is_semver("02.3.1"));
        assert!(!is_semver("1.0.0-"));
    }
}
