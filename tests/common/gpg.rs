//! GnuPG in a throw-away home directory: the client our readers use.
#![allow(dead_code)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

pub struct Gpg {
    pub home: tempfile::TempDir,
    /// GnuPG's clock when set (`--faked-system-time`): keys and signatures
    /// made at a simulated time.
    time: std::cell::RefCell<Option<jiff::Timestamp>>,
}

pub struct Run {
    pub ok: bool,
    pub stdout: Vec<u8>,
    /// What `--status-fd 2` and the messages say.
    pub status: String,
}

impl Gpg {
    pub fn new() -> Gpg {
        let home = tempfile::Builder::new()
            .prefix("gpg")
            .tempdir_in("/tmp")
            .unwrap();
        std::fs::set_permissions(
            home.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .unwrap();
        Gpg {
            home,
            time: Default::default(),
        }
    }

    /// From now on GnuPG works as if it were `at` (`None`: the real time).
    pub fn set_time(&self, at: Option<jiff::Timestamp>) {
        *self.time.borrow_mut() = at;
    }

    pub fn run(&self, args: &[&str], stdin: &[u8]) -> Run {
        let mut child = Command::new("gpg")
            .arg("--homedir")
            .arg(self.home.path())
            .args([
                "--batch",
                "--yes",
                "--no-tty",
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                "",
            ])
            .args(["--trust-model", "always", "--status-fd", "2"])
            .args(self.time.borrow().iter().flat_map(|t| {
                [
                    "--faked-system-time".to_owned(),
                    t.strftime("%Y%m%dT%H%M%S!").to_string(),
                ]
            }))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("gpg is installed (.ci/run installs gnupg)");
        child.stdin.take().unwrap().write_all(stdin).unwrap();
        let Output {
            status,
            stdout,
            stderr,
        } = child.wait_with_output().unwrap();
        Run {
            ok: status.success(),
            stdout,
            status: String::from_utf8_lossy(&stderr).into_owned(),
        }
    }

    /// A new key (`ed25519`, `rsa3072`, ...) that signs and encrypts; its fingerprint.
    pub fn gen_key(&self, uid: &str, algo: &str) -> String {
        let r = self.run(&["--quick-gen-key", uid, algo, "sign,cert", "never"], b"");
        assert!(r.ok, "gpg --quick-gen-key failed: {}", r.status);
        let fp = self.fingerprint(uid);
        let enc = if algo == "ed25519" { "cv25519" } else { algo };
        let r = self.run(&["--quick-add-key", &fp, enc, "encr", "never"], b"");
        assert!(r.ok, "gpg --quick-add-key failed: {}", r.status);
        fp
    }

    pub fn fingerprint(&self, uid: &str) -> String {
        let r = self.run(&["--with-colons", "--list-keys", uid], b"");
        let out = String::from_utf8(r.stdout).unwrap();
        out.lines()
            .find(|l| l.starts_with("fpr:"))
            .and_then(|l| l.split(':').nth(9))
            .expect("a fingerprint")
            .to_owned()
    }

    pub fn export(&self, fp: &str) -> Vec<u8> {
        let r = self.run(&["--armor", "--export", fp], b"");
        assert!(r.ok && !r.stdout.is_empty(), "{}", r.status);
        r.stdout
    }

    pub fn import(&self, key: &[u8]) {
        let r = self.run(&["--import"], key);
        assert!(r.ok, "gpg --import failed: {}", r.status);
    }

    pub fn detach_sign(&self, fp: &str, data: &[u8], extra: &[&str]) -> Vec<u8> {
        let mut args = vec!["--armor", "--detach-sign", "--local-user", fp];
        args.extend_from_slice(extra);
        let r = self.run(&args, data);
        assert!(r.ok, "{}", r.status);
        r.stdout
    }

    pub fn clearsign(&self, fp: &str, text: &[u8]) -> Vec<u8> {
        let r = self.run(&["--clearsign", "--local-user", fp], text);
        assert!(r.ok, "{}", r.status);
        r.stdout
    }

    pub fn encrypt(&self, to: &str, data: &[u8], sign_as: Option<&str>) -> Vec<u8> {
        let mut args = vec!["--armor", "--encrypt", "--recipient", to];
        if let Some(s) = sign_as {
            args.extend(["--sign", "--local-user", s]);
        }
        let r = self.run(&args, data);
        assert!(r.ok, "{}", r.status);
        r.stdout
    }

    /// `gpg --verify SIG DATA`: good only with GOODSIG and VALIDSIG.
    pub fn verify_detached(&self, signature: &[u8], data: &[u8]) -> Run {
        let dir = tempfile::tempdir().unwrap();
        let (s, d) = (dir.path().join("sig.asc"), dir.path().join("data"));
        std::fs::write(&s, signature).unwrap();
        std::fs::write(&d, data).unwrap();
        let mut r = self.run(&["--verify", s.to_str().unwrap(), d.to_str().unwrap()], b"");
        r.ok =
            r.ok && r.status.contains("[GNUPG:] GOODSIG") && r.status.contains("[GNUPG:] VALIDSIG");
        r
    }

    pub fn decrypt(&self, data: &[u8]) -> Run {
        self.run(&["--decrypt"], data)
    }

    pub fn home(&self) -> &Path {
        self.home.path()
    }
}

impl Drop for Gpg {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .arg("--homedir")
            .arg(self.home.path())
            .args(["--kill", "gpg-agent"])
            .status();
    }
}

/// The signed part and the signature of a multipart/signed mail, cut out
/// independently of embargo's own code: from after the first delimiter line
/// to the CRLF before the next one.
pub fn signed_parts(eml: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let msg = mail_parser::MessageParser::default()
        .parse(eml)
        .expect("a mail");
    let ct = mail_parser::MimeHeaders::content_type(msg.root_part()).expect("a Content-Type");
    assert_eq!(
        (ct.ctype(), ct.subtype()),
        ("multipart", Some("signed")),
        "not multipart/signed"
    );
    assert_eq!(ct.attribute("protocol"), Some("application/pgp-signature"));
    let delimiter = format!("--{}", ct.attribute("boundary").unwrap());
    let text = eml;
    let find = |from: usize, pat: &[u8]| {
        text[from..]
            .windows(pat.len())
            .position(|w| w == pat)
            .map(|p| p + from)
    };
    let first = find(0, format!("{delimiter}\r\n").as_bytes()).expect("a first delimiter");
    let start = first + delimiter.len() + 2;
    let end = find(start, format!("\r\n{delimiter}").as_bytes()).expect("a second delimiter");
    let sig_start = find(end, b"-----BEGIN PGP SIGNATURE-----").unwrap();
    let sig_end = find(sig_start, b"-----END PGP SIGNATURE-----").unwrap() + 27;
    (text[start..end].to_vec(), text[sig_start..sig_end].to_vec())
}

/// A PGP/MIME signed mail (RFC 3156) whose text GnuPG signs with `fp`.
pub fn pgp_mime_signed(gpg: &Gpg, fp: &str, headers: &str, text: &str) -> Vec<u8> {
    pgp_mime_signed_part(gpg, fp, headers, "", text)
}

/// As [`pgp_mime_signed`], with extra headers inside the signed part, such
/// as a protected `Subject:` the way Thunderbird signs it.
pub fn pgp_mime_signed_part(
    gpg: &Gpg,
    fp: &str,
    headers: &str,
    part_headers: &str,
    text: &str,
) -> Vec<u8> {
    let part = format!(
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n{part_headers}\r\n{text}"
    );
    let part = part.replace("\r\n", "\n").replace('\n', "\r\n");
    let sig = String::from_utf8(gpg.detach_sign(fp, part.as_bytes(), &["--digest-algo", "SHA256"]))
        .unwrap();
    format!(
        "{headers}MIME-Version: 1.0\r\nContent-Type: multipart/signed; micalg=pgp-sha256;\r\n \
         protocol=\"application/pgp-signature\"; boundary=\"sig-b\"\r\n\r\n\
         This is an OpenPGP/MIME signed message (RFC 4880 and 3156)\r\n--sig-b\r\n{part}\r\n--sig-b\r\n\
         Content-Type: application/pgp-signature; name=\"signature.asc\"\r\n\r\n{}\r\n--sig-b--\r\n",
        sig.replace("\r\n", "\n").replace('\n', "\r\n")
    )
    .into_bytes()
}

/// A PGP/MIME encrypted mail (RFC 3156): `entity` (a MIME part) encrypted to `to`.
pub fn pgp_mime_encrypted(
    gpg: &Gpg,
    to: &str,
    sign_as: Option<&str>,
    headers: &str,
    entity: &str,
) -> Vec<u8> {
    let ct = String::from_utf8(gpg.encrypt(to, entity.as_bytes(), sign_as)).unwrap();
    format!(
        "{headers}MIME-Version: 1.0\r\nContent-Type: multipart/encrypted;\r\n \
         protocol=\"application/pgp-encrypted\"; boundary=\"enc-b\"\r\n\r\n--enc-b\r\n\
         Content-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n--enc-b\r\n\
         Content-Type: application/octet-stream; name=\"encrypted.asc\"\r\n\r\n{}\r\n--enc-b--\r\n",
        ct.replace("\r\n", "\n").replace('\n', "\r\n")
    )
    .into_bytes()
}

/// Headers of a plain report.
pub fn headers(from: &str, subject: &str, id: &str, extra: &str) -> String {
    format!(
        "From: {from}\r\nTo: security@example.org\r\nSubject: {subject}\r\n\
         Date: Tue, 01 Dec 2026 10:00:00 +0000\r\nMessage-ID: <{id}>\r\n{extra}"
    )
}
