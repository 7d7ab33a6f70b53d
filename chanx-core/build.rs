//! With the `docs-embedded` feature: copies the pinned `@asyncapi/react-component` files
//! the docs page loads into `OUT_DIR`, for `include_bytes!`, after checking them against
//! the pinned version and subresource integrity hashes. They come from the folder of the
//! npm package named by `CHANX_ASYNCAPI_COMPONENT_DIR`, else from the workspace's
//! `tests/browser/node_modules/@asyncapi/react-component` (`npm ci --prefix tests/browser`).
//! Nothing is downloaded; without the files the build fails and says how to get them,
//! except on docs.rs (`DOCS_RS`), where empty files stand in so that the feature's API is
//! documented.

fn main() {
    #[cfg(feature = "docs-embedded")]
    embedded::run();
}

#[cfg(feature = "docs-embedded")]
#[path = "src/asyncapi/pinned.rs"]
mod pinned;

#[cfg(feature = "docs-embedded")]
mod embedded {
    use std::path::{Path, PathBuf};

    use base64::Engine as _;
    use sha2::{Digest as _, Sha384};

    use crate::pinned;

    /// The variable naming the folder of the npm package.
    const DIR_VAR: &str = "CHANX_ASYNCAPI_COMPONENT_DIR";
    /// The package inside the workspace, once `npm ci --prefix tests/browser` ran.
    const WORKSPACE_DIR: &str = "../tests/browser/node_modules/@asyncapi/react-component";

    pub fn run() {
        println!("cargo::rerun-if-changed=build.rs");
        println!("cargo::rerun-if-changed=src/asyncapi/pinned.rs");
        println!("cargo::rerun-if-env-changed={DIR_VAR}");
        let Err(problem) = embed() else { return };
        let failure = if std::env::var_os("DOCS_RS").is_some() {
            println!("cargo::warning=docs.rs build: the AsyncAPI component is not embedded ({problem})");
            match stand_in() {
                Ok(()) => return,
                Err(error) => error,
            }
        } else {
            format!(
                "chanx-core's feature `docs-embedded` embeds @asyncapi/react-component {version} in the \
                 binary, taken from the npm package at build time, but {problem}.\n\
                 Get the package with `npm ci --prefix tests/browser` in the chanx repository, or with \
                 `npm install @asyncapi/react-component@{version}` anywhere and \
                 {DIR_VAR}=/path/to/node_modules/@asyncapi/react-component; or build without the \
                 feature (the docs page then loads the component from a CDN, or from `DocsAssets::Local`).",
                version = pinned::VERSION,
            )
        };
        eprintln!("error: {failure}");
        std::process::exit(1);
    }

    /// Empty files in place of the component's, for a documentation build.
    fn stand_in() -> Result<(), String> {
        let out = PathBuf::from(std::env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?);
        for name in ["index.js", "default.min.css"] {
            let file = out.join(name);
            std::fs::write(&file, "").map_err(|error| format!("cannot write {}: {error}", file.display()))?;
        }
        Ok(())
    }

    /// Finds, checks and copies the files; what is wrong, if anything.
    fn embed() -> Result<(), String> {
        let dir = match std::env::var_os(DIR_VAR) {
            Some(dir) => PathBuf::from(dir),
            None => {
                let manifest =
                    std::env::var_os("CARGO_MANIFEST_DIR").ok_or("CARGO_MANIFEST_DIR is not set")?;
                let dir = Path::new(&manifest).join(WORKSPACE_DIR);
                if !dir.is_dir() {
                    return Err(format!("{DIR_VAR} is not set and {} does not exist", dir.display()));
                }
                dir
            }
        };
        let manifest = dir.join("package.json");
        println!("cargo::rerun-if-changed={}", manifest.display());
        let text = read(&manifest)?;
        let package: serde_json::Value = serde_json::from_slice(&text)
            .map_err(|error| format!("{} is not valid JSON: {error}", manifest.display()))?;
        let version = package.get("version").and_then(serde_json::Value::as_str);
        if version != Some(pinned::VERSION) {
            return Err(format!(
                "{} is version {}, not the pinned {}",
                dir.display(),
                version.unwrap_or("(none)"),
                pinned::VERSION
            ));
        }
        let out = PathBuf::from(std::env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?);
        for (path, sri, name) in [
            (pinned::SCRIPT_PATH, pinned::SCRIPT_SRI, "index.js"),
            (pinned::STYLE_PATH, pinned::STYLE_SRI, "default.min.css"),
        ] {
            let file = dir.join(path);
            println!("cargo::rerun-if-changed={}", file.display());
            let bytes = read(&file)?;
            let hash = format!(
                "sha384-{}",
                base64::engine::general_purpose::STANDARD.encode(Sha384::digest(&bytes))
            );
            if hash != sri {
                return Err(format!("{} has the hash {hash}, not the pinned {sri}", file.display()));
            }
            let copy = out.join(name);
            std::fs::write(&copy, &bytes)
                .map_err(|error| format!("cannot write {}: {error}", copy.display()))?;
        }
        Ok(())
    }

    fn read(path: &Path) -> Result<Vec<u8>, String> {
        std::fs::read(path).map_err(|error| format!("cannot read {}: {error}", path.display()))
    }
}
