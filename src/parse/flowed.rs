//! `format=flowed` text (RFC 3676), as its reader sees it: lines ending in
//! a space are joined with the next, space-stuffing is undone. A command
//! or an attribution line the sender's mailer wrapped is one line again,
//! and a word the wrap put at the start of a line is not a command.

use mail_parser::{MessagePart, MimeHeaders};

/// The text of `part`, unflowed when its Content-Type says `format=flowed`.
pub fn read(part: &MessagePart<'_>, text: &str) -> String {
    let ct = part.content_type();
    let flowed = ct
        .and_then(|ct| ct.attribute("format"))
        .is_some_and(|f| f.eq_ignore_ascii_case("flowed"));
    if !flowed {
        return text.to_owned();
    }
    let delsp = ct
        .and_then(|ct| ct.attribute("delsp"))
        .is_some_and(|d| d.eq_ignore_ascii_case("yes"));
    unflow(text, delsp)
}

pub fn unflow(text: &str, delsp: bool) -> String {
    let mut out: Vec<String> = Vec::new();
    // The paragraph being joined: its quote depth and text so far.
    let mut open: Option<(usize, String)> = None;
    for raw in text.split('\n') {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let depth = line.chars().take_while(|&c| c == '>').count();
        let mut content = &line[depth..];
        // Space-stuffing: one leading space was added; a quoted line's
        // space after the `>` is that stuffing too.
        content = content.strip_prefix(' ').unwrap_or(content);
        let soft = content.ends_with(' ') && content != "-- ";
        let piece = if soft && delsp {
            &content[..content.len() - 1]
        } else {
            content
        };
        match &mut open {
            Some((d, joined)) if *d == depth => joined.push_str(piece),
            _ => {
                if let Some((d, joined)) = open.take() {
                    out.push(quoted(d, &joined));
                }
                open = Some((depth, piece.to_owned()));
            }
        }
        if !soft && let Some((d, joined)) = open.take() {
            out.push(quoted(d, &joined));
        }
    }
    if let Some((d, joined)) = open {
        out.push(quoted(d, &joined));
    }
    out.join("\n")
}

fn quoted(depth: usize, text: &str) -> String {
    if depth == 0 {
        text.to_owned()
    } else {
        format!("{} {text}", ">".repeat(depth))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soft_breaks_join_and_stuffing_goes() {
        // A wrapped /set, a word wrapped to the start of a line, a long
        // attribution, a quote, and the signature separator.
        let text = "/set summary Heap overflow when parsing deeply \r\nnested anchors\r\n\
                    please nobody \r\n/accept this\r\n\
                    On Tue, Someone With A Very Long Name \r\n/reject not reproducible wrote:\r\n\
                    > quoted \r\n> on\r\n \r\n-- \r\nAlice";
        assert_eq!(
            unflow(text, false),
            "/set summary Heap overflow when parsing deeply nested anchors\n\
             please nobody /accept this\n\
             On Tue, Someone With A Very Long Name /reject not reproducible wrote:\n\
             > quoted on\n\
             \n\
             -- \n\
             Alice"
        );
        assert_eq!(unflow("ab \r\ncd", true), "abcd");
        assert_eq!(unflow(" /not stuffed", false), "/not stuffed");
    }
}
