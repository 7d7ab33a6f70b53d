//! `#[channel]`, `#[topic]` and their handler attributes: parse the impl block into a
//! model, then render it.

mod client;
mod mixin;
mod model;
mod parse;
mod render;

use proc_macro2::{Span, TokenStream};
use quote::quote;

pub use mixin::expand as expand_mixin;
pub use model::Item;

pub fn expand(args: TokenStream, item: TokenStream, kind: Item) -> TokenStream {
    let mut item: syn::ItemImpl = match syn::parse2(item) {
        Ok(item) => item,
        Err(e) => {
            let example = match kind {
                Item::Consumer => "impl MyConsumer { ... }",
                Item::Topic => "impl MyTopic { ... }",
            };
            let text = format!("`#[{}]` goes on an impl block: `{example}`", kind.attribute());
            return syn::Error::new(e.span(), text).to_compile_error();
        }
    };
    let (model, errors) = parse::channel(args, &mut item, kind);
    // Whatever the errors, the impl block (its handler attributes stripped) and the
    // consumer's trait impl over the valid handlers are still emitted, so that one
    // mistake gives one error, not a cascade of "method not found" or "not a Channel".
    let rendered = match model {
        Some(model) => render::channel(&item, &model),
        None => quote!(#item),
    };
    let errors = errors.into_compile_errors();
    quote!(#rendered #errors)
}

pub fn stray_handler(attribute: &str, item: TokenStream) -> TokenStream {
    let text = format!(
        "`#[{attribute}]` only works on a method inside a `#[channel]` or `#[topic]` impl block or a `#[mixin]` trait"
    );
    let error = syn::Error::new(Span::call_site(), text).to_compile_error();
    quote!(#item #error)
}
