//! Whether the receiving mail server authenticated a mail's sender, read
//! from its `Authentication-Results` headers (RFC 8601), and whether it
//! marked the mail as spam. An acknowledgement to a forged From address is
//! backscatter: it mails a stranger on a spammer's behalf.
//!
//! Only results written under the trusted `authserv-id` (the receiving
//! MTA's name) count: anyone can write such a header, and RFC 8601 §5 has
//! the MTA remove incoming ones that carry its own name.

/// The headers that carry a verdict, read once by the parser.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuthHeaders {
    /// Every `Authentication-Results` value, top first.
    pub results: Vec<String>,
    /// The spam verdict headers present (`X-Spam-Flag`, `X-Spam-Status`,
    /// `X-Spam`), as name and value.
    pub spam: Vec<(String, String)>,
}

/// The spam verdict headers, and the value that starts a "yes".
pub const SPAM_HEADERS: [&str; 3] = ["X-Spam-Flag", "X-Spam-Status", "X-Spam"];

/// Why a sender does not count as authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unauthenticated {
    /// No result under the trusted authserv-id.
    NoResult { authserv_id: String },
    /// Results, but no aligned pass: what they said.
    NotPassed {
        authserv_id: String,
        results: String,
    },
}

impl std::fmt::Display for Unauthenticated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unauthenticated::NoResult { authserv_id } => write!(
                f,
                "the sender was not authenticated: no Authentication-Results from {authserv_id}"
            ),
            Unauthenticated::NotPassed {
                authserv_id,
                results,
            } => write!(
                f,
                "the sender was not authenticated: {authserv_id} found no dmarc=pass, nor a \
                 dkim=pass or spf=pass for the From domain ({results})"
            ),
        }
    }
}

/// One method's result: `dkim=pass header.d=example.org`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Result {
    method: String,
    result: String,
    /// `ptype.property` → value, lower-case.
    props: Vec<(String, String)>,
}

impl Result {
    fn prop(&self, name: &str) -> Option<&str> {
        self.props
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Removes RFC 5322 comments, `(…)` with nesting and quoted pairs.
fn without_comments(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut depth = 0usize;
    let mut quoted = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' if depth > 0 || quoted => {
                let next = chars.next();
                if depth == 0 {
                    out.push(c);
                    out.extend(next);
                }
            }
            '"' if depth == 0 => {
                quoted = !quoted;
                out.push(c);
            }
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth > 0 => depth -= 1,
            _ if depth > 0 => {}
            _ => out.push(c),
        }
    }
    out
}

/// The authserv-id of one header and its results; `None` when it cannot
/// be read.
fn parse(value: &str) -> Option<(String, Vec<Result>)> {
    let clean = without_comments(&value.replace(['\r', '\n'], " "));
    let mut parts = clean.split(';');
    let authserv_id = parts
        .next()?
        .split_whitespace()
        .next()?
        .to_ascii_lowercase();
    let mut results = Vec::new();
    for part in parts {
        let mut tokens = part.split_whitespace();
        let Some(first) = tokens.next() else {
            continue;
        };
        let Some((method, result)) = first.split_once('=') else {
            continue;
        };
        // `dkim/1=pass`: a method version.
        let method = method.split('/').next().unwrap_or(method);
        let props = tokens
            .filter_map(|t| t.split_once('='))
            .map(|(k, v)| {
                (
                    k.to_ascii_lowercase(),
                    v.trim_matches('"').to_ascii_lowercase(),
                )
            })
            .collect();
        results.push(Result {
            method: method.to_ascii_lowercase(),
            result: result.to_ascii_lowercase(),
            props,
        });
    }
    Some((authserv_id, results))
}

/// The domain of an address or domain value: `user@Example.org` → `example.org`.
fn domain_of(value: &str) -> &str {
    let v = value.trim().trim_matches(['<', '>']);
    v.rsplit_once('@')
        .map_or(v, |(_, d)| d)
        .trim_end_matches('.')
}

/// Relaxed alignment without a public-suffix list: the same domain, or one
/// inside the other. A pass for `d` needs a key or SPF record published in
/// `d`, which only the owner of `d`'s zone can write.
fn aligned(authenticated: &str, from: &str) -> bool {
    let (a, f) = (
        authenticated.to_ascii_lowercase(),
        from.to_ascii_lowercase(),
    );
    !a.is_empty()
        && a.contains('.')
        && (a == f || f.ends_with(&format!(".{a}")) || a.ends_with(&format!(".{f}")))
}

/// Whether the MTA named `authserv_id` authenticated the From address
/// `from`: a `dmarc=pass`, or a `dkim=pass` or `spf=pass` aligned with its
/// domain.
pub fn authenticated(
    headers: &AuthHeaders,
    authserv_id: &str,
    from: &str,
) -> std::result::Result<(), Unauthenticated> {
    let trusted = authserv_id.to_ascii_lowercase();
    let from_domain = domain_of(from).to_ascii_lowercase();
    let results: Vec<Result> = headers
        .results
        .iter()
        .filter_map(|v| parse(v))
        .filter(|(id, _)| *id == trusted)
        .flat_map(|(_, r)| r)
        .collect();
    if results.is_empty() {
        return Err(Unauthenticated::NoResult {
            authserv_id: authserv_id.to_owned(),
        });
    }
    let passed = results.iter().any(|r| {
        r.result == "pass"
            && match r.method.as_str() {
                // DMARC passes only for the From domain; its header.from
                // names it.
                "dmarc" => r
                    .prop("header.from")
                    .is_none_or(|d| d.eq_ignore_ascii_case(&from_domain)),
                "dkim" => r
                    .prop("header.d")
                    .or_else(|| r.prop("header.i").map(domain_of))
                    .is_some_and(|d| aligned(d, &from_domain)),
                "spf" => r
                    .prop("smtp.mailfrom")
                    .map(domain_of)
                    .is_some_and(|d| aligned(d, &from_domain)),
                _ => false,
            }
    });
    if passed {
        Ok(())
    } else {
        Err(Unauthenticated::NotPassed {
            authserv_id: authserv_id.to_owned(),
            results: results
                .iter()
                .map(|r| format!("{}={}", r.method, r.result))
                .collect::<Vec<_>>()
                .join(", "),
        })
    }
}

/// The spam verdict the MTA wrote, if it said yes: `X-Spam-Flag: YES`,
/// `X-Spam-Status: Yes, score=…`, rspamd's `X-Spam: Yes`.
pub fn marked_spam(headers: &AuthHeaders) -> Option<String> {
    headers.spam.iter().find_map(|(name, value)| {
        let yes = value
            .trim()
            .split([',', ' ', ';'])
            .next()
            .is_some_and(|w| w.eq_ignore_ascii_case("yes"));
        yes.then(|| format!("{name}: {}", value.trim()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(results: &[&str]) -> AuthHeaders {
        AuthHeaders {
            results: results.iter().map(|s| s.to_string()).collect(),
            spam: Vec::new(),
        }
    }

    const MX: &str = "mx.example.org";

    #[test]
    fn a_dmarc_pass_from_the_trusted_server_authenticates() {
        let ok = h(&[
            "mx.example.org; dkim=pass (2048-bit key) header.d=finder.example header.s=s1; \
             spf=pass smtp.mailfrom=jane@finder.example; dmarc=pass (p=reject) header.from=finder.example",
        ]);
        assert_eq!(authenticated(&ok, MX, "jane@finder.example"), Ok(()));
        // Its header.from must be the From domain.
        assert!(authenticated(&ok, MX, "jane@other.example").is_err());
    }

    #[test]
    fn aligned_dkim_or_spf_alone_authenticates_and_unaligned_does_not() {
        let dkim = h(&["MX.example.org 1; dkim=pass header.d=finder.example"]);
        assert_eq!(authenticated(&dkim, MX, "jane@mail.finder.example"), Ok(()));
        let spf = h(&["mx.example.org; spf=pass smtp.mailfrom=bounce@lists.finder.example"]);
        assert_eq!(authenticated(&spf, MX, "Jane@Finder.Example"), Ok(()));
        // A spammer's own domain passes, but is not the From domain.
        let theirs = h(&[
            "mx.example.org; dkim=pass header.d=spam.example; spf=pass smtp.mailfrom=x@spam.example",
        ]);
        let e = authenticated(&theirs, MX, "ceo@bank.example").unwrap_err();
        assert!(e.to_string().contains("dkim=pass, spf=pass"), "{e}");
        // A look-alike suffix is not a parent domain.
        let lookalike = h(&["mx.example.org; dkim=pass header.d=nk.example"]);
        assert!(authenticated(&lookalike, MX, "ceo@bank.example").is_err());
        // Nor is a bare top-level domain.
        let tld = h(&["mx.example.org; dkim=pass header.d=example"]);
        assert!(authenticated(&tld, MX, "ceo@bank.example").is_err());
    }

    #[test]
    fn results_under_another_name_are_ignored() {
        // Written by the sender (or another hop): anyone can.
        let forged = h(&["mx.example.org.evil; dmarc=pass header.from=bank.example"]);
        let e = authenticated(&forged, MX, "ceo@bank.example").unwrap_err();
        assert_eq!(
            e,
            Unauthenticated::NoResult {
                authserv_id: MX.into()
            }
        );
        // A comment does not hide the name.
        let commented = h(&["(mx.example.org) evil.example; dmarc=pass"]);
        assert!(authenticated(&commented, MX, "ceo@bank.example").is_err());
        // Nor does a comment make a pass.
        let in_comment = h(&["mx.example.org; dmarc=fail (dmarc=pass) header.from=bank.example"]);
        assert!(authenticated(&in_comment, MX, "ceo@bank.example").is_err());
        assert!(authenticated(&h(&[]), MX, "a@b.example").is_err());
        assert!(authenticated(&h(&["mx.example.org; none"]), MX, "a@b.example").is_err());
    }

    #[test]
    fn spam_verdicts_are_read_from_the_usual_headers() {
        let spam = |name: &str, value: &str| AuthHeaders {
            results: Vec::new(),
            spam: vec![(name.into(), value.into())],
        };
        assert!(marked_spam(&spam("X-Spam-Flag", "YES")).is_some());
        assert!(marked_spam(&spam("X-Spam-Status", "Yes, score=9.1 required=5.0")).is_some());
        assert!(marked_spam(&spam("X-Spam", "Yes")).is_some());
        assert!(marked_spam(&spam("X-Spam-Status", "No, score=0.1")).is_none());
        assert!(marked_spam(&spam("X-Spam-Flag", "NO")).is_none());
        assert!(marked_spam(&AuthHeaders::default()).is_none());
    }
}
