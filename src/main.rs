use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::Parser;
use tracing_subscriber::EnvFilter;

use embargo::cli::{Cli, Command, LogFormat};
use embargo::clock::SystemClock;
use embargo::config::{self, Loaded, Settings, SourceSettings};
use embargo::core::incident_id::IncidentId;
use embargo::service::{Service, Shutdown};
use embargo::{demo, report, sink, source, store};

fn init_logging(format: LogFormat, quiet: bool) {
    // Commands that print results log only what went wrong, unless RUST_LOG asks.
    let default = if quiet { "error" } else { "info" };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn load(cli: &Cli) -> anyhow::Result<Settings> {
    match config::load(&cli.config) {
        Ok(Loaded { settings, warnings }) => {
            for w in warnings {
                tracing::warn!("{}: {w}", cli.config.display());
            }
            Ok(settings)
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

fn print(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        // `embargo incidents | head` is fine.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("cannot write to standard output"),
    }
}

fn json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    print(&(serde_json::to_string_pretty(value)? + "\n"))
}

async fn serve(cli: &Cli, once: bool) -> anyhow::Result<()> {
    let settings = Arc::new(load(cli)?);
    let store = store::open(&settings.store).await?;
    let _lock = store.lock_ingest().await?;
    let mut source = source::open(&settings.source);
    let sink = sink::open(&settings.sink)?;
    let service = Service::new(settings.clone(), store, Arc::new(SystemClock));
    let stop = shutdown_signal()?;
    if once {
        let (i, s) = service
            .run_once(source.as_mut(), sink.as_ref(), &stop)
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
        if i.deferred > 0 {
            bail!(
                "{} mail(s) could not be read and stay in the source for the next run; see the warnings above",
                i.deferred
            );
        }
        return Ok(());
    }
    let SourceSettings::Maildir { poll_interval, .. } = &settings.source;
    service
        .serve(source.as_mut(), sink.as_ref(), *poll_interval, stop)
        .await;
    Ok(())
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Command::Demo { out } => {
            let summary = demo::run(out).await?;
            print(&demo::render(&summary))?;
        }
        Command::Run { once } => serve(&cli, *once).await?,
        Command::Serve => serve(&cli, false).await?,
        Command::Incidents { json: as_json } => {
            let settings = load(&cli)?;
            let list = store::open(&settings.store).await?.incidents().await?;
            if *as_json {
                json(&list)?;
            } else {
                print(&report::incidents(&list))?;
            }
        }
        Command::Show { id, json: as_json } => {
            let id: IncidentId = id.parse()?;
            let settings = load(&cli)?;
            let Some(record) = store::open(&settings.store).await?.incident(&id).await? else {
                bail!("there is no incident {id}; `embargo incidents` lists them");
            };
            if *as_json {
                json(&record)?;
            } else {
                print(&report::incident(&record))?;
            }
        }
        Command::Quarantine { json: as_json } => {
            let settings = load(&cli)?;
            let list = store::open(&settings.store).await?.quarantined().await?;
            if *as_json {
                json(&list)?;
            } else {
                print(&report::quarantine(&list))?;
            }
        }
        Command::Raw { row } => {
            let settings = load(&cli)?;
            let Some(raw) = store::open(&settings.store)
                .await?
                .raw_message(*row)
                .await?
            else {
                bail!(
                    "there is no stored mail in row {row}; `embargo show ID` and `embargo quarantine` print row numbers"
                );
            };
            std::io::stdout()
                .lock()
                .write_all(&raw)
                .context("cannot write to standard output")?;
        }
        Command::CheckConfig => {
            return Ok(match config::load(&cli.config) {
                Ok(Loaded { warnings, .. }) => {
                    for w in &warnings {
                        println!("{w}");
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
            });
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let quiet = !matches!(cli.command, Command::Run { .. } | Command::Serve);
    init_logging(cli.log_format, quiet);
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
