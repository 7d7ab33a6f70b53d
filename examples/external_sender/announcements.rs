//! What the external sender sends into the showcase's groups (tutorial part 4): a fixed
//! set of `system_notify` events, then periodic `system_periodic_notify` ones. Each goes
//! through the channel layer its consumer uses, as `LayerHandle::broadcast_event`.

use chanx::layer::{LayerError, Layers};

use super::events::{SystemNotify, SystemPeriodicNotify};

/// One `system_notify` event for a group of the showcase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Announcement {
    /// The alias of the channel layer the group lives on.
    pub alias: &'static str,
    /// The group.
    pub group: &'static str,
    /// The event's payload.
    pub text: &'static str,
}

impl Announcement {
    const fn new(alias: &'static str, group: &'static str, text: &'static str) -> Self {
        Announcement { alias, group, text }
    }

    /// Sends it through `layers`.
    pub async fn send(&self, layers: &Layers) -> Result<(), LayerError> {
        let event = SystemNotify { payload: self.text.to_owned() };
        layers.get(Some(self.alias))?.broadcast_event(&event).groups([self.group]).await
    }
}

/// The fixed set, in the order it is sent: one announcement for each chat and for the
/// notifications, then five analytics events.
pub const ANNOUNCEMENTS: [Announcement; 8] = [
    Announcement::new("chat", "chat_room", "🔔 System announcement: Welcome to the chat!"),
    Announcement::new("queue", "reliable_chat", "🔒 Important: System maintenance scheduled for tonight"),
    Announcement::new("notifications", "notifications", "🚨 Alert: High CPU usage detected on server"),
    Announcement::new("analytics", "analytics", "user_login:john_doe"),
    Announcement::new("analytics", "analytics", "page_view:/dashboard"),
    Announcement::new("analytics", "analytics", "button_click:export_data"),
    Announcement::new("analytics", "analytics", "session_duration:1234"),
    Announcement::new("analytics", "analytics", "error:api_timeout"),
];

/// The layer alias and group of the periodic announcements: the notifications.
pub const PERIODIC: (&str, &str) = ("notifications", "notifications");

/// The text of periodic announcement number `n`.
pub fn periodic_text(n: u64) -> String {
    format!("⏰ Periodic announcement #{n}: all systems running")
}

/// Sends periodic announcement number `n` through `layers`.
pub async fn send_periodic(layers: &Layers, n: u64) -> Result<(), LayerError> {
    let (alias, group) = PERIODIC;
    let event = SystemPeriodicNotify { payload: periodic_text(n) };
    layers.get(Some(alias))?.broadcast_event(&event).groups([group]).await
}
