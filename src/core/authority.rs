//! Who may give which command. A role comes from the roster (SRC member,
//! release manager) or from the incident (commander, Fix Lead, Fix Team).

use serde::Serialize;

use super::command::Command;
use super::incident::Incident;
use super::roster::Roster;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    SrcMember,
    ReleaseManager,
    Commander,
    FixLead,
    FixTeam,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::SrcMember => "SRC member",
            Role::ReleaseManager => "release manager",
            Role::Commander => "incident commander",
            Role::FixLead => "Fix Lead",
            Role::FixTeam => "Fix Team member",
        }
    }
}

/// The roles `email` holds on `incident`.
pub fn roles(email: &str, incident: &Incident, roster: &Roster) -> Vec<Role> {
    let email = email.to_ascii_lowercase();
    let d = &incident.details;
    let mut r = Vec::new();
    if roster.members.iter().any(|m| m.email == email) {
        r.push(Role::SrcMember);
    }
    if roster.release_managers.iter().any(|m| m.email == email) {
        r.push(Role::ReleaseManager);
    }
    if incident.commander.as_deref() == Some(email.as_str()) {
        r.push(Role::Commander);
    }
    if d.lead.as_deref() == Some(email.as_str()) {
        r.push(Role::FixLead);
    }
    if d.team.contains(&email) {
        r.push(Role::FixTeam);
    }
    r
}

use Role::*;

/// The roles that may give a command; the README's table is this one.
pub fn allowed(command: &Command) -> &'static [Role] {
    match command {
        Command::Accept
        | Command::Reject { .. }
        | Command::Duplicate { .. }
        | Command::Lead { .. }
        | Command::Ic { .. }
        | Command::NotSpam => &[SrcMember, Commander],
        Command::Team { .. }
        | Command::Set { .. }
        | Command::Cvss { .. }
        | Command::Severity { .. }
        | Command::Cve { .. }
        | Command::Cwe { .. }
        | Command::Public
        | Command::EmbargoBroken
        | Command::Hold
        | Command::Resume => &[SrcMember, Commander, FixLead],
        Command::Disclose { .. } | Command::Close => &[Commander, FixLead],
        Command::Approve { .. } => &[Commander, FixLead, ReleaseManager],
        Command::Status | Command::Reply { .. } => {
            &[SrcMember, Commander, FixLead, FixTeam, ReleaseManager]
        }
    }
}

pub fn may(roles: &[Role], command: &Command) -> bool {
    allowed(command).iter().any(|r| roles.contains(r))
}
