//! The pinned `@asyncapi/react-component` of the docs page: its version, the files the
//! page loads and their subresource integrity. Shared by the crate and its build script,
//! which checks the files it embeds (feature `docs-embedded`) against these hashes.

/// The pinned version of the npm package.
pub const VERSION: &str = "3.2.1";
/// The standalone bundle, inside the package.
pub const SCRIPT_PATH: &str = "browser/standalone/index.js";
/// Its SHA-384, as a subresource integrity value.
pub const SCRIPT_SRI: &str = "sha384-wy5bSOazlkSKMGH7XMW6+pK8ho8+rCPr7mTqKdAb/dvfwXAPWCFivgr3C7wJMFAh";
/// The stylesheet, inside the package.
pub const STYLE_PATH: &str = "styles/default.min.css";
/// Its SHA-384, as a subresource integrity value.
pub const STYLE_SRI: &str = "sha384-oo9RoQcacP++XdMX6CjTucTvASEORHX3chFik0/V2kHcsHiVboGyWZztGeq/0bum";
