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
    match model {
        Some(model) if errors.is_empty() => render::channel(&item, &model),
        // The impl block is still emitted (its handler attributes stripped) so that one
        // mistake gives one error, not a cascade of "method not found".
        _ => {
            let errors = errors.into_compile_errors();
            quote!(#item #errors)
        }
    }
}

pub fn stray_handler(item: TokenStream) -> TokenStream {
    let error = syn::Error::new(
        Span::call_site(),
        "`#[ws_handler]` only works on a method inside a `#[channel]` impl block",
    )
    .to_compile_error();
    quote!(#item #error)
}
