//! `credentials(...)`: every location, with and without a description, a trailing comma.

use chanx::prelude::*;
use chanx::{Channel, Credential, CredentialLocation};

#[derive(Default)]
pub struct Secure;

#[channel(
    name = "secure",
    credentials(
        query("token", "Access token"),
        header("Authorization", "Bearer token"),
        cookie("sessionid"),
    ),
    tags("auth")
)]
impl Secure {
    #[ws_handler]
    async fn ping(&mut self, _msg: PingMessage) -> PongMessage {
        PongMessage
    }
}

impl Consumer for Secure {}

fn main() {
    let credential = |name, location, description| Credential { name, location, description };
    assert_eq!(
        Secure::meta().credentials,
        [
            credential("token", CredentialLocation::Query, Some("Access token")),
            credential("Authorization", CredentialLocation::Header, Some("Bearer token")),
            credential("sessionid", CredentialLocation::Cookie, None),
        ]
    );
}
