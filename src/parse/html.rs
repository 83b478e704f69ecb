//! HTML reduced to text, keeping what commands need: each block on its own
//! line, and quoted replies (`<blockquote>`) marked with `> `.
//! mail-parser's own reduction joins `<div>` blocks into one line. Tables
//! are not laid out (html2text's raw mode), each cell a line of its own:
//! laid out on unwrapped lines, a table of a few kilobytes became
//! megabytes of padding (found by fuzzing: 89 KiB of HTML, 5 MiB of text).

/// Lines are not wrapped: a command must stay on its line.
const NO_WRAP: usize = 10_000;

/// html2text panics on some malformed HTML (found by fuzzing: an
/// `Option::unwrap` in its table layout); then mail-parser's simpler
/// reduction stands in, so the mail is still read for people.
pub fn to_text(html: &str) -> String {
    try_to_text(html).unwrap_or_else(|| mail_parser::decoders::html::html_to_text(html))
}

/// Quotes and lists nested deeper than this are not reduced: each level
/// prefixes every line inside it, so depth times lines grows without
/// bound (found in review: 148 KB of HTML, 160 MB of text, 85 s).
const MAX_DEPTH: usize = 32;

/// How deep `<blockquote>`, `<ul>`, `<ol>` and `<dl>` nest in `html`.
fn depth(html: &str) -> usize {
    let bytes = html.as_bytes();
    let (mut now, mut max) = (0usize, 0usize);
    let mut i = 0;
    while let Some(p) = bytes[i..].iter().position(|&b| b == b'<') {
        let at = i + p + 1;
        let closing = bytes.get(at) == Some(&b'/');
        let name_at = if closing { at + 1 } else { at };
        let name: Vec<u8> = bytes[name_at..]
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric())
            .map(u8::to_ascii_lowercase)
            .collect();
        if matches!(name.as_slice(), b"blockquote" | b"ul" | b"ol" | b"dl") {
            if closing {
                now = now.saturating_sub(1);
            } else {
                now += 1;
                max = max.max(now);
            }
        }
        i = at;
    }
    max
}

/// The reduction, or `None` where html2text fails or the HTML nests too
/// deep: what signed text is read with, since the fallback does not mark
/// quoted replies.
pub fn try_to_text(html: &str) -> Option<String> {
    if depth(html) > MAX_DEPTH {
        return None;
    }
    crate::guard::catch_panic(|| {
        html2text::config::plain_no_decorate()
            .raw_mode(true)
            .string_from_read(html.as_bytes(), NO_WRAP)
    })
    .ok()?
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_lines_and_quotes_are_marked() {
        let html = r#"<html><head><style>p{color:red}</style></head><body>
            <div>/accept EMB-2026-0001</div><div>Thanks &amp; bye</div>
            <div class="gmail_quote"><div>On Tue, Jane wrote:<br></div>
            <blockquote type="cite"><div>/reject spam EMB-2026-0001</div></blockquote></div>
            <p>A <b>bold</b> word</p></body></html>"#;
        let text = to_text(html);
        let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
        assert!(lines.contains(&"/accept EMB-2026-0001"), "{text}");
        assert!(lines.contains(&"Thanks & bye"), "{text}");
        assert!(lines.contains(&"> /reject spam EMB-2026-0001"), "{text}");
        assert!(lines.contains(&"A bold word"), "{text}");
        assert!(!text.contains("color:red"), "{text}");
    }

    #[test]
    fn html_that_trips_html2text_is_still_read() {
        // Found by fuzzing (fuzz/run.sh signed): html2text unwraps a None
        // in its table layout on this.
        let tricky = "<table><tr><td colspan=2><table></table><td rowspan=2>/accept x</table>";
        let text = to_text(tricky);
        assert!(text.contains("/accept x"), "{text:?}");
        // Signed text is not read with the fallback, which loses quote marks.
        assert_eq!(try_to_text(tricky), None);
    }

    #[test]
    fn deep_nesting_is_not_multiplied_out() {
        let html = format!(
            "{}{}{}",
            "<blockquote>".repeat(2000),
            "<div>line</div>".repeat(5000),
            "</blockquote>".repeat(2000)
        );
        assert_eq!(depth(&html), 2000);
        assert_eq!(try_to_text(&html), None);
        let text = to_text(&html);
        assert!(text.len() < html.len(), "{} bytes", text.len());
        assert_eq!(depth("<BlockQuote><ul></ul><ol><li></ol></blockquote>"), 2);
    }

    #[test]
    fn a_wide_table_is_not_padded_out() {
        let row = format!("<tr>{}</tr>", "<td>cell</td>".repeat(200));
        let html = format!("<table>{}</table><div>/hold</div>", row.repeat(50));
        let text = to_text(&html);
        assert!(text.len() < html.len(), "{} bytes of text", text.len());
        assert!(text.lines().any(|l| l.trim() == "/hold"), "{text}");
    }
}
