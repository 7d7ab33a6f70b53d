//! The server-side events of the showcase (tutorial part 4), shared by its consumers,
//! which handle them, and by the external sender, which sends them.

use chanx::message;

/// A system announcement for a group: each showcase consumer shows it in its own way.
#[message(action = "system_notify")]
#[derive(Debug, Clone, PartialEq)]
pub struct SystemNotify {
    /// The announcement.
    pub payload: String,
}

/// A periodic announcement, which only the notifications consumer handles.
#[message(action = "system_periodic_notify")]
#[derive(Debug, Clone, PartialEq)]
pub struct SystemPeriodicNotify {
    /// The announcement.
    pub payload: String,
}
