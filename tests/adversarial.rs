//! Signed means signed: mail an attacker builds from a roster member's
//! signed mail (a post to a public list is enough) or from scratch, run
//! through `embargo run --once`. Each must leave the incident as it was,
//! and the refusal (the command-refused event, or the mail's signature
//! status) must name the reason. Keys are made by GnuPG.

mod common;

use common::gpg::Gpg;
use common::team::*;
use common::*;
use serde_json::Value;

const B: &str = "sig-b";

/// What a command can change: everything but the activity clocks.
fn lifecycle(site: &Site, id: &str) -> Value {
    let mut rec = site.json(&["show", id]);
    let obj = rec.as_object_mut().unwrap();
    for k in [
        "messages",
        "events",
        "outbox",
        "updated_at",
        "active_at",
        "first_response_at",
    ] {
        obj.remove(k);
    }
    rec
}

fn crlf(s: &str) -> String {
    s.replace("\r\n", "\n").replace('\n', "\r\n")
}

/// A text/plain MIME part, CRLF, as a mail program signs it.
fn part(text: &str) -> String {
    crlf(&format!(
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{text}"
    ))
}

/// GnuPG's armored detached signature over `data`.
fn sign(gpg: &Gpg, fp: &str, data: &str) -> String {
    crlf(
        &String::from_utf8(gpg.detach_sign(fp, data.as_bytes(), &["--digest-algo", "SHA256"]))
            .unwrap(),
    )
}

fn sig_part(armored: &str) -> String {
    format!("Content-Type: application/pgp-signature; name=\"signature.asc\"\r\n\r\n{armored}")
}

/// A multipart/signed mail from its pieces, boundary `sig-b`.
fn multipart(
    headers: &str,
    ct_extra: &str,
    preamble: &str,
    parts: &[String],
    epilogue: &str,
) -> Vec<u8> {
    let mut m = format!(
        "{headers}MIME-Version: 1.0\r\nContent-Type: multipart/signed; micalg=pgp-sha256;\r\n \
         protocol=\"application/pgp-signature\"; boundary=\"{B}\"{ct_extra}\r\n\r\n{preamble}"
    );
    for p in parts {
        m.push_str(&format!("--{B}\r\n{p}\r\n"));
    }
    m.push_str(&format!("--{B}--\r\n{epilogue}"));
    m.into_bytes()
}

/// A reply in the incident's thread, Message-ID `<{n}@mail.example>`.
fn thread(t: &Team, id: &str, n: &str) -> String {
    let _ = t;
    reply("Alice <alice@example.org>", id, "r1@example.net", n)
}

struct Case {
    what: &'static str,
    mail: Vec<u8>,
    message_id: String,
    /// Words the refusal or the mail's signature status must contain.
    reason: &'static str,
    /// Who is told: the signer's roster address, or the SRC list.
    told: Option<&'static str>,
}

/// Everything the store says about one mail: its refusal, if any, its
/// signature status and its problems, as one text.
fn account(site: &Site, id: &str, message_id: &str) -> (bool, String) {
    let rec = site.json(&["show", id]);
    let mut text = String::new();
    let mut refused = false;
    for e in rec["events"].as_array().unwrap() {
        if e["message_id"] == message_id {
            if e["kind"] == "command-refused" {
                refused = true;
            }
            if e["kind"] == "command" {
                panic!("{message_id}: a command applied: {e:#}");
            }
            text.push_str(e["detail"].as_str().unwrap_or(""));
            text.push('\n');
        }
    }
    for m in rec["messages"].as_array().unwrap() {
        if m["message_id"] == message_id {
            text.push_str(&m["signature"].to_string());
            text.push_str(&m["problems"].to_string());
        }
    }
    (refused, text)
}

/// Who was answered about a mail (RFC 3834 `auto-replied`); its relay
/// to the insiders is no answer.
fn told(site: &Site, message_id: &str) -> Vec<String> {
    site.outbox()
        .into_iter()
        .filter(|m| m.in_reply_to.as_deref() == Some(message_id))
        .filter(|m| m.auto_submitted.as_deref() == Some("auto-replied"))
        .flat_map(|m| m.envelope_to)
        .collect()
}

fn run_cases(site: &Site, id: &str, cases: &[Case]) {
    let before = lifecycle(site, id);
    for c in cases {
        site.deliver(&c.mail);
    }
    site.ok(&["run", "--once"]);
    assert_eq!(lifecycle(site, id), before, "the incident changed");
    let mut failures = Vec::new();
    for c in cases {
        let (refused, text) = account(site, id, &c.message_id);
        if text.is_empty() {
            failures.push(format!("{}: not filed on {id}", c.what));
            continue;
        }
        if !text.contains(c.reason) {
            failures.push(format!(
                "{}: the reason {:?} is not in:\n{text}",
                c.what, c.reason
            ));
        }
        if let Some(to) = c.told {
            if !refused {
                failures.push(format!("{}: no refusal", c.what));
            }
            let got = told(site, &c.message_id);
            if got != [to] {
                failures.push(format!("{}: told {got:?}, not {to}", c.what));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Cases that are independent of each other: none may change anything.
#[test]
fn hostile_structures_change_nothing_and_say_why() {
    let t = team();
    let site = &t.site;
    let id = report(site, "r1@example.net", "Overflow in frob()");
    let cmds = format!("/accept {id}\r\n/severity critical {id}\r\n");
    let mut cases: Vec<Case> = Vec::new();
    let mut n = 0;
    // A fresh benign text Alice signed (her post to a public list).
    let mut benign = |t: &Team| {
        n += 1;
        let p = part(&format!("Looking at it ({n}).\r\n"));
        let s = sign(&t.gpg, &t.alice, &p);
        (p, s)
    };
    let mut add = |what, mid: &str, mail: Vec<u8>, reason, told| {
        cases.push(Case {
            what,
            mail,
            message_id: format!("{mid}@mail.example"),
            reason,
            told,
        });
    };
    let alice = Some("alice@example.org");
    let src = Some("src@example.org");

    // --- Parts beside the signed entity.
    let (p, s) = benign(&t);
    add(
        "an unsigned part after the signature",
        "after",
        multipart(
            &thread(&t, &id, "after"),
            "",
            "",
            &[p, sig_part(&s), part(&cmds)],
            "",
        ),
        "has 3 parts",
        alice,
    );
    let (p, s) = benign(&t);
    add(
        "an unsigned part before the signed part",
        "before",
        multipart(
            &thread(&t, &id, "before"),
            "",
            "",
            &[part(&cmds), p, sig_part(&s)],
            "",
        ),
        "has 3 parts",
        src,
    );
    let (p, s) = benign(&t);
    add(
        "an unsigned part between the signed part and the signature",
        "between",
        multipart(
            &thread(&t, &id, "between"),
            "",
            "",
            &[p, part(&cmds), sig_part(&s)],
            "",
        ),
        "has 3 parts",
        src,
    );
    let (p, s) = benign(&t);
    add(
        "two signature parts",
        "twosigs",
        multipart(
            &thread(&t, &id, "twosigs"),
            "",
            "",
            &[p.clone(), sig_part(&s), sig_part(&s)],
            "",
        ),
        "has 3 parts",
        alice,
    );
    let (p, s) = benign(&t);
    add(
        "the signature first, the signed part second",
        "reordered",
        multipart(
            &thread(&t, &id, "reordered"),
            "",
            "",
            &[sig_part(&s), p],
            "",
        ),
        "not application/pgp-signature",
        None,
    );
    let (_, s) = benign(&t);
    add(
        "a signature over another text, beside unsigned commands",
        "elsewhere",
        multipart(
            &thread(&t, &id, "elsewhere"),
            "",
            "",
            &[part(&cmds), sig_part(&s)],
            "",
        ),
        "does not match its signature",
        src,
    );
    let (p, s) = benign(&t);
    add(
        "commands in the preamble",
        "preamble",
        multipart(
            &thread(&t, &id, "preamble"),
            "",
            &format!("{cmds}\r\n"),
            &[p, sig_part(&s)],
            "",
        ),
        "before the signed part",
        alice,
    );
    let (p, s) = benign(&t);
    add(
        "a long preamble",
        "preamble2",
        multipart(
            &thread(&t, &id, "preamble2"),
            "",
            "one\r\ntwo\r\nthree\r\nfour\r\n",
            &[p, sig_part(&s)],
            "",
        ),
        "before the signed part",
        None,
    );
    let (p, s) = benign(&t);
    add(
        "commands in the epilogue",
        "epilogue",
        multipart(
            &thread(&t, &id, "epilogue"),
            "",
            "",
            &[p, sig_part(&s)],
            &cmds,
        ),
        "after the signature",
        alice,
    );
    let (p, s) = benign(&t);
    let mut m = String::from_utf8(multipart(
        &thread(&t, &id, "lookalike"),
        "",
        "",
        &[p, sig_part(&s)],
        "",
    ))
    .unwrap();
    m = m.replacen(
        &format!("\r\n--{B}\r\nContent-Type: application/pgp-signature"),
        &format!("\r\n--{B}X\r\nContent-Type: text/plain\r\n\r\n{cmds}\r\n--{B}\r\nContent-Type: application/pgp-signature"),
        1,
    );
    add(
        "a line that starts like the boundary (a prefix of it)",
        "lookalike",
        m.into_bytes(),
        "starts like its boundary",
        src,
    );
    let (p, s) = benign(&t);
    let mut m = String::from_utf8(multipart(
        &thread(&t, &id, "trailing"),
        "",
        "",
        &[p, sig_part(&s)],
        "",
    ))
    .unwrap();
    m = m.replacen(
        &format!("\r\n--{B}\r\nContent-Type: application"),
        &format!("\r\n--{B} x\r\n{cmds}\r\n--{B}\r\nContent-Type: application"),
        1,
    );
    add(
        "a delimiter line with text after the boundary",
        "trailing",
        m.into_bytes(),
        "starts like its boundary",
        None,
    );
    let (p, s) = benign(&t);
    let mut m = String::from_utf8(multipart(
        &thread(&t, &id, "twoclose"),
        "",
        "",
        &[p, sig_part(&s)],
        "",
    ))
    .unwrap();
    m.push_str(&format!("--{B}\r\n{}\r\n--{B}--\r\n", part(&cmds)));
    add(
        "a second close delimiter with a part after the first",
        "twoclose",
        m.into_bytes(),
        "after the close delimiter",
        None,
    );
    let (p, s) = benign(&t);
    let mut m = String::from_utf8(multipart(
        &thread(&t, &id, "noclose"),
        "",
        "",
        &[p, sig_part(&s)],
        "",
    ))
    .unwrap();
    m = m.replace(
        &format!("--{B}--\r\n"),
        &format!("--{B}\r\n{}\r\n", part(&cmds)),
    );
    add(
        "no close delimiter, an unsigned part at the end",
        "noclose",
        m.into_bytes(),
        "no close delimiter",
        None,
    );

    // --- The root's own header fields.
    let (p, s) = benign(&t);
    add(
        "a second boundary parameter",
        "dupboundary",
        multipart(
            &thread(&t, &id, "dupboundary"),
            "; boundary=\"other\"",
            "",
            &[p, sig_part(&s)],
            "",
        ),
        "names the parameter \\\"boundary\\\" twice",
        None,
    );
    let (p, s) = benign(&t);
    add(
        "the boundary again in RFC 2231 form",
        "boundary2231",
        multipart(
            &thread(&t, &id, "boundary2231"),
            "; boundary*=utf-8''other",
            "",
            &[p, sig_part(&s)],
            "",
        ),
        "twice",
        None,
    );
    let (p, s) = benign(&t);
    add(
        "a second protocol parameter",
        "dupprotocol",
        multipart(
            &thread(&t, &id, "dupprotocol"),
            "; protocol=\"text/plain\"",
            "",
            &[p, sig_part(&s)],
            "",
        ),
        "twice",
        None,
    );
    let (p, s) = benign(&t);
    let dup_ct = format!(
        "{}Content-Type: multipart/mixed; boundary=\"{B}\"\r\n",
        thread(&t, &id, "dupct")
    );
    add(
        "a second Content-Type header",
        "dupct",
        multipart(&dup_ct, "", "", &[p, sig_part(&s), part(&cmds)], ""),
        "two Content-Type",
        src,
    );
    let (p, s) = benign(&t);
    let enc = format!(
        "{}Content-Transfer-Encoding: quoted-printable\r\n",
        thread(&t, &id, "rootcte")
    );
    add(
        "a transfer encoding on the multipart/signed itself",
        "rootcte",
        multipart(&enc, "", "", &[p, sig_part(&s), part(&cmds)], ""),
        "transfer encoding",
        src,
    );
    let (p, s) = benign(&t);
    let m = String::from_utf8(multipart(
        &thread(&t, &id, "smime"),
        "",
        "",
        &[p, sig_part(&s)],
        "",
    ))
    .unwrap()
    .replace(
        "application/pgp-signature\"",
        "application/pkcs7-signature\"",
    );
    add(
        "a protocol other than OpenPGP",
        "smime",
        m.into_bytes(),
        "not application/pgp-signature",
        None,
    );

    // --- The signed part re-encoded: a transfer encoding is part of what is signed.
    let body = format!("Re-encoded.\r\n{cmds}");
    let signed_8bit = part(&body);
    let s = sign(&t.gpg, &t.alice, &signed_8bit);
    let qp = crlf(&format!(
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n{}",
        body.replace('=', "=3D")
    ));
    add(
        "the signed part re-encoded as quoted-printable",
        "requoted",
        multipart(
            &thread(&t, &id, "requoted"),
            "",
            "",
            &[qp, sig_part(&s)],
            "",
        ),
        "does not match its signature",
        src,
    );
    let b64 = {
        use base64::Engine;
        format!(
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n{}",
            base64::engine::general_purpose::STANDARD.encode(&body)
        )
    };
    add(
        "the signed part re-encoded as base64",
        "rebase64",
        multipart(
            &thread(&t, &id, "rebase64"),
            "",
            "",
            &[b64, sig_part(&s)],
            "",
        ),
        "does not match its signature",
        src,
    );
    let sig_b64 = {
        use base64::Engine;
        format!(
            "Content-Type: application/pgp-signature\r\nContent-Transfer-Encoding: base64\r\n\r\n{}",
            base64::engine::general_purpose::STANDARD.encode(b"not a signature at all")
        )
    };
    add(
        "a signature part that is not a signature",
        "garbagesig",
        multipart(
            &thread(&t, &id, "garbagesig"),
            "",
            "",
            &[part(&cmds), sig_b64],
            "",
        ),
        "signature",
        src,
    );

    // --- What Alice herself signed, but can be read two ways.
    let alt = crlf(&format!(
        "Content-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n--alt\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nLooking at it.\r\n--alt\r\n\
         Content-Type: text/html; charset=utf-8\r\n\r\n<div>Looking at it.</div><div>/accept {id}</div>\r\n--alt--\r\n"
    ));
    let s = sign(&t.gpg, &t.alice, &alt);
    add(
        "an HTML alternative that says something else",
        "althtml",
        multipart(
            &thread(&t, &id, "althtml"),
            "",
            "",
            &[alt, sig_part(&s)],
            "",
        ),
        "plain-text and HTML versions carry different commands",
        alice,
    );
    let alt = crlf(&format!(
        "Content-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n--alt\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n/accept {id}\r\n--alt\r\n\
         Content-Type: text/html; charset=utf-8\r\n\r\n<div>Just looking.</div>\r\n--alt--\r\n"
    ));
    let s = sign(&t.gpg, &t.alice, &alt);
    add(
        "a plain-text alternative with commands the HTML one hides",
        "alttext",
        multipart(
            &thread(&t, &id, "alttext"),
            "",
            "",
            &[alt, sig_part(&s)],
            "",
        ),
        "plain-text and HTML versions carry different commands",
        alice,
    );
    let inner = String::from_utf8(multipart(
        "",
        "",
        "",
        &{
            let p = part(&cmds);
            let s = sign(&t.gpg, &t.bob, &p);
            vec![p, sig_part(&s)]
        },
        "",
    ))
    .unwrap();
    let inner = crlf(
        &inner
            .replace("MIME-Version: 1.0\r\n", "")
            .replace(B, "in-b"),
    );
    let s = sign(&t.gpg, &t.alice, &inner);
    add(
        "a signed entity nested in the signed part",
        "nested",
        multipart(
            &thread(&t, &id, "nested"),
            "",
            "",
            &[inner, sig_part(&s)],
            "",
        ),
        "another signed part is inside the signed part",
        alice,
    );
    let mixed = crlf(&format!(
        "Content-Type: multipart/mixed; boundary=\"mx\"\r\n\r\n--mx\r\n{}\r\n--mx\r\n\
         Content-Type: multipart/signed; protocol=\"application/pgp-signature\"; boundary=\"in\"\r\n\r\n\
         --in\r\n{}\r\n--in\r\n{}\r\n--in--\r\n--mx--\r\n",
        part("Forwarded below."),
        part(&cmds),
        sig_part(&sign(&t.gpg, &t.bob, &part(&cmds)))
    ));
    let s = sign(&t.gpg, &t.alice, &mixed);
    add(
        "a signed entity inside a multipart in the signed part",
        "nestedmixed",
        multipart(
            &thread(&t, &id, "nestedmixed"),
            "",
            "",
            &[mixed, sig_part(&s)],
            "",
        ),
        "another signed part is inside the signed part",
        alice,
    );
    let (p, s) = benign(&t);
    let outer = format!(
        "{}MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n--outer\r\n{}\r\n--outer\r\n\
         Content-Type: multipart/signed; micalg=pgp-sha256; protocol=\"application/pgp-signature\"; boundary=\"{B}\"\r\n\r\n\
         --{B}\r\n{p}\r\n--{B}\r\n{}\r\n--{B}--\r\n--outer--\r\n",
        thread(&t, &id, "wrapped"),
        part(&cmds),
        sig_part(&s)
    );
    add(
        "a signed entity wrapped in an unsigned multipart with commands",
        "wrapped",
        outer.into_bytes(),
        "covers only part of the mail",
        alice,
    );

    // --- Inline (cleartext) signatures.
    let clear = |t: &Team, n: &str| {
        String::from_utf8(
            t.gpg
                .clearsign(&t.alice, format!("Looking at it ({n}).\n").as_bytes()),
        )
        .unwrap()
    };
    let plain = |h: String, body: String| {
        format!(
            "{h}MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{}",
            crlf(&body)
        )
        .into_bytes()
    };
    add(
        "commands before a clearsigned block",
        "clearbefore",
        plain(
            thread(&t, &id, "clearbefore"),
            format!("{cmds}\n{}", clear(&t, "a")),
        ),
        "text outside it",
        alice,
    );
    add(
        "commands after a clearsigned block",
        "clearafter",
        plain(
            thread(&t, &id, "clearafter"),
            format!("{}\n{cmds}", clear(&t, "b")),
        ),
        "text outside it",
        alice,
    );
    let mallory_block = String::from_utf8(t.gpg.clearsign(&t.mallory, cmds.as_bytes())).unwrap();
    add(
        "two clearsigned blocks, the second by a stranger",
        "twoarmors",
        plain(
            thread(&t, &id, "twoarmors"),
            format!("{}\n{mallory_block}", clear(&t, "c")),
        ),
        "more than one signed block",
        alice,
    );
    let forged = clear(&t, "d").replacen(
        "Hash: SHA256",
        &format!("Hash: SHA256\n{}", cmds.trim_end()),
        1,
    );
    add(
        "commands smuggled into the armor headers",
        "hashheader",
        plain(thread(&t, &id, "hashheader"), forged),
        "armor header lines other than",
        alice,
    );
    let forged = clear(&t, "e").replacen("Hash: SHA256", "Hash: SHA1", 1);
    add(
        "a Hash: header that names another algorithm",
        "hashsha1",
        plain(thread(&t, &id, "hashsha1"), format!("{forged}\n{cmds}")),
        "text outside it",
        alice,
    );
    let escaped = String::from_utf8(t.gpg.clearsign(
        &t.alice,
        format!("Quoting:\n-----END PGP SIGNATURE-----\n/accept {id}\n").as_bytes(),
    ))
    .unwrap();
    add(
        "a dash-escaped armor line inside the signed text",
        "dashescape",
        plain(
            thread(&t, &id, "dashescape"),
            escaped.replacen(
                "- -----END PGP SIGNATURE-----",
                "-----END PGP SIGNATURE-----",
                1,
            ),
        ),
        "signature",
        None,
    );
    let block = clear(&t, "f");
    let quoted: String = block.lines().map(|l| format!("> {l}\n")).collect();
    add(
        "a quoted clearsigned block under new unsigned commands",
        "quotedblock",
        plain(
            thread(&t, &id, "quotedblock"),
            format!("{cmds}\nOn Tue, Alice wrote:\n{quoted}"),
        ),
        "not signed",
        src,
    );
    let text_then_html = format!(
        "{}MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"al\"\r\n\r\n--al\r\n\
         Content-Type: text/plain\r\n\r\n{}\r\n--al\r\nContent-Type: text/html\r\n\r\n<p>{}</p>\r\n--al--\r\n",
        thread(&t, &id, "inlinealt"),
        crlf(&clear(&t, "g")),
        cmds
    );
    add(
        "a clearsigned text alternative beside an HTML one with commands",
        "inlinealt",
        text_then_html.into_bytes(),
        "covers only part of the mail",
        None,
    );

    // --- Sign-then-encrypt: only what is inside the encrypted part counts.
    let list_pub = std::fs::read(site.path("list-key.pub.asc")).unwrap();
    t.gpg.import(&list_pub);
    let list_fp = {
        let cert = embargo::pgp::load_certs(&site.path("list-key.pub.asc")).unwrap();
        cert[0].fingerprint().to_hex()
    };
    let (p, s) = benign(&t);
    let signed_entity = String::from_utf8(multipart("", "", "", &[p, sig_part(&s)], ""))
        .unwrap()
        .replace("MIME-Version: 1.0\r\n", "");
    let encrypted =
        String::from_utf8(t.gpg.encrypt(&list_fp, signed_entity.as_bytes(), None)).unwrap();
    let enc_parts = |extra: &str| {
        format!(
            "--enc\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n--enc\r\n\
             Content-Type: application/octet-stream\r\n\r\n{}\r\n{extra}--enc--\r\n",
            crlf(&encrypted)
        )
    };
    let mixed = format!(
        "{}MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"m\"\r\n\r\n--m\r\n{}\r\n--m\r\n\
         Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"enc\"\r\n\r\n{}--m--\r\n",
        thread(&t, &id, "encwrapped"),
        part(&cmds),
        enc_parts("")
    );
    add(
        "an encrypted signed part beside unsigned commands",
        "encwrapped",
        mixed.into_bytes(),
        "covers only part of the mail",
        src,
    );
    let third = format!(
        "{}MIME-Version: 1.0\r\nContent-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"enc\"\r\n\r\n{}",
        thread(&t, &id, "encthird"),
        enc_parts(&format!("--enc\r\n{}\r\n", part(&cmds)))
    );
    add(
        "a third, unsigned part beside the encrypted one",
        "encthird",
        third.into_bytes(),
        "outside the encrypted part",
        None,
    );
    let (p, s) = benign(&t);
    let bad_inner = String::from_utf8(multipart("", "", "", &[p, sig_part(&s), part(&cmds)], ""))
        .unwrap()
        .replace("MIME-Version: 1.0\r\n", "");
    let ct = String::from_utf8(t.gpg.encrypt(&list_fp, bad_inner.as_bytes(), None)).unwrap();
    let m = format!(
        "{}MIME-Version: 1.0\r\nContent-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"enc\"\r\n\r\n\
         --enc\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n--enc\r\nContent-Type: application/octet-stream\r\n\r\n{}\r\n--enc--\r\n",
        thread(&t, &id, "encextra"),
        crlf(&ct)
    );
    add(
        "an encrypted multipart/signed with an unsigned part inside",
        "encextra",
        m.into_bytes(),
        "has 3 parts",
        alice,
    );
    let unsigned_inside =
        String::from_utf8(t.gpg.encrypt(&list_fp, part(&cmds).as_bytes(), None)).unwrap();
    let m = format!(
        "{}MIME-Version: 1.0\r\nContent-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"enc\"\r\n\r\n\
         --enc\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n--enc\r\nContent-Type: application/octet-stream\r\n\r\n{}\r\n--enc--\r\n",
        thread(&t, &id, "encunsigned"),
        crlf(&unsigned_inside)
    );
    add(
        "encrypted but not signed",
        "encunsigned",
        m.into_bytes(),
        "not signed",
        src,
    );

    // --- No signature at all, or a stranger's.
    add(
        "unsigned, with a roster member's From:",
        "forged",
        plain(thread(&t, &id, "forged"), cmds.clone()),
        "not signed",
        src,
    );
    let p = part(&cmds);
    let s = sign(&t.gpg, &t.mallory, &p);
    add(
        "signed by a stranger",
        "stranger",
        multipart(&thread(&t, &id, "stranger"), "", "", &[p, sig_part(&s)], ""),
        "not in the roster",
        src,
    );

    assert!(cases.len() >= 40, "{} cases", cases.len());
    run_cases(site, &id, &cases);
}

/// The armored signature of `mail`, a multipart/signed built by `multipart`.
fn signature_of(mail: &[u8]) -> String {
    let m = String::from_utf8_lossy(mail);
    let start = m.find("-----BEGIN PGP SIGNATURE-----").unwrap();
    let end = m.find("-----END PGP SIGNATURE-----").unwrap() + "-----END PGP SIGNATURE-----".len();
    m[start..end].to_owned()
}

/// The same signature, its unhashed area reshaped: a second copy of the
/// issuer subpacket. Still valid; different packet bytes.
fn reshaped(armored: &str) -> String {
    use openpgp::packet::signature::subpacket::{Subpacket, SubpacketValue};
    use openpgp::parse::Parse;
    use openpgp::serialize::SerializeInto;
    use sequoia_openpgp as openpgp;
    let mut sig = match openpgp::Packet::from_bytes(armored.as_bytes()).unwrap() {
        openpgp::Packet::Signature(s) => s,
        other => panic!("{other:?}"),
    };
    let id = sig.issuers().next().cloned().expect("an issuer");
    sig.unhashed_area_mut()
        .add(Subpacket::new(SubpacketValue::Issuer(id), false).unwrap())
        .unwrap();
    let armored = openpgp::Packet::from(sig).to_vec().unwrap();
    let mut out = Vec::new();
    {
        let mut w = openpgp::armor::Writer::new(&mut out, openpgp::armor::Kind::Signature).unwrap();
        std::io::Write::write_all(&mut w, &armored).unwrap();
        w.finalize().unwrap();
    }
    crlf(&String::from_utf8(out).unwrap())
}

/// The same signature packet, armored again with other headers.
fn rearmored(armored: &str) -> String {
    use sequoia_openpgp as openpgp;
    use std::io::Read;
    let mut r = openpgp::armor::Reader::from_bytes(
        armored.as_bytes(),
        openpgp::armor::ReaderMode::Tolerant(Some(openpgp::armor::Kind::Signature)),
    );
    let mut bin = Vec::new();
    r.read_to_end(&mut bin).unwrap();
    let mut out = Vec::new();
    {
        let mut w = openpgp::armor::Writer::with_headers(
            &mut out,
            openpgp::armor::Kind::Signature,
            [("Comment", "armored again")],
        )
        .unwrap();
        std::io::Write::write_all(&mut w, &bin).unwrap();
        w.finalize().unwrap();
    }
    crlf(&String::from_utf8(out).unwrap())
}

fn binary(armored: &str) -> Vec<u8> {
    use sequoia_openpgp as openpgp;
    use std::io::Read;
    let mut r = openpgp::armor::Reader::from_bytes(
        armored.as_bytes(),
        openpgp::armor::ReaderMode::Tolerant(Some(openpgp::armor::Kind::Signature)),
    );
    let mut bin = Vec::new();
    r.read_to_end(&mut bin).unwrap();
    bin
}

fn with_sig_of(headers: &str, part: &str, sig: &str) -> Vec<u8> {
    multipart(headers, "", "", &[part.to_owned(), sig_part(sig)], "")
}

/// Of an armored signature part holding several signatures, the one by
/// `fingerprint` alone, armored again.
fn bob_only(armored: &str, fingerprint: &str) -> String {
    use openpgp::parse::Parse;
    use openpgp::serialize::Marshal;
    use sequoia_openpgp as openpgp;
    let pile = openpgp::PacketPile::from_bytes(armored.as_bytes()).unwrap();
    let mut out = Vec::new();
    {
        let mut w = openpgp::armor::Writer::new(&mut out, openpgp::armor::Kind::Signature).unwrap();
        let mut kept = 0;
        for p in pile.into_children() {
            if let openpgp::Packet::Signature(s) = &p
                && s.issuer_fingerprints().any(|f| f.to_hex() == fingerprint)
            {
                p.serialize(&mut w).unwrap();
                kept += 1;
            }
        }
        assert_eq!(kept, 1, "one signature by {fingerprint}");
        w.finalize().unwrap();
    }
    crlf(&String::from_utf8(out).unwrap())
}

/// A signature is spent the first time it is seen: the same signed bytes
/// again, however the mail around them or the signature packet is
/// reshaped, change nothing.
#[test]
fn replays_change_nothing_however_reshaped() {
    let t = team();
    let site = &t.site;
    let id = report(site, "r1@example.net", "Overflow in frob()");
    let send = |n: &str, fp: &str, text: &str| {
        let p = part(text);
        let s = sign(&t.gpg, fp, &p);
        let mail = multipart(&thread(&t, &id, n), "", "", &[p, sig_part(&s)], "");
        site.deliver(&mail);
        site.ok(&["run", "--once"]);
        mail
    };
    send("accept", &t.alice, &format!("/accept {id}\r\n"));
    let high = send("high", &t.alice, &format!("/severity high {id}\r\n"));
    // Alice and Bob both sign one part: the mail spends both signatures.
    let both_part = part(&format!("/cve CVE-2026-1111 {id}\r\n"));
    let both = crlf(
        &String::from_utf8(t.gpg.detach_sign(
            &t.alice,
            both_part.as_bytes(),
            &["--digest-algo", "SHA256", "--local-user", &t.bob],
        ))
        .unwrap(),
    );
    site.deliver(&multipart(
        &thread(&t, &id, "both"),
        "",
        "",
        &[both_part.clone(), sig_part(&both)],
        "",
    ));
    site.ok(&["run", "--once"]);
    assert_eq!(
        site.json(&["show", &id])["cves"],
        serde_json::json!(["CVE-2026-1111"])
    );
    send("low", &t.alice, &format!("/severity low {id}\r\n"));
    send("nocve", &t.alice, &format!("/cve none {id}\r\n"));
    // Bob may not plan the disclosure yet: refused, and so spent.
    let disclose = send(
        "bobdisclose",
        &t.bob,
        &format!("/disclose {} {id}\r\n", in_days(30)),
    );
    assert_eq!(site.json(&["show", &id])["disclosure"], Value::Null);
    send(
        "leadbob",
        &t.alice,
        &format!("/lead bob@example.net {id}\r\n"),
    );
    let rec = site.json(&["show", &id]);
    assert_eq!(rec["severity"]["rating"], "low");
    assert_eq!(rec["lead"], "bob@example.net");

    let text = String::from_utf8(high.clone()).unwrap();
    let sig = signature_of(&high);
    let new_id =
        |mail: &str, n: &str| mail.replace("high@mail.example", &format!("{n}@mail.example"));
    let p = part(&format!("/severity high {id}\r\n"));
    let with_sig = |n: &str, sig_part: String| {
        multipart(&thread(&t, &id, n), "", "", &[p.clone(), sig_part], "")
    };
    let binary_part = {
        use base64::Engine;
        format!(
            "Content-Type: application/pgp-signature\r\nContent-Transfer-Encoding: base64\r\n\r\n{}",
            base64::engine::general_purpose::STANDARD.encode(binary(&sig))
        )
    };
    let seen = "seen before";
    let alice = Some("alice@example.org");
    let bob = Some("bob@example.net");
    let cases = vec![
        Case {
            what: "the same mail with a new Message-ID",
            mail: new_id(&text, "replay1").into_bytes(),
            message_id: "replay1@mail.example".into(),
            reason: seen,
            told: alice,
        },
        Case {
            what: "the same signed part in a new thread, by subject tag",
            mail: multipart(
                &format!(
                    "From: Alice <alice@example.org>\r\nTo: security@example.org\r\nSubject: [{id}] again\r\n\
                     Date: Tue, 01 Dec 2026 11:00:00 +0000\r\nMessage-ID: <replay2@mail.example>\r\n"
                ),
                "",
                "",
                &[p.clone(), sig_part(&sig)],
                "",
            ),
            message_id: "replay2@mail.example".into(),
            reason: seen,
            told: alice,
        },
        Case {
            what: "the signature's unhashed area reshaped",
            mail: with_sig("replay3", sig_part(&reshaped(&sig))),
            message_id: "replay3@mail.example".into(),
            reason: seen,
            told: alice,
        },
        Case {
            what: "the signature armored again",
            mail: with_sig("replay4", sig_part(&rearmored(&sig))),
            message_id: "replay4@mail.example".into(),
            reason: seen,
            told: alice,
        },
        Case {
            what: "the signature as a binary packet, base64",
            mail: with_sig("replay5", binary_part),
            message_id: "replay5@mail.example".into(),
            reason: seen,
            told: alice,
        },
        Case {
            what: "the same mail stored with LF line ends",
            mail: new_id(&text, "replay6").replace("\r\n", "\n").into_bytes(),
            message_id: "replay6@mail.example".into(),
            reason: seen,
            told: alice,
        },
        Case {
            what: "Bob's signature alone, cut from a part both signed",
            mail: with_sig_of(
                &thread(&t, &id, "replay8"),
                &both_part,
                &bob_only(&both, &t.bob),
            ),
            message_id: "replay8@mail.example".into(),
            reason: seen,
            told: Some("bob@example.net"),
        },
        Case {
            what: "a mail refused once, replayed once it would apply",
            mail: String::from_utf8(disclose)
                .unwrap()
                .replace("bobdisclose@mail.example", "replay7@mail.example")
                .into_bytes(),
            message_id: "replay7@mail.example".into(),
            reason: seen,
            told: bob,
        },
    ];
    run_cases(site, &id, &cases);
    let rec = site.json(&["show", &id]);
    assert_eq!(rec["severity"]["rating"], "low");
    assert_eq!(rec["disclosure"], Value::Null);
}

/// What the `message-added` event of a mail changed, as JSON text.
fn activity_of(site: &Site, id: &str, message_id: &str) -> String {
    site.json(&["show", id])["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["message_id"] == message_id && e["kind"] == "message-added")
        .unwrap_or_else(|| panic!("{message_id} not filed"))["changes"]
        .to_string()
}

/// Who answered and who is active count only when it is proven: a forged
/// From: of a roster member is neither the SRC answering nor activity.
#[test]
fn a_forged_roster_from_is_not_an_answer_and_not_activity() {
    let t = team();
    let site = &t.site;
    let id = report(site, "r1@example.net", "Overflow in frob()");
    site.deliver(
        &format!(
            "{}MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nWe are on it.\r\n",
            thread(&t, &id, "forged-answer")
        )
        .into_bytes(),
    );
    site.deliver(
        &format!(
            "From: Someone <someone@example.com>\r\nTo: security@example.org\r\nSubject: Re: [{id}] report\r\n\
             Date: Tue, 01 Dec 2026 10:00:00 +0000\r\nMessage-ID: <tagged@example.com>\r\n\r\nAny news?\r\n"
        )
        .into_bytes(),
    );
    site.ok(&["run", "--once"]);
    let after = site.json(&["show", &id]);
    assert_eq!(after["messages"].as_array().unwrap().len(), 3, "both filed");
    assert_eq!(
        after["first_response_at"],
        Value::Null,
        "a forged From: is not the SRC answering"
    );
    assert_eq!(activity_of(site, &id, "forged-answer@mail.example"), "[]");
    assert_eq!(
        activity_of(site, &id, "tagged@example.com"),
        "[]",
        "anyone's tagged mail is not activity"
    );

    // The reporter's own follow-up is activity; a signed reply is the answer.
    site.deliver(&mail(
        "Reporter <r@example.net>",
        &format!("Re: [{id}] more"),
        "more@example.net",
        "",
    ));
    site.deliver(&common::gpg::pgp_mime_signed(
        &t.gpg,
        &t.alice,
        &thread(&t, &id, "real-answer"),
        "We are on it.\r\n",
    ));
    site.ok(&["run", "--once"]);
    let last = site.json(&["show", &id]);
    assert_ne!(last["first_response_at"], Value::Null, "{last:#}");
    assert!(activity_of(site, &id, "more@example.net").contains("touched"));
    assert!(activity_of(site, &id, "real-answer@mail.example").contains("responded"));

    // Alice's answer sent again by someone else, as a new mail: spent, so
    // neither an answer nor activity.
    let again = site.json(&["show", &id])["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["message_id"] == "real-answer@mail.example")
        .map(|m| site.ok(&["raw", &m["id"].to_string()]))
        .unwrap()
        .replace("real-answer@mail.example", "replayed-answer@mail.example");
    site.deliver(again.as_bytes());
    site.ok(&["run", "--once"]);
    assert_eq!(activity_of(site, &id, "replayed-answer@mail.example"), "[]");
}

/// A roster member whose good signature turns up in a mail that proves
/// nothing hears of it once, not at every copy someone sends.
#[test]
fn a_signed_mail_wrapped_badly_is_told_to_its_signer_once() {
    let t = team();
    let site = &t.site;
    let id = report(site, "r1@example.net", "Overflow in frob()");
    let p = part("Looking at it.\r\n");
    let s = sign(&t.gpg, &t.alice, &p);
    for n in ["wrap1", "wrap2", "wrap3"] {
        site.deliver(&multipart(
            &thread(&t, &id, n),
            "",
            "",
            &[p.clone(), sig_part(&s)],
            "A footer a list added.\r\n",
        ));
    }
    site.ok(&["run", "--once"]);
    assert_eq!(told(site, "wrap1@mail.example"), ["alice@example.org"]);
    assert!(told(site, "wrap2@mail.example").is_empty());
    assert!(told(site, "wrap3@mail.example").is_empty());
}

/// Cleartext-signed text as mail programs write it (dash-escaped, CRLF),
/// around `signed` and an armored `signature` taken from elsewhere.
fn cleartext_around(signed: &str, signature: &str) -> String {
    let escaped: String = signed
        .split_inclusive('\n')
        .map(|l| {
            if l.starts_with('-') {
                format!("- {l}")
            } else {
                l.to_owned()
            }
        })
        .collect();
    format!(
        "-----BEGIN PGP SIGNED MESSAGE-----\r\nHash: SHA256\r\n\r\n{escaped}\r\n{}",
        crlf(signature)
    )
}

/// A signed OpenPGP message (one-pass signature, literal data, the
/// signature taken from elsewhere) encrypted to the list key, armored.
fn one_pass_encrypted_to_list(site: &Site, literal: &[u8], detached: &[u8]) -> String {
    use openpgp::packet::{Literal, OnePassSig, Packet, Signature};
    use openpgp::parse::Parse;
    use openpgp::serialize::Serialize;
    use sequoia_openpgp as openpgp;

    let pile = openpgp::PacketPile::from_bytes(detached).unwrap();
    let sig: Signature = match pile.into_children().next().unwrap() {
        Packet::Signature(s) => s,
        p => panic!("{p:?}"),
    };
    let mut inner = Vec::new();
    let mut ops = OnePassSig::try_from(&sig).unwrap();
    ops.set_last(true);
    Packet::from(ops).serialize(&mut inner).unwrap();
    let mut lit = Literal::new(openpgp::types::DataFormat::Binary);
    lit.set_body(literal.to_vec());
    Packet::from(lit).serialize(&mut inner).unwrap();
    Packet::from(sig).serialize(&mut inner).unwrap();
    encrypt_to_list(site, &inner)
}

/// Any bytes, encrypted to the list key (whose public part anyone has).
fn encrypt_to_list(site: &Site, bytes: &[u8]) -> String {
    use openpgp::policy::StandardPolicy;
    use openpgp::serialize::stream::{Armorer, Encryptor, Message};
    use sequoia_openpgp as openpgp;
    use std::io::Write;
    let list = embargo::pgp::load_secret(&site.path("list-key.asc")).unwrap();
    let p = StandardPolicy::new();
    let keys: Vec<_> = list
        .keys()
        .with_policy(&p, None)
        .supported()
        .for_transport_encryption()
        .collect();
    let mut out = Vec::new();
    {
        let m = Message::new(&mut out);
        let m = Armorer::new(m).build().unwrap();
        let mut m = Encryptor::for_recipients(m, keys).build().unwrap();
        m.write_all(bytes).unwrap();
        m.finalize().unwrap();
    }
    crlf(&String::from_utf8(out).unwrap())
}

/// A text/plain reply carrying `body`.
fn text_reply(_: &Team, id: &str, n: &str, body: &str) -> Vec<u8> {
    format!(
        "{}MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}",
        reply("Mallory <m@evil.example>", id, "r1@example.net", n)
    )
    .into_bytes()
}

/// A signature made over a MIME entity (a PGP/MIME post to a public list,
/// never sent to embargo) moved into another envelope: a cleartext block,
/// or a signed OpenPGP message encrypted to the list key. What the entity
/// holds besides its own text (an attachment, a forwarded mail, a folded
/// header) must never read as the signer's commands.
#[test]
fn a_signed_mime_entity_moved_into_another_envelope_says_only_what_it_said() {
    let t = team();
    let site = &t.site;
    let id = report(site, "r1@example.net", "Overflow in frob()");
    // Alice's public post: her text, and the reporter's patch attached,
    // whose commit message carries commands.
    let post = crlf(&format!(
        "Content-Type: multipart/mixed; boundary=\"------------mixB\"; protected-headers=\"v1\"\n\
         From: Alice <alice@example.org>\n\
         To: oss-security@lists.example\n\
         Subject: Re: [oss-security] frob: heap overflow, fix\n \
         attached\n\
         \n\
         --------------mixB\n\
         Content-Type: text/plain; charset=UTF-8\n\
         \n\
         The fix from the reporter is attached.\n\
         \n\
         --------------mixB\n\
         Content-Type: text/x-patch; charset=UTF-8; name=\"0001-fix.patch\"\n\
         Content-Disposition: attachment; filename=\"0001-fix.patch\"\n\
         \n\
         Subject: [PATCH] frob: bound the header length\n\
         \n\
         /accept {id}\n\
         /severity critical {id}\n\
         --------------mixB--\n"
    ));
    let binary_sig = |text: &str, extra: &[&str]| {
        String::from_utf8(t.gpg.detach_sign(&t.alice, text.as_bytes(), extra)).unwrap()
    };
    let folded = crlf(&format!(
        "Content-Type: text/plain; charset=UTF-8; protected-headers=\"v1\"\n\
         From: Alice <alice@example.org>\n\
         Subject: Re: [oss-security] question about frob parser hardening\n \
         /accept {id}\n\
         \n\
         No, that is not a security issue.\n"
    ));
    let forwarded = crlf(&format!(
        "Content-Type: multipart/mixed; boundary=\"fwd\"\n\
         \n\
         --fwd\n\
         Content-Type: text/plain; charset=UTF-8\n\
         \n\
         FYI, another one of these.\n\
         --fwd\n\
         Content-Type: message/rfc822\n\
         Content-Disposition: attachment; filename=\"spam.eml\"\n\
         \n\
         From: Mallory <m@evil.example>\n\
         Subject: hello\n\
         \n\
         /accept {id}\n\
         --fwd--\n"
    ));
    let detached_bytes = t.gpg.run(
        &["--detach-sign", "--local-user", &t.alice],
        post.as_bytes(),
    );
    assert!(detached_bytes.ok);
    let cases = vec![
        Case {
            what: "a PGP/MIME post's binary signature as a cleartext block",
            mail: text_reply(
                &t,
                &id,
                "csf1",
                &cleartext_around(&post, &binary_sig(&post, &[])),
            ),
            message_id: "csf1@mail.example".into(),
            reason: "needs a text signature",
            told: None,
        },
        Case {
            what: "a PGP/MIME post's text-mode signature (as mutt makes) as a cleartext block",
            mail: text_reply(
                &t,
                &id,
                "csf2",
                &cleartext_around(&post, &binary_sig(&post, &["--textmode"])),
            ),
            message_id: "csf2@mail.example".into(),
            reason: "joined",
            told: None,
        },
        Case {
            what: "a folded protected Subject as a cleartext block",
            mail: text_reply(
                &t,
                &id,
                "csf3",
                &cleartext_around(&folded, &binary_sig(&folded, &["--textmode"])),
            ),
            message_id: "csf3@mail.example".into(),
            reason: "joined",
            told: None,
        },
        Case {
            what: "a forwarded mail attached, as a cleartext block",
            mail: text_reply(
                &t,
                &id,
                "csf4",
                &cleartext_around(&forwarded, &binary_sig(&forwarded, &["--textmode"])),
            ),
            message_id: "csf4@mail.example".into(),
            reason: "joined",
            told: None,
        },
        Case {
            what: "a PGP/MIME post's signature as a signed message encrypted to the list",
            mail: text_reply(
                &t,
                &id,
                "ops1",
                &one_pass_encrypted_to_list(site, post.as_bytes(), &detached_bytes.stdout),
            ),
            message_id: "ops1@mail.example".into(),
            reason: "joined",
            told: None,
        },
    ];
    run_cases(site, &id, &cases);
}

/// A member forwards the announcement draft inline, signed and encrypted,
/// to the reporter (to check the credit line); the reporter re-encrypts
/// the member's signed message to the list key and sends it in.
#[test]
fn a_forwarded_draft_approves_nothing() {
    let t = team();
    let site = &t.site;
    let id = report(site, "r1@example.net", "Overflow in frob()");
    let date = in_days(30);
    site.deliver(&common::gpg::pgp_mime_signed(
        &t.gpg,
        &t.alice,
        &reply("Alice <alice@example.org>", &id, "r1@example.net", "c1"),
        &format!(
            "/accept {id}\r\n/cvss CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H {id}\r\n/disclose {date} {id}\r\n"
        ),
    ));
    site.ok(&["run", "--once"]);
    let draft = site
        .outbox()
        .into_iter()
        .find(|m| m.subject.contains("DRAFT announcement"))
        .expect("a draft");
    assert!(draft.text.contains(&format!("/approve announcement {id}")));
    let forward = |marker: &str| {
        format!(
            "Could you check that the credit line is right?\n\n{marker}\nSubject: {}\n\n{}",
            draft.subject, draft.text
        )
    };
    let resent = |fwd: String| {
        let to_mallory = t.gpg.encrypt(&t.mallory, fwd.as_bytes(), Some(&t.alice));
        let r = t.gpg.run(&["--decrypt", "--unwrap"], &to_mallory);
        assert!(r.ok, "{}", r.status);
        encrypt_to_list(site, &r.stdout)
    };
    let cases = vec![
        Case {
            what: "forwarded with Thunderbird's marker, re-encrypted to the list",
            mail: text_reply(
                &t,
                &id,
                "fwd1",
                &resent(forward("-------- Forwarded Message --------")),
            ),
            message_id: "fwd1@mail.example".into(),
            reason: "joined",
            told: None,
        },
        Case {
            what: "the draft pasted without a marker, signed as binary by gpg -se",
            mail: text_reply(&t, &id, "fwd2", &resent(forward(""))),
            message_id: "fwd2@mail.example".into(),
            reason: "binary signature over plain text",
            told: Some("alice@example.org"),
        },
    ];
    run_cases(site, &id, &cases);
    let rec = site.json(&["show", &id]);
    assert_eq!(
        rec["approved"],
        serde_json::json!([]),
        "{:#}",
        rec["events"]
    );
}

/// The commands a mail applied, by its Message-ID, if any did.
fn applied(site: &Site, id: &str, message_id: &str) -> Option<String> {
    site.json(&["show", id])["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["message_id"] == message_id && e["kind"] == "command")
        .map(|e| format!("{} by {}", e["detail"], e["actor"]))
}

/// The signature status `show` gives a mail, as JSON text.
fn status_of(site: &Site, id: &str, message_id: &str) -> String {
    site.json(&["show", id])["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["message_id"] == message_id)
        .map(|m| m["signature"].to_string())
        .unwrap_or_default()
}

fn git(gpg: &Gpg, dir: &std::path::Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .current_dir(dir)
        .env("GNUPGHOME", gpg.home())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A maintainer signs commits whose messages contributors wrote (`git am
/// -S`, commit.gpgsign): a binary signature over plain text. Moved into a
/// signed message encrypted to the list, inline or PGP/MIME, it is a
/// signed file, not a signed mail.
#[test]
fn a_signed_git_commit_is_not_a_command() {
    let t = team();
    let site = &t.site;
    let id = report(site, "r1@example.net", "Overflow in frob()");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for args in [
        &["init", "-q"][..],
        &["config", "user.name", "Alice"],
        &["config", "user.email", "alice@example.org"],
        &["config", "user.signingkey", &t.alice],
        &["config", "commit.gpgsign", "true"],
    ] {
        git(&t.gpg, d, args);
    }
    let message = format!(
        "frob: bound the header length\n\n/public {id}\n/accept {id}\n\nSigned-off-by: Mallory <m@evil.example>\n"
    );
    git(
        &t.gpg,
        d,
        &[
            "commit",
            "-q",
            "--allow-empty",
            "--author",
            "Mallory <m@evil.example>",
            "-m",
            &message,
        ],
    );
    let object = git(&t.gpg, d, &["cat-file", "commit", "HEAD"]);
    // What was signed, and the gpgsig header's signature.
    let (mut payload, mut sig) = (String::new(), String::new());
    let (mut in_sig, mut in_head) = (false, true);
    for line in object.split_inclusive('\n') {
        if in_head && line.starts_with("gpgsig ") {
            in_sig = true;
            sig.push_str(&line["gpgsig ".len()..]);
            continue;
        }
        if in_sig && line.starts_with(' ') {
            sig.push_str(&line[1..]);
            continue;
        }
        in_sig = false;
        in_head &= line != "\n";
        payload.push_str(line);
    }
    assert!(t.gpg.verify_detached(sig.as_bytes(), payload.as_bytes()).ok);
    let detached = t.gpg.run(&["--dearmor"], sig.as_bytes()).stdout;
    let encrypted = one_pass_encrypted_to_list(site, payload.as_bytes(), &detached);
    site.deliver(&text_reply(&t, &id, "git1", &encrypted));
    let pgp_mime = format!(
        "{}MIME-Version: 1.0\r\nContent-Type: multipart/encrypted;\r\n \
         protocol=\"application/pgp-encrypted\"; boundary=\"enc-b\"\r\n\r\n--enc-b\r\n\
         Content-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n--enc-b\r\n\
         Content-Type: application/octet-stream\r\n\r\n{encrypted}\r\n--enc-b--\r\n",
        reply("Mallory <m@evil.example>", &id, "r1@example.net", "git2")
    );
    site.deliver(pgp_mime.as_bytes());
    site.ok(&["run", "--once"]);
    for n in ["git1", "git2"] {
        let mid = format!("{n}@mail.example");
        assert_eq!(applied(site, &id, &mid), None, "{n}");
        assert!(
            status_of(site, &id, &mid).contains("binary signature over plain text"),
            "{n}: {}",
            status_of(site, &id, &mid)
        );
    }
    assert_eq!(site.json(&["show", &id])["state"], "reported");
}

/// A member's fresh signed post to another list (protected To), replayed
/// into the thread: neither a command nor the SRC answering.
#[test]
fn a_post_to_another_list_is_not_the_src_answering() {
    let t = team();
    let site = &t.site;
    let id = report(site, "r1@example.net", "Overflow in frob()");
    site.deliver(&common::gpg::pgp_mime_signed_part(
        &t.gpg,
        &t.alice,
        &reply("Mallory <m@evil.example>", &id, "r1@example.net", "pub1"),
        "From: Alice <alice@example.org>\r\nTo: oss-security@lists.example\r\nSubject: Re: [oss-security] x\r\n",
        &format!("Not a security issue.\r\n/accept {id}\r\n"),
    ));
    // Protected headers that name no one at all count as not to this list.
    site.deliver(&common::gpg::pgp_mime_signed_part(
        &t.gpg,
        &t.alice,
        &reply("Mallory <m@evil.example>", &id, "r1@example.net", "pub2"),
        "From: Alice <alice@example.org>\r\nTo: undisclosed-recipients:;\r\n",
        &format!("Fine.\r\n/accept {id}\r\n"),
    ));
    site.ok(&["run", "--once"]);
    let rec = site.json(&["show", &id]);
    assert_eq!(rec["first_response_at"], Value::Null);
    assert_eq!(rec["state"], "reported");
    let (refused1, why1) = account(site, &id, "pub1@mail.example");
    let (refused2, why2) = account(site, &id, "pub2@mail.example");
    assert!(
        refused1 && why1.contains("written to oss-security@lists.example"),
        "{why1}"
    );
    assert!(
        refused2 && why2.contains("written to no one named"),
        "{why2}"
    );
}

/// A member forwards or quotes the reporter's mail inline, the way other
/// mailers do it (K-9's "Original Message" banner, a localized
/// Thunderbird, Gmail in French, Outlook's unmarked header block): the
/// reporter's lines are not the member's commands.
#[test]
fn forwarded_and_quoted_text_is_not_the_signers_in_any_mailer() {
    let t = team();
    let site = &t.site;
    let markers = [
        (
            "k9",
            "-------- Original Message --------\nSubject: Re: [ID] report\nFrom: Mallory <m@evil.example>\n",
        ),
        (
            "tbde",
            "-------- Weitergeleitete Nachricht --------\nBetreff: Re: [ID] report\nVon: Mallory <m@evil.example>\n",
        ),
        (
            "gmailfr",
            "---------- Message transféré ---------\nDe : Mallory <m@evil.example>\n",
        ),
        (
            "outlook",
            "From: Mallory <m@evil.example>\nSent: Tuesday, December 1, 2026 10:00 AM\nTo: security@example.org\nSubject: RE: [ID] report\n",
        ),
    ];
    for (n, marker) in markers {
        let id = report(
            site,
            &format!("r-{n}@example.net"),
            &format!("Overflow {n}"),
        );
        let body = format!(
            "FYI, see below.\n\n{}\nAny news? If not, I publish on Friday.\n\n/embargo-broken {id}\n",
            marker.replace("ID", &id)
        );
        site.deliver(&common::gpg::pgp_mime_signed(
            &t.gpg,
            &t.bob,
            &reply(
                "Bob <bob@example.net>",
                &id,
                &format!("r-{n}@example.net"),
                n,
            ),
            &crlf(&body),
        ));
        site.ok(&["run", "--once"]);
        assert_eq!(
            applied(site, &id, &format!("{n}@mail.example")),
            None,
            "{n}"
        );
    }
}

/// format=flowed (Thunderbird's plain-text default) is read as its reader
/// shows it: a soft break does not put a word at the start of a line, and
/// a wrapped attribution (the attacker's long display name) is one line.
#[test]
fn flowed_text_is_read_as_it_is_shown() {
    let t = team();
    let site = &t.site;
    let id = report(site, "r1@example.net", "Overflow in frob()");
    let signed = |n: &str, part: String| {
        let sig = sign(&t.gpg, &t.alice, &part);
        multipart(&thread(&t, &id, n), "", "", &[part, sig_part(&sig)], "")
    };
    site.deliver(&signed(
        "flow1",
        crlf(&format!(
            "Content-Type: text/plain; charset=UTF-8; format=flowed\n\n\
             This looks like last week's duplicate, so please nobody \n\
             /accept {id}\n\
             until we compare the two.\n"
        )),
    ));
    site.deliver(&signed(
        "flow2",
        crlf(&format!(
            "Content-Type: text/plain; charset=UTF-8; format=flowed; protected-headers=\"v1\"\n\
             To: security@example.org\n\
             Subject: Re: [{id}] report\n\n\
             Thanks, we are looking at it.\n\n\
             On 12/1/26 10:00 AM, Mallory, security team of frob, release manager \n\
             /reject not reproducible wrote:\n\
             > Any news?\n"
        )),
    ));
    // An honest long /set, wrapped by the editor: all of it counts.
    site.deliver(&signed(
        "flow3",
        crlf(&format!(
            "Content-Type: text/plain; charset=UTF-8; format=flowed\n\n\
             /accept {id}\n\
             /set summary Heap overflow in the YAML loader when parsing deeply \n\
             nested anchors {id}\n"
        )),
    ));
    site.ok(&["run", "--once"]);
    assert_eq!(applied(site, &id, "flow1@mail.example"), None);
    assert_eq!(applied(site, &id, "flow2@mail.example"), None);
    assert!(applied(site, &id, "flow3@mail.example").is_some());
    assert_eq!(
        site.json(&["show", &id])["fields"]["summary"],
        "Heap overflow in the YAML loader when parsing deeply nested anchors"
    );
}

/// One signature twice in a signature part, on a mail whose commands
/// apply: counted once, applied once; the same signature alone later is
/// a replay.
#[test]
fn one_signature_twice_in_a_part_is_spent_once() {
    use base64::Engine;
    let t = team();
    let site = &t.site;
    let id = report(site, "r1@example.net", "Overflow in frob()");
    let p = part(&format!("/accept {id}\r\n"));
    let sig = t
        .gpg
        .run(&["--detach-sign", "--local-user", &t.alice], p.as_bytes());
    assert!(sig.ok);
    let with = |n: &str, bytes: &[u8]| {
        let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
        multipart(
            &thread(&t, &id, n),
            "",
            "",
            &[
                p.clone(),
                format!(
                    "Content-Type: application/pgp-signature\r\nContent-Transfer-Encoding: base64\r\n\r\n{b64}"
                ),
            ],
            "",
        )
    };
    site.deliver(&with(
        "dup1",
        &[sig.stdout.clone(), sig.stdout.clone()].concat(),
    ));
    site.ok(&["run", "--once"]);
    assert!(applied(site, &id, "dup1@mail.example").is_some());
    site.deliver(&with("dup2", &sig.stdout));
    site.ok(&["run", "--once"]);
    let (refused, why) = account(site, &id, "dup2@mail.example");
    assert!(refused && why.contains("seen before"), "{why}");
}
