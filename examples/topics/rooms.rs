//! What the Topics app knows about its rooms: each room's last `seq`, its recent
//! lines and who is present. Kept in this process's memory, as the example's topics
//! run on the default channel layer, which is in memory too; an app spread over
//! several processes would keep it in a shared store instead.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};

use chanx::payload;

/// How many recent lines a room keeps for its newcomers.
pub const HISTORY: usize = 20;

/// One line of a room: who said what.
#[payload]
#[derive(Debug, Clone, PartialEq)]
pub struct ChatLine {
    /// The user who posted it.
    pub user: String,
    /// The text.
    pub text: String,
}

/// A room as its newcomers see it: the `seq` of its last line and its recent lines,
/// the last of which has that `seq` (the one before it `seq - 1`, and so on).
#[payload]
#[derive(Debug, Clone, PartialEq)]
pub struct RoomSnapshot {
    /// The `seq` of the last line posted, 0 before the first.
    pub seq: u64,
    /// The last [`HISTORY`] lines at most, oldest first.
    pub history: Vec<ChatLine>,
}

/// One room.
#[derive(Default)]
struct Room {
    seq: u64,
    history: VecDeque<ChatLine>,
    /// Who is present: each connection's user, by the connection's channel name.
    members: BTreeMap<String, String>,
}

/// Every room, by name.
static ROOMS: Mutex<BTreeMap<String, Room>> = Mutex::new(BTreeMap::new());

fn rooms() -> MutexGuard<'static, BTreeMap<String, Room>> {
    ROOMS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Adds `line` to `room` and returns its `seq`, one more than the room's last.
pub fn post(room: &str, line: ChatLine) -> u64 {
    let mut rooms = rooms();
    let room = rooms.entry(room.to_owned()).or_default();
    room.seq += 1;
    if room.history.len() == HISTORY {
        room.history.pop_front();
    }
    room.history.push_back(line);
    room.seq
}

/// The room's last `seq` and recent lines.
pub fn snapshot(room: &str) -> RoomSnapshot {
    let rooms = rooms();
    let room = rooms.get(room);
    RoomSnapshot {
        seq: room.map_or(0, |room| room.seq),
        history: room.map(|room| room.history.iter().cloned().collect()).unwrap_or_default(),
    }
}

/// Marks the connection `channel` of `user` present in `room`; returns who is present.
pub fn enter(room: &str, channel: &str, user: &str) -> Vec<String> {
    let mut rooms = rooms();
    let room = rooms.entry(room.to_owned()).or_default();
    room.members.insert(channel.to_owned(), user.to_owned());
    present(room)
}

/// Marks the connection `channel` gone from `room`; returns who is still present.
pub fn leave(room: &str, channel: &str) -> Vec<String> {
    let mut rooms = rooms();
    let Some(found) = rooms.get_mut(room) else { return Vec::new() };
    found.members.remove(channel);
    let members = present(found);
    // A room nobody is in and nobody posted to is not worth keeping.
    if found.members.is_empty() && found.seq == 0 {
        rooms.remove(room);
    }
    members
}

/// The users present in `room`, sorted, each once.
fn present(room: &Room) -> Vec<String> {
    let mut users: Vec<String> = room.members.values().cloned().collect();
    users.sort();
    users.dedup();
    users
}
