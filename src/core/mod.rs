//! The pure core: values in, decisions out.
//!
//! Nothing here reads a clock, a file, a socket or a database: `now` and
//! whatever the store knows are arguments, and decisions come back as
//! values for the edges to carry out.

pub mod autoreply;
pub mod event;
pub mod inbound;
pub mod incident;
pub mod incident_id;
pub mod intake;
pub mod mail_kind;
pub mod roster;
pub mod signature;
pub mod threading;
