//! The pure core: values in, decisions out.
//!
//! Nothing here reads a clock, a file, a socket or a database: `now` and
//! whatever the store knows are arguments, and decisions come back as
//! values for the edges to carry out.

pub mod answer;
pub mod authority;
pub mod autoreply;
pub mod backoff;
pub mod batch;
pub mod bounce;
pub mod command;
pub mod command_mail;
pub mod deadline;
pub mod digest;
pub mod embargo_guard;
pub mod event;
pub mod inbound;
pub mod incident;
pub mod incident_id;
pub mod intake;
pub mod lifecycle;
pub mod mail_kind;
pub mod notice_kind;
pub mod relay;
pub mod roster;
pub mod sender_auth;
pub mod severity;
pub mod signature;
pub mod slot;
pub mod status;
pub mod threading;
pub mod timeline;
pub mod versions;
