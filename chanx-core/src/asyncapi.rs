//! The AsyncAPI 3.0 document of an app, generated from its consumers' handler
//! signatures; the JSON and YAML endpoints and the HTML docs page.
//!
//! There is no process-wide registry: an [`AsyncApi`] lists the consumers of one app,
//! with the addresses they are mounted at, so two apps in one process get two
//! documents.
//!
//! A consumer's `#[channel(credentials(...))]` become `httpApiKey` security schemes,
//! listed under `security` by each of its operations, and its query and header
//! credentials the channel's `ws` bindings, as Chanx renders an authenticator's
//! credentials (see [`Credential`]).
//!
//! Each topic type a consumer serves (`#[channel(topics(...))]`) is a channel of its own
//! at the consumer's address, `<channel>_<topic>`, and a standalone topic route
//! ([`AsyncApi::topic`]) is its topic's channel, as Chanx 2.13 documents them; their
//! `x-topic` extension gives the topic's name, pattern and parameters. A topic channel
//! also documents the topic protocol's `subscribe` and `unsubscribe` frames.
//!
//! ```
//! use chanx::asyncapi::AsyncApi;
//! # use chanx::prelude::*;
//! # #[derive(Default)] pub struct EchoConsumer;
//! # #[channel(name = "echo")] impl EchoConsumer {
//! #     #[ws_handler] async fn ping(&mut self, _m: PingMessage) -> PongMessage { PongMessage }
//! # }
//! # impl Consumer for EchoConsumer {}
//!
//! let docs = AsyncApi::new().title("Echo").version("1.2.0").channel::<EchoConsumer>("/ws/echo");
//! let document = docs.document().unwrap();
//! assert_eq!(document["asyncapi"], "3.0.0");
//! assert_eq!(document["channels"]["echo"]["address"], "/ws/echo");
//! assert_eq!(document["operations"]["echo.ping"]["action"], "receive");
//!
//! // `/asyncapi.json`, `/asyncapi.yaml` and the `/asyncapi` docs page:
//! let app: axum::Router = axum::Router::new().merge(docs.routes());
//! ```
//!
//! The docs page renders the document with the AsyncAPI React component, loaded as
//! [`DocsAssets`] says. When the component cannot load (no internet for the CDN, an
//! integrity mismatch, a missing file) or fails to render, the page says so and links to
//! the JSON and YAML documents instead of staying blank. The `docs-embedded` feature
//! builds the pinned component into the binary, so that the page works offline by default.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use schemars::SchemaGenerator;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

use crate::connection::channel::{Channel, ChannelMeta, Credential, CredentialLocation, OperationMeta};
use crate::connection::topic::{Standalone, Topic, TopicType};
use crate::protocol::case;
use crate::protocol::message::{
    AuthenticationMessage, CompleteMessage, ErrorMessage, EventCompleteMessage, GroupCompleteMessage,
    Message, MessageMeta, SubscribeMessage, SubscribedMessage, UnsubscribeMessage, UnsubscribedMessage,
};

/// Why a document could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum AsyncApiError {
    /// Two channels get the same name: two consumers, or a consumer and a topic
    /// channel `<hub>_<topic>` of another.
    #[error(
        "two consumers or topics use the channel name `{name}` (at `{first}` and `{second}`); give one \
         `#[channel(name = ...)]` or `#[topic(name = ...)]`"
    )]
    DuplicateChannel {
        /// The channel name.
        name: String,
        /// The address of the first channel.
        first: String,
        /// The address of the second channel.
        second: String,
    },
    /// Two operations of one channel would get the same id (a handler named like a
    /// generated operation, or a passthrough and a hook message with one action).
    #[error("two operations would get the id `{0}`; rename the handler or drop the duplicate message")]
    DuplicateOperation(String),
    /// A consumer's [`Channel::CAMELIZE`] says otherwise than the document's casing
    /// ([`AsyncApi::camelize`]): the document would describe its frames wrongly.
    #[error(
        "the consumer of channel `{channel}` has `camelize = {camelize}` but the document {}; \
         call `AsyncApi::camelize({camelize})`, or document it in a document of its own",
        if *.camelize { "does not camelize" } else { "camelizes" }
    )]
    Casing {
        /// The consumer's channel name.
        channel: String,
        /// The consumer's casing: `true` for camelCase keys.
        camelize: bool,
    },
    /// The document could not be written as YAML.
    #[error("cannot write the document as YAML: {0}")]
    Yaml(#[from] serde_norway::Error),
    /// The document could not be written as JSON.
    #[error("cannot write the document as JSON: {0}")]
    Json(#[from] serde_json::Error),
}

mod pinned;

/// Where the docs page loads the AsyncAPI React component from.
///
/// The default ([`DocsAssets::default`]) is `DocsAssets::Embedded` with the
/// `docs-embedded` feature, else [`DocsAssets::Cdn`]. Whichever it is, a page whose
/// component cannot load says so and links to the document.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DocsAssets {
    /// A pinned CDN version with subresource integrity (needs internet).
    Cdn,
    /// Serve the component from the app itself, read from the folder of an installed
    /// `@asyncapi/react-component` npm package (`node_modules/@asyncapi/react-component`),
    /// so that the page works with no internet.
    Local(PathBuf),
    /// Serve the pinned component from the binary, which embeds it at build time (the
    /// default with the feature), so that the page works with no internet.
    ///
    /// Available with the crate feature `docs-embedded` (`chanx/docs-embedded`). Its files
    /// are not in the crate: the build takes them from the npm package
    /// `@asyncapi/react-component` at the pinned [`REACT_COMPONENT_VERSION`], in the folder
    /// named by the environment variable `CHANX_ASYNCAPI_COMPONENT_DIR` (in the chanx
    /// repository, `tests/browser/node_modules/@asyncapi/react-component` after
    /// `npm ci --prefix tests/browser`), checks them against the subresource integrity the
    /// CDN variant pins, and fails when they are missing or differ. Nothing is downloaded.
    #[cfg(feature = "docs-embedded")]
    #[cfg_attr(docsrs, doc(cfg(feature = "docs-embedded")))]
    Embedded,
}

impl Default for DocsAssets {
    /// `DocsAssets::Embedded` with the `docs-embedded` feature, else [`DocsAssets::Cdn`].
    fn default() -> Self {
        #[cfg(feature = "docs-embedded")]
        return DocsAssets::Embedded;
        #[cfg(not(feature = "docs-embedded"))]
        return DocsAssets::Cdn;
    }
}

/// The pinned version of `@asyncapi/react-component` the docs page uses.
pub const REACT_COMPONENT_VERSION: &str = pinned::VERSION;
/// Where the CDN serves the pinned package.
const CDN_PACKAGE: &str = "https://unpkg.com/@asyncapi/react-component@";
/// The content types of the component's files.
const SCRIPT_TYPE: &str = "text/javascript; charset=utf-8";
const STYLE_TYPE: &str = "text/css; charset=utf-8";

/// The component's files in the binary (feature `docs-embedded`), as the build script
/// checked and copied them; served under a versioned path, cacheable for good.
#[cfg(feature = "docs-embedded")]
mod embedded {
    pub const SCRIPT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/index.js"));
    pub const STYLE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/default.min.css"));
    pub const CACHE_CONTROL: &str = "public, max-age=31536000, immutable";
}

/// The version of the AsyncAPI WebSockets bindings the `ws` channel bindings follow.
const WS_BINDING_VERSION: &str = "0.1.0";

/// A server entry of the document.
#[derive(Debug, Clone)]
struct Server {
    name: String,
    host: String,
    protocol: String,
    description: Option<String>,
}

/// One mounted consumer.
#[derive(Debug, Clone)]
struct Mounted {
    address: String,
    meta: ChannelMeta,
    /// The topic types its clients may subscribe to ([`Channel::TOPICS`]).
    topics: &'static [TopicType],
    /// Whether it is a standalone topic route ([`Channel::STANDALONE`]).
    standalone: bool,
    /// Its [`Channel::CAMELIZE`], checked against the document's casing.
    camelize: Option<bool>,
}

impl Mounted {
    /// Its channels in the document: a consumer's own, then one per topic type it
    /// serves, named `<consumer>_<topic>`, as Chanx's `expand_topic_routes`; a
    /// standalone topic route is its topic alone.
    fn channels(&self) -> Vec<Documented<'_>> {
        let own = Documented {
            name: self.meta.name.to_owned(),
            address: &self.address,
            meta: self.meta.clone(),
            credentials: self.meta.credentials,
            topic: self.topics.first().filter(|_| self.standalone).copied(),
            connection: true,
        };
        let hosted = self.topics.iter().filter(|_| !self.standalone).map(|topic| {
            let meta = topic.meta();
            Documented {
                name: format!("{}_{}", self.meta.name, meta.name),
                address: &self.address,
                meta,
                credentials: self.meta.credentials,
                topic: Some(*topic),
                connection: false,
            }
        });
        std::iter::once(own).chain(hosted).collect()
    }
}

/// One channel of the document: a consumer, or a topic type one serves.
struct Documented<'a> {
    /// The channel name, its key in `channels`.
    name: String,
    address: &'a str,
    /// Whose handlers the channel's operations are.
    meta: ChannelMeta,
    /// The credentials of the connection the channel's frames travel on.
    credentials: &'static [Credential],
    /// The topic type the channel is: its `x-topic` and its `subscribe` and
    /// `unsubscribe` operations.
    topic: Option<TopicType>,
    /// Whether the connection's own frames (`authentication`) are on this channel.
    connection: bool,
}

/// The AsyncAPI document of an app: its info, servers and mounted consumers.
#[derive(Debug, Clone)]
pub struct AsyncApi {
    title: String,
    version: String,
    description: Option<String>,
    servers: Vec<Server>,
    channels: Vec<Mounted>,
    assets: DocsAssets,
    camelize: bool,
}

impl Default for AsyncApi {
    fn default() -> Self {
        AsyncApi::new()
    }
}

/// An [`AsyncApi`] whose title, version and description come from the calling crate's
/// `Cargo.toml`.
#[macro_export]
macro_rules! asyncapi {
    () => {
        $crate::asyncapi::AsyncApi::new()
            .title(env!("CARGO_PKG_NAME"))
            .version(env!("CARGO_PKG_VERSION"))
            .description(env!("CARGO_PKG_DESCRIPTION"))
    };
}

impl AsyncApi {
    /// A document titled "chanx API", version "1.0.0", with no consumers yet.
    pub fn new() -> Self {
        AsyncApi {
            title: "chanx API".into(),
            version: "1.0.0".into(),
            description: None,
            servers: Vec::new(),
            channels: Vec::new(),
            assets: DocsAssets::default(),
            camelize: false,
        }
    }

    /// The API title.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = title.into();
        self
    }

    /// The API version.
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = version.into();
        self
    }

    /// The API description (Markdown); an empty one is left out.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into()).filter(|d| !d.is_empty());
        self
    }

    /// Adds a server: `host` with its port (`"api.example.com"`, `"localhost:8000"`)
    /// and `protocol` (`"ws"` or `"wss"`). Without servers, the endpoints describe
    /// the one the request came to.
    pub fn server(
        mut self,
        name: impl Into<String>,
        host: impl Into<String>,
        protocol: impl Into<String>,
    ) -> Self {
        let server =
            Server { name: name.into(), host: host.into(), protocol: protocol.into(), description: None };
        self.servers.push(server);
        self
    }

    /// Documents consumer `C`, mounted at `address` (`/ws/room/{room_name}`), and each
    /// topic type it serves (`#[channel(topics(...))]`) as a channel of its own at the
    /// same address, named `<channel>_<topic>` (`hub_room_topic`) with an `x-topic`
    /// extension, as Chanx 2.13 does. A [`Standalone`] topic route is documented as its
    /// topic: see [`AsyncApi::topic`].
    pub fn channel<C: Channel>(mut self, address: impl Into<String>) -> Self {
        self.channels.push(Mounted {
            address: address.into(),
            meta: C::meta(),
            topics: C::TOPICS,
            standalone: C::STANDALONE,
            camelize: C::CAMELIZE,
        });
        self
    }

    /// Documents the standalone route of topic `T` (`T::route()`), mounted at `address`
    /// (`/ws/rooms/{room}`): one channel named as the topic (`room_topic`), with an
    /// `x-topic` extension and the address's parameters. The same as
    /// `.channel::<Standalone<T>>(address)`.
    ///
    /// ```
    /// use chanx::asyncapi::AsyncApi;
    /// use chanx::prelude::*;
    /// use serde_json::json;
    ///
    /// /// A chat room.
    /// pub struct RoomTopic {
    ///     pub room: String,
    /// }
    ///
    /// #[topic(pattern = "room:{room}")]
    /// impl RoomTopic {
    ///     #[ws_handler]
    ///     async fn ping(&mut self, _msg: PingMessage) -> PongMessage {
    ///         PongMessage
    ///     }
    /// }
    ///
    /// impl Topic for RoomTopic {}
    ///
    /// let document = AsyncApi::new().topic::<RoomTopic>("/ws/rooms/{room}").document().unwrap();
    /// let channel = &document["channels"]["room_topic"];
    /// assert_eq!(channel["address"], "/ws/rooms/{room}");
    /// assert_eq!(
    ///     channel["x-topic"],
    ///     json!({ "name": "room_topic", "pattern": "room:{room}", "parameters": ["room"] })
    /// );
    /// assert_eq!(document["operations"]["room_topic.ping"]["action"], "receive");
    /// assert_eq!(document["operations"]["room_topic.subscribe"]["action"], "receive");
    /// ```
    pub fn topic<T: Topic>(self, address: impl Into<String>) -> Self {
        self.channel::<Standalone<T>>(address)
    }

    /// Where the docs page loads the AsyncAPI React component from (by default
    /// [`DocsAssets::default`]).
    pub fn docs_assets(mut self, assets: DocsAssets) -> Self {
        self.assets = assets;
        self
    }

    /// Documents camelCase keys (default: off), for an app whose
    /// [`Settings::camelize`](crate::Settings::camelize) is on, as Chanx's generator
    /// follows its `camelize` setting: the property names of the component schemas
    /// and their `required` lists are camelized with the rules the wire uses
    /// (`user_name` → `userName`), and so are the keys of the example and default
    /// values in them. JSON Schema keywords, schema names (the `$ref` targets),
    /// channel, operation and message names and the envelope keys are left as they
    /// are.
    ///
    /// One document has one casing: message schemas are components that channels
    /// share. So a consumer's own [`Channel::CAMELIZE`] does not switch its channel:
    /// a consumer whose `CAMELIZE` is `Some(..)` and says otherwise than the document
    /// makes [`document`](AsyncApi::document) fail with [`AsyncApiError::Casing`]
    /// rather than describe its frames wrongly; document it apart, in a second
    /// document. Consumers with `None` follow the app's settings, which the document
    /// does not see: give it the same value.
    ///
    /// ```
    /// use chanx::asyncapi::AsyncApi;
    /// use chanx::prelude::*;
    ///
    /// #[payload]
    /// pub struct Profile {
    ///     pub user_name: String,
    /// }
    ///
    /// #[message(action = "profile")]
    /// pub struct ProfileMessage {
    ///     pub payload: Profile,
    /// }
    ///
    /// #[derive(Default)]
    /// pub struct ProfileConsumer;
    ///
    /// #[channel(name = "profile", camelize)]
    /// impl ProfileConsumer {
    ///     #[ws_handler]
    ///     async fn echo(&mut self, msg: ProfileMessage) -> ProfileMessage {
    ///         msg
    ///     }
    /// }
    ///
    /// impl Consumer for ProfileConsumer {}
    ///
    /// let docs = AsyncApi::new().channel::<ProfileConsumer>("/ws/profile");
    /// assert!(docs.document().is_err(), "the consumer camelizes, the document not");
    /// let document = docs.camelize(true).document().unwrap();
    /// let profile = &document["components"]["schemas"]["Profile"];
    /// assert_eq!(profile["required"], serde_json::json!(["userName"]));
    /// assert!(profile["properties"].get("userName").is_some());
    /// ```
    pub fn camelize(mut self, on: bool) -> Self {
        self.camelize = on;
        self
    }

    /// The document as JSON.
    pub fn document(&self) -> Result<Value, AsyncApiError> {
        self.render(&self.servers)
    }

    /// The document as pretty-printed JSON text.
    pub fn to_json(&self) -> Result<String, AsyncApiError> {
        Ok(serde_json::to_string_pretty(&self.document()?)?)
    }

    /// The document as YAML text.
    pub fn to_yaml(&self) -> Result<String, AsyncApiError> {
        Ok(serde_norway::to_string(&self.document()?)?)
    }

    /// Writes the document to `path`, as YAML if it ends in `.yaml` or `.yml`, else as
    /// JSON (for CI pipelines and client generators).
    pub fn write(&self, path: impl AsRef<std::path::Path>) -> std::io::Result<()> {
        let path = path.as_ref();
        let yaml = path.extension().is_some_and(|e| e == "yaml" || e == "yml");
        let text = if yaml { self.to_yaml() } else { self.to_json() };
        std::fs::write(path, text.map_err(std::io::Error::other)?)
    }

    /// `/asyncapi.json`, `/asyncapi.yaml` and the docs page `/asyncapi` (plus its
    /// assets under `/asyncapi/assets/` with [`DocsAssets::Local`] and
    /// `DocsAssets::Embedded`). The page refers to the others by relative URLs, so the
    /// routes may be nested under any prefix.
    pub fn routes<S: Clone + Send + Sync + 'static>(self) -> Router<S> {
        let docs = Arc::new(self);
        let json = docs.clone();
        let yaml = docs.clone();
        let page = docs.clone();
        let mut router = Router::new()
            .route(
                "/asyncapi.json",
                get(move |headers: HeaderMap| async move { json.serve(&headers, Format::Json) }),
            )
            .route(
                "/asyncapi.yaml",
                get(move |headers: HeaderMap| async move { yaml.serve(&headers, Format::Yaml) }),
            )
            .route("/asyncapi", get(move || async move { Html(page.page()) }));
        match &docs.assets {
            DocsAssets::Cdn => {}
            DocsAssets::Local(dir) => {
                let script = dir.join(pinned::SCRIPT_PATH);
                let style = dir.join(pinned::STYLE_PATH);
                router = router
                    .route("/asyncapi/assets/index.js", get(move || asset(script.clone(), SCRIPT_TYPE)))
                    .route("/asyncapi/assets/default.min.css", get(move || asset(style.clone(), STYLE_TYPE)));
            }
            #[cfg(feature = "docs-embedded")]
            DocsAssets::Embedded => {
                let (script, style) = embedded_paths();
                router = router
                    .route(
                        &format!("/{script}"),
                        get(|headers: HeaderMap| async move {
                            embedded_asset(&headers, embedded::SCRIPT, SCRIPT_TYPE, pinned::SCRIPT_SRI)
                        }),
                    )
                    .route(
                        &format!("/{style}"),
                        get(|headers: HeaderMap| async move {
                            embedded_asset(&headers, embedded::STYLE, STYLE_TYPE, pinned::STYLE_SRI)
                        }),
                    );
            }
        }
        router
    }

    /// Answers an endpoint: servers from the request when none are configured; a
    /// generation error is a 500 with its reason.
    fn serve(&self, headers: &HeaderMap, format: Format) -> Response {
        let servers = if self.servers.is_empty() { request_server(headers) } else { self.servers.clone() };
        let rendered = self.render(&servers).and_then(|document| match format {
            Format::Json => Ok((serde_json::to_string_pretty(&document)?, "application/json")),
            Format::Yaml => Ok((serde_norway::to_string(&document)?, "application/yaml")),
        });
        match rendered {
            Ok((body, content_type)) => ([(header::CONTENT_TYPE, content_type)], body).into_response(),
            Err(error) => {
                tracing::error!(%error, "cannot generate the AsyncAPI document");
                (StatusCode::INTERNAL_SERVER_ERROR, format!("cannot generate the AsyncAPI document: {error}"))
                    .into_response()
            }
        }
    }

    /// The HTML docs page.
    fn page(&self) -> String {
        let (script, style) = match &self.assets {
            DocsAssets::Cdn => {
                let package = format!("{CDN_PACKAGE}{}", pinned::VERSION);
                let cors = r#" crossorigin="anonymous""#;
                (
                    format!(
                        r#"<script src="{package}/{}" integrity="{}"{cors}></script>"#,
                        pinned::SCRIPT_PATH,
                        pinned::SCRIPT_SRI
                    ),
                    format!(
                        r#"<link rel="stylesheet" href="{package}/{}" integrity="{}"{cors}>"#,
                        pinned::STYLE_PATH,
                        pinned::STYLE_SRI
                    ),
                )
            }
            DocsAssets::Local(_) => (
                r#"<script src="asyncapi/assets/index.js"></script>"#.to_owned(),
                r#"<link rel="stylesheet" href="asyncapi/assets/default.min.css">"#.to_owned(),
            ),
            #[cfg(feature = "docs-embedded")]
            DocsAssets::Embedded => {
                let (script, style) = embedded_paths();
                (
                    format!(r#"<script src="{script}" integrity="{}"></script>"#, pinned::SCRIPT_SRI),
                    format!(r#"<link rel="stylesheet" href="{style}" integrity="{}">"#, pinned::STYLE_SRI),
                )
            }
        };
        // The title last: it may contain anything, placeholders included.
        DOCS_PAGE
            .replace("{script}", &script)
            .replace("{style}", &style)
            .replace("{title}", &html_escape(&self.title))
    }

    fn render(&self, servers: &[Server]) -> Result<Value, AsyncApiError> {
        if let Some(mounted) = self.channels.iter().find(|m| m.camelize.is_some_and(|on| on != self.camelize))
        {
            return Err(AsyncApiError::Casing {
                channel: mounted.meta.name.to_owned(),
                camelize: !self.camelize,
            });
        }
        let documented: Vec<Documented> = self.channels.iter().flat_map(Mounted::channels).collect();
        for (i, channel) in documented.iter().enumerate() {
            if let Some(first) = documented[..i].iter().find(|first| first.name == channel.name) {
                return Err(AsyncApiError::DuplicateChannel {
                    name: channel.name.clone(),
                    first: first.address.into(),
                    second: channel.address.into(),
                });
            }
        }
        let settings = SchemaSettings::draft07().with(|s| {
            s.definitions_path = "#/components/schemas/".into();
            s.meta_schema = None;
        });
        let mut document = Builder {
            generator: settings.into_generator(),
            messages: Map::new(),
            security_schemes: Map::new(),
            clash: None,
        };
        let mut channels = Map::new();
        let mut operations = Map::new();
        for channel in &documented {
            let (object, channel_operations) = document.channel(channel);
            channels.insert(channel.name.clone(), object);
            operations.extend(channel_operations);
        }
        if let Some(id) = document.clash {
            return Err(AsyncApiError::DuplicateOperation(id));
        }
        let mut info = json!({ "title": self.title, "version": self.version });
        if let Some(description) = &self.description {
            info["description"] = json!(description);
        }
        let mut root = json!({ "asyncapi": "3.0.0", "info": info });
        if !servers.is_empty() {
            let servers: Map<String, Value> = servers
                .iter()
                .map(|s| {
                    let mut server = json!({ "host": s.host, "protocol": s.protocol });
                    if let Some(description) = &s.description {
                        server["description"] = json!(description);
                    }
                    (s.name.clone(), server)
                })
                .collect();
            root["servers"] = Value::Object(servers);
        }
        root["defaultContentType"] = json!("application/json");
        root["channels"] = Value::Object(channels);
        root["operations"] = Value::Object(operations);
        let schemas: Map<String, Value> = document
            .generator
            .take_definitions(true)
            .into_iter()
            .map(|(name, mut schema)| {
                for_generators(&name, &mut schema);
                if self.camelize {
                    camelize_schema(&mut schema);
                }
                (name, schema)
            })
            .collect();
        let mut messages = document.messages;
        if self.camelize {
            // A payload schema written inline rather than as a reference.
            messages.values_mut().filter_map(|m| m.get_mut("payload")).for_each(camelize_schema);
        }
        root["components"] = json!({ "messages": messages, "schemas": schemas });
        if !document.security_schemes.is_empty() {
            root["components"]["securitySchemes"] = Value::Object(document.security_schemes);
        }
        Ok(root)
    }
}

/// Makes a component schema readable by client generators (Python Chanx's
/// `generate-client`, json-schema-to-typescript, OpenAPI-style tools): each gets a
/// `title`, its name, so that generators name a model after it instead of falling back
/// to a plain map; and a nullable type (`"type": ["string", "null"]`, as schemars writes
/// an `Option`) becomes `anyOf` of the type and `null`, which more of them understand.
fn for_generators(name: &str, schema: &mut Value) {
    if let Value::Object(object) = schema
        && !object.contains_key("title")
    {
        object.insert("title".into(), json!(name));
    }
    nullable_as_any_of(schema);
}

/// Camelizes a schema's property names (the keys of `properties`) and `required`
/// lists at any depth, and the keys of the instances it holds (`default`, `const`,
/// `enum`, `examples`), which the wire camelizes too; keywords stay.
fn camelize_schema(schema: &mut Value) {
    let Value::Object(object) = schema else { return };
    for (keyword, value) in object.iter_mut() {
        match (keyword.as_str(), value) {
            ("properties", Value::Object(properties)) => {
                *properties = std::mem::take(properties)
                    .into_iter()
                    .map(|(name, mut property)| {
                        camelize_schema(&mut property);
                        (case::camelize(&name).into_owned(), property)
                    })
                    .collect();
            }
            ("required", Value::Array(names)) => {
                for name in names {
                    if let Value::String(text) = name
                        && let Cow::Owned(camel) = case::camelize(text)
                    {
                        *text = camel;
                    }
                }
            }
            ("default" | "const" | "enum" | "examples", instance) => camelize_instance(instance),
            ("patternProperties" | "definitions" | "$defs" | "dependentSchemas", Value::Object(schemas)) => {
                schemas.values_mut().for_each(camelize_schema);
            }
            (_, Value::Array(schemas)) => schemas.iter_mut().for_each(camelize_schema),
            (_, sub) => camelize_schema(sub),
        }
    }
}

/// Camelizes the object keys of a JSON value at any depth.
fn camelize_instance(value: &mut Value) {
    match value {
        Value::Object(object) => {
            *object = std::mem::take(object)
                .into_iter()
                .map(|(key, mut value)| {
                    camelize_instance(&mut value);
                    (case::camelize(&key).into_owned(), value)
                })
                .collect();
        }
        Value::Array(items) => items.iter_mut().for_each(camelize_instance),
        _ => {}
    }
}

/// Keywords that describe a value whatever its type: they stay beside the `anyOf`.
const ANNOTATIONS: [&str; 8] =
    ["title", "description", "default", "examples", "deprecated", "readOnly", "writeOnly", "$comment"];

/// Rewrites every `"type": [T, "null"]` under `schema` as `anyOf: [{"type": T, ...}, {"type": "null"}]`,
/// the keywords of `T` (its format, bounds, items, properties) moving into its branch.
fn nullable_as_any_of(schema: &mut Value) {
    match schema {
        Value::Object(object) => {
            let nullable = match object.get("type") {
                Some(Value::Array(types)) if types.len() == 2 && types.contains(&json!("null")) => {
                    types.iter().find(|t| **t != json!("null")).cloned()
                }
                _ => None,
            };
            if let Some(kind) = nullable {
                object.remove("type");
                let mut branch = Map::new();
                branch.insert("type".into(), kind);
                let keys: Vec<String> =
                    object.keys().filter(|k| !ANNOTATIONS.contains(&k.as_str())).cloned().collect();
                for key in keys {
                    if let Some(value) = object.remove(&key) {
                        branch.insert(key, value);
                    }
                }
                object.insert("anyOf".into(), json!([branch, { "type": "null" }]));
            }
            object.values_mut().for_each(nullable_as_any_of);
        }
        Value::Array(items) => items.iter_mut().for_each(nullable_as_any_of),
        _ => {}
    }
}

enum Format {
    Json,
    Yaml,
}

/// The framework frames every channel documents, beyond Chanx.
fn framework_messages() -> [MessageMeta; 4] {
    [
        ErrorMessage::meta(),
        CompleteMessage::meta(),
        GroupCompleteMessage::meta(),
        EventCompleteMessage::meta(),
    ]
}

/// The topic protocol, which Chanx leaves undocumented: the `receive` operations of a
/// topic channel's `subscribe` and `unsubscribe` frames, each with whether it may be
/// answered with an error frame.
fn topic_protocol() -> [(OperationMeta, bool); 2] {
    let request = |handler, summary, description, input, ack| OperationMeta {
        handler,
        summary: Some(summary),
        description: Some(description),
        tags: &[],
        input,
        outputs: vec![ack],
        broadcasts: Vec::new(),
    };
    [
        (
            request(
                "subscribe",
                "Subscribe to a topic of this channel",
                "The frame's `topic` key names the topic, a name that the channel's `x-topic` pattern \
                 matches (on a standalone route, a frame without `topic` is for the route's topic). \
                 Answered with `subscribed`, echoing `ref` (also when already subscribed), after \
                 which the topic may send its current state; or refused with an `error` frame whose \
                 payload is `{\"reason\", \"detail\"}`, `reason` being `unknown_topic` (no topic \
                 type matches the name), `unauthorized` (the topic refused the connection) or \
                 `too_many_subscriptions` (the connection holds as many subscriptions as the server \
                 allows). A frame naming a topic not subscribed to, other than `subscribe`, is \
                 refused with the reason `not_subscribed`. Every frame of a subscription carries \
                 its `topic`, and pushes to the topic a `seq` when the server numbers them.",
                SubscribeMessage::meta(),
                SubscribedMessage::meta(),
            ),
            true,
        ),
        (
            request(
                "unsubscribe",
                "Leave a topic of this channel",
                "The frame's `topic` key names the topic. Answered with `unsubscribed`, echoing `ref`, \
                 also for a topic that was not subscribed to.",
                UnsubscribeMessage::meta(),
                UnsubscribedMessage::meta(),
            ),
            false,
        ),
    ]
}

/// Collects schemas and component messages while channels are rendered.
struct Builder {
    generator: SchemaGenerator,
    messages: Map<String, Value>,
    /// Security schemes of the credentials, by name; the first declaration of a name wins.
    security_schemes: Map<String, Value>,
    /// An operation id given twice, if any.
    clash: Option<String>,
}

impl Builder {
    /// A component message for `meta`; returns its key.
    fn message(&mut self, meta: &MessageMeta) -> String {
        let reference = (meta.schema)(&mut self.generator);
        let schema = reference.as_value().get("$ref").and_then(Value::as_str).unwrap_or_default();
        let key = schema.rsplit('/').next().filter(|k| !k.is_empty()).unwrap_or(meta.name).to_owned();
        if !self.messages.contains_key(&key) {
            let mut message = json!({
                "name": meta.action,
                "title": meta.name,
                "contentType": "application/json",
                "payload": reference.as_value(),
            });
            if let Some(description) = meta.description {
                message["summary"] = json!(summary(description));
                message["description"] = json!(markdown(description));
            }
            self.messages.insert(key.clone(), message);
        }
        key
    }

    /// The security scheme of `credential`; returns its name.
    fn security_scheme(&mut self, credential: &Credential) -> String {
        let name = credential.scheme_name();
        self.security_schemes.entry(name.clone()).or_insert_with(|| {
            let scheme = json!({
                "type": "httpApiKey",
                "name": credential.name,
                "in": credential.location.as_str(),
            });
            described(scheme, credential.description)
        });
        name
    }

    /// Adds an operation, remembering an id given twice.
    fn add(&mut self, operations: &mut Map<String, Value>, id: String, operation: Value) {
        if operations.contains_key(&id) {
            self.clash.get_or_insert(id);
        } else {
            operations.insert(id, operation);
        }
    }

    /// What a handler broadcasts (`broadcasts(...)`): a `send` operation of its own,
    /// `<channel>.<handler>_broadcast`, since it reaches every member of the groups and
    /// not only the sender.
    fn broadcasts(
        &mut self,
        operations: &mut Map<String, Value>,
        keys: &mut BTreeSet<String>,
        name: &str,
        op: &OperationMeta,
        group_complete: &str,
    ) {
        if op.broadcasts.is_empty() {
            return;
        }
        let mut sent: Vec<String> = op.broadcasts.iter().map(|m| self.message(m)).collect();
        sent.push(group_complete.to_owned());
        keys.extend(sent.iter().cloned());
        let mut broadcast = operation(name, "send", op, &sent);
        broadcast["summary"] = json!(format!("Broadcast to groups by `{}`", op.handler));
        self.add(operations, format!("{name}.{}_broadcast", op.handler), broadcast);
    }

    /// A `receive` operation for `op`: its input, replied to with its outputs and then
    /// the framework frames `framing` (error, completion).
    fn receive(
        &mut self,
        keys: &mut BTreeSet<String>,
        name: &str,
        op: &OperationMeta,
        framing: &[String],
    ) -> Value {
        let input = self.message(&op.input);
        let mut replies: Vec<String> = op.outputs.iter().map(|m| self.message(m)).collect();
        replies.extend_from_slice(framing);
        keys.insert(input.clone());
        keys.extend(replies.iter().cloned());
        let mut operation = operation(name, "receive", op, &[input]);
        operation["reply"] = json!({
            "channel": { "$ref": format!("#/channels/{name}") },
            "messages": refs(name, &replies),
        });
        operation
    }

    /// The channel object and its operations.
    fn channel(&mut self, documented: &Documented) -> (Value, Map<String, Value>) {
        let meta = &documented.meta;
        let name = documented.name.as_str();
        let mut keys = BTreeSet::new();
        let mut operations = Map::new();
        let framework: Vec<String> = framework_messages().iter().map(|m| self.message(m)).collect();
        keys.extend(framework.iter().cloned());
        let (error, complete, group_complete, event_complete) =
            (&framework[0], &framework[1], &framework[2], &framework[3]);
        let authentication = documented.connection.then(|| self.message(&AuthenticationMessage::meta()));
        keys.extend(authentication.iter().cloned());
        for op in &meta.operations {
            let operation = self.receive(&mut keys, name, op, &[error.clone(), complete.clone()]);
            self.add(&mut operations, format!("{name}.{}", op.handler), operation);
            self.broadcasts(&mut operations, &mut keys, name, op, group_complete);
        }
        if documented.topic.is_some() {
            for (op, refusable) in topic_protocol() {
                let framing: &[String] = if refusable {
                    &[error.clone(), complete.clone()]
                } else {
                    std::slice::from_ref(complete)
                };
                let operation = self.receive(&mut keys, name, &op, framing);
                self.add(&mut operations, format!("{name}.{}", op.handler), operation);
            }
        }
        for op in &meta.events {
            let mut sent: Vec<String> = op.outputs.iter().map(|m| self.message(m)).collect();
            sent.push(event_complete.clone());
            keys.extend(sent.iter().cloned());
            self.add(&mut operations, format!("{name}.{}", op.handler), operation(name, "send", op, &sent));
            self.broadcasts(&mut operations, &mut keys, name, op, group_complete);
        }
        let declared = meta.passthrough.iter().map(|m| (m, "Forwarded unchanged from a server-side event"));
        let hooks_summary = match documented.topic {
            Some(_) => "Sent by the topic's hooks (e.g. on subscribe)",
            None => "Sent by the consumer's hooks (e.g. on connect)",
        };
        let hooks = meta.sends.iter().map(|m| (m, hooks_summary));
        for (message, summary) in declared.chain(hooks) {
            let key = self.message(message);
            keys.insert(key.clone());
            let id = format!("{name}.send_{}", message.action);
            let send = json!({
                "action": "send",
                "channel": { "$ref": format!("#/channels/{name}") },
                "summary": summary,
                "messages": refs(name, std::slice::from_ref(&key)),
            });
            self.add(&mut operations, id, send);
        }
        let completion = [group_complete.clone(), event_complete.clone()];
        self.add(
            &mut operations,
            format!("{name}.completion"),
            json!({
                "action": "send",
                "channel": { "$ref": format!("#/channels/{name}") },
                "summary": "Completion frames, when enabled: after each broadcast and each handled event",
                "messages": refs(name, &completion),
            }),
        );
        if let Some(authentication) = &authentication {
            self.add(
                &mut operations,
                format!("{name}.authentication"),
                json!({
                    "action": "send",
                    "channel": { "$ref": format!("#/channels/{name}") },
                    "summary": "Sent before the server closes a connection whose authentication failed",
                    "messages": refs(name, std::slice::from_ref(authentication)),
                }),
            );
        }

        if !documented.credentials.is_empty() {
            let security: Value = documented
                .credentials
                .iter()
                .map(|c| {
                    let scheme = self.security_scheme(c);
                    json!({ "$ref": format!("#/components/securitySchemes/{scheme}") })
                })
                .collect();
            for operation in operations.values_mut() {
                operation["security"] = security.clone();
            }
        }

        let messages: Map<String, Value> = keys
            .iter()
            .map(|k| (k.clone(), json!({ "$ref": format!("#/components/messages/{k}") })))
            .collect();
        let mut channel = json!({ "address": documented.address, "title": name, "messages": messages });
        if let Some(description) = meta.description {
            channel["description"] = json!(description);
        }
        if !meta.tags.is_empty() {
            channel["tags"] = tags(meta.tags);
        }
        let parameters = path_parameters(documented.address);
        if !parameters.is_empty() {
            channel["parameters"] = Value::Object(
                parameters
                    .into_iter()
                    .map(|p| (p.clone(), json!({ "description": format!("Path parameter `{p}`") })))
                    .collect(),
            );
        }
        if let Some(topic) = &documented.topic {
            // Topics share their hub's address: this tells a client which stream the
            // channel is and how to name it.
            channel["x-topic"] = json!({
                "name": meta.name,
                "pattern": topic.pattern(),
                "parameters": topic.parameters(),
            });
        }
        if let Some(binding) = ws_binding(documented.credentials) {
            channel["bindings"] = json!({ "ws": binding });
        }
        (channel, operations)
    }
}

/// The `ws` channel binding of the credentials sent in the handshake's query or
/// headers (cookies have no place in it); `None` when there are none.
fn ws_binding(credentials: &[Credential]) -> Option<Value> {
    let mut binding = Map::new();
    for (key, location) in [("query", CredentialLocation::Query), ("headers", CredentialLocation::Header)] {
        let properties: Map<String, Value> = credentials
            .iter()
            .filter(|c| c.location == location)
            .map(|c| (c.name.to_owned(), described(json!({ "type": "string" }), c.description)))
            .collect();
        if !properties.is_empty() {
            binding.insert(key.into(), json!({ "type": "object", "properties": properties }));
        }
    }
    if binding.is_empty() {
        return None;
    }
    binding.insert("bindingVersion".into(), json!(WS_BINDING_VERSION));
    Some(Value::Object(binding))
}

/// `object` with a `description`, if there is one.
fn described(mut object: Value, description: Option<&str>) -> Value {
    if let Some(description) = description {
        object["description"] = json!(description);
    }
    object
}

/// The first paragraph of a doc comment as plain text: one line, no Markdown code
/// marks or rustdoc link brackets.
fn summary(doc: &str) -> String {
    let first: Vec<&str> = doc.lines().map(str::trim).take_while(|l| !l.is_empty()).collect();
    first.join(" ").replace(['`', '[', ']'], "")
}

/// A doc comment as AsyncAPI Markdown: rustdoc's intra-doc links ``[`Type`]`` become
/// plain code spans.
fn markdown(doc: &str) -> String {
    doc.replace("[`", "`").replace("`]", "`")
}

/// An operation object.
fn operation(channel: &str, action: &str, op: &OperationMeta, messages: &[String]) -> Value {
    let mut operation = json!({
        "action": action,
        "channel": { "$ref": format!("#/channels/{channel}") },
        "messages": refs(channel, messages),
    });
    if let Some(summary) = op.summary {
        operation["summary"] = json!(summary);
    }
    if let Some(description) = op.description {
        operation["description"] = json!(description);
    }
    if !op.tags.is_empty() {
        operation["tags"] = tags(op.tags);
    }
    operation
}

fn refs(channel: &str, keys: &[String]) -> Value {
    keys.iter().map(|k| json!({ "$ref": format!("#/channels/{channel}/messages/{k}") })).collect()
}

fn tags(names: &[&str]) -> Value {
    names.iter().map(|t| json!({ "name": t })).collect()
}

/// `{room_name}` and the like, in order.
fn path_parameters(address: &str) -> Vec<String> {
    address
        .split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .map(|p| p.trim_start_matches('*').to_owned())
        .collect()
}

/// The server the request came to: its `Host`, `ws` or `wss` by the forwarded scheme.
fn request_server(headers: &HeaderMap) -> Vec<Server> {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else { return Vec::new() };
    let secure = headers.get("x-forwarded-proto").and_then(|h| h.to_str().ok()).is_some_and(|p| p == "https");
    vec![Server {
        name: "default".into(),
        host: host.into(),
        protocol: if secure { "wss" } else { "ws" }.into(),
        description: Some("The server this document was served from".into()),
    }]
}

/// A file of [`DocsAssets::Local`]; revalidated on each use, as the folder may change.
async fn asset(path: PathBuf, content_type: &'static str) -> Response {
    match tokio::fs::read(&path).await {
        Ok(bytes) => {
            let headers = [
                (header::CONTENT_TYPE, content_type),
                (header::CACHE_CONTROL, "no-cache"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ];
            (headers, bytes).into_response()
        }
        Err(error) => {
            tracing::error!(%error, path = %path.display(), "cannot read a docs asset");
            (StatusCode::NOT_FOUND, format!("docs asset not found: {}", path.display())).into_response()
        }
    }
}

/// The page-relative paths of the embedded script and stylesheet: versioned, so that
/// they can be cached for good.
#[cfg(feature = "docs-embedded")]
fn embedded_paths() -> (String, String) {
    let dir = format!("asyncapi/assets/{}", pinned::VERSION);
    (format!("{dir}/index.js"), format!("{dir}/default.min.css"))
}

/// A file of `DocsAssets::Embedded`: cacheable for good, with its integrity hash as
/// entity tag (304 when the request has it).
#[cfg(feature = "docs-embedded")]
fn embedded_asset(
    headers: &HeaderMap,
    body: &'static [u8],
    content_type: &'static str,
    sri: &str,
) -> Response {
    let tag = format!("\"{sri}\"");
    let fresh = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .any(|candidate| candidate == "*" || candidate.trim_start_matches("W/") == tag);
    let cache = [(header::CACHE_CONTROL, embedded::CACHE_CONTROL)];
    if fresh {
        return (StatusCode::NOT_MODIFIED, cache, [(header::ETAG, tag)]).into_response();
    }
    let typed = [(header::CONTENT_TYPE, content_type), (header::X_CONTENT_TYPE_OPTIONS, "nosniff")];
    (cache, [(header::ETAG, tag)], typed, body).into_response()
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The docs page. The viewer's script and stylesheet (`{script}`, `{style}`) fail to
/// load, or rendering throws: `chanxDocs.fail` shows `#asyncapi-fallback`, whose links are
/// relative to the page, like the document URL the component fetches.
const DOCS_PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · AsyncAPI</title>
<link rel="icon" href="data:,">
<style>
  #asyncapi-fallback, #asyncapi-noscript { font: 16px/1.5 system-ui, sans-serif; max-width: 42rem; margin: 2rem auto;
    padding: 1rem 1.25rem; border: 1px solid #d9a21b; border-radius: 6px; background: #fff8e1; color: #222; }
  #asyncapi-fallback a, #asyncapi-noscript a { font-family: ui-monospace, monospace; }
</style>
<script>
  var chanxDocs = {
    // Shows the links to the document in place of the viewer (once the body is parsed).
    fail: function () {
      var fallback = document.getElementById('asyncapi-fallback');
      if (!fallback) {
        document.addEventListener('DOMContentLoaded', chanxDocs.fail);
        return;
      }
      fallback.querySelectorAll('a').forEach(function (a) { a.textContent = a.pathname; });
      fallback.hidden = false;
    },
  };
  // A script or stylesheet that fails to load (no network, integrity mismatch, not
  // found), or an uncaught error while the viewer has rendered nothing.
  window.addEventListener('error', function (event) {
    var target = event.target;
    if (target instanceof HTMLScriptElement || target instanceof HTMLLinkElement) {
      chanxDocs.fail();
    } else if (event instanceof ErrorEvent) {
      setTimeout(function () {
        var root = document.getElementById('asyncapi');
        if (!root || !root.hasChildNodes()) chanxDocs.fail();
      });
    }
  }, true);
</script>
{style}
</head>
<body>
<div id="asyncapi-fallback" role="alert" hidden>
The AsyncAPI viewer could not be loaded (no internet?). The document itself:
<a href="asyncapi.json">/asyncapi.json</a>, <a href="asyncapi.yaml">/asyncapi.yaml</a>
</div>
<noscript><div id="asyncapi-noscript">
The AsyncAPI viewer needs JavaScript. The document itself:
<a href="asyncapi.json">asyncapi.json</a>, <a href="asyncapi.yaml">asyncapi.yaml</a>
</div></noscript>
<div id="asyncapi"></div>
{script}
<script>
  if (typeof AsyncApiStandalone === 'undefined') {
    chanxDocs.fail();
  } else {
    try {
      AsyncApiStandalone.render(
        { schema: { url: 'asyncapi.json', options: { method: 'GET', mode: 'cors' } }, config: { show: { sidebar: true } } },
        document.getElementById('asyncapi'),
      );
    } catch (error) {
      console.error('The AsyncAPI viewer failed to render:', error);
      chanxDocs.fail();
    }
  }
</script>
</body>
</html>
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_are_plain_first_paragraphs() {
        let doc = "Error frame: a list,\nor a [`Detail`].\n\nMore `here`.";
        assert_eq!(summary(doc), "Error frame: a list, or a Detail.");
        assert_eq!(markdown(doc), "Error frame: a list,\nor a `Detail`.\n\nMore `here`.");
    }

    #[test]
    fn path_parameters_in_order() {
        assert_eq!(path_parameters("/ws/{org}/room/{room_name}"), ["org", "room_name"]);
        assert!(path_parameters("/ws/system").is_empty());
    }

    #[test]
    fn servers_follow_the_request() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, "example.com:8443".parse().unwrap());
        headers.insert("x-forwarded-proto", "https".parse().unwrap());
        let servers = request_server(&headers);
        assert_eq!((servers[0].host.as_str(), servers[0].protocol.as_str()), ("example.com:8443", "wss"));
    }
}
