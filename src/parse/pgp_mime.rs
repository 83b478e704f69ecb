//! Where a mail's OpenPGP parts are (RFC 3156 and inline), found in the
//! parsed structure and cut out of the raw bytes exactly as they were signed.

use mail_parser::{Message, MessagePart, MimeHeaders, PartType};

/// How a mail carries OpenPGP, if it does.
#[derive(Debug)]
pub enum Layout {
    Plain,
    /// The whole mail is `multipart/signed`: its first part, canonical CRLF,
    /// and the detached signature.
    Signed {
        signed: Vec<u8>,
        signature: Vec<u8>,
    },
    /// The whole mail is `multipart/encrypted`: the OpenPGP message.
    Encrypted {
        ciphertext: Vec<u8>,
    },
    /// The text is a cleartext-signed block; `whole` when nothing else is in the mail.
    InlineSigned {
        block: Vec<u8>,
        whole: bool,
    },
    /// The text is an inline OpenPGP message.
    InlineEncrypted {
        block: Vec<u8>,
    },
    /// A signature somewhere inside covers only part of the mail.
    PartlySigned,
}

const SIGNED_HEADER: &str = "-----BEGIN PGP SIGNED MESSAGE-----";
const SIGNATURE_END: &str = "-----END PGP SIGNATURE-----";
const MESSAGE_HEADER: &str = "-----BEGIN PGP MESSAGE-----";
const MESSAGE_END: &str = "-----END PGP MESSAGE-----";

fn is(part: &MessagePart<'_>, ctype: &str, subtype: &str, protocol: &str) -> bool {
    part.content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case(ctype)
            && ct
                .subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case(subtype))
            && ct
                .attribute("protocol")
                .is_some_and(|p| p.eq_ignore_ascii_case(protocol))
    })
}

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

/// The first body part of a multipart, byte for byte: from after the first
/// delimiter line to before the line ending of the next delimiter.
fn first_part(raw: &[u8], body_start: usize, boundary: &str) -> Option<Vec<u8>> {
    let delimiter = format!("--{boundary}");
    let d = delimiter.as_bytes();
    let body = raw.get(body_start..)?;
    let at_line_start = |i: usize| i == 0 || body[i - 1] == b'\n';
    let ends_line = |i: usize| {
        let rest = &body[i + d.len()..];
        let rest = rest.strip_prefix(b"--").unwrap_or(rest);
        let trimmed = rest
            .iter()
            .position(|&c| c != b' ' && c != b'\t')
            .unwrap_or(rest.len());
        matches!(rest.get(trimmed), None | Some(b'\r' | b'\n'))
    };
    let mut delims = (0..body.len().saturating_sub(d.len() - 1))
        .filter(|&i| body[i..].starts_with(d) && at_line_start(i) && ends_line(i));
    let first = delims.next()?;
    let start = first + body[first..].iter().position(|&c| c == b'\n')? + 1;
    let next = delims.find(|&i| i >= start)?;
    let mut end = next.checked_sub(1)?; // the LF before the delimiter
    if end > start && body[end - 1] == b'\r' {
        end -= 1;
    }
    (end >= start).then(|| canonical(&body[start..end]))
}

fn armored_block(text: &str, begin: &str, end: &str) -> Option<(usize, usize)> {
    let start = text.find(begin)?;
    let stop = text[start..].find(end)? + start + end.len();
    Some((start, stop))
}

pub fn layout(raw: &[u8], msg: &Message<'_>) -> Layout {
    let root = msg.root_part();
    if is(root, "multipart", "signed", "application/pgp-signature") {
        let boundary = root.content_type().and_then(|ct| ct.attribute("boundary"));
        let parts = root.sub_parts().unwrap_or(&[]);
        let signature = parts
            .get(1)
            .and_then(|&i| msg.parts.get(i as usize))
            .map(|p| p.contents().to_vec());
        if let (Some(boundary), Some(signature)) = (boundary, signature)
            && let Some(signed) = first_part(raw, root.raw_body_offset() as usize, boundary)
        {
            return Layout::Signed { signed, signature };
        }
        return Layout::PartlySigned;
    }
    if is(root, "multipart", "encrypted", "application/pgp-encrypted") {
        let parts = root.sub_parts().unwrap_or(&[]);
        if let Some(p) = parts.get(1).and_then(|&i| msg.parts.get(i as usize)) {
            return Layout::Encrypted {
                ciphertext: p.contents().to_vec(),
            };
        }
    }
    // A signed part below the top covers only that part.
    let nested_signed = msg
        .parts
        .iter()
        .skip(1)
        .any(|p| is(p, "multipart", "signed", "application/pgp-signature"));
    // Inline OpenPGP lives in the decoded text of the first text part.
    let text_parts: Vec<&MessagePart<'_>> = msg
        .parts
        .iter()
        .filter(|p| matches!(p.body, PartType::Text(_)))
        .collect();
    if let Some(first) = text_parts.first()
        && let PartType::Text(text) = &first.body
    {
        if let Some((s, e)) = armored_block(text, MESSAGE_HEADER, MESSAGE_END) {
            return Layout::InlineEncrypted {
                block: text[s..e].as_bytes().to_vec(),
            };
        }
        if let Some((s, e)) = armored_block(text, SIGNED_HEADER, SIGNATURE_END) {
            let outside_is_blank = text[..s].trim().is_empty() && text[e..].trim().is_empty();
            let only_part = msg.attachments.is_empty() && text_parts.len() == 1 && !nested_signed;
            return Layout::InlineSigned {
                block: text[s..e].as_bytes().to_vec(),
                whole: outside_is_blank && only_part,
            };
        }
    }
    if nested_signed {
        return Layout::PartlySigned;
    }
    Layout::Plain
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_adds_cr_only_where_missing() {
        assert_eq!(canonical(b"a\nb\r\nc\n"), b"a\r\nb\r\nc\r\n");
    }

    #[test]
    fn the_first_part_is_cut_exactly() {
        let body = b"preamble\r\n--XY\r\nContent-Type: text/plain\r\n\r\nhello\r\n\r\n--XY\r\nsig\r\n--XY--\r\n";
        assert_eq!(
            first_part(body, 0, "XY").unwrap(),
            b"Content-Type: text/plain\r\n\r\nhello\r\n"
        );
        // LF-only storage is canonicalised; a lookalike boundary is not one.
        let lf = b"--XY\nA: b\n\n--XYZ is not it\nx\n--XY\nsig\n--XY--\n";
        assert_eq!(
            first_part(lf, 0, "XY").unwrap(),
            b"A: b\r\n\r\n--XYZ is not it\r\nx"
        );
        assert!(first_part(b"no delimiters", 0, "XY").is_none());
    }
}
