//! camelCase on the wire (`Settings::camelize`, `#[channel(camelize)]`), as Chanx 2.13
//! camelizes: replies, errors (with a snake_case `loc`), completion frames, group
//! broadcasts in each member's own casing, events, topic frames and the authentication
//! frame, in-process and over a real socket; and the AsyncAPI document that follows it.

mod common;

use axum::{Extension, Router};
use chanx::asyncapi::{AsyncApi, AsyncApiError};
use chanx::layer::Layers;
use chanx::prelude::*;
use chanx::testing::{TestClient, TestError};
use chanx::{Channel, Settings};
use common::{Client, serve};
use serde_json::{Value, json};

#[payload]
pub struct Item {
    pub item_id: u32,
}

#[payload]
pub struct Profile {
    pub user_name: String,
    #[serde(default)]
    pub api_key: Option<String>,
    #[serde(default)]
    pub nested_items: Vec<Item>,
}

/// A profile to store.
#[message(action = "update_profile")]
pub struct UpdateProfile {
    pub payload: Profile,
}

/// The stored profile.
#[message(action = "profile_updated")]
pub struct ProfileUpdated {
    pub payload: Profile,
}

#[payload]
pub struct Said {
    pub said_by: String,
    pub said_text: String,
}

/// Something to say to the room.
#[message(action = "say")]
pub struct Say {
    pub payload: Said,
}

/// What the room hears.
#[message(action = "room_said")]
pub struct RoomSaid {
    pub payload: Said,
}

/// A server-side event, answered to the client.
#[message(action = "profile_event")]
pub struct ProfileEvent {
    pub payload: Profile,
}

/// A chat room topic.
pub struct RoomTopic {
    pub room: String,
}

#[topic(pattern = "room:{room}")]
impl RoomTopic {
    #[ws_handler]
    async fn say(&mut self, msg: Say) -> RoomSaid {
        RoomSaid { payload: msg.payload }
    }
}

impl Topic for RoomTopic {
    async fn on_subscribe(&mut self, cx: &mut Context) -> chanx::Result<()> {
        let said = Said { said_by: "server".into(), said_text: format!("welcome to {}", self.room) };
        cx.send_message(RoomSaid { payload: said }).await
    }
}

/// A consumer with the handlers every one here has: echo a profile, say to the room,
/// answer an event. (`#[channel]` must see the handlers, so the whole impl is generated.)
macro_rules! consumer {
    ($(#[$doc:meta])* $ty:ident, $($args:tt)*) => {
        $(#[$doc])*
        #[derive(Default)]
        pub struct $ty;

        #[channel($($args)*)]
        impl $ty {
            #[ws_handler]
            async fn update_profile(&mut self, msg: UpdateProfile) -> ProfileUpdated {
                ProfileUpdated { payload: msg.payload }
            }

            #[ws_handler]
            async fn say(&mut self, msg: Say, cx: &mut Context) -> chanx::Result<()> {
                cx.broadcast_message(RoomSaid { payload: msg.payload }).await
            }

            #[event_handler]
            async fn on_profile(&mut self, event: ProfileEvent) -> ProfileUpdated {
                ProfileUpdated { payload: event.payload }
            }
        }

        impl Consumer for $ty {}
    };
}

consumer!(
    /// Follows the app's setting.
    AppConsumer, name = "app", groups("room"), topics(RoomTopic)
);
consumer!(
    /// Always camelCase.
    CamelConsumer, name = "camel", camelize, groups("room")
);
consumer!(
    /// Never camelCase, whatever the app says.
    SnakeConsumer, name = "snake", camelize = false, groups("room")
);

/// Refuses everyone.
#[derive(Default)]
pub struct Refusing;

#[channel(name = "refusing", camelize)]
impl Refusing {}

impl Consumer for Refusing {
    async fn authenticate(&mut self, _cx: &mut Context) -> Result<(), AuthError> {
        Err(AuthError::new(403).with_detail("no_entry"))
    }
}

fn profile_payload_camel() -> Value {
    json!({"userName": "ann", "apiKey": "k_1", "nestedItems": [{"itemId": 7}]})
}

fn client<C: Consumer + Default>(settings: &Settings) -> TestClient {
    TestClient::builder().settings(settings.clone()).connect::<C>()
}

#[test]
fn the_consts_follow_the_attribute() {
    assert_eq!(AppConsumer::CAMELIZE, None);
    assert_eq!(CamelConsumer::CAMELIZE, Some(true));
    assert_eq!(SnakeConsumer::CAMELIZE, Some(false));
}

#[tokio::test]
async fn a_camelizing_connection_takes_and_gives_camel_case() {
    let settings = Settings::default().camelize(true).send_completion(true);
    let mut client = client::<AppConsumer>(&settings);
    let frame = json!({"action": "update_profile", "payload": profile_payload_camel(), "ref": "r_1"});
    client.send_json(&frame).await.unwrap();
    let reply = client.receive_json().await.unwrap();
    assert_eq!(
        reply,
        json!({"action": "profile_updated", "payload": profile_payload_camel(), "version": 1, "ref": "r_1"})
    );
    assert_eq!(
        client.receive_json().await.unwrap(),
        json!({"action": "complete", "payload": null, "version": 1, "ref": "r_1"})
    );

    // Typed: the test client camelizes what it sends and decamelizes what it decodes.
    let profile = Profile { user_name: "bob".into(), api_key: None, nested_items: vec![Item { item_id: 1 }] };
    client.send_message(&UpdateProfile { payload: profile }).await.unwrap();
    let typed: ProfileUpdated = client.receive_message().await.unwrap();
    assert_eq!(typed.payload.user_name, "bob");
    assert_eq!(typed.payload.nested_items[0].item_id, 1);
    client.receive_message::<CompleteMessage>().await.unwrap();
    client.receive_nothing().await.unwrap();
}

#[tokio::test]
async fn errors_keep_a_snake_case_loc() {
    let settings = Settings::default().camelize(true);
    let mut client = client::<AppConsumer>(&settings);
    client.send_json(&json!({"action": "update_profile", "payload": {"userName": 5}})).await.unwrap();
    let error = client.receive_json().await.unwrap();
    assert_eq!(error["action"], "error");
    let items = error["payload"].as_array().expect("a list of errors");
    assert_eq!(items[0]["loc"], json!(["update_profile", "payload", "user_name"]), "{error}");
    assert_eq!(items[0]["type"], "string_type");

    client.send_json(&json!({"action": "update_profile", "payload": {"apiKey": "x"}})).await.unwrap();
    let error = client.receive_json().await.unwrap();
    assert_eq!(error["payload"][0]["loc"], json!(["update_profile", "payload", "user_name"]), "{error}");
    assert_eq!(error["payload"][0]["type"], "missing");
}

#[tokio::test]
async fn the_consumer_overrides_the_app() {
    // App-wide off, the consumer on.
    let mut camel = client::<CamelConsumer>(&Settings::default());
    camel.send_json(&json!({"action": "update_profile", "payload": profile_payload_camel()})).await.unwrap();
    assert_eq!(camel.receive_json().await.unwrap()["payload"], profile_payload_camel());

    // App-wide on, the consumer off: snake_case both ways.
    let mut snake = client::<SnakeConsumer>(&Settings::default().camelize(true));
    let payload = json!({"user_name": "ann", "api_key": null, "nested_items": []});
    snake.send_json(&json!({"action": "update_profile", "payload": payload})).await.unwrap();
    assert_eq!(snake.receive_json().await.unwrap()["payload"], payload);

    // Off everywhere: the keys are the Rust fields.
    let mut plain = client::<AppConsumer>(&Settings::default());
    plain.send_json(&json!({"action": "update_profile", "payload": payload})).await.unwrap();
    assert_eq!(plain.receive_json().await.unwrap()["payload"], payload);
}

#[tokio::test]
async fn each_group_member_hears_a_broadcast_in_its_own_casing() {
    let layers = Layers::default();
    let camel_settings = Settings::default().layers(layers.clone()).camelize(true).send_completion(true);
    let snake_settings = Settings::default().layers(layers.clone()).send_completion(true);
    let mut camel = client::<AppConsumer>(&camel_settings);
    let mut snake = client::<AppConsumer>(&snake_settings);
    camel.receive_nothing().await.unwrap();
    snake.receive_nothing().await.unwrap();

    camel
        .send_json(&json!({"action": "say", "payload": {"saidBy": "ann", "saidText": "hi_there"}}))
        .await
        .unwrap();
    let heard = camel.receive_all_messages("room_said").await.unwrap();
    assert_eq!(heard, [json!({"action": "room_said", "payload": {"saidBy": "ann", "saidText": "hi_there"}})]);
    let heard = snake.receive_all_messages("room_said").await.unwrap();
    assert_eq!(
        heard,
        [json!({"action": "room_said", "payload": {"said_by": "ann", "said_text": "hi_there"}})]
    );
    assert_eq!(snake.receive_json().await.unwrap()["action"], "group_complete");

    // A server-side event's answer is camelized too, followed by `event_complete`.
    let event = ProfileEvent {
        payload: Profile { user_name: "eve".into(), api_key: None, nested_items: Vec::new() },
    };
    layers.default_layer().send_event(camel.channel_name(), &event).await.unwrap();
    let frames = camel.receive_all_messages("profile_updated").await.unwrap();
    let last = frames.last().unwrap();
    assert_eq!(last["payload"], json!({"userName": "eve", "apiKey": null, "nestedItems": []}));
}

#[tokio::test]
async fn topic_frames_follow_the_consumer() {
    let settings = Settings::default().camelize(true);
    let mut client = client::<AppConsumer>(&settings);
    client.subscribe("room:lobby").await.unwrap();
    let welcome = client.receive_json().await.unwrap();
    assert_eq!(
        welcome,
        json!({"action": "room_said", "payload": {"saidBy": "server", "saidText": "welcome to lobby"},
               "version": 1, "topic": "room:lobby"})
    );
    let frame = json!({"action": "say", "topic": "room:lobby", "ref": "a",
                       "payload": {"saidBy": "ann", "saidText": "hello"}});
    client.send_json(&frame).await.unwrap();
    assert_eq!(
        client.receive_json().await.unwrap(),
        json!({"action": "room_said", "payload": {"saidBy": "ann", "saidText": "hello"},
               "version": 1, "topic": "room:lobby", "ref": "a"})
    );
    // Typed topic frames are decamelized for the test.
    client.send_json(&frame).await.unwrap();
    let typed = client.receive_topic_message::<RoomSaid>("room:lobby").await.unwrap();
    assert_eq!(typed.message.payload.said_text, "hello");
    // A topic frame's error keeps its snake_case `loc`.
    client
        .send_json(&json!({"action": "say", "topic": "room:lobby", "payload": {"saidBy": "ann"}}))
        .await
        .unwrap();
    let error = client.receive_json().await.unwrap();
    assert_eq!(error["payload"][0]["loc"], json!(["say", "payload", "said_text"]), "{error}");
}

#[tokio::test]
async fn the_authentication_frame_is_camelized() {
    let mut client = client::<Refusing>(&Settings::default());
    let frame = client.receive_json().await.unwrap();
    assert_eq!(
        frame,
        json!({"action": "authentication",
               "payload": {"statusCode": 403, "statusText": "Forbidden", "data": {"detail": "no_entry"}}})
    );
    assert!(matches!(client.receive_json().await, Err(TestError::Closed { .. })));
}

#[tokio::test]
async fn over_a_real_socket() {
    let layers = Layers::default();
    let settings = Settings::default().layers(layers).send_completion(true);
    let app = Router::new()
        .route("/ws/camel", CamelConsumer::route())
        .route("/ws/snake", SnakeConsumer::route())
        .layer(Extension(settings));
    let addr = serve(app).await;
    let mut camel = Client::connect(addr, "/ws/camel").await;
    let mut snake = Client::connect(addr, "/ws/snake").await;

    camel
        .send_json(json!({"action": "update_profile", "payload": profile_payload_camel(), "ref": "1"}))
        .await;
    let frames = camel.recv_until("complete").await;
    assert_eq!(
        frames,
        [
            json!({"action": "profile_updated", "payload": profile_payload_camel(), "version": 1, "ref": "1"}),
            json!({"action": "complete", "payload": null, "version": 1, "ref": "1"}),
        ]
    );
    camel.send_text(r#"{"action":"say","payload":{"saidBy":"a","saidText":"b"}}"#).await;
    let frames = camel.recv_until("group_complete").await;
    assert!(frames.contains(&json!({"action": "room_said", "payload": {"saidBy": "a", "saidText": "b"}})));
    let heard = snake.recv_until("room_said").await;
    assert_eq!(
        heard.last().unwrap(),
        &json!({"action": "room_said", "payload": {"said_by": "a", "said_text": "b"}})
    );

    camel.send_json(json!({"action": "update_profile", "payload": {"userName": []}})).await;
    let error = camel.recv().await;
    assert_eq!(error["payload"][0]["loc"], json!(["update_profile", "payload", "user_name"]), "{error}");
}

#[test]
fn the_document_camelizes_property_names_and_required() {
    let docs = AsyncApi::new().channel::<AppConsumer>("/ws/app");
    let plain = docs.document().unwrap();
    let document = docs.camelize(true).document().unwrap();
    let schemas = &document["components"]["schemas"];
    let profile = &schemas["Profile"];
    assert_eq!(profile["required"], json!(["userName"]));
    let properties: Vec<&str> =
        profile["properties"].as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(properties, ["userName", "apiKey", "nestedItems"]);
    // Keywords and schema names stay; the reference to `Item` is untouched.
    assert_eq!(
        profile["properties"]["nestedItems"],
        plain["components"]["schemas"]["Profile"]["properties"]["nested_items"]
    );
    assert_eq!(schemas["Item"]["required"], json!(["itemId"]));
    // The envelope keys are single words: unchanged.
    assert_eq!(
        schemas["UpdateProfile"]["required"],
        plain["components"]["schemas"]["UpdateProfile"]["required"]
    );
    // Channel and operation names stay.
    assert_eq!(
        document["operations"].as_object().unwrap().keys().collect::<Vec<_>>(),
        plain["operations"].as_object().unwrap().keys().collect::<Vec<_>>()
    );
    // Nothing but property names differs.
    let renamed = document.to_string().replace("userName", "user_name").replace("apiKey", "api_key");
    let renamed = renamed.replace("nestedItems", "nested_items").replace("itemId", "item_id");
    let renamed = renamed.replace("saidBy", "said_by").replace("saidText", "said_text");
    let renamed = renamed.replace("statusCode", "status_code").replace("statusText", "status_text");
    assert_eq!(serde_json::from_str::<Value>(&renamed).unwrap(), plain);
}

#[test]
fn a_consumer_whose_casing_differs_from_the_document_is_an_error() {
    let camel_in_plain = AsyncApi::new().channel::<CamelConsumer>("/ws/camel").document();
    assert!(
        matches!(&camel_in_plain, Err(AsyncApiError::Casing { channel, camelize: true }) if channel == "camel"),
        "{camel_in_plain:?}"
    );
    let snake_in_camel = AsyncApi::new().camelize(true).channel::<SnakeConsumer>("/ws/snake").document();
    assert!(matches!(snake_in_camel, Err(AsyncApiError::Casing { camelize: false, .. })));
    assert!(AsyncApi::new().camelize(true).channel::<CamelConsumer>("/ws/camel").document().is_ok());
}
