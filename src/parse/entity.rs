//! A MIME entity read strictly (RFC 5322 header fields, RFC 2045 and 2231
//! Content-Type parameters): the one reading of a mail's structure that
//! decides what a signature covers. mail-parser reads mail leniently for
//! people; where leniency could make two readers disagree, this refuses.

use std::fmt;

/// Why a structure proves nothing: it can be read in more than one way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ambiguous(pub String);

impl fmt::Display for Ambiguous {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn ambiguous(why: impl Into<String>) -> Ambiguous {
    Ambiguous(why.into())
}

/// An entity: its header fields (unfolded) and its body, borrowed.
#[derive(Debug)]
pub struct Entity<'a> {
    headers: Vec<(String, String)>,
    pub body: &'a [u8],
}

/// The end of the header block: the offset of the body. A header block
/// ends at the first empty line (CRLF or LF).
fn header_end(bytes: &[u8]) -> Option<(usize, usize)> {
    if bytes.starts_with(b"\r\n") {
        return Some((0, 2));
    }
    if bytes.starts_with(b"\n") {
        return Some((0, 1));
    }
    let mut i = 0;
    while let Some(nl) = bytes[i..].iter().position(|&b| b == b'\n') {
        let after = i + nl + 1;
        if bytes[after..].starts_with(b"\r\n") {
            return Some((after, after + 2));
        }
        if bytes[after..].starts_with(b"\n") {
            return Some((after, after + 1));
        }
        i = after;
    }
    None
}

impl<'a> Entity<'a> {
    /// Reads the header block of `bytes`. An entity with no empty line
    /// after its headers has no body; one with a line that is neither a
    /// field nor a continuation is refused.
    pub fn read(bytes: &'a [u8]) -> Result<Entity<'a>, Ambiguous> {
        let (head, body) = match header_end(bytes) {
            Some((head_end, body_start)) => (&bytes[..head_end], &bytes[body_start..]),
            None => (bytes, &bytes[bytes.len()..]),
        };
        // Only the MIME fields decide anything here; bytes that are not
        // UTF-8 elsewhere (an MTA's or a filter's header) change nothing.
        let head = String::from_utf8_lossy(head);
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in head.split('\n') {
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.is_empty() {
                continue;
            }
            if line.starts_with([' ', '\t']) {
                let Some((_, value)) = headers.last_mut() else {
                    return Err(ambiguous(
                        "the header block starts with a continuation line",
                    ));
                };
                value.push(' ');
                value.push_str(line.trim());
                continue;
            }
            let Some((name, value)) = line.split_once(':') else {
                return Err(ambiguous(format!(
                    "the header line {:?} has no field name",
                    cut(line)
                )));
            };
            // RFC 5322's obsolete syntax allows white space before the colon.
            let name = name.trim_end_matches([' ', '\t']);
            let name_ok =
                !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic() && b != b':');
            if !name_ok {
                return Err(ambiguous(format!(
                    "the header line {:?} has no valid field name",
                    cut(line)
                )));
            }
            headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
        }
        Ok(Entity { headers, body })
    }

    /// The one field called `name`; two of them are refused, since readers
    /// differ on which one counts.
    pub fn field(&self, name: &str) -> Result<Option<&str>, Ambiguous> {
        let mut found = self
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str());
        let first = found.next();
        if found.next().is_some() {
            return Err(ambiguous(format!("it has two {name} header fields")));
        }
        if first.is_some_and(|v| v.contains(char::REPLACEMENT_CHARACTER)) {
            return Err(ambiguous(format!("its {name} header field is not text")));
        }
        Ok(first)
    }

    /// Whether it carries MIME fields (`Content-*`, `MIME-Version`): then
    /// it is a MIME entity, not plain text.
    pub fn is_mime(&self) -> bool {
        self.headers
            .iter()
            .any(|(n, _)| n.starts_with("content-") || n == "mime-version")
    }

    /// The Content-Type, `text/plain` when there is none (RFC 2045).
    pub fn content_type(&self) -> Result<ContentType, Ambiguous> {
        match self.field("Content-Type")? {
            Some(value) => ContentType::parse(value),
            None => Ok(ContentType {
                mime: "text/plain".to_owned(),
                params: Vec::new(),
            }),
        }
    }

    /// The Content-Transfer-Encoding, lower-case; `7bit` when there is none.
    pub fn transfer_encoding(&self) -> Result<String, Ambiguous> {
        Ok(self
            .field("Content-Transfer-Encoding")?
            .map_or("7bit".to_owned(), |v| v.trim().to_ascii_lowercase()))
    }
}

/// At most 60 characters of what the mail said: refusals quote the mail,
/// and the mail is the attacker's.
pub fn cut(line: &str) -> String {
    line.chars().take(60).collect()
}

/// A Content-Type value: `type/subtype` in lower case and its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentType {
    pub mime: String,
    /// Names in lower case, values as written (quotes removed).
    params: Vec<(String, String)>,
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_graphic() && !"()<>@,;:\\\"/[]?=".contains(c)
}

/// Skips RFC 5322 comments and white space.
fn skip_cfws(s: &str) -> Result<&str, Ambiguous> {
    let mut rest = s.trim_start();
    while let Some(inner) = rest.strip_prefix('(') {
        let mut depth = 1;
        let mut end = None;
        let mut escaped = false;
        for (i, c) in inner.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(i + 1);
                        break;
                    }
                }
                _ => {}
            }
        }
        let end = end.ok_or_else(|| ambiguous("a comment in Content-Type is not closed"))?;
        rest = inner[end..].trim_start();
    }
    Ok(rest)
}

fn token(s: &str) -> (&str, &str) {
    let end = s.find(|c: char| !is_token_char(c)).unwrap_or(s.len());
    (&s[..end], &s[end..])
}

/// An unquoted parameter value: a token, and `/` too, which mailers write
/// unquoted in `protocol=application/pgp-signature` and readers accept.
fn unquoted(s: &str) -> (&str, &str) {
    let end = s
        .find(|c: char| !is_token_char(c) && c != '/')
        .unwrap_or(s.len());
    (&s[..end], &s[end..])
}

/// More parameters than any mailer writes: refused rather than compared.
const MAX_PARAMS: usize = 32;

impl ContentType {
    pub fn parse(value: &str) -> Result<ContentType, Ambiguous> {
        let bad = |why: &str| ambiguous(format!("its Content-Type {:?} {why}", cut(value)));
        let rest = skip_cfws(value)?;
        let (ctype, rest) = token(rest);
        let rest = skip_cfws(rest)?;
        let rest = rest
            .strip_prefix('/')
            .ok_or_else(|| bad("has no subtype"))?;
        let rest = skip_cfws(rest)?;
        let (subtype, mut rest) = token(rest);
        if ctype.is_empty() || subtype.is_empty() {
            return Err(bad("has no type/subtype"));
        }
        let mut params: Vec<(String, String)> = Vec::new();
        let mut bases: std::collections::HashSet<String> = std::collections::HashSet::new();
        loop {
            rest = skip_cfws(rest)?;
            if rest.is_empty() {
                break;
            }
            rest = rest
                .strip_prefix(';')
                .ok_or_else(|| bad("has text where a parameter should start"))?;
            rest = skip_cfws(rest)?;
            if rest.is_empty() {
                break; // a trailing `;` is common and harmless
            }
            let (name, after) = token(rest);
            if name.is_empty() {
                return Err(bad("has a parameter without a name"));
            }
            let after = skip_cfws(after)?;
            let after = after
                .strip_prefix('=')
                .ok_or_else(|| bad("has a parameter without a value"))?;
            let after = skip_cfws(after)?;
            let (value, after) = if let Some(quoted) = after.strip_prefix('"') {
                let mut out = String::new();
                let mut escaped = false;
                let mut end = None;
                for (i, c) in quoted.char_indices() {
                    match c {
                        _ if escaped => {
                            out.push(c);
                            escaped = false;
                        }
                        '\\' => escaped = true,
                        '"' => {
                            end = Some(i + 1);
                            break;
                        }
                        _ => out.push(c),
                    }
                }
                let end = end.ok_or_else(|| bad("has a quoted value that is not closed"))?;
                (out, &quoted[end..])
            } else {
                let (v, after) = unquoted(after);
                if v.is_empty() {
                    return Err(bad("has a parameter with an empty value"));
                }
                (v.to_owned(), after)
            };
            let name = name.to_ascii_lowercase();
            // `boundary`, `boundary*` and `boundary*0` all name one
            // parameter (RFC 2231): readers pick differently among them.
            let base = name.split('*').next().unwrap_or(&name).to_owned();
            if !bases.insert(base.clone()) {
                return Err(bad(&format!("names the parameter {base:?} twice")));
            }
            if bases.len() > MAX_PARAMS {
                return Err(bad(&format!("has more than {MAX_PARAMS} parameters")));
            }
            params.push((name, value));
            rest = after;
        }
        Ok(ContentType {
            mime: format!(
                "{}/{}",
                ctype.to_ascii_lowercase(),
                subtype.to_ascii_lowercase()
            ),
            params,
        })
    }

    /// A parameter's value; a parameter in RFC 2231's extended or split
    /// form is refused where it matters (boundary, protocol) rather than
    /// decoded differently from other readers.
    pub fn param(&self, name: &str) -> Result<Option<&str>, Ambiguous> {
        for (n, v) in &self.params {
            if n == name {
                return Ok(Some(v));
            }
            if n.split('*').next() == Some(name) {
                return Err(ambiguous(format!(
                    "its Content-Type writes {name} in the RFC 2231 form {n:?}; write it plainly"
                )));
            }
        }
        Ok(None)
    }

    pub fn is(&self, mime: &str) -> bool {
        self.mime == mime
    }

    pub fn is_multipart(&self) -> bool {
        self.mime.starts_with("multipart/")
    }
}

/// A multipart body split by its boundary (RFC 2046 section 5.1.1).
#[derive(Debug)]
pub struct Multipart<'a> {
    pub preamble: &'a [u8],
    /// Each body part as written: from after its delimiter line to before
    /// the line break that precedes the next delimiter.
    pub parts: Vec<&'a [u8]>,
    pub epilogue: &'a [u8],
}

/// RFC 2046's `bchars`: what a boundary may be made of.
fn boundary_ok(b: &str) -> bool {
    (1..=70).contains(&b.len())
        && !b.ends_with(' ')
        && b.chars()
            .all(|c| c.is_ascii_alphanumeric() || "'()+_,-./:=? ".contains(c))
}

/// What a line that starts with `--boundary` is.
enum Line {
    Delimiter,
    Close,
    /// Starts like a delimiter but is not one: readers disagree on these.
    Lookalike,
}

fn classify(rest: &[u8]) -> Line {
    let (close, rest) = match rest.strip_prefix(b"--") {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let end = rest
        .iter()
        .position(|&c| c != b' ' && c != b'\t')
        .unwrap_or(rest.len());
    match rest.get(end) {
        None | Some(b'\r' | b'\n') if close => Line::Close,
        None | Some(b'\r' | b'\n') => Line::Delimiter,
        _ => Line::Lookalike,
    }
}

/// Splits `body` by `boundary`. Refused: a boundary RFC 2046 does not
/// allow, a line that starts like a delimiter without being one, no close
/// delimiter, or a delimiter after the close delimiter.
pub fn split<'a>(body: &'a [u8], boundary: &str) -> Result<Multipart<'a>, Ambiguous> {
    if !boundary_ok(boundary) {
        return Err(ambiguous(format!(
            "its boundary {:?} is not one RFC 2046 allows",
            cut(boundary)
        )));
    }
    let dash = format!("--{boundary}");
    let dash = dash.as_bytes();
    // Every line start, and what the line is when it starts with `--boundary`.
    let mut marks: Vec<(usize, usize, Line)> = Vec::new(); // (line start, line end incl. break, kind)
    let mut start = 0;
    while start < body.len() {
        let end = body[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(body.len(), |p| start + p + 1);
        if body[start..].starts_with(dash) {
            marks.push((start, end, classify(&body[start + dash.len()..end])));
        }
        start = end;
    }
    if let Some((at, _, _)) = marks.iter().find(|(_, _, k)| matches!(k, Line::Lookalike)) {
        let line: String = String::from_utf8_lossy(&body[*at..])
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(60)
            .collect();
        return Err(ambiguous(format!(
            "the line {line:?} starts like its boundary without being a delimiter"
        )));
    }
    let closes = marks
        .iter()
        .filter(|(_, _, k)| matches!(k, Line::Close))
        .count();
    let close_index = marks
        .iter()
        .position(|(_, _, k)| matches!(k, Line::Close))
        .ok_or_else(|| ambiguous("its multipart body has no close delimiter"))?;
    if closes > 1 || close_index + 1 != marks.len() {
        return Err(ambiguous(
            "its multipart body goes on after the close delimiter",
        ));
    }
    if close_index == 0 {
        return Err(ambiguous("its multipart body has no part"));
    }
    // The line break before a delimiter belongs to the delimiter.
    let before = |at: usize| {
        if at >= 2 && &body[at - 2..at] == b"\r\n" {
            at - 2
        } else if at >= 1 && body[at - 1] == b'\n' {
            at - 1
        } else {
            at
        }
    };
    let first = marks[0].0;
    let mut parts = Vec::new();
    for pair in marks.windows(2) {
        let (from, to) = (pair[0].1, before(pair[1].0));
        parts.push(body.get(from..to.max(from)).unwrap_or(&[]));
    }
    Ok(Multipart {
        preamble: &body[..before(first)],
        parts,
        epilogue: &body[marks[close_index].1..],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_fields_unfold_and_a_second_content_type_is_refused() {
        let e = Entity::read(
            b"Content-Type: multipart/signed;\r\n\tboundary=\"b\"\r\nX: y\r\n\r\nbody",
        )
        .unwrap();
        assert_eq!(
            e.field("content-type").unwrap(),
            Some("multipart/signed; boundary=\"b\"")
        );
        assert_eq!(e.body, b"body");
        let two = Entity::read(b"Content-Type: text/plain\nContent-Type: text/html\n\nx").unwrap();
        assert!(
            two.content_type()
                .unwrap_err()
                .0
                .contains("two Content-Type")
        );
        assert!(Entity::read(b" folded first\n\nx").is_err());
        // Bytes that are not UTF-8 outside the MIME fields are no matter;
        // in them, they are refused.
        let latin1 = Entity::read(b"X-Spam: caf\xe9\nContent-Type : text/plain\n\nx").unwrap();
        assert!(latin1.content_type().unwrap().is("text/plain"));
        let bad = Entity::read(b"Content-Type: text/pl\xe9in\n\nx").unwrap();
        assert!(bad.content_type().is_err());
        assert!(Entity::read(b"no colon here\n\nx").is_err());
    }

    #[test]
    fn parameters_are_read_once_each() {
        let ct = ContentType::parse(
            "Multipart/Signed (c) ; micalg=pgp-sha256; protocol=\"application/pgp-signature\"; boundary=\"a \\\"b\\\"\";",
        )
        .unwrap();
        assert!(ct.is("multipart/signed"));
        assert_eq!(ct.param("boundary").unwrap(), Some("a \"b\""));
        assert_eq!(
            ct.param("protocol").unwrap(),
            Some("application/pgp-signature")
        );
        for dup in [
            "multipart/signed; boundary=a; boundary=b",
            "multipart/signed; BOUNDARY=a; boundary=a",
            "multipart/signed; boundary=a; boundary*=utf-8''b",
            "multipart/signed; boundary*0=a; boundary*1=b",
        ] {
            let e = ContentType::parse(dup)
                .and_then(|ct| ct.param("boundary").map(|_| ()))
                .unwrap_err();
            assert!(e.0.contains("boundary"), "{dup}: {e}");
        }
        let unquoted =
            ContentType::parse("multipart/signed; protocol=application/pgp-signature; boundary=b")
                .unwrap();
        assert_eq!(
            unquoted.param("protocol").unwrap(),
            Some("application/pgp-signature")
        );
        let many: String = (0..40).map(|i| format!("; p{i}=v")).collect();
        assert!(
            ContentType::parse(&format!("text/plain{many}"))
                .unwrap_err()
                .0
                .contains("more than")
        );
        assert!(ContentType::parse("text").is_err());
        assert!(ContentType::parse("text/plain; charset").is_err());
        assert!(ContentType::parse("text/plain; x=\"open").is_err());
    }

    #[test]
    fn split_follows_rfc_2046_and_refuses_lookalikes() {
        let body = b"preamble\r\n--XY\r\nA: b\r\n\r\none\r\n--XY \t\r\ntwo\r\n--XY--\r\nepilogue";
        let m = split(body, "XY").unwrap();
        assert_eq!(m.preamble, b"preamble");
        assert_eq!(m.parts, [&b"A: b\r\n\r\none"[..], &b"two"[..]]);
        assert_eq!(m.epilogue, b"epilogue");
        // LF-only storage.
        let m = split(b"--XY\nx\n--XY\ny\n--XY--\n", "XY").unwrap();
        assert_eq!(m.parts, [&b"x"[..], &b"y"[..]]);
        for (bad, why) in [
            (&b"--XY\nx\n--XYZ\ny\n--XY--\n"[..], "starts like"),
            (b"--XY\nx\n--XY\ny\n", "no close"),
            (b"--XY\nx\n--XY--\n--XY\nz\n--XY--\n", "after the close"),
            (b"--XY--\n", "no part"),
        ] {
            let e = split(bad, "XY").unwrap_err();
            assert!(e.0.contains(why), "{e}");
        }
        assert!(split(b"--\n", "").is_err());
        assert!(split(b"--a\n--a--\n", &"a".repeat(71)).is_err());
    }
}
