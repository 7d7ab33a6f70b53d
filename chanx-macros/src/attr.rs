//! Shared attribute plumbing: an error collector, doc comments, key skipping.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use syn::meta::ParseNestedMeta;
use syn::punctuated::Punctuated;
use syn::{Attribute, Expr, ExprLit, Lit, LitStr, Meta, Token};

/// Collects every error of an item so that all are reported together.
#[derive(Default)]
pub struct Errors(Option<syn::Error>);

impl Errors {
    /// Records one error.
    pub fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    /// Records the error of a parse step, if it failed, and returns its value.
    pub fn ok<T>(&mut self, result: syn::Result<T>) -> Option<T> {
        result.map_err(|e| self.push(e)).ok()
    }

    /// The collected errors as `compile_error!` invocations (empty when none).
    pub fn into_compile_errors(self) -> TokenStream {
        self.0.map(|e| e.to_compile_error()).unwrap_or_default()
    }

    /// Whether no error was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }
}

/// The doc comment of an item, lines trimmed and joined, if it has one.
pub fn doc_comment(attrs: &[Attribute]) -> Option<String> {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            Meta::NameValue(nv) => match &nv.value {
                Expr::Lit(ExprLit { lit: Lit::Str(s), .. }) => Some(s.value().trim().to_owned()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    let text = lines.join("\n").trim().to_owned();
    (!text.is_empty()).then_some(text)
}

/// Parses `key("a", "b", ...)`; `key = [...]` is recorded (see [`list_as_value`]).
pub fn string_list(meta: &ParseNestedMeta, errors: &mut Errors) -> syn::Result<Vec<LitStr>> {
    if let Some(items) = list_as_value(meta, errors)? {
        return Ok(items.iter().filter_map(|item| string_literal(item, errors)).collect());
    }
    let content;
    syn::parenthesized!(content in meta.input);
    Ok(Punctuated::<LitStr, Token![,]>::parse_terminated(&content)?.into_iter().collect())
}

/// A list key written as a value, `key = [a, b]` or `key = a`, where `key(a, b)` is
/// meant: records an error that shows the right form and returns the items, so that
/// parsing goes on. `None` when the key is not followed by `=`.
pub fn list_as_value(meta: &ParseNestedMeta, errors: &mut Errors) -> syn::Result<Option<Vec<Expr>>> {
    if !meta.input.peek(Token![=]) {
        return Ok(None);
    }
    let value: Expr = meta.value()?.parse()?;
    let items: Vec<Expr> = match &value {
        Expr::Array(array) => array.elems.iter().cloned().collect(),
        Expr::Tuple(tuple) => tuple.elems.iter().cloned().collect(),
        single => vec![single.clone()],
    };
    let key = meta.path.get_ident().map(ToString::to_string).unwrap_or_default();
    let written: Vec<String> = items.iter().map(|item| item.to_token_stream().to_string()).collect();
    let path = &meta.path;
    errors.push(syn::Error::new_spanned(
        quote!(#path = #value),
        format!("`{key}` takes a list in parentheses: write `{key}({})`", written.join(", ")),
    ));
    Ok(Some(items))
}

/// Reports an unknown key and consumes its value so that parsing can go on.
pub fn unknown_key(
    meta: &ParseNestedMeta,
    errors: &mut Errors,
    attribute: &str,
    known: &str,
) -> syn::Result<()> {
    let key = meta.path.get_ident().map(ToString::to_string).unwrap_or_else(|| "?".into());
    errors.push(meta.error(format!("unknown `{attribute}` key `{key}`; expected one of: {known}")));
    if meta.input.peek(Token![=]) {
        meta.value()?.parse::<Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        let _skipped;
        syn::parenthesized!(_skipped in meta.input);
        _skipped.parse::<TokenStream>()?;
    }
    Ok(())
}

/// Records a duplicate key.
pub fn set_once<T>(slot: &mut Option<T>, value: T, meta: &ParseNestedMeta, errors: &mut Errors) {
    if slot.is_some() {
        let key = meta.path.get_ident().map(ToString::to_string).unwrap_or_default();
        errors.push(meta.error(format!("duplicate key `{key}`")));
    } else {
        *slot = Some(value);
    }
}

/// Parses `key = "text"`; a value that is not a string literal is recorded and
/// skipped, so that the keys after it are still checked.
pub fn lit_str(meta: &ParseNestedMeta, errors: &mut Errors) -> syn::Result<Option<LitStr>> {
    Ok(string_literal(&meta.value()?.parse::<Expr>()?, errors))
}

/// `expr` if it is a string literal; otherwise the error is recorded.
pub fn string_literal(expr: &Expr, errors: &mut Errors) -> Option<LitStr> {
    match expr {
        Expr::Lit(ExprLit { lit: Lit::Str(text), .. }) => Some(text.clone()),
        other => {
            errors.push(syn::Error::new_spanned(other, "expected a string literal"));
            None
        }
    }
}
