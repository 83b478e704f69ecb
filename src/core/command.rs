//! Commands: lines starting with `/` in the part of a reply its sender
//! wrote. Parsing is all it does; `lifecycle` applies them.

use jiff::civil::{Date, Time};
use serde::{Deserialize, Serialize};

use super::incident::Field;
use super::incident_id::IncidentId;
use super::notice_kind::NoticeKind;
use super::severity::Rating;

/// Someone a command names: the signer, or an address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Who {
    Me,
    Address(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TeamOp {
    Add,
    Remove,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "kebab-case")]
pub enum Command {
    Accept,
    Reject {
        reason: String,
    },
    Duplicate {
        of: IncidentId,
    },
    Lead {
        who: Who,
    },
    Ic {
        who: Who,
    },
    Team {
        op: TeamOp,
        email: String,
    },
    Cvss {
        vector: String,
    },
    Severity {
        rating: Rating,
    },
    Cve {
        ids: Vec<String>,
    },
    /// The weakness, for the advisories' problem type.
    Cwe {
        id: String,
        name: Option<String>,
    },
    Disclose {
        date: Date,
        time: Option<Time>,
        /// The Fix Lead accepts that the distributors get less notice than
        /// the rules give them.
        short_notice: bool,
    },
    Public,
    EmbargoBroken,
    /// With text: the lines under the command replace the rendered draft.
    Approve {
        kind: NoticeKind,
        text: Option<String>,
        /// Sent even though facts the process asks for are missing.
        as_is: bool,
    },
    Set {
        field: Field,
        value: String,
    },
    Hold,
    Resume,
    Status,
    Close,
    /// The incident was filed as spam by mistake: restore it as a report.
    NotSpam,
    /// The text on the line and the lines under it goes to the reporter.
    Reply {
        text: String,
    },
}

/// Each command: its name, its correct form, and what it does.
pub const COMMANDS: &[(&str, &str, &str)] = &[
    (
        "accept",
        "/accept",
        "accept the report as a vulnerability; assigns a Fix Lead round-robin if none is set",
    ),
    (
        "reject",
        "/reject <reason>",
        "close the report as not a vulnerability",
    ),
    (
        "duplicate",
        "/duplicate <ID>",
        "close the report as a duplicate of incident ID",
    ),
    (
        "lead",
        "/lead <email|me>",
        "make an SRC member the Fix Lead",
    ),
    (
        "ic",
        "/ic <email|me>",
        "hand incident command to someone in the roster",
    ),
    (
        "team",
        "/team add|remove <email>",
        "add someone to the Fix Team, or remove them",
    ),
    (
        "cvss",
        "/cvss <CVSS:3.1 vector>",
        "set the severity from a CVSS 3.1 vector",
    ),
    (
        "severity",
        "/severity low|medium|high|critical",
        "set the severity rating by hand",
    ),
    (
        "cve",
        "/cve <CVE-YYYY-NNNN>...",
        "record one or more CVE ids",
    ),
    (
        "cwe",
        "/cwe <CWE-NNN> [name]",
        "record the weakness (e.g. /cwe CWE-787 Out-of-bounds Write) for the CVE record and CSAF",
    ),
    (
        "disclose",
        "/disclose <YYYY-MM-DD> [HH:MM] [short-notice]",
        "plan the public disclosure (UTC; the slot hour when no time is given; short-notice: the distributors may get less than 7 days)",
    ),
    (
        "public",
        "/public",
        "mark the issue as already public: every timeline becomes as soon as approved",
    ),
    (
        "embargo-broken",
        "/embargo-broken",
        "mark the embargo as broken: every timeline becomes as soon as approved",
    ),
    (
        "approve",
        "/approve distributors|warning|announcement [as-is]",
        "approve a notice as drafted; text on the lines below replaces the draft's; as-is sends it with facts missing",
    ),
    (
        "set",
        "/set summary|affected|fixed|impact|mitigation|releases|credit|deploy-before|patch-embargoed <text>",
        "set what the notices say (deploy-before and patch-embargoed take yes or no)",
    ),
    ("hold", "/hold", "pause reminders and scheduled sends"),
    ("resume", "/resume", "resume after /hold"),
    ("status", "/status", "reply with the incident's status"),
    (
        "reply",
        "/reply [ID], then the text on the lines below",
        "answer the reporter through the list: the lines under it, up to the next command, go to them signed with the list key (encrypted to their key if they sent one); the insiders get a copy",
    ),
    (
        "close",
        "/close",
        "close after the retrospective (or cancel an incident that was never disclosed)",
    ),
    (
        "not-spam",
        "/not-spam <ID>",
        "restore an incident filed as spam: it becomes a new report, and the SRC gets its copy",
    ),
];

pub fn usage(name: &str) -> &'static str {
    COMMANDS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map_or("", |(_, u, _)| u)
}

/// One command line, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLine {
    pub command: Command,
    /// The incident id written on the line, if any: it ties a signed
    /// command to one incident.
    pub names: Option<IncidentId>,
    pub line: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub line: String,
    pub problem: String,
    /// The correct form, when the command is known.
    pub usage: Option<&'static str>,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.line, self.problem)?;
        match self.usage {
            Some(u) => write!(f, "; write it as: {u}"),
            None => write!(
                f,
                "; the commands are: {}",
                COMMANDS
                    .iter()
                    .map(|(n, _, _)| format!("/{n}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        }
    }
}

fn is_attribution(line: &str) -> bool {
    let l = line.trim();
    let lower = l.to_lowercase();
    (lower.starts_with("on ") && (lower.ends_with("wrote:") || lower.ends_with("wrote :")))
        || lower == "wrote:"
        || (lower.starts_with("am ") && lower.ends_with("schrieb:"))
        || (lower.starts_with("le ") && lower.ends_with("a écrit :"))
}

/// Where a mail program starts a forwarded or quoted mail inline, in any
/// language: a banner between dashes ("-------- Forwarded Message
/// --------", "-------- Original-Nachricht --------"), or Apple Mail's
/// "Begin forwarded message:". What follows is someone else's text.
fn is_forward_marker(t: &str) -> bool {
    let banner = t.len() > 4
        && t.starts_with("--")
        && t.ends_with("--")
        && t.trim_matches('-').trim().chars().any(char::is_alphabetic);
    banner || t.to_lowercase().starts_with("begin forwarded message")
}

/// A line like a mail header in a quoted or forwarded mail's header block
/// ("From: …", "Sent: …", Outlook's bold "*From:*", French "De :").
fn header_name(t: &str) -> Option<String> {
    let (name, rest) = t.split_once(':')?;
    let name = name.trim().trim_matches('*').trim().to_lowercase();
    let known = [
        "from", "sent", "date", "to", "cc", "subject", "von", "gesendet", "datum", "an", "betreff",
        "de", "envoyé", "à", "objet", "da", "inviato", "oggetto", "para", "enviado", "asunto",
    ];
    (known.contains(&name.as_str()) && (rest.is_empty() || rest.starts_with([' ', '\t', '*'])))
        .then_some(name)
}

/// Where a quoted mail's header block starts (Outlook quotes a reply this
/// way, unmarked): two header lines in a row, one of them its sender.
fn is_header_block(line: &str, next: Option<&str>) -> bool {
    let (Some(a), Some(b)) = (
        header_name(line.trim()),
        next.and_then(|n| header_name(n.trim())),
    ) else {
        return false;
    };
    ["from", "von", "de", "da"]
        .iter()
        .any(|s| *s == a || *s == b)
}

/// The lines the sender wrote: not quoted (`>`), not in quoted-reply
/// attributions, and nothing after a signature separator, an Outlook
/// "Original Message" marker or a forwarded mail.
pub fn written_lines(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let line = line.trim_end_matches('\r');
        if line == "-- " || line == "--" {
            break;
        }
        let t = line.trim();
        if t.starts_with("-----Original Message-----")
            || t == "________________________________"
            || is_forward_marker(t)
            || is_header_block(t, lines.get(i + 1).copied())
        {
            break;
        }
        if t.starts_with('>') || is_attribution(t) {
            // Left out, but it still ends a paragraph: a value never runs
            // on across a quote.
            out.push("");
            continue;
        }
        out.push(line);
    }
    out
}

/// The command lines of a text as written, white space collapsed: what two
/// views of one signed mail (plain text and HTML) must agree on. A text
/// value's line comes with the lines that may continue it (up to a blank
/// line or a command), so that neither view can carry a value the other
/// does not show.
pub fn command_lines(text: &str) -> Vec<String> {
    let lines = written_lines(text);
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(name) = command_name(line) else {
            continue;
        };
        let mut words: Vec<&str> = line.split_whitespace().collect();
        if takes_text(&name.to_ascii_lowercase(), &words[1..]) {
            for next in lines[i + 1..]
                .iter()
                .take_while(|l| !l.trim().is_empty() && command_name(l).is_none())
            {
                words.extend(next.split_whitespace());
            }
        }
        out.push(words.join(" "));
    }
    out
}

/// The command name of a line that starts with `/word`; `/usr/bin` is not one.
fn command_name(line: &str) -> Option<&str> {
    let rest = line.trim_start().strip_prefix('/')?;
    let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    let name = &rest[..end];
    let ok = name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    ok.then_some(name)
}

fn address(s: &str) -> Option<String> {
    let s = s.trim_matches(|c| c == '<' || c == '>');
    let ok = s.len() <= 254
        && s.matches('@').count() == 1
        && !s.starts_with('@')
        && !s.ends_with('@')
        // U+FFFD stands for what could not be read (a NUL, say): not an
        // address anyone can be sent mail at.
        && !s
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == char::REPLACEMENT_CHARACTER);
    ok.then(|| s.to_ascii_lowercase())
}

fn who(args: &[&str]) -> Result<Who, String> {
    match args {
        [a] if a.eq_ignore_ascii_case("me") => Ok(Who::Me),
        [a] => address(a)
            .map(Who::Address)
            .ok_or_else(|| format!("{a:?} is not an address")),
        _ => Err("takes one address, or me".to_owned()),
    }
}

fn is_cve(s: &str) -> bool {
    let mut parts = s.split('-');
    matches!(
        (parts.next(), parts.next(), parts.next(), parts.next()),
        (Some("CVE"), Some(y), Some(n), None)
            if y.len() == 4 && y.bytes().all(|b| b.is_ascii_digit())
                && n.len() >= 4 && n.bytes().all(|b| b.is_ascii_digit())
    )
}

fn parse_line(name: &str, args: &[&str], rest: &str) -> Result<Command, String> {
    let none = |c: Command| {
        if args.is_empty() {
            Ok(c)
        } else {
            Err("takes no arguments".to_owned())
        }
    };
    match name {
        "accept" => none(Command::Accept),
        "reject" if rest.trim().is_empty() => Err("needs a reason".to_owned()),
        "reject" => Ok(Command::Reject {
            reason: rest.trim().to_owned(),
        }),
        "duplicate" => match args {
            [id] => id
                .parse()
                .map(|of| Command::Duplicate { of })
                .map_err(|_| format!("{id:?} is not an incident id")),
            _ => Err("takes one incident id".to_owned()),
        },
        "lead" => who(args).map(|who| Command::Lead { who }),
        "ic" => who(args).map(|who| Command::Ic { who }),
        "team" => match args {
            [op, email] => {
                let op = match op.to_ascii_lowercase().as_str() {
                    "add" => TeamOp::Add,
                    "remove" => TeamOp::Remove,
                    _ => return Err(format!("{op:?} is neither add nor remove")),
                };
                let email = address(email).ok_or_else(|| format!("{email:?} is not an address"))?;
                Ok(Command::Team { op, email })
            }
            _ => Err("takes add or remove, and an address".to_owned()),
        },
        "cvss" => match args {
            [v] if v.to_ascii_uppercase().starts_with("CVSS:3") => Ok(Command::Cvss {
                vector: v.to_string(),
            }),
            [v] => Err(format!("{v:?} is not a CVSS 3 vector")),
            _ => Err("takes one CVSS vector, without spaces".to_owned()),
        },
        "severity" => match args {
            [r] => r.parse().map(|rating| Command::Severity { rating }),
            _ => Err("takes one rating".to_owned()),
        },
        "cve" if args.is_empty() => Err("needs at least one CVE id".to_owned()),
        "cve" => {
            let ids: Vec<String> = args
                .iter()
                .map(|a| a.trim_matches(',').to_ascii_uppercase())
                .collect();
            match ids.iter().find(|id| !is_cve(id)) {
                Some(bad) => Err(format!("{bad:?} is not a CVE id")),
                None => Ok(Command::Cve { ids }),
            }
        }
        "cwe" => match args {
            [] => Err("needs a CWE id".to_owned()),
            [id, name @ ..] => {
                let id = id.to_ascii_uppercase();
                let number = id.strip_prefix("CWE-").unwrap_or("");
                // What the CVE and CSAF schemas accept (CWE-[1-9][0-9]{0,5}):
                // a CWE recorded otherwise could never be published.
                if number.is_empty()
                    || number.len() > 6
                    || number.starts_with('0')
                    || !number.bytes().all(|b| b.is_ascii_digit())
                {
                    return Err(format!("{id:?} is not a CWE id (CWE-NNN)"));
                }
                let name = (!name.is_empty()).then(|| name.join(" "));
                Ok(Command::Cwe { id, name })
            }
        },
        "disclose" => {
            let (args, short_notice) = match args {
                [rest @ .., last] if last.eq_ignore_ascii_case("short-notice") => (rest, true),
                _ => (args, false),
            };
            let (date, time) = match args {
                [d] => (d, None),
                [d, t] => (d, Some(t)),
                _ => {
                    return Err(
                        "takes a date, optionally a time, and optionally short-notice".to_owned(),
                    );
                }
            };
            let date: Date = date
                .parse()
                .map_err(|_| format!("{date:?} is not a date (YYYY-MM-DD)"))?;
            let time = match time {
                None => None,
                Some(t) => Some(
                    t.trim_end_matches("UTC")
                        .trim_end_matches('Z')
                        .parse::<Time>()
                        .map_err(|_| format!("{t:?} is not a time (HH:MM, UTC)"))?,
                ),
            };
            Ok(Command::Disclose {
                date,
                time,
                short_notice,
            })
        }
        "public" => none(Command::Public),
        "embargo-broken" => none(Command::EmbargoBroken),
        "approve" => match args {
            [k] => k.parse().map(|kind| Command::Approve {
                kind,
                text: None,
                as_is: false,
            }),
            [k, flag] if flag.eq_ignore_ascii_case("as-is") => {
                k.parse().map(|kind| Command::Approve {
                    kind,
                    text: None,
                    as_is: true,
                })
            }
            _ => Err(
                "takes one notice (distributors, warning or announcement), and optionally as-is"
                    .to_owned(),
            ),
        },
        "set" => {
            let (field, value) = rest
                .trim()
                .split_once(char::is_whitespace)
                .unwrap_or((rest.trim(), ""));
            let f = Field::parse(field).ok_or_else(|| {
                format!(
                    "{field:?} is not a field: use {}",
                    Field::ALL
                        .iter()
                        .map(|f| f.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?;
            let value = value.trim();
            if value.is_empty() {
                return Err(format!("{} needs a value", f.as_str()));
            }
            if f.is_flag() && !matches!(value.to_ascii_lowercase().as_str(), "yes" | "no") {
                return Err(format!("{} takes yes or no", f.as_str()));
            }
            let value = if f.is_flag() {
                value.to_ascii_lowercase()
            } else {
                value.to_owned()
            };
            Ok(Command::Set { field: f, value })
        }
        "hold" => none(Command::Hold),
        "resume" => none(Command::Resume),
        "status" => none(Command::Status),
        "close" => none(Command::Close),
        "not-spam" => none(Command::NotSpam),
        "reply" => Ok(Command::Reply {
            text: rest.trim().to_owned(),
        }),
        _ => Err(format!("/{name} is not a command")),
    }
}

/// The incident a line names with its last word, if it does.
fn trailing_id(line: &str, prefix: &str) -> Option<IncidentId> {
    let last = line.split_whitespace().last()?;
    let id = last
        .trim_end_matches(['.', ',', ';'])
        .parse::<IncidentId>()
        .ok()?;
    id.prefix().eq_ignore_ascii_case(prefix).then_some(id)
}

/// Commands whose value is free text, which an editor may wrap.
fn takes_text(name: &str, args: &[&str]) -> bool {
    match name {
        "reject" => true,
        "set" => args
            .first()
            .and_then(|f| Field::parse(f))
            .is_some_and(|f| !f.is_flag()),
        _ => false,
    }
}

/// Where a text value ends. It is the rest of its line when that line
/// ends with the incident id, or is followed by a blank line, a command or
/// the end. Otherwise it goes on over the text lines after it, up to the
/// first that ends with the incident id, or up to a blank line or a command
/// when they are all indented; any other text after it could be a wrapped
/// value or a new paragraph, and the command is refused rather than cut.
/// `Ok(n)`: the value continues on the next `n` lines.
fn continuation(line: &str, next: &[&str], prefix: &str) -> Result<usize, &'static str> {
    if trailing_id(line, prefix).is_some() {
        return Ok(0);
    }
    let more: Vec<&str> = next
        .iter()
        .take_while(|l| !l.trim().is_empty() && command_name(l).is_none())
        .copied()
        .collect();
    if more.is_empty() {
        return Ok(0);
    }
    if let Some(last) = more.iter().position(|l| trailing_id(l, prefix).is_some()) {
        return Ok(last + 1);
    }
    if more.iter().all(|l| l.starts_with(char::is_whitespace)) {
        return Ok(more.len());
    }
    Err(
        "the text on the lines after it could continue its value or start a new paragraph: \
         if it continues the value, end its last line with the incident id (or indent the \
         lines that continue it); if it does not, leave a blank line after the command",
    )
}

/// Every command line in the written part of `text`, in order, and every
/// line that looked like a command but was not a correct one.
///
/// A command is one line, except a text value (`/set` of a text field,
/// `/reject`), which may go on over the next lines (see
/// [`continuation`]), and `/approve`, whose text is every line under it up
/// to the next command. Nothing is cut: a value that cannot be read whole
/// is an error.
pub fn parse(text: &str, prefix: &str) -> (Vec<CommandLine>, Vec<ParseError>) {
    let mut commands: Vec<CommandLine> = Vec::new();
    let mut errors = Vec::new();
    // Lines under `/approve` up to the next command are its text.
    let mut approve_text: Option<Vec<&str>> = None;
    let finish = |commands: &mut Vec<CommandLine>, text: Option<Vec<&str>>| {
        let Some(lines) = text else { return };
        let body = lines.join("\n");
        let body = body.trim_matches('\n');
        if body.trim().is_empty() {
            return;
        }
        match commands.last_mut() {
            Some(CommandLine {
                command: Command::Approve { text, .. },
                ..
            }) => *text = Some(format!("{}\n", body.trim_end())),
            // The words on the line itself come first.
            Some(CommandLine {
                command: Command::Reply { text },
                ..
            }) => {
                let first = std::mem::take(text);
                *text = if first.is_empty() {
                    format!("{}\n", body.trim_end())
                } else {
                    format!("{first}\n{}\n", body.trim_end())
                };
            }
            _ => {}
        }
    };
    let lines = written_lines(text);
    let mut next = 0;
    while next < lines.len() {
        let line = lines[next];
        next += 1;
        let Some(name) = command_name(line) else {
            if let Some(body) = &mut approve_text {
                body.push(line.trim_end());
            }
            continue;
        };
        finish(&mut commands, approve_text.take());
        if line.starts_with(char::is_whitespace) {
            // Drafts and forwarded mail show commands indented; what the
            // sender means starts at the beginning of a line.
            errors.push(ParseError {
                line: line.trim().to_owned(),
                problem: "it is indented (copied from a draft or a forwarded mail?): \
                          a command starts at the beginning of its line"
                    .to_owned(),
                usage: None,
            });
            continue;
        }
        let name = name.to_ascii_lowercase();
        let usage = COMMANDS
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, u, _)| *u);
        let first: Vec<&str> = line.split_whitespace().skip(1).collect();
        let joined;
        let line = if takes_text(&name, &first) {
            match continuation(line, &lines[next..], prefix) {
                Ok(0) => line,
                Ok(n) => {
                    let more: Vec<&str> = lines[next..next + n].iter().map(|l| l.trim()).collect();
                    next += n;
                    joined = format!("{} {}", line.trim_end(), more.join(" "));
                    joined.as_str()
                }
                Err(problem) => {
                    errors.push(ParseError {
                        line: line.trim().to_owned(),
                        problem: problem.to_owned(),
                        usage,
                    });
                    continue;
                }
            }
        } else {
            line
        };
        let body = line.trim_start()[1 + name.len()..].trim();
        let mut args: Vec<&str> = body.split_whitespace().collect();
        // A trailing incident id names the incident the command is for; for
        // /duplicate, only a second one does.
        let min_args = usize::from(name == "duplicate");
        let mut names = None;
        if args.len() > min_args
            && let Ok(id) = args[args.len() - 1]
                .trim_end_matches(['.', ',', ';'])
                .parse::<IncidentId>()
            && id.prefix().eq_ignore_ascii_case(prefix)
        {
            names = Some(id);
            args.pop();
        }
        let rest = match &names {
            Some(id) => body
                .trim_end()
                .trim_end_matches(['.', ',', ';'])
                .trim_end_matches(&id.to_string())
                .trim_end(),
            None => body,
        };
        match parse_line(&name, &args, rest) {
            Ok(command) => {
                if matches!(command, Command::Approve { .. } | Command::Reply { .. }) {
                    approve_text = Some(Vec::new());
                }
                commands.push(CommandLine {
                    command,
                    names,
                    line: line.trim().to_owned(),
                });
            }
            Err(problem) => errors.push(ParseError {
                line: line.trim().to_owned(),
                problem,
                usage,
            }),
        }
    }
    finish(&mut commands, approve_text.take());
    // An answer without words is a mistake, not a blank mail to the reporter.
    commands.retain(|c| match &c.command {
        Command::Reply { text } if text.trim().is_empty() => {
            errors.push(ParseError {
                line: c.line.clone(),
                problem: "has no text: write what the reporter should read on the lines under it"
                    .to_owned(),
                usage: Some(usage("reply")),
            });
            false
        }
        _ => true,
    });
    (commands, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmds(text: &str) -> Vec<Command> {
        let (c, e) = parse(text, "EMB");
        assert!(e.is_empty(), "{e:?}");
        c.into_iter().map(|c| c.command).collect()
    }

    #[test]
    fn only_the_written_part_counts() {
        let cases: Vec<(&str, &str, Vec<Command>)> = vec![
            (
                "top-posting above a quote",
                "/accept\r\n\r\nOn Tue, 1 Dec 2026, Jane wrote:\r\n> /reject spam\r\n",
                vec![Command::Accept],
            ),
            (
                "bottom-posting below a quote",
                "On Tue, 1 Dec 2026 at 10:00, Jane <j@x> wrote:\n> here is the bug\n> /hold\n\nThanks.\n/accept\n/severity high\n",
                vec![
                    Command::Accept,
                    Command::Severity {
                        rating: Rating::High,
                    },
                ],
            ),
            (
                "a signature hides what follows",
                "/accept\n-- \nAlice\n/reject nope\n",
                vec![Command::Accept],
            ),
            (
                "a signature without its space",
                "/hold\n--\n/resume\n",
                vec![Command::Hold],
            ),
            (
                "Outlook's original message",
                "/status\r\n\r\n-----Original Message-----\r\nFrom: x\r\n/close\r\n",
                vec![Command::Status],
            ),
            (
                "Thunderbird's forward",
                "/status\n\n-------- Forwarded Message --------\nSubject: x\n\n/close\n",
                vec![Command::Status],
            ),
            (
                "Apple Mail's forward",
                "/status\nBegin forwarded message:\n\n/close\n",
                vec![Command::Status],
            ),
            (
                "Gmail's forward",
                "/status\n---------- Forwarded message ---------\n/close\n",
                vec![Command::Status],
            ),
            (
                "a localized banner",
                "/status\n-------- Weitergeleitete Nachricht --------\n/close\n",
                vec![Command::Status],
            ),
            (
                "Outlook's quoted header block",
                "/status\n\n*From:* Mallory <m@x>\n*Sent:* Tuesday\n/close\n",
                vec![Command::Status],
            ),
            (
                "a French header block",
                "/status\nDe : Mallory\nEnvoyé : mardi\n/close\n",
                vec![Command::Status],
            ),
            (
                "Outlook's underscores",
                "/status\n________________________________\nFrom: x\n/close\n",
                vec![Command::Status],
            ),
            (
                "a two-line attribution",
                "/public\nOn Tue, 1 Dec 2026, Jane Researcher <jane@example.org>\nwrote:\n> /close\n",
                vec![Command::Public],
            ),
            (
                "indented quotes",
                "/accept  \n   > /close\n",
                vec![Command::Accept],
            ),
            (
                "paths are not commands",
                "/usr/bin/frob crashes\n/accept\n",
                vec![Command::Accept],
            ),
            (
                "prose is not a command",
                "I think we should accept this.\n",
                vec![],
            ),
            (
                "Windows line endings",
                "/cve CVE-2026-1234 cve-2026-12345\r\n",
                vec![Command::Cve {
                    ids: vec!["CVE-2026-1234".into(), "CVE-2026-12345".into()],
                }],
            ),
            (
                "German quote header",
                "Am Di., 1. Dez. 2026 um 10:00 schrieb Jane:\n> /close\n/hold\n",
                vec![Command::Hold],
            ),
        ];
        for (what, text, want) in cases {
            let (c, e) = parse(text, "EMB");
            assert!(e.is_empty(), "{what}: {e:?}");
            assert_eq!(
                c.into_iter().map(|c| c.command).collect::<Vec<_>>(),
                want,
                "{what}"
            );
        }
    }

    #[test]
    fn every_command_parses() {
        let text = "/accept\n/reject not a vulnerability: works as documented\n/duplicate EMB-2026-0003\n\
            /lead me\n/lead Bob@Example.NET\n/ic <carol@example.com>\n/team add dev@example.org\n/team remove dev@example.org\n\
            /cvss CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H\n/severity critical\n/cve CVE-2026-0001\n\
            /disclose 2026-12-15\n/disclose 2026-12-15 16:00\n/public\n/embargo-broken\n/approve announcement\n\
            /hold\n/resume\n/status\n/close\n/cwe cwe-787 Out-of-bounds Write\n/not-spam EMB-2026-0004\n";
        let got = cmds(text);
        assert_eq!(got.len(), 22);
        assert_eq!(got[21], Command::NotSpam);
        assert_eq!(
            got[20],
            Command::Cwe {
                id: "CWE-787".into(),
                name: Some("Out-of-bounds Write".into())
            }
        );
        assert_eq!(
            got[1],
            Command::Reject {
                reason: "not a vulnerability: works as documented".into()
            }
        );
        assert_eq!(
            got[2],
            Command::Duplicate {
                of: "EMB-2026-0003".parse().unwrap()
            }
        );
        assert_eq!(got[3], Command::Lead { who: Who::Me });
        assert_eq!(
            got[4],
            Command::Lead {
                who: Who::Address("bob@example.net".into())
            }
        );
        assert_eq!(
            got[5],
            Command::Ic {
                who: Who::Address("carol@example.com".into())
            }
        );
        assert_eq!(
            got[11],
            Command::Disclose {
                date: jiff::civil::date(2026, 12, 15),
                time: None,
                short_notice: false
            }
        );
        assert_eq!(
            got[12],
            Command::Disclose {
                date: jiff::civil::date(2026, 12, 15),
                time: Some(jiff::civil::time(16, 0, 0, 0)),
                short_notice: false
            }
        );
        assert_eq!(
            got[15],
            Command::Approve {
                kind: NoticeKind::Announcement,
                text: None,
                as_is: false,
            }
        );
        // Every documented command but /set and /reply has a case above;
        // they have their own tests.
        assert_eq!(COMMANDS.len(), 21);
    }

    #[test]
    fn reply_takes_the_text_under_it_up_to_the_next_command() {
        let text = "Telling the reporter.\n\n/reply EMB-2026-0001\nThanks for the report.\n\n  We reproduced it.\n> what they wrote\n/status\nnot for them\n-- \nAlice\n";
        let (got, errors) = parse(text, "EMB");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            got[0].command,
            Command::Reply {
                text: "Thanks for the report.\n\n  We reproduced it.\n".into()
            }
        );
        assert_eq!(got[0].names, Some("EMB-2026-0001".parse().unwrap()));
        assert_eq!(got[1].command, Command::Status);
        // The words on its own line come first; a signature never goes.
        assert_eq!(
            cmds("/reply Thanks. EMB-2026-0001\nMore below.\n-- \nAlice\n"),
            [Command::Reply {
                text: "Thanks.\nMore below.\n".into()
            }]
        );
        assert_eq!(
            cmds("/reply Thanks, fixed.\n"),
            [Command::Reply {
                text: "Thanks, fixed.".into()
            }]
        );
    }

    #[test]
    fn a_reply_without_text_is_refused_not_sent_blank() {
        for text in [
            "/reply EMB-2026-0001\n",
            "/reply EMB-2026-0001\n\n\n/status\n",
            "/reply EMB-2026-0001\n-- \nAlice, whose signature is not an answer\n",
            "/reply\n> only a quote\n",
        ] {
            let (got, errors) = parse(text, "EMB");
            assert!(
                !got.iter()
                    .any(|c| matches!(c.command, Command::Reply { .. })),
                "{text:?}: {got:?}"
            );
            assert_eq!(errors.len(), 1, "{text:?}: {errors:?}");
            assert!(errors[0].problem.contains("has no text"), "{}", errors[0]);
            assert!(
                errors[0].to_string().contains("/reply [ID]"),
                "{}",
                errors[0]
            );
        }
    }

    #[test]
    fn a_wrapped_value_is_read_whole_or_refused_never_cut() {
        let set = |field, value: &str| Command::Set {
            field,
            value: value.into(),
        };
        // An editor wrapped it at 72 columns; the id ends the last line.
        let (c, e) = parse(
            "/set mitigation Upgrade to 3.2.2, or disable the YAML loader in\n\
             config.yml until you can EMB-2026-0007\nThanks, Alice\n",
            "EMB",
        );
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(
            c[0].command,
            set(
                Field::Mitigation,
                "Upgrade to 3.2.2, or disable the YAML loader in config.yml until you can"
            )
        );
        assert_eq!(c[0].names, Some("EMB-2026-0007".parse().unwrap()));
        assert!(
            c[0].line
                .ends_with("config.yml until you can EMB-2026-0007"),
            "{}",
            c[0].line
        );
        // Indented lines continue it without the id.
        assert_eq!(
            cmds("/set impact Remote code execution\n  as the service user\n\nThanks\n"),
            [set(
                Field::Impact,
                "Remote code execution as the service user"
            )]
        );
        // Ended by its id, a blank line, a command or the end: one line.
        assert_eq!(
            cmds(
                "/set summary Heap overflow EMB-2026-0007\nThanks\n\
                 /set affected 2.3\n/set fixed 2.4\n\nCheers\n/reject no"
            ),
            [
                set(Field::Summary, "Heap overflow"),
                set(Field::Affected, "2.3"),
                set(Field::Fixed, "2.4"),
                Command::Reject {
                    reason: "no".into()
                },
            ]
        );
        // A flag takes no text: what follows is prose.
        assert_eq!(
            cmds("/set deploy-before yes\nThanks\n"),
            [set(Field::DeployBefore, "yes")]
        );
        assert_eq!(
            cmds("/reject\nworks as designed EMB-2026-0007\n"),
            [Command::Reject {
                reason: "works as designed".into()
            }]
        );
        // A quote ends it, as a blank line does.
        assert_eq!(
            cmds("/set summary Heap overflow\n> On Monday you wrote:\n  in the parser\n"),
            [set(Field::Summary, "Heap overflow")]
        );
        // Two views of one mail agree only if their values do, lines after included.
        assert_ne!(
            command_lines("/set summary Low impact\n  actually remote code execution\n"),
            command_lines("/set summary Low impact\n")
        );
        assert_eq!(
            command_lines("/set summary Low\n  impact\n\nThanks\n/accept\n"),
            ["/set summary Low impact", "/accept"]
        );
        // Text after it that may or may not continue it: refused, not cut.
        for text in [
            "/set mitigation Upgrade to 3.2.2, or disable the YAML loader in\nconfig.yml until you can\n",
            "/reject not a bug\nThanks, Alice\n",
        ] {
            let (c, e) = parse(text, "EMB");
            assert!(c.is_empty(), "{text}: {c:?}");
            assert_eq!(e.len(), 1, "{text}");
            assert!(
                e[0].problem
                    .contains("end its last line with the incident id"),
                "{}",
                e[0]
            );
        }
    }

    #[test]
    fn set_takes_a_field_and_its_text() {
        let got = cmds(
            "/set affected 2.3.0 to 2.4.1 EMB-2026-0007\n/set deploy-before No\n/set summary Heap overflow in the YAML loader\n",
        );
        assert_eq!(
            got[0],
            Command::Set {
                field: Field::Affected,
                value: "2.3.0 to 2.4.1".into()
            }
        );
        assert_eq!(
            got[1],
            Command::Set {
                field: Field::DeployBefore,
                value: "no".into()
            }
        );
        assert_eq!(
            got[2],
            Command::Set {
                field: Field::Summary,
                value: "Heap overflow in the YAML loader".into()
            }
        );
        for (bad, problem) in [
            ("/set colour red", "not a field"),
            ("/set impact", "needs a value"),
            ("/set patch-embargoed maybe", "yes or no"),
        ] {
            let (_, e) = parse(bad, "EMB");
            assert!(e[0].problem.contains(problem), "{bad}: {e:?}");
        }
    }

    #[test]
    fn approve_takes_the_text_below_it() {
        let text = "/approve announcement EMB-2026-0007\n\nHello,\n\nthe text as it should go out.\n   indented too\n\n/approve warning EMB-2026-0007\n-- \nAlice\n";
        let (c, e) = parse(text, "EMB");
        assert!(e.is_empty());
        assert_eq!(
            c[0].command,
            Command::Approve {
                kind: NoticeKind::Announcement,
                text: Some("Hello,\n\nthe text as it should go out.\n   indented too\n".into()),
                as_is: false,
            }
        );
        assert_eq!(
            c[1].command,
            Command::Approve {
                kind: NoticeKind::Warning,
                text: None,
                as_is: false,
            }
        );
        // The text under the last command counts too.
        let (c, _) = parse("/approve warning\nOur own words.", "EMB");
        assert_eq!(
            c[0].command,
            Command::Approve {
                kind: NoticeKind::Warning,
                text: Some("Our own words.\n".into()),
                as_is: false,
            }
        );
    }

    #[test]
    fn a_trailing_incident_id_names_the_incident() {
        let (c, _) = parse(
            "/approve announcement EMB-2026-0007\n/accept EMB-2026-0007.\n/reject spam EMB-2026-0007\n/duplicate EMB-2026-0003\n/duplicate EMB-2026-0003 EMB-2026-0007\n",
            "EMB",
        );
        let names: Vec<Option<String>> = c
            .iter()
            .map(|l| l.names.as_ref().map(ToString::to_string))
            .collect();
        assert_eq!(
            names,
            [
                Some("EMB-2026-0007".into()),
                Some("EMB-2026-0007".into()),
                Some("EMB-2026-0007".into()),
                None,
                Some("EMB-2026-0007".into())
            ]
        );
        assert_eq!(
            c[2].command,
            Command::Reject {
                reason: "spam".into()
            }
        );
        assert_eq!(
            c[3].command,
            Command::Duplicate {
                of: "EMB-2026-0003".parse().unwrap()
            }
        );
        // Another project's id is an argument, not a name.
        let (_, e) = parse("/accept ABC-2026-0001\n", "EMB");
        assert_eq!(e.len(), 1);
    }

    #[test]
    fn errors_name_the_command_and_show_its_form() {
        let table = [
            ("/acept", "/acept is not a command", None),
            ("/reject", "needs a reason", Some("/reject <reason>")),
            ("/accept now", "takes no arguments", Some("/accept")),
            (
                "/severity urgent",
                "not a rating",
                Some("/severity low|medium|high|critical"),
            ),
            (
                "/cve CVE-26-1",
                "not a CVE id",
                Some("/cve <CVE-YYYY-NNNN>..."),
            ),
            ("/cwe 787", "not a CWE id", Some("/cwe <CWE-NNN> [name]")),
            (
                "/cwe CWE-0787",
                "not a CWE id",
                Some("/cwe <CWE-NNN> [name]"),
            ),
            (
                "/cwe CWE-1234567",
                "not a CWE id",
                Some("/cwe <CWE-NNN> [name]"),
            ),
            (
                "/disclose next week",
                "\"next\" is not a date",
                Some("/disclose <YYYY-MM-DD> [HH:MM] [short-notice]"),
            ),
            (
                "/disclose 2026-13-01",
                "not a date",
                Some("/disclose <YYYY-MM-DD> [HH:MM] [short-notice]"),
            ),
            (
                "/disclose 2026-12-15 16:00 UTC+1",
                "takes a date",
                Some("/disclose <YYYY-MM-DD> [HH:MM] [short-notice]"),
            ),
            (
                "/disclose 2026-12-15 4pm",
                "not a time",
                Some("/disclose <YYYY-MM-DD> [HH:MM] [short-notice]"),
            ),
            (
                "/team invite x@y",
                "neither add nor remove",
                Some("/team add|remove <email>"),
            ),
            ("/lead alice", "not an address", Some("/lead <email|me>")),
            // What a NUL in the mail became.
            (
                "/team add bob\u{fffd}@x.example",
                "not an address",
                Some("/team add|remove <email>"),
            ),
            (
                "/cvss 9.8",
                "not a CVSS 3 vector",
                Some("/cvss <CVSS:3.1 vector>"),
            ),
            (
                "/approve release",
                "not a notice",
                Some("/approve distributors|warning|announcement [as-is]"),
            ),
            (
                "/duplicate 7",
                "not an incident id",
                Some("/duplicate <ID>"),
            ),
        ];
        for (line, problem, usage) in table {
            let (c, e) = parse(line, "EMB");
            assert!(c.is_empty(), "{line}");
            assert_eq!(e.len(), 1, "{line}");
            assert!(e[0].problem.contains(problem), "{line}: {}", e[0].problem);
            assert_eq!(e[0].usage, usage, "{line}");
            let shown = e[0].to_string();
            assert!(shown.contains(line), "{shown}");
            if usage.is_none() {
                assert!(
                    shown.contains("/accept") && shown.contains("/close"),
                    "{shown}"
                );
            }
        }
    }

    #[test]
    fn an_indented_command_is_an_error_not_a_command() {
        // What a draft shows, forwarded inline: refused, never applied.
        let (c, e) = parse(
            "Please check:\n\n  /approve announcement EMB-2026-0001\n",
            "EMB",
        );
        assert!(c.is_empty());
        assert_eq!(e.len(), 1);
        assert!(e[0].problem.contains("indented"), "{}", e[0]);
    }
}
