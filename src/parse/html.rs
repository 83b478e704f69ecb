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

/// The reduction, or `None` where html2text fails: what signed text is
/// read with, since the fallback does not mark quoted replies.
pub fn try_to_text(html: &str) -> Option<String> {
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
    fn a_wide_table_is_not_padded_out() {
        let row = format!("<tr>{}</tr>", "<td>cell</td>".repeat(200));
        let html = format!("<table>{}</table><div>/hold</div>", row.repeat(50));
        let text = to_text(&html);
        assert!(text.len() < html.len(), "{} bytes of text", text.len());
        assert!(text.lines().any(|l| l.trim() == "/hold"), "{text}");
    }
}
