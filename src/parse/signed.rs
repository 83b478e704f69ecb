//! Where a mail's OpenPGP is, judged strictly (RFC 3156 and inline), and
//! the exact bytes a signature covers. The split here is the only one that
//! decides what was signed: the verifier checks these bytes, and what a
//! signed mail may change is read from these bytes and nothing else.

use mail_parser::{Message, MimeHeaders, PartType};

use super::entity::{self, Ambiguous, Entity};

/// How a mail carries OpenPGP, if it does.
#[derive(Debug)]
pub enum Layout {
    Plain,
    /// A `multipart/signed` that is the whole mail, read one way only: its
    /// first part as it was signed (canonical CRLF), and the signature.
    Signed(Detached),
    /// A `multipart/encrypted` that is the whole mail: the OpenPGP message,
    /// and how many parts beside the two RFC 3156 names were left unread.
    Encrypted {
        ciphertext: Vec<u8>,
        ignored: usize,
    },
    /// A text/plain mail that is one cleartext-signed block and nothing else.
    InlineSigned {
        block: Vec<u8>,
    },
    /// A text/plain mail that carries an inline OpenPGP message.
    InlineEncrypted {
        block: Vec<u8>,
    },
    /// It carries a signature that cannot prove anything about the mail:
    /// `why` says what is wrong; `signed` is what a signature inside
    /// covers, checked only to know whom to tell.
    Unproven {
        why: String,
        signed: Option<Inner>,
    },
}

/// A detached signature and the bytes it covers.
#[derive(Debug, Clone)]
pub struct Detached {
    pub signed: Vec<u8>,
    pub signature: Vec<u8>,
}

/// A signature found inside a mail that it does not cover whole.
#[derive(Debug, Clone)]
pub enum Inner {
    Detached(Detached),
    Cleartext(Vec<u8>),
}

const SIGNED_HEADER: &str = "-----BEGIN PGP SIGNED MESSAGE-----";
const SIGNATURE_BEGIN: &str = "-----BEGIN PGP SIGNATURE-----";
const SIGNATURE_END: &str = "-----END PGP SIGNATURE-----";
const MESSAGE_HEADER: &str = "-----BEGIN PGP MESSAGE-----";
const MESSAGE_END: &str = "-----END PGP MESSAGE-----";

/// Signatures are made over CRLF line endings; mailboxes often store LF.
pub fn canonical(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 40);
    let mut prev = 0u8;
    for &b in bytes {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    out
}

fn blank(bytes: &[u8]) -> bool {
    bytes.iter().all(u8::is_ascii_whitespace)
}

/// Mail programs write a short notice before a signed body for readers
/// without MIME ("This is an OpenPGP/MIME signed message"); that is
/// ignored. Anything more, a command line or a delimiter-like line, is
/// text the signature does not cover.
fn preamble_ok(bytes: &[u8]) -> bool {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines.len() <= 3
        && lines
            .iter()
            .all(|l| l.len() <= 200 && !l.starts_with(['/', '-', '>']))
}

/// Whether mail-parser sees OpenPGP anywhere in the mail: then a structure
/// the strict reading refuses is reported, not taken as unsigned mail.
fn carries_openpgp(msg: &Message<'_>) -> bool {
    msg.parts.iter().any(|p| {
        let typed = p.content_type().is_some_and(|ct| {
            let sub = ct.subtype().unwrap_or("").to_ascii_lowercase();
            let protocol = ct.attribute("protocol").unwrap_or("").to_ascii_lowercase();
            (sub == "signed" || sub == "encrypted") && protocol.starts_with("application/pgp")
                || sub == "pgp-signature"
                || sub == "pgp-encrypted"
        });
        let armored = match &p.body {
            PartType::Text(t) | PartType::Html(t) => {
                t.contains(SIGNED_HEADER)
                    || t.contains(MESSAGE_HEADER)
                    || t.contains(SIGNATURE_BEGIN)
            }
            _ => false,
        };
        typed || armored
    })
}

/// Reads the root of `raw` strictly; a first line in mbox form (`From `)
/// is not a header and is skipped.
fn root(raw: &[u8]) -> Result<(Entity<'_>, usize), Ambiguous> {
    let skip = if raw.starts_with(b"From ") {
        raw.iter()
            .position(|&b| b == b'\n')
            .map_or(raw.len(), |p| p + 1)
    } else {
        0
    };
    let e = Entity::read(&raw[skip..])?;
    let body_offset = raw.len() - e.body.len();
    Ok((e, body_offset))
}

/// Decodes a part's body by its Content-Transfer-Encoding.
fn decoded(part: &Entity<'_>) -> Result<Vec<u8>, Ambiguous> {
    match part.transfer_encoding()?.as_str() {
        "7bit" | "8bit" | "binary" => Ok(part.body.to_vec()),
        "base64" => {
            use base64::Engine;
            let clean: Vec<u8> = part
                .body
                .iter()
                .copied()
                .filter(|b| !b.is_ascii_whitespace())
                .collect();
            base64::engine::general_purpose::STANDARD
                .decode(clean)
                .map_err(|_| Ambiguous("its signature part is not valid base64".to_owned()))
        }
        other => Err(Ambiguous(format!(
            "its signature part has the transfer encoding {:?}",
            entity::cut(other)
        ))),
    }
}

/// Why a `multipart/signed` proves nothing, and a signature inside it that
/// names whom to tell.
struct Refused {
    why: String,
    inner: Option<Inner>,
}

fn refused(why: impl Into<String>, inner: Option<Inner>) -> Refused {
    Refused {
        why: why.into(),
        inner,
    }
}

/// The two parts of a `multipart/signed`, read strictly: what they sign,
/// and the signed part as it is in the mail.
fn multipart_signed<'a>(
    root: &Entity<'a>,
    boundary: &str,
) -> Result<(Detached, &'a [u8]), Refused> {
    let plain = |e: Ambiguous| refused(e.0, None);
    match root.transfer_encoding().map_err(plain)?.as_str() {
        "7bit" | "8bit" | "binary" => {}
        other => {
            return Err(refused(
                format!(
                    "the signed mail as a whole has the transfer encoding {:?}; only its parts may be encoded",
                    entity::cut(other)
                ),
                None,
            ));
        }
    }
    let split = entity::split(root.body, boundary).map_err(plain)?;
    // Whatever else is wrong, a signature over the first part names whom to tell.
    let inner = || -> Option<Inner> {
        let sig = Entity::read(split.parts.get(1)?).ok()?;
        let ct = sig.content_type().ok()?;
        ct.is("application/pgp-signature").then(|| {
            Inner::Detached(Detached {
                signed: canonical(split.parts[0]),
                signature: decoded(&sig).ok().unwrap_or_default(),
            })
        })
    };
    if split.parts.len() != 2 {
        return Err(refused(
            format!(
                "its multipart/signed has {} parts; a signed mail has exactly two, the signed text and its signature",
                split.parts.len()
            ),
            inner(),
        ));
    }
    let sig = Entity::read(split.parts[1]).map_err(plain)?;
    let sig_type = sig.content_type().map_err(plain)?;
    if !sig_type.is("application/pgp-signature") {
        return Err(refused(
            format!(
                "the second part of its multipart/signed is {}, not application/pgp-signature",
                sig_type.mime
            ),
            None,
        ));
    }
    if !preamble_ok(split.preamble) {
        return Err(refused(
            "it has text before the signed part (the MIME preamble), which the signature does not cover".to_owned(),
            inner(),
        ));
    }
    if !blank(split.epilogue) {
        return Err(refused(
            "it has text after the signature (the MIME epilogue), which the signature does not cover; a mail gateway may have added a footer".to_owned(),
            inner(),
        ));
    }
    let signature = decoded(&sig).map_err(|e| refused(e.0, inner()))?;
    let detached = Detached {
        signed: canonical(split.parts[0]),
        signature,
    };
    Ok((detached, split.parts[0]))
}

/// mail-parser must see the same two parts, starting where the strict
/// split found them; otherwise readers could show different mail.
fn agrees(msg: &Message<'_>, raw: &[u8], body_offset: usize, first: &[u8]) -> bool {
    let root = msg.root_part();
    let parts = root.sub_parts().unwrap_or(&[]);
    if parts.len() != 2 || root.raw_body_offset() as usize != body_offset {
        return false;
    }
    let start = first.as_ptr() as usize - raw.as_ptr() as usize;
    msg.parts
        .get(parts[0] as usize)
        .is_some_and(|p| p.raw_header_offset() as usize == start)
}

/// The first `multipart/signed` below the root, found by the strict reading.
fn nested_signed(e: &Entity<'_>, depth: u8) -> Option<Inner> {
    let ct = e.content_type().ok()?;
    if depth > 0 && ct.is("multipart/signed") {
        return multipart_signed(e, ct.param("boundary").ok()??)
            .ok()
            .map(|(d, _)| Inner::Detached(d));
    }
    if !ct.is_multipart() || depth > 8 {
        return None;
    }
    let split = entity::split(e.body, ct.param("boundary").ok()??).ok()?;
    split
        .parts
        .iter()
        .filter_map(|p| Entity::read(p).ok())
        .find_map(|p| nested_signed(&p, depth + 1))
}

/// The armored block from `begin` to `end`, and whether it is the only
/// thing in `text` (once, with nothing but white space around it).
fn armored<'t>(text: &'t str, begin: &str, end: &str) -> Option<(&'t str, bool)> {
    let start = *at_line_start(text, begin).first()?;
    let stop = at_line_start(&text[start..], end).first()? + start + end.len();
    let alone = text[..start].trim().is_empty()
        && text[stop..].trim().is_empty()
        && at_line_start(text, begin).len() == 1
        && at_line_start(text, SIGNATURE_BEGIN).len() <= 1;
    Some((&text[start..stop], alone))
}

/// Where `marker` begins a line of `text`. An armor line counts only there:
/// one quoted (`> -----BEGIN …`) is text like any other.
fn at_line_start(text: &str, marker: &str) -> Vec<usize> {
    text.match_indices(marker)
        .map(|(i, _)| i)
        .filter(|&i| i == 0 || text.as_bytes()[i - 1] == b'\n')
        .collect()
}

/// Judges `raw`, which mail-parser read as `msg`.
pub fn layout(raw: &[u8], msg: &Message<'_>) -> Layout {
    let unproven = |why: String, signed: Option<Inner>| Layout::Unproven { why, signed };
    let openpgp = carries_openpgp(msg);
    let (root, body_offset) = match root(raw) {
        Ok(r) => r,
        Err(e) if openpgp => {
            return unproven(
                format!("its headers cannot be read one way only: {e}"),
                None,
            );
        }
        Err(_) => return Layout::Plain,
    };
    let ct = match root.content_type() {
        Ok(ct) => ct,
        Err(e) if openpgp => return unproven(e.0, None),
        Err(_) => return Layout::Plain,
    };
    let param = |name: &str| ct.param(name).map(|p| p.map(str::to_ascii_lowercase));
    if ct.is("multipart/signed") {
        match param("protocol") {
            Ok(Some(p)) if p == "application/pgp-signature" => {}
            Ok(_) if !openpgp => return Layout::Plain, // S/MIME and others: not ours to check
            Ok(p) => {
                return unproven(
                    format!(
                        "its multipart/signed names the protocol {:?}, not application/pgp-signature",
                        p.as_deref().map(entity::cut)
                    ),
                    None,
                );
            }
            Err(e) => return unproven(e.0, None),
        }
        let boundary = match ct.param("boundary") {
            Ok(Some(b)) => b,
            Ok(None) => return unproven("its multipart/signed has no boundary".to_owned(), None),
            Err(e) => return unproven(e.0, None),
        };
        return match multipart_signed(&root, boundary) {
            Ok((detached, first)) => {
                if agrees(msg, raw, body_offset, first) {
                    Layout::Signed(detached)
                } else {
                    unproven(
                        "mail readers split its parts differently, so what it shows may not be what was signed".to_owned(),
                        Some(Inner::Detached(detached)),
                    )
                }
            }
            Err(r) => unproven(r.why, r.inner),
        };
    }
    if ct.is("multipart/encrypted") {
        let encrypted = (|| -> Result<(Vec<u8>, usize), Ambiguous> {
            let boundary = ct
                .param("boundary")?
                .ok_or_else(|| Ambiguous("its multipart/encrypted has no boundary".to_owned()))?;
            let split = entity::split(root.body, boundary)?;
            let part = split.parts.get(1).ok_or_else(|| {
                Ambiguous("its multipart/encrypted has no encrypted part".to_owned())
            })?;
            Ok((decoded(&Entity::read(part)?)?, split.parts.len() - 2))
        })();
        return match (param("protocol"), encrypted) {
            (Ok(Some(p)), Ok((ciphertext, ignored))) if p == "application/pgp-encrypted" => {
                Layout::Encrypted {
                    ciphertext,
                    ignored,
                }
            }
            (_, Err(e)) if openpgp => unproven(e.0, None),
            _ => Layout::Plain,
        };
    }
    if ct.is_multipart() {
        if !openpgp {
            return Layout::Plain;
        }
        return unproven(
            "a signature or encrypted part inside it covers only part of the mail".to_owned(),
            nested_signed(&root, 0).or_else(|| {
                // An inline block in one of its text parts.
                msg.parts.iter().find_map(|p| match &p.body {
                    PartType::Text(t) => armored(t, SIGNED_HEADER, SIGNATURE_END)
                        .map(|(b, _)| Inner::Cleartext(b.as_bytes().to_vec())),
                    _ => None,
                })
            }),
        );
    }
    // A single part: inline OpenPGP lives in its decoded text.
    match &msg.root_part().body {
        PartType::Text(text) if ct.is("text/plain") => inline(text),
        _ => Layout::Plain,
    }
}

/// The lines between `-----BEGIN PGP SIGNED MESSAGE-----` and the signed
/// text are not signed; only `Hash:` naming hash algorithms may be there
/// (RFC 4880 section 7), so nothing unsigned can pass for signed text.
fn armor_headers_ok(block: &str) -> bool {
    const HASHES: [&str; 9] = [
        "SHA1",
        "SHA224",
        "SHA256",
        "SHA384",
        "SHA512",
        "SHA3-256",
        "SHA3-512",
        "RIPEMD160",
        "MD5",
    ];
    block
        .lines()
        .skip(1)
        .map(|l| l.trim_end_matches('\r'))
        .take_while(|l| !l.trim().is_empty())
        .all(|l| {
            l.strip_prefix("Hash:").is_some_and(|names| {
                names
                    .split(',')
                    .all(|n| HASHES.contains(&n.trim().to_ascii_uppercase().as_str()))
            })
        })
}

/// Judges a text that may carry inline OpenPGP: an OpenPGP message, or one
/// cleartext-signed block with nothing but white space around it.
pub fn inline(text: &str) -> Layout {
    if let Some((block, _)) = armored(text, MESSAGE_HEADER, MESSAGE_END) {
        return Layout::InlineEncrypted {
            block: block.as_bytes().to_vec(),
        };
    }
    match armored(text, SIGNED_HEADER, SIGNATURE_END) {
        Some((block, true)) if !armor_headers_ok(block) => Layout::Unproven {
            why: "its signed block has armor header lines other than \"Hash:\", which the signature does not cover".to_owned(),
            signed: Some(Inner::Cleartext(block.as_bytes().to_vec())),
        },
        Some((block, true)) => Layout::InlineSigned {
            block: block.as_bytes().to_vec(),
        },
        Some((block, false)) => Layout::Unproven {
            why: "the mail has more than one signed block, or text outside it, which the signature does not cover".to_owned(),
            signed: Some(Inner::Cleartext(block.as_bytes().to_vec())),
        },
        None if !at_line_start(text, SIGNATURE_BEGIN).is_empty() => Layout::Unproven {
            why: "it carries a signature block without the signed text's header".to_owned(),
            signed: None,
        },
        None => Layout::Plain,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::MessageParser;

    fn judge(raw: &[u8]) -> Layout {
        let msg = MessageParser::default().parse(raw).unwrap();
        layout(raw, &msg)
    }

    const SIGNED: &str = "From: a@example.org\r\nContent-Type: multipart/signed; micalg=pgp-sha256;\r\n protocol=\"application/pgp-signature\"; boundary=\"XY\"\r\n\r\n\
        This is an OpenPGP/MIME signed message (RFC 4880 and 3156)\r\n--XY\r\nContent-Type: text/plain\r\n\r\nhello\r\n\r\n--XY\r\n\
        Content-Type: application/pgp-signature\r\n\r\nSIG\r\n--XY--\r\n";

    #[test]
    fn canonical_adds_cr_only_where_missing() {
        assert_eq!(canonical(b"a\nb\r\nc\n"), b"a\r\nb\r\nc\r\n");
    }

    #[test]
    fn the_signed_part_is_cut_exactly() {
        let Layout::Signed(d) = judge(SIGNED.as_bytes()) else {
            panic!("{:?}", judge(SIGNED.as_bytes()))
        };
        assert_eq!(d.signed, b"Content-Type: text/plain\r\n\r\nhello\r\n");
        assert_eq!(d.signature, b"SIG");
        let lf = SIGNED.replace("\r\n", "\n");
        let Layout::Signed(d) = judge(lf.as_bytes()) else {
            panic!()
        };
        assert_eq!(d.signed, b"Content-Type: text/plain\r\n\r\nhello\r\n");
    }

    #[test]
    fn anything_beside_the_two_parts_proves_nothing() {
        let third = SIGNED.replace(
            "--XY--",
            "--XY\r\nContent-Type: text/plain\r\n\r\n/accept\r\n--XY--",
        );
        let epilogue = format!("{SIGNED}/accept\r\n");
        let preamble = SIGNED.replace("This is an OpenPGP", "/accept\r\nThis is an OpenPGP");
        let lookalike = SIGNED.replace("hello\r\n", "hello\r\n--XYZ\r\n");
        let encoded = SIGNED.replace(
            "boundary=\"XY\"\r\n",
            "boundary=\"XY\"\r\nContent-Transfer-Encoding: base64\r\n",
        );
        let dup = SIGNED.replace("boundary=\"XY\"", "boundary=\"XY\"; boundary=\"XZ\"");
        for (mail, why) in [
            (third, "has 3 parts"),
            (epilogue, "after the signature"),
            (preamble, "before the signed part"),
            (lookalike, "starts like its boundary"),
            (encoded, "transfer encoding"),
            (dup, "twice"),
        ] {
            match judge(mail.as_bytes()) {
                Layout::Unproven { why: w, .. } => assert!(w.contains(why), "{w}"),
                other => panic!("{why}: {other:?}"),
            }
        }
    }
}
