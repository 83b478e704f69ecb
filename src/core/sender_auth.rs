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
    pub results: Vec<AuthResults>,
    /// The spam verdict headers present (`X-Spam-Flag`, `X-Spam-Status`,
    /// `X-Spam`, and any other whose name contains "spam"), as name and value.
    pub spam: Vec<(String, String)>,
}

/// One `Authentication-Results` header and where it stood.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuthResults {
    /// How many `Received` headers are above it: the receiving servers
    /// write theirs above everything the sender wrote.
    pub received_above: usize,
    pub value: String,
}

/// The spam verdict headers, and the value that starts a "yes".
pub const SPAM_HEADERS: [&str; 3] = ["X-Spam-Flag", "X-Spam-Status", "X-Spam"];

/// The parser keeps every header whose name contains this (any case), so
/// that `[acknowledgement] spam_headers` can name another filter's header.
pub const SPAM_HEADER_MARK: &str = "spam";

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

/// A lexical unit of an Authentication-Results value: comments are gone,
/// and a quoted string is one unit with whatever it holds (`;` included),
/// joined to the atom it touches (`"a b"@example.org`).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    Semicolon,
    Equals,
}

/// Splits a value into tokens as RFC 8601 and RFC 5322 read it; `None`
/// for what cannot be read that way (an unclosed quote or comment), which
/// then counts for nothing.
fn tokens(value: &str) -> Option<Vec<Token>> {
    let mut out = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = value.chars().peekable();
    let end_word = |word: &mut Option<String>, out: &mut Vec<Token>| {
        if let Some(w) = word.take() {
            out.push(Token::Word(w));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '(' => {
                end_word(&mut word, &mut out);
                let mut depth = 1;
                while depth > 0 {
                    match chars.next()? {
                        '\\' => {
                            chars.next()?;
                        }
                        '(' => depth += 1,
                        ')' => depth -= 1,
                        _ => {}
                    }
                }
            }
            ')' => return None,
            '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next()? {
                        '\\' => w.push(chars.next()?),
                        '"' => break,
                        c => w.push(c),
                    }
                }
            }
            ';' => {
                end_word(&mut word, &mut out);
                out.push(Token::Semicolon);
            }
            '=' => {
                end_word(&mut word, &mut out);
                out.push(Token::Equals);
            }
            c if c.is_whitespace() => end_word(&mut word, &mut out),
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    end_word(&mut word, &mut out);
    Some(out)
}

/// The authserv-id of one header and its results; `None` when any part of
/// it cannot be read as RFC 8601 writes it (a header that says more than
/// its grammar allows is not believed in part).
fn parse(value: &str) -> Option<(String, Vec<Result>)> {
    let tokens = tokens(value)?;
    let mut t = tokens.iter().peekable();
    let Some(Token::Word(authserv_id)) = t.next() else {
        return None;
    };
    // An optional version number.
    if let Some(Token::Word(v)) = t.peek()
        && v.chars().all(|c| c.is_ascii_digit())
    {
        t.next();
    }
    let mut results = Vec::new();
    while let Some(token) = t.next() {
        if *token != Token::Semicolon {
            return None;
        }
        let Some(Token::Word(method)) = t.next() else {
            return None;
        };
        if results.is_empty() && method.eq_ignore_ascii_case("none") && t.peek().is_none() {
            break;
        }
        let (Some(Token::Equals), Some(Token::Word(result))) = (t.next(), t.next()) else {
            return None;
        };
        let mut props = Vec::new();
        while let Some(Token::Word(_)) = t.peek() {
            let Some(Token::Word(key)) = t.next() else {
                unreachable!()
            };
            let (Some(Token::Equals), Some(Token::Word(value))) = (t.next(), t.next()) else {
                return None;
            };
            props.push((key.to_ascii_lowercase(), value.to_ascii_lowercase()));
        }
        // `dkim/1=pass`: a method version.
        let method = method.split('/').next().unwrap_or(method);
        results.push(Result {
            method: method.to_ascii_lowercase(),
            result: result.to_ascii_lowercase(),
            props,
        });
    }
    Some((authserv_id.to_ascii_lowercase(), results))
}

/// The domain of an address or domain value: `user@Example.org` → `example.org`.
fn domain_of(value: &str) -> &str {
    let v = value.trim().trim_matches(['<', '>']);
    v.rsplit_once('@')
        .map_or(v, |(_, d)| d)
        .trim_end_matches('.')
}

/// Alignment without a public-suffix list: the From domain itself, or a
/// parent of it. A pass for `d` needs a key or SPF record published in
/// `d`, which only the owner of `d`'s zone can write; a subdomain of the
/// From domain is not enough, since anyone may own one under a shared
/// suffix (dynamic-DNS and hosting domains).
fn aligned(authenticated: &str, from: &str) -> bool {
    let (a, f) = (
        authenticated.to_ascii_lowercase(),
        from.to_ascii_lowercase(),
    );
    a.contains('.') && (a == f || f.ends_with(&format!(".{a}")))
}

/// Whom to believe: the receiving MTA's authserv-id, and how many
/// `Received` headers the team's own servers put on top of an incoming
/// mail (the MTA's, and the delivery agent's with LMTP). Results below
/// those were written by the sender or a server on the way, whatever name
/// they carry.
#[derive(Debug, Clone, Copy)]
pub struct Trusted<'a> {
    pub authserv_id: &'a str,
    pub received_by_us: usize,
}

/// Whether the trusted MTA authenticated the From address `from`: a
/// `dmarc=pass` for its domain, or a `dkim=pass` or `spf=pass` for that
/// domain or a parent of it.
pub fn authenticated(
    headers: &AuthHeaders,
    trusted: Trusted<'_>,
    from: &str,
) -> std::result::Result<(), Unauthenticated> {
    let authserv_id = trusted.authserv_id;
    let trusted_id = authserv_id.to_ascii_lowercase();
    let from_domain = domain_of(from).to_ascii_lowercase();
    let results: Vec<Result> = headers
        .results
        .iter()
        .filter(|r| r.received_above < trusted.received_by_us)
        .filter_map(|r| parse(&r.value))
        .filter(|(id, _)| *id == trusted_id)
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
                    .is_some_and(|d| d.eq_ignore_ascii_case(&from_domain)),
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
    marked_spam_by(headers, &SpamHeader::defaults())
}

/// A spam verdict header and the first word of its value that means
/// "spam" (`X-Spam-Flag` and `YES`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SpamHeader {
    pub header: String,
    pub yes: String,
}

impl SpamHeader {
    /// SpamAssassin's two and rspamd's.
    pub fn defaults() -> Vec<SpamHeader> {
        [
            ("X-Spam-Flag", "YES"),
            ("X-Spam-Status", "Yes"),
            ("X-Spam", "Yes"),
        ]
        .into_iter()
        .map(|(header, yes)| SpamHeader {
            header: header.to_owned(),
            yes: yes.to_owned(),
        })
        .collect()
    }
}

/// The header that says the mail is spam, by `rules`: its name and value
/// as the record shows them (`X-Spam-Flag: YES`). The value's first word
/// (up to a space, comma or semicolon) is compared, ignoring case.
pub fn marked_spam_by(headers: &AuthHeaders, rules: &[SpamHeader]) -> Option<String> {
    headers.spam.iter().find_map(|(name, value)| {
        let first = value.trim().split([',', ' ', ';']).next().unwrap_or("");
        let yes = rules.iter().any(|r| {
            r.header.eq_ignore_ascii_case(name.trim()) && r.yes.eq_ignore_ascii_case(first)
        });
        // The value is the sender's text too: one short line of it.
        let shown: String = value.split_whitespace().collect::<Vec<_>>().join(" ");
        let shown: String = shown.chars().take(60).collect();
        yes.then(|| format!("{name}: {shown}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(results: &[&str]) -> AuthHeaders {
        AuthHeaders {
            results: results
                .iter()
                .map(|s| AuthResults {
                    received_above: 0,
                    value: s.to_string(),
                })
                .collect(),
            spam: Vec::new(),
        }
    }

    const MX: Trusted<'static> = Trusted {
        authserv_id: "mx.example.org",
        received_by_us: 1,
    };

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
        let spf = h(&["mx.example.org; spf=pass smtp.mailfrom=<Bounce@Finder.Example.>"]);
        assert_eq!(authenticated(&spf, MX, "jane@finder.example"), Ok(()));
        // DMARC's relaxed alignment would take a subdomain of the From
        // domain; without a public-suffix list we cannot tell whose it is.
        let sub = h(&["mx.example.org; spf=pass smtp.mailfrom=bounce@lists.finder.example"]);
        assert!(authenticated(&sub, MX, "Jane@Finder.Example").is_err());
        // A spammer's own domain passes, but is not the From domain.
        let theirs = h(&[
            "mx.example.org; dkim=pass header.d=spam.example; spf=pass smtp.mailfrom=x@spam.example",
        ]);
        let e = authenticated(&theirs, MX, "ceo@bank.example").unwrap_err();
        assert!(e.to_string().contains("dkim=pass, spf=pass"), "{e}");
        // A subdomain of the From domain is not its owner's.
        let child = h(&["mx.example.org; spf=pass smtp.mailfrom=x@evil.duckdns.org"]);
        assert!(authenticated(&child, MX, "admin@duckdns.org").is_err());
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
                authserv_id: MX.authserv_id.into()
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

    /// What the sender controls and the MTA copies into its header (an
    /// envelope sender, a reason, a HELO in a comment) stays one value.
    #[test]
    fn quoted_values_and_comments_cannot_add_a_result() {
        for forged in [
            "mx.example.org; spf=fail smtp.mailfrom=\"a; dmarc=pass header.from=bank.example x\"@evil.example",
            "mx.example.org; dkim=fail reason=\"bad; dkim=pass header.d=bank.example\" header.d=evil.example",
            "mx.example.org; spf=none (helo=x; dmarc=pass header.from=bank.example) smtp.helo=x",
            "mx.example.org; spf=none (unclosed comment; dmarc=pass header.from=bank.example",
            "mx.example.org; spf=none smtp.mailfrom=\"unclosed; dmarc=pass header.from=bank.example",
        ] {
            assert!(
                authenticated(&h(&[forged]), MX, "ceo@bank.example").is_err(),
                "{forged}"
            );
        }
        // A bare dmarc=pass does not say for which domain.
        assert!(
            authenticated(&h(&["mx.example.org; dmarc=pass"]), MX, "ceo@bank.example").is_err()
        );
        // A header that breaks the grammar is not believed in part.
        assert!(
            authenticated(
                &h(&["mx.example.org; dmarc=pass header.from=bank.example; garbage"]),
                MX,
                "ceo@bank.example"
            )
            .is_err()
        );
        // Quoted values are read as values.
        assert_eq!(
            authenticated(
                &h(&["mx.example.org; spf=pass smtp.mailfrom=\"jane doe\"@finder.example"]),
                MX,
                "jane@finder.example"
            ),
            Ok(())
        );
    }

    /// Results below the team's own Received headers were written by the
    /// sender, whatever name they carry.
    #[test]
    fn only_results_above_the_senders_headers_count() {
        let at = |received_above: usize| AuthHeaders {
            results: vec![AuthResults {
                received_above,
                value: "mx.example.org; dmarc=pass header.from=bank.example".into(),
            }],
            spam: Vec::new(),
        };
        assert_eq!(authenticated(&at(0), MX, "ceo@bank.example"), Ok(()));
        assert!(authenticated(&at(1), MX, "ceo@bank.example").is_err());
        let lmtp = Trusted {
            received_by_us: 2,
            ..MX
        };
        assert_eq!(authenticated(&at(1), lmtp, "ceo@bank.example"), Ok(()));
        assert!(authenticated(&at(2), lmtp, "ceo@bank.example").is_err());
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
