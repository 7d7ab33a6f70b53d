use chanx::prelude::*;

#[derive(Default)]
pub struct Kinds;

// Every bad entry is reported, and the keys after `credentials` are still checked.
#[channel(
    credentials(
        body("token"),
        query,
        header(),
        cookie = "session",
        query(token),
        header(""),
        query("token", "Access token", "extra"),
    ),
    bogus = 1
)]
impl Kinds {
    #[ws_handler]
    async fn ping(&mut self, _msg: PingMessage) {}
}

#[derive(Default)]
pub struct Duplicates;

#[channel(
    credentials(query("token"), header("X-Api-Key"), query("token"), header("x-api-key"), cookie("token")),
    credentials(cookie("session"))
)]
impl Duplicates {
    #[ws_handler]
    async fn ping(&mut self, _msg: PingMessage) {}
}

impl Consumer for Kinds {}

impl Consumer for Duplicates {}

fn main() {}
