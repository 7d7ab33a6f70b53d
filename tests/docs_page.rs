//! The AsyncAPI docs page over HTTP: its fallback (the message and the links to the
//! document, relative to the page, wherever the routes are nested), the component's files
//! with `DocsAssets::Local` and, with the feature `docs-embedded`, `DocsAssets::Embedded`
//! (the default then): content types and caching headers. The fallback in a real browser
//! is checked by `tests/browser.rs`.

mod common;

use std::path::PathBuf;

use axum::Router;
use chanx::asyncapi::{AsyncApi, DocsAssets};
use common::{http, serve, system_echo};

const MESSAGE: &str = "The AsyncAPI viewer could not be loaded (no internet?). The document itself:";

fn docs(assets: DocsAssets) -> AsyncApi {
    system_echo::asyncapi(AsyncApi::new().title("Docs page").docs_assets(assets))
}

#[tokio::test]
async fn the_page_links_to_the_document_next_to_it() {
    let addr = serve(Router::new().nest("/api/v1", docs(DocsAssets::Cdn).routes())).await;
    let page = http(addr, "GET", "/api/v1/asyncapi", &[], "").await;
    assert_eq!((page.status, page.header("content-type")), (200, "text/html; charset=utf-8"));
    let fallback = page.body.split(r#"<div id="asyncapi-fallback" role="alert" hidden>"#).nth(1);
    let fallback = fallback.and_then(|rest| rest.split("</div>").next()).expect("the fallback element");
    assert!(fallback.contains(MESSAGE), "{fallback}");
    for file in ["asyncapi.json", "asyncapi.yaml"] {
        assert!(fallback.contains(&format!(r#"<a href="{file}">/{file}</a>"#)), "{fallback}");
        // Relative to the page: next to it, under the prefix.
        let document = http(addr, "GET", &format!("/api/v1/{file}"), &[], "").await;
        assert_eq!(document.status, 200, "{file}");
        assert!(document.body.contains("3.0.0"), "{file}: {}", document.body);
    }
    assert!(
        page.body.contains(
            r#"<script src="https://unpkg.com/@asyncapi/react-component@3.2.1/browser/standalone/index.js" integrity="sha384-"#
        ),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn the_title_is_escaped_and_never_a_placeholder() {
    let docs = AsyncApi::new().title("<b>{script}{style}</b>").docs_assets(DocsAssets::Cdn);
    let page = http(serve(docs.routes()).await, "GET", "/asyncapi", &[], "").await;
    assert!(
        page.body.contains("<title>&lt;b&gt;{script}{style}&lt;/b&gt; · AsyncAPI</title>"),
        "{}",
        page.body
    );
    assert_eq!(page.body.matches("<script src=").count(), 1, "{}", page.body);
}

/// A folder laid out like the npm package, with stand-in files.
fn fake_package() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("chanx-docs-page-{}", std::process::id()));
    for (file, text) in [("browser/standalone/index.js", "window.x = 1;"), ("styles/default.min.css", "a{}")]
    {
        let path = dir.join(file);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("create the folder");
        std::fs::write(path, text).expect("write a stand-in file");
    }
    dir
}

#[tokio::test]
async fn local_files_are_served_typed_and_revalidated() {
    let dir = fake_package();
    let addr = serve(docs(DocsAssets::Local(dir.clone())).routes()).await;
    let page = http(addr, "GET", "/asyncapi", &[], "").await;
    assert!(page.body.contains(r#"<script src="asyncapi/assets/index.js"></script>"#), "{}", page.body);
    assert!(page.body.contains(r#"<link rel="stylesheet" href="asyncapi/assets/default.min.css">"#));
    for (path, content_type, body) in [
        ("/asyncapi/assets/index.js", "text/javascript; charset=utf-8", "window.x = 1;"),
        ("/asyncapi/assets/default.min.css", "text/css; charset=utf-8", "a{}"),
    ] {
        let file = http(addr, "GET", path, &[], "").await;
        assert_eq!((file.status, file.header("content-type"), file.body.as_str()), (200, content_type, body));
        assert_eq!(file.header("cache-control"), "no-cache", "{path}");
        assert_eq!(file.header("x-content-type-options"), "nosniff", "{path}");
    }
    std::fs::remove_dir_all(&dir).expect("remove the stand-in package");
    // A missing file is a 404, which the page's fallback turns into its message.
    assert_eq!(http(addr, "GET", "/asyncapi/assets/index.js", &[], "").await.status, 404);
}

/// Shows in the summary that the embedded files' test needs the feature.
#[cfg(not(feature = "docs-embedded"))]
#[test]
#[ignore = "needs the feature docs-embedded: npm ci --prefix tests/browser, then cargo test --features docs-embedded"]
fn embedded_files_are_the_default_and_cached_for_good() {
    panic!("build the tests with `--features docs-embedded` (after `npm ci --prefix tests/browser`)");
}

/// The embedded files: the default, under a versioned path, cacheable for good, equal to
/// the npm package's.
#[cfg(feature = "docs-embedded")]
#[tokio::test]
async fn embedded_files_are_the_default_and_cached_for_good() {
    let component = std::env::var_os("CHANX_ASYNCAPI_COMPONENT_DIR").map_or_else(
        || {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("tests/browser/node_modules/@asyncapi/react-component")
        },
        PathBuf::from,
    );
    let version = chanx::asyncapi::REACT_COMPONENT_VERSION;
    assert_eq!(DocsAssets::default(), DocsAssets::Embedded);
    let addr = serve(system_echo::asyncapi(AsyncApi::new()).routes()).await;
    let page = http(addr, "GET", "/asyncapi", &[], "").await;
    for (name, file, content_type, tag) in [
        ("index.js", "browser/standalone/index.js", "text/javascript; charset=utf-8", "<script src="),
        (
            "default.min.css",
            "styles/default.min.css",
            "text/css; charset=utf-8",
            r#"<link rel="stylesheet" href="#,
        ),
    ] {
        let path = format!("asyncapi/assets/{version}/{name}");
        let reference = format!(r#"{tag}"{path}" integrity="sha384-"#);
        assert!(page.body.contains(&reference), "{reference} in {}", page.body);
        let served = http(addr, "GET", &format!("/{path}"), &[], "").await;
        assert_eq!((served.status, served.header("content-type")), (200, content_type), "{path}");
        assert_eq!(served.header("cache-control"), "public, max-age=31536000, immutable", "{path}");
        assert_eq!(served.header("x-content-type-options"), "nosniff", "{path}");
        let etag = served.header("etag").to_owned();
        assert!(etag.starts_with("\"sha384-") && etag.ends_with('"'), "{path}: {etag}");
        assert!(page.body.contains(&format!(r#"integrity={etag}"#)), "the page pins the served hash {etag}");
        let npm = std::fs::read_to_string(component.join(file)).expect("the npm package's file");
        assert!(served.body == npm, "{path} is the npm package's {file}");

        let again = http(addr, "GET", &format!("/{path}"), &[("If-None-Match", &etag)], "").await;
        assert_eq!((again.status, again.body.as_str()), (304, ""), "{path} revalidated");
        assert_eq!(again.header("etag"), etag);
        let other = http(addr, "GET", &format!("/{path}"), &[("If-None-Match", "\"other\"")], "").await;
        assert_eq!(other.status, 200, "{path} with another tag");
    }
    // Not under the unversioned paths of `DocsAssets::Local`.
    assert_eq!(http(addr, "GET", "/asyncapi/assets/index.js", &[], "").await.status, 404);
}
