//! embargo runs a project's security release process by email.
//!
//! How a mail flows, and where each step lives:
//!
//! - [`source`]: Maildir in; a `Source` hands over raw messages by key.
//! - [`parse`]: raw bytes to an [`core::inbound::Inbound`], with mail-parser.
//! - [`core`]: pure decisions: threading, incident ids, the RFC 3834 rules,
//!   the intake decision, the roster. Values in, values out; `now` is an
//!   argument.
//! - [`notice`]: askama templates and MIME assembly for outgoing mail.
//! - [`store`]: SQLite behind the `Store` trait: incidents, messages with
//!   raw bytes, the append-only event log, the outbox, deliveries.
//! - [`sink`]: a `Sink` takes finished mail; the file sink writes `.eml`.
//! - [`service`]: the intake, the scheduler, the sender and `serve`.
//! - [`config`]: the TOML file, checked and converted to domain types once.
//! - [`demo`]: the embedded default, end to end, on demo mail.
//! - [`advisory`]: the CVE record, OSV and CSAF 2.0 built from an incident,
//!   checked against the official schemas.
//! - [`metrics`], [`health`], [`observe`]: what `/metrics` counts, what
//!   `/readyz` judges, and the HTTP endpoints that answer them.

pub mod advisory;
pub mod cli;
pub mod clock;
pub mod config;
pub mod core;
pub mod crypto;
pub mod demo;
pub mod guard;
pub mod health;
pub mod keyring;
pub mod member_command;
pub mod metrics;
pub mod notice;
pub mod observe;
pub mod parse;
pub mod pgp;
pub mod report;
pub mod service;
pub mod sink;
pub mod source;
pub mod store;
pub mod tls;
