//! `#[channel]` and `#[ws_handler]`: parse the impl block into a model, then render it.

mod model;
mod parse;
mod render;

use proc_macro2::{Span, TokenStream};
use quote::quote;

pub fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut item: syn::ItemImpl = match syn::parse2(item) {
        Ok(item) => item,
        Err(e) => {
            let error =
                syn::Error::new(e.span(), "`#[channel]` goes on an impl block: `impl MyConsumer { ... }`");
            return error.to_compile_error();
        }
    };
    let (model, errors) = parse::channel(args, &mut item);
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
    let text = format!("`#[{attribute}]` only works on a method inside a `#[channel]` impl block");
    let error = syn::Error::new(Span::call_site(), text).to_compile_error();
    quote!(#item #error)
}
