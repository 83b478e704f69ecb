use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::Parser;
use tracing_subscriber::EnvFilter;

use embargo::cli::{Cli, Command, KeysCommand, LogFormat};
use embargo::clock::SystemClock;
use embargo::config::{self, Loaded, Settings};
use embargo::core::incident_id::IncidentId;
use embargo::crypto::Crypto;
use embargo::keyring::{self, Keyring};
use embargo::service::progress::{Bar, LogLines, Progress};
use embargo::service::{Service, Shutdown};
use embargo::{demo, pgp, report, sink, source, store};

fn init_logging(format: LogFormat, quiet: bool, bar: bool) {
    // Commands that print results log only what went wrong, unless RUST_LOG
    // asks; under a progress bar, the line per mail is left to the logs.
    let default = match (quiet, bar) {
        (true, _) => "error",
        (false, true) => "info,embargo::service::intake=warn",
        (false, false) => "info",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    // Colour only for a person at a terminal: not in files, journald or CI.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn load(cli: &Cli) -> anyhow::Result<Settings> {
    match config::load(&cli.config) {
        Ok(Loaded {
            mut settings,
            warnings,
        }) => {
            if let Some(ms) = std::env::var("EMBARGO_PAUSE_AFTER_CLAIM_MS")
                .ok()
                .and_then(|v| v.parse().ok())
            {
                tracing::warn!(
                    ms,
                    "EMBARGO_PAUSE_AFTER_CLAIM_MS is set: the sender pauses after claiming mail (crash tests only)"
                );
                settings.outbox.pause_after_claim = Some(std::time::Duration::from_millis(ms));
            }
            for w in warnings {
                tracing::warn!("{}: {w}", cli.config.display());
            }
            Ok(settings)
        }
        Err(diags) if !cli.config.exists() => {
            eprint!("{diags}");
            bail!(
                "no config at {}: pass --config FILE or set EMBARGO_CONFIG (README, Run your own list)",
                cli.config.display()
            )
        }
        Err(diags) => {
            eprint!("{diags}");
            bail!(
                "{} has {} problem(s); fix them, then check again with `embargo --config {} check-config`",
                cli.config.display(),
                diags.errors().count(),
                cli.config.display()
            )
        }
    }
}

/// Reads and checks the keys the config names; the service does not start without them.
fn load_keys(cli: &Cli, settings: &Settings) -> anyhow::Result<Keyring> {
    match keyring::load(settings, jiff::Timestamp::now()) {
        Ok(keys) => {
            for w in &keys.warnings {
                tracing::warn!("{}: {w}", cli.config.display());
            }
            Ok(keys)
        }
        Err(diags) => {
            eprint!("{diags}");
            bail!(
                "the keys named in {} have {} problem(s); fix them, then check again with `embargo --config {} check-config`",
                cli.config.display(),
                diags.errors().count(),
                cli.config.display()
            )
        }
    }
}

/// Stops on SIGINT or SIGTERM.
fn shutdown_signal() -> anyhow::Result<Shutdown> {
    use tokio::signal::unix::{SignalKind, signal};
    let (tx, rx) = tokio::sync::watch::channel(false);
    let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    tokio::spawn(async move {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: finishing the mail in hand, then stopping"),
            _ = term.recv() => tracing::info!("SIGTERM: finishing the mail in hand, then stopping"),
        }
        let _ = tx.send(true);
        // The receiver lives as long as the service; so must the sender.
        std::future::pending::<()>().await;
    });
    Ok(rx)
}

/// Writes `text` to standard output, ending with a newline (a shell prompt
/// after it starts on its own line).
fn print(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let end: &[u8] = if text.is_empty() || text.ends_with('\n') {
        b""
    } else {
        b"\n"
    };
    match out
        .write_all(text.as_bytes())
        .and_then(|()| out.write_all(end))
        .and_then(|()| out.flush())
    {
        // `embargo incidents | head` is fine.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("cannot write to standard output"),
    }
}

/// A time given on the command line: RFC 3339, or a date (its start, UTC).
fn instant(option: &str, text: &str) -> anyhow::Result<jiff::Timestamp> {
    if let Ok(at) = text.parse::<jiff::Timestamp>() {
        return Ok(at);
    }
    let date: jiff::civil::Date = text.parse().with_context(|| {
        format!(
            "{option} {text:?} is neither a date nor an RFC 3339 time: write it like 2026-12-08 \
             or 2026-12-08T15:59:59Z"
        )
    })?;
    Ok(jiff::tz::TimeZone::UTC.to_timestamp(date.to_datetime(jiff::civil::Time::midnight()))?)
}

fn json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    print(&(serde_json::to_string_pretty(value)? + "\n"))
}

fn pass_summary(i: &embargo::service::IngestReport, s: &embargo::service::SendReport) -> String {
    let opened = if i.opened.is_empty() {
        "no new incident".to_owned()
    } else {
        let ids: Vec<String> = i.opened.iter().map(ToString::to_string).collect();
        format!("new: {}", ids.join(", "))
    };
    let mut line = format!(
        "{} mail(s) read: {} filed ({opened}), {} duplicate(s), {} quarantined",
        i.seen, i.filed, i.duplicates, i.quarantined
    );
    if i.deferred > 0 {
        line.push_str(&format!(", {} left for the next run", i.deferred));
    }
    line.push_str(&format!(
        "; {} mail(s) sent, {} to retry, {} failed\n",
        s.sent, s.retrying, s.failed
    ));
    line
}

async fn serve(cli: &Cli, once: bool) -> anyhow::Result<()> {
    let settings = Arc::new(load(cli)?);
    if let Some(problem) = settings.password_problems().first() {
        bail!("{problem}");
    }
    let keys = load_keys(cli, &settings)?;
    let store = store::open(&settings.store).await?;
    // `serve` takes the ingest lease itself, and waits for it as a standby
    // replica; a single pass cannot wait.
    let lock = if once {
        Some(store.lock_ingest().await?)
    } else {
        None
    };
    // Bound before the service starts: a taken port stops `serve` at once
    // rather than leave it running unmonitored.
    let observe = match settings.observe.filter(|_| !once) {
        Some(addr) => Some(embargo::observe::bind(addr).await?),
        None => None,
    };
    let mut source = source::open(&settings.source);
    let sink = sink::open(&settings.sink)?;
    // A backlog shows its progress: a bar for a person at a terminal, a
    // log line every few seconds for a service's log.
    let progress: Arc<dyn Progress> = if once && std::io::stderr().is_terminal() {
        Arc::new(Bar::new())
    } else {
        Arc::new(LogLines::every(std::time::Duration::from_secs(5)))
    };
    let service = Service::new(
        settings.clone(),
        store,
        Arc::new(SystemClock),
        Crypto::new(keys.pgp),
    )
    .with_progress(progress);
    let stop = shutdown_signal()?;
    if let Some(mut lock) = lock {
        let (i, s) = service
            .run_once(source.as_mut(), sink.as_ref(), &stop, &mut lock)
            .await?;
        tracing::info!(
            seen = i.seen,
            filed = i.filed,
            opened = i.opened.len(),
            duplicates = i.duplicates,
            quarantined = i.quarantined,
            deferred = i.deferred,
            sent = s.sent,
            retrying = s.retrying,
            failed = s.failed,
            "pass done"
        );
        // A person who ran one pass by hand sees what it did, logs or not.
        print(&pass_summary(&i, &s))?;
        if i.deferred > 0 {
            bail!(
                "{} mail(s) could not be read and stay in the source for the next run; see the warnings above",
                i.deferred
            );
        }
        return Ok(());
    }
    let check = async {
        if let Err(e) = sink.check().await {
            // Not fatal: mail waits in the outbox until the server takes it.
            tracing::error!(error = %e, "the way out does not work yet; mail waits in the outbox");
        }
    };
    // A task of its own: the probes are answered while a pass is busy, and
    // until the service has finished the mail in hand after a stop signal.
    let (observed, observe_until) = tokio::sync::watch::channel(false);
    let observing = observe.map(|listener| {
        let observer = embargo::observe::Observer::new(
            service.metrics().clone(),
            service.store().clone(),
            Arc::new(SystemClock),
            settings.source.poll_interval(),
        );
        tokio::spawn(embargo::observe::serve(
            listener,
            Arc::new(observer),
            observe_until,
        ))
    });
    let serving = service.serve(
        source.as_mut(),
        sink.as_ref(),
        settings.source.poll_interval(),
        stop.clone(),
    );
    tokio::join!(check, serving);
    let _ = observed.send(true);
    if let Some(task) = observing {
        let _ = task.await;
    }
    Ok(())
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Command::Demo { out } => demo_command(out).await?,
        Command::Run { once } => serve(&cli, *once).await?,
        Command::Serve => serve(&cli, false).await?,
        Command::Migrate => migrate(&cli).await?,
        Command::Export { out } => export(&cli, out.as_deref()).await?,
        Command::Import { file } => import(&cli, file).await?,
        Command::Incidents {
            json: as_json,
            spam,
        } => incidents(&cli, *as_json, *spam).await?,
        Command::Show { id, json: as_json } => show(&cli, id, *as_json).await?,
        Command::Quarantine { json: as_json } => quarantine(&cli, *as_json).await?,
        Command::Raw { row } => raw(&cli, *row).await?,
        Command::Command {
            id,
            lines,
            attach,
            sign_with,
            key_file,
            from,
            to,
            out,
        } => member_command(
            &cli,
            MemberCommand {
                id,
                lines,
                attach,
                sign_with: sign_with.as_deref(),
                key_file: key_file.as_deref(),
                from: from.as_deref(),
                to: to.as_deref(),
                out: out.as_deref(),
            },
        )?,
        Command::Keys(KeysCommand::Generate { uid, out }) => generate_key(uid, out)?,
        Command::Keys(KeysCommand::Show { json: as_json }) => show_keys(&cli, *as_json)?,
        Command::NextSlot {
            after,
            json: as_json,
        } => next_slot(&cli, after.as_deref(), *as_json)?,
        Command::Schedule { json: as_json, at } => schedule(&cli, *as_json, at.as_deref()).await?,
        Command::Preview { id, kind, at } if kind == "advisory" => {
            advisory(&cli, id, None, None, at.as_deref(), true).await?
        }
        Command::Preview { id, kind, .. } => preview(&cli, id, kind).await?,
        Command::Advisory {
            id,
            format,
            out,
            at,
        } => {
            advisory(
                &cli,
                id,
                format.as_deref(),
                out.as_deref(),
                at.as_deref(),
                false,
            )
            .await?
        }
        Command::Cvss {
            vector,
            json: as_json,
        } => cvss(vector, *as_json)?,
        Command::Completions { shell } => {
            let script = embargo::cli::completions(*shell);
            let mut out = std::io::stdout().lock();
            match out.write_all(&script).and_then(|()| out.flush()) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    return Err(e).context("cannot write to standard output");
                }
                _ => {}
            }
        }
        Command::Man { out } => {
            let pages = embargo::cli::write_man_pages(out)
                .with_context(|| format!("cannot write the man pages to {}", out.display()))?;
            print(&format!(
                "{} man page(s) in {}\n",
                pages.len(),
                out.display()
            ))?;
        }
        Command::CheckConfig { connect } => {
            let checked = check_config(&cli);
            if *connect && checked == ExitCode::SUCCESS {
                return check_servers(&cli).await;
            }
            return Ok(checked);
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn demo_command(out: &std::path::Path) -> anyhow::Result<()> {
    let summary = demo::run(out).await?;
    print(&demo::render(&summary))
}

async fn migrate(cli: &Cli) -> anyhow::Result<()> {
    let settings = load(cli)?;
    let (store, before) = match store::open_with(&settings.store, store::Schema::Current).await {
        Ok(s) => {
            let version = s.schema_version().await?;
            (s, version)
        }
        Err(store::StoreError::SchemaBehind { found, .. }) => (
            store::open_with(&settings.store, store::Schema::Migrate).await?,
            found,
        ),
        Err(e) => return Err(e.into()),
    };
    let after = store.schema_version().await?;
    if before == after {
        print(&format!("schema up to date at version {after}\n"))
    } else {
        print(&format!(
            "schema migrated from version {before} to {after}\n"
        ))
    }
}

async fn export(cli: &Cli, out: Option<&std::path::Path>) -> anyhow::Result<()> {
    let settings = load(cli)?;
    let store = store::open(&settings.store).await?;
    let written = match out {
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
                .with_context(|| {
                    format!(
                        "cannot create {}: choose a new file; an export is never written over another",
                        path.display()
                    )
                })?;
            let mut w = std::io::BufWriter::new(file);
            store::dump::export(store.as_ref(), &mut w).await?
        }
        None => {
            let mut w = std::io::BufWriter::new(std::io::stdout());
            store::dump::export(store.as_ref(), &mut w).await?
        }
    };
    tracing::info!(rows = written.rows, "exported");
    Ok(())
}

async fn import(cli: &Cli, file: &std::path::Path) -> anyhow::Result<()> {
    let settings = load(cli)?;
    let store = store::open(&settings.store).await?;
    let rows = if file.as_os_str() == "-" {
        store::dump::import(store.as_ref(), std::io::BufReader::new(std::io::stdin())).await?
    } else {
        let f =
            std::fs::File::open(file).with_context(|| format!("cannot read {}", file.display()))?;
        store::dump::import(store.as_ref(), std::io::BufReader::new(f)).await?
    };
    let counts = store.counts().await?;
    print(&format!(
        "imported {rows} rows: {} incident(s), {} message(s), {} quarantined, {} outbox mail(s)\n",
        counts.incidents,
        counts.messages,
        counts.quarantined,
        counts.outbox_pending + counts.outbox_sent + counts.outbox_failed
    ))
}

async fn incidents(cli: &Cli, as_json: bool, spam: bool) -> anyhow::Result<()> {
    let settings = load(cli)?;
    let mut list = store::open(&settings.store).await?.incidents().await?;
    let all = list.len();
    // Spam would bury the reports: it has a listing of its own.
    list.retain(|s| (s.incident.state == embargo::core::incident::State::Spam) == spam);
    if as_json {
        json(&list)
    } else if spam {
        print(&report::spam(&list))
    } else {
        let mut text = report::incidents(&list);
        if all > list.len() {
            text.push_str(&format!(
                "({} filed as spam are not listed: `embargo incidents --spam`)\n",
                all - list.len()
            ));
        }
        print(&text)
    }
}

async fn show(cli: &Cli, id: &str, as_json: bool) -> anyhow::Result<()> {
    let id: IncidentId = id.parse()?;
    let settings = load(cli)?;
    let Some(record) = store::open(&settings.store).await?.incident(&id).await? else {
        bail!("there is no incident {id}; `embargo incidents` lists them");
    };
    if as_json {
        json(&record)
    } else {
        print(&report::incident(&record))
    }
}

async fn quarantine(cli: &Cli, as_json: bool) -> anyhow::Result<()> {
    let settings = load(cli)?;
    let list = store::open(&settings.store).await?.quarantined().await?;
    if as_json {
        json(&list)
    } else {
        print(&report::quarantine(&list))
    }
}

async fn raw(cli: &Cli, row: i64) -> anyhow::Result<()> {
    let settings = load(cli)?;
    let Some(raw) = store::open(&settings.store).await?.raw_message(row).await? else {
        bail!(
            "there is no stored mail in row {row}; `embargo show ID` and `embargo quarantine` print row numbers"
        );
    };
    std::io::stdout()
        .lock()
        .write_all(&raw)
        .context("cannot write to standard output")
}

fn show_keys(cli: &Cli, as_json: bool) -> anyhow::Result<()> {
    let settings = load(cli)?;
    let keys = load_keys(cli, &settings)?;
    if as_json {
        json(&keys.report)
    } else {
        print(&report::keys(&keys.report))
    }
}

fn next_slot(cli: &Cli, after: Option<&str>, as_json: bool) -> anyhow::Result<()> {
    let after = match after {
        Some(a) => instant("--after", a)?,
        None => jiff::Timestamp::now(),
    };
    // Without a config file, the process's own default: 16:00 UTC, no blackout.
    let rules = match config::load_schedule(&cli.config) {
        Ok(rules) => rules,
        Err(diags) => {
            eprint!("{diags}");
            bail!("fix the [schedule] of {} first", cli.config.display());
        }
    };
    let slot = embargo::core::slot::next_slot(after, &rules);
    if as_json {
        json(&serde_json::json!({ "after": after.to_string(), "slot": slot.to_string() }))
    } else {
        print(&format!("{slot}\n"))
    }
}

async fn schedule(cli: &Cli, as_json: bool, at: Option<&str>) -> anyhow::Result<()> {
    let now = match at {
        None => jiff::Timestamp::now(),
        Some(at) => instant("--at", at)?,
    };
    let settings = load(cli)?;
    let store = store::open(&settings.store).await?;
    let rules = embargo::core::timeline::Rules {
        distributors: !settings.distributors.is_empty(),
        slots: &settings.schedule,
    };
    let mut planned = Vec::new();
    // One unreadable incident is shown as such; it hides no other's plan.
    let mut unreadable = Vec::new();
    let mut after = None;
    loop {
        let page = store.open_incidents_after(after.as_ref(), 500).await?;
        let Some(last) = page.last else { break };
        after = Some(last);
        for (id, e) in page.unreadable {
            unreadable.push((id.to_string(), e.to_string()));
        }
        for incident in page.incidents {
            for p in embargo::core::timeline::plan(&incident, &rules, now) {
                planned.push((incident.id.to_string(), p));
            }
        }
    }
    let outbox = store.outbox().await?;
    for (id, p) in &mut planned {
        if let Some(went) = p
            .queued
            .as_deref()
            .and_then(|key| report::delivery(id, key, &outbox))
        {
            p.state = went;
        }
    }
    let waiting: Vec<_> = outbox
        .into_iter()
        .filter(|m| {
            matches!(
                m.state,
                store::OutboxState::Pending | store::OutboxState::Sending
            )
        })
        .collect();
    if as_json {
        let planned: Vec<_> = planned
            .iter()
            .map(|(id, p)| serde_json::json!({ "incident": id, "notice": p.notice, "at": p.at, "state": p.state, "to": p.to }))
            .collect();
        let unreadable: Vec<_> = unreadable
            .iter()
            .map(|(id, e)| serde_json::json!({ "incident": id, "error": e }))
            .collect();
        json(
            &serde_json::json!({ "planned": planned, "outbox": waiting, "unreadable": unreadable }),
        )
    } else {
        print(&report::schedule(&planned, &waiting, &unreadable))
    }
}

async fn preview(cli: &Cli, id: &str, kind: &str) -> anyhow::Result<()> {
    let id: IncidentId = id.parse()?;
    let kind: embargo::core::notice_kind::NoticeKind = kind.parse().map_err(anyhow::Error::msg)?;
    let settings = load(cli)?;
    let keys = load_keys(cli, &settings)?;
    // The log too: the CSAF's revision history is read from it.
    let Some(record) = store::open(&settings.store).await?.incident(&id).await? else {
        bail!("there is no incident {id}; `embargo incidents` lists them");
    };
    let crypto = Crypto::new(keys.pgp);
    let composer = embargo::notice::Composer::new(&settings, crypto.sealer.as_ref());
    let notice = composer.notice_text(
        &record.incident,
        &record.events,
        kind,
        jiff::Timestamp::now(),
    )?;
    let mut out = format!("Subject: {}\n", notice.subject);
    for a in &notice.attachments {
        out.push_str(&format!(
            "Attachment: {} ({}, {} bytes)\n",
            a.name,
            a.content_type,
            a.bytes.len()
        ));
    }
    out.push('\n');
    out.push_str(&notice.text);
    if let Some(shortfall) = &notice.advisory_shortfall {
        out.push_str(&format!("\n\n{shortfall}"));
    }
    print(&out)
}

/// `embargo advisory` and `embargo preview ID advisory`: the documents
/// that pass their schema are written; what is missing or invalid is
/// listed, and then the command fails.
async fn advisory(
    cli: &Cli,
    id: &str,
    format: Option<&str>,
    out: Option<&std::path::Path>,
    at: Option<&str>,
    preview: bool,
) -> anyhow::Result<()> {
    use embargo::advisory::{self, Format};
    let id: IncidentId = id.parse()?;
    let format = match format {
        None => None,
        Some(f) => Some(
            Format::parse(f)
                .with_context(|| format!("{f:?} is not a format: use cve, osv or csaf"))?,
        ),
    };
    let now = match at {
        None => jiff::Timestamp::now(),
        Some(at) => instant("--at", at)?,
    };
    let settings = load(cli)?;
    let Some(publisher) = &settings.advisory else {
        bail!(
            "{} has no [advisory]: add it (vendor, product, cna_org_id, cna_short_name, \
             osv_prefix, announcement_url, publisher_namespace; see config/embargo.toml)",
            cli.config.display()
        );
    };
    let Some(record) = store::open(&settings.store).await?.incident(&id).await? else {
        bail!("there is no incident {id}; `embargo incidents` lists them");
    };
    if format == Some(Format::Osv) && (publisher.ecosystem.is_none() || publisher.package.is_none())
    {
        bail!(
            "no OSV record without a package: set [advisory] ecosystem and package in {}",
            cli.config.display()
        );
    }
    let state = record.incident.state;
    if (state.is_final() && state != embargo::core::incident::State::Closed)
        || state == embargo::core::incident::State::Spam
    {
        bail!("{id} is {state}: there is no advisory to publish for it");
    }
    let checked = advisory::checked(&record.incident, &record.events, publisher, format, now);
    let mut shown = String::new();
    for doc in &checked.documents {
        match out {
            Some(dir) => {
                // Before the announcement these are embargoed: a directory
                // and files for their writer only, like `embargo command
                // --out`; written beside and renamed into place, so that a
                // link planted under the name is replaced, not followed.
                use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(dir)
                    .with_context(|| format!("cannot make {}", dir.display()))?;
                let path = dir.join(&doc.file_name);
                let part = dir.join(format!(".{}.{}.part", doc.file_name, std::process::id()));
                let written = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&part)
                    .and_then(|mut f| f.write_all(doc.text().as_bytes()))
                    .and_then(|()| std::fs::rename(&part, &path));
                if let Err(e) = written {
                    let _ = std::fs::remove_file(&part);
                    return Err(e).with_context(|| format!("cannot write {}", path.display()));
                }
                eprintln!("wrote {} ({})", path.display(), doc.format.title());
            }
            None if preview => {
                shown.push_str(&format!(
                    "== {} ({}, valid against the official schema)\n{}\n",
                    doc.file_name,
                    doc.format.title(),
                    doc.text()
                ));
            }
            None => shown.push_str(&doc.text()),
        }
    }
    if !shown.is_empty() {
        print(&shown)?;
    }
    if !checked.problems.is_empty() {
        bail!("{}", checked.problems.join("\n"));
    }
    Ok(())
}

fn cvss(vector: &str, as_json: bool) -> anyhow::Result<()> {
    let s = embargo::core::severity::from_vector(vector)?;
    let policy = embargo::core::severity::release_policy(s.rating);
    if as_json {
        json(&serde_json::json!({
            "score": s.score,
            "severity": s.rating,
            "vector": s.vector,
            "policy": policy,
        }))
    } else {
        print(&format!(
            "{:.1} {}\n{}\n",
            s.score.unwrap_or_default(),
            s.rating,
            policy.summary
        ))
    }
}

/// Every problem in the config and in the keys it names, at once.
fn check_config(cli: &Cli) -> ExitCode {
    let mut return_paths = None;
    let checked = config::load(&cli.config).and_then(|Loaded { settings, warnings }| {
        return_paths = Some(settings.return_path_note());
        let passwords = settings.password_problems();
        match keyring::load(&settings, jiff::Timestamp::now()) {
            Ok(keys) if passwords.is_empty() => Ok(warnings
                .into_iter()
                .chain(keys.warnings)
                .collect::<Vec<_>>()),
            result => {
                let mut all = config::Diagnostics(warnings);
                match result {
                    Ok(keys) => all.0.extend(keys.warnings),
                    Err(problems) => all.0.extend(problems.0),
                }
                for p in passwords {
                    let (path, message) = p.split_once(": ").unwrap_or(("", &p));
                    all.error(path, message);
                }
                Err(all)
            }
        }
    });
    match checked {
        Ok(warnings) => {
            for w in &warnings {
                println!("{w}");
            }
            if let Some(note) = &return_paths {
                println!("{note}");
            }
            println!(
                "{}: OK ({} warning(s))",
                cli.config.display(),
                warnings.len()
            );
            ExitCode::SUCCESS
        }
        Err(diags) => {
            print!("{diags}");
            println!(
                "{}: {} error(s), {} warning(s)",
                cli.config.display(),
                diags.errors().count(),
                diags.warnings().count()
            );
            ExitCode::FAILURE
        }
    }
}

/// Connects to the source and the sink as `serve` would, and says what to
/// fix when one of them fails.
async fn check_servers(cli: &Cli) -> anyhow::Result<ExitCode> {
    let settings = load(cli)?;
    let mut source = source::open(&settings.source);
    let sink = sink::open(&settings.sink)?;
    let mut failed = false;
    match source.check().await {
        Ok(()) => println!("source {}: OK", source.name()),
        Err(e) => {
            println!("source: {e}");
            failed = true;
        }
    }
    source.close().await;
    match sink.check().await {
        Ok(()) => println!("sink: OK"),
        Err(e) => {
            println!("sink: {e}");
            failed = true;
        }
    }
    // SQLite would be created by opening it; only a server is checked.
    if let config::StoreSettings::Postgres { .. } = &settings.store {
        match store::open(&settings.store).await {
            Ok(s) => println!("store: OK (schema version {})", s.schema_version().await?),
            Err(e) => {
                println!("store: {e}");
                failed = true;
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

struct MemberCommand<'a> {
    id: &'a str,
    lines: &'a [String],
    attach: &'a [std::path::PathBuf],
    sign_with: Option<&'a str>,
    key_file: Option<&'a std::path::Path>,
    from: Option<&'a str>,
    to: Option<&'a str>,
    out: Option<&'a std::path::Path>,
}

/// `embargo command`: usually run on a member's own machine, where the
/// service's config may not be; what it can tell (the list's address, who
/// the key belongs to, the list key's fingerprint) it takes from there.
fn member_command(cli: &Cli, c: MemberCommand<'_>) -> anyhow::Result<()> {
    use embargo::member_command as mc;
    let id: IncidentId =
        c.id.parse()
            .with_context(|| format!("{:?} is not an incident id (like EMB-2026-0007)", c.id))?;
    // No config is fine on a member's machine; a broken one is not, for it
    // is what tells the list key apart from the member's.
    let settings = match config::load(&cli.config) {
        Ok(loaded) => Some(loaded.settings),
        Err(_) if !cli.config.exists() => None,
        Err(diags) => {
            eprint!("{diags}");
            bail!(
                "{} has problems: fix them (embargo check-config), or point --config at nothing",
                cli.config.display()
            );
        }
    };
    let list_cert = settings
        .as_ref()
        .and_then(|s| pgp::load_certs(&s.list.key_file).ok()?.into_iter().next());
    let list_fp = list_cert.as_ref().map(|c| c.fingerprint().to_hex());
    let key = match c.key_file {
        Some(path) => Some(pgp::load_secret(path)?),
        None => None,
    };
    let signer = match (&key, c.sign_with) {
        (Some(cert), _) => cert.fingerprint().to_hex(),
        (None, Some(k)) => embargo::core::roster::normalize_fingerprint(k).unwrap_or(k.to_owned()),
        (None, None) => {
            bail!("say which key signs: --sign-with KEY (your GnuPG) or --key-file FILE")
        }
    };
    if let Some(s) = &settings
        && (list_fp
            .as_deref()
            .is_some_and(|fp| fp.eq_ignore_ascii_case(&signer))
            || s.list
                .own_addresses()
                .iter()
                .any(|a| a.eq_ignore_ascii_case(signer.trim().trim_matches(['<', '>']))))
    {
        bail!("{signer} is the list's own key: commands are signed by a roster member's own key");
    }
    let to = match (c.to, &settings) {
        (Some(to), _) => to.to_owned(),
        (None, Some(s)) => s.list.security_address.clone(),
        (None, None) => bail!(
            "no config at {} to take the list's address from: give it with --to security@…",
            cli.config.display()
        ),
    };
    // GnuPG finds a key by its address as well as by its fingerprint: an
    // address given to --sign-with names the member too. The signature,
    // not this From, is what the list checks.
    let by_address = || {
        c.sign_with
            .filter(|k| key.is_none() && k.contains('@'))
            .map(|k| k.trim().trim_matches(['<', '>']))
            .map(|a| {
                settings
                    .as_ref()
                    .and_then(|s| s.roster.person(a))
                    .map_or_else(|| a.to_owned(), |m| m.email.clone())
            })
    };
    let member = settings
        .as_ref()
        .and_then(|s| s.roster.person_by_fingerprint(&signer))
        .map(|m| m.email.clone())
        .or_else(by_address);
    let from = match (c.from, member) {
        (Some(from), _) => from.to_owned(),
        (None, Some(m)) => m,
        (None, None) => bail!("give your address as the roster has it: --from you@…"),
    };
    // Arguments are command lines only: a stray word would otherwise become
    // the text of an /approve, replacing the notice's description.
    if let Some(stray) = c.lines.iter().find(|l| !l.trim_start().starts_with('/')) {
        bail!(
            "{stray:?} is not a command: each argument is one command line; write other text, \
             such as an /approve text, on standard input"
        );
    }
    let text = if c.lines.is_empty() {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .context("cannot read the commands from standard input")?;
        text
    } else {
        mc::command_text(&id, c.lines)
    };
    let attachments = c
        .attach
        .iter()
        .map(|p| mc::attachment(p))
        .collect::<Result<Vec<_>, _>>()?;
    let now = jiff::Timestamp::now();
    let mail = mc::build(&id, &from, &to, &text, &attachments, now, |data| {
        let sig = match &key {
            Some(cert) => {
                use embargo::crypto::Sealer;
                pgp::Pgp::new(cert.clone(), Vec::new(), Vec::new()).sign(data, now)?
            }
            None => mc::gpg_sign(&signer, data)?,
        };
        // Whatever name the key was asked by, the list key (or one of
        // its subkeys) never signs a member's command.
        if list_cert
            .as_ref()
            .is_some_and(|list| pgp::made_by(&sig.armored, list))
        {
            return Err(embargo::crypto::CryptoError::Sign(
                "that key is the list's own key: commands are signed by a roster member's own key"
                    .to_owned(),
            ));
        }
        Ok(sig)
    })?;
    match c.out {
        Some(path) => {
            use std::os::unix::fs::OpenOptionsExt;
            // The commands may be embargoed: readable by their author only.
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .with_context(|| {
                    format!("cannot create {} (it must not exist yet)", path.display())
                })?;
            file.write_all(&mail)?;
        }
        None => std::io::stdout().write_all(&mail)?,
    }
    Ok(())
}

fn generate_key(uid: &str, out: &std::path::Path) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let key = pgp::generate(uid, jiff::Timestamp::now())?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(out)
        .with_context(|| {
            format!(
                "cannot create {} (an existing key is never overwritten)",
                out.display()
            )
        })?;
    file.write_all(&pgp::secret_armored(&key))
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", out.display()))?;
    eprintln!(
        "Wrote the secret key {} to {} (mode 600). Name it in [list] key_file; publish the public key below.",
        key.fingerprint(),
        out.display()
    );
    print(&String::from_utf8_lossy(&pgp::public_armored(&key)))
}

/// Two malloc arenas, not one per thread: the batch is what memory holds,
/// not what each of a dozen threads once freed.
fn cap_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; called before any
    // other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

fn main() -> ExitCode {
    cap_malloc_arenas();
    let cli = Cli::parse();
    let quiet = !matches!(cli.command, Command::Run { .. } | Command::Serve);
    let bar = matches!(cli.command, Command::Run { once: true }) && std::io::stderr().is_terminal();
    init_logging(cli.log_format, quiet, bar);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
