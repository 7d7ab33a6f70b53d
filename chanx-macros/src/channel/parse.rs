//! Parse the `#[channel]` impl block and its `#[ws_handler]` attributes into the model,
//! collecting every error.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::parse::Parser;
use syn::{Attribute, FnArg, ImplItem, ImplItemFn, ItemImpl, LitStr, ReturnType, Type};

use super::model::{Arg, Channel, Handler};
use crate::attr::{Errors, doc_comment, set_once, string_list, unknown_key};

pub fn channel(args: TokenStream, item: &mut ItemImpl) -> (Option<Channel>, Errors) {
    let mut errors = Errors::default();
    let mut name: Option<LitStr> = None;
    let mut description: Option<LitStr> = None;
    let mut tags: Option<Vec<LitStr>> = None;
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("name") {
            let value = meta.value()?.parse()?;
            set_once(&mut name, value, &meta, &mut errors);
        } else if meta.path.is_ident("description") {
            let value = meta.value()?.parse()?;
            set_once(&mut description, value, &meta, &mut errors);
        } else if meta.path.is_ident("tags") {
            let value = string_list(&meta)?;
            set_once(&mut tags, value, &meta, &mut errors);
        } else {
            unknown_key(&meta, &mut errors, "channel", "name, description, tags")?;
        }
        Ok(())
    });
    let parsed = parser.parse2(args);
    errors.ok(parsed);

    if let Some((_, path, _)) = &item.trait_ {
        errors.push(syn::Error::new_spanned(
            path,
            "`#[channel]` goes on an inherent impl block (`impl MyConsumer { ... }`), not on a trait impl",
        ));
    }
    if !item.generics.params.is_empty() {
        errors.push(syn::Error::new_spanned(&item.generics, "a `#[channel]` consumer cannot be generic"));
    }
    let type_name = match &*item.self_ty {
        Type::Path(path) => path.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    };
    let Some(type_name) = type_name else {
        errors.push(syn::Error::new_spanned(&item.self_ty, "`#[channel]` needs a named consumer type"));
        return (None, errors);
    };

    let mut handlers: Vec<Handler> = Vec::new();
    for impl_item in &mut item.items {
        let ImplItem::Fn(method) = impl_item else { continue };
        let Some(attr) = take_handler_attr(method) else { continue };
        let Some(handler) = handler(&attr, method, &mut errors) else { continue };
        let key = handler.message.to_token_stream().to_string();
        if let Some(first) = handlers.iter().find(|h| h.message.to_token_stream().to_string() == key) {
            errors.push(syn::Error::new_spanned(
                &handler.message,
                format!("two handlers for the same message: `{}` already handles `{key}`", first.ident),
            ));
            continue;
        }
        handlers.push(handler);
    }

    let model = Channel {
        self_ty: (*item.self_ty).clone(),
        name: name.map(|n| n.value()).unwrap_or_else(|| default_name(&type_name)),
        description: description.map(|d| d.value()).or_else(|| doc_comment(&item.attrs)),
        type_name,
        tags: tags.unwrap_or_default(),
        handlers,
    };
    (Some(model), errors)
}

/// Removes the `#[ws_handler]` attribute of a method, if it has one.
fn take_handler_attr(method: &mut ImplItemFn) -> Option<Attribute> {
    let position = method
        .attrs
        .iter()
        .position(|a| a.path().segments.last().is_some_and(|s| s.ident == "ws_handler"))?;
    Some(method.attrs.remove(position))
}

fn handler(attr: &Attribute, method: &ImplItemFn, errors: &mut Errors) -> Option<Handler> {
    let mut summary: Option<LitStr> = None;
    let mut description: Option<LitStr> = None;
    let mut tags: Option<Vec<LitStr>> = None;
    let mut output: Option<Vec<Type>> = None;
    if let syn::Meta::List(list) = &attr.meta {
        let parser = syn::meta::parser(|meta| {
            if meta.path.is_ident("summary") {
                let value = meta.value()?.parse()?;
                set_once(&mut summary, value, &meta, errors);
            } else if meta.path.is_ident("description") {
                let value = meta.value()?.parse()?;
                set_once(&mut description, value, &meta, errors);
            } else if meta.path.is_ident("tags") {
                let value = string_list(&meta)?;
                set_once(&mut tags, value, &meta, errors);
            } else if meta.path.is_ident("output") {
                let value = match meta.value()?.parse::<Type>()? {
                    Type::Tuple(tuple) => tuple.elems.into_iter().collect(),
                    Type::Paren(inner) => vec![*inner.elem],
                    single => vec![single],
                };
                set_once(&mut output, value, &meta, errors);
            } else {
                unknown_key(&meta, errors, "ws_handler", "summary, description, tags, output")?;
            }
            Ok(())
        });
        let parsed = parser.parse2(list.tokens.clone());
        errors.ok(parsed);
    }

    let sig = &method.sig;
    let mut valid = true;
    let mut fail = |error: syn::Error| {
        valid = false;
        errors.push(error);
    };
    if sig.asyncness.is_none() {
        fail(syn::Error::new_spanned(sig.fn_token, "a `#[ws_handler]` must be an `async fn`"));
    }
    if !sig.generics.params.is_empty() {
        fail(syn::Error::new_spanned(&sig.generics, "a `#[ws_handler]` cannot be generic"));
    }
    let mut inputs = sig.inputs.iter();
    match inputs.next() {
        Some(FnArg::Receiver(receiver)) if receiver.reference.is_some() && receiver.colon_token.is_none() => {
        }
        Some(FnArg::Receiver(receiver)) => {
            fail(syn::Error::new_spanned(receiver, "a `#[ws_handler]` takes `&mut self` or `&self`"))
        }
        _ => fail(syn::Error::new(
            sig.paren_token.span.join(),
            "a `#[ws_handler]` takes `&mut self` or `&self` first",
        )),
    }
    let mut args = Vec::new();
    let mut message: Option<Type> = None;
    let mut has_context = false;
    for input in inputs {
        let FnArg::Typed(typed) = input else { continue };
        let ty = (*typed.ty).clone();
        match &ty {
            Type::Reference(reference) if reference.mutability.is_some() => {
                if has_context {
                    fail(syn::Error::new_spanned(
                        &ty,
                        "a `#[ws_handler]` takes at most one `&mut Context<Self>`",
                    ));
                }
                has_context = true;
                args.push(Arg::Context(ty));
            }
            Type::Reference(_) => fail(syn::Error::new_spanned(
                &ty,
                "a `#[ws_handler]` takes its message by value and the context as `&mut Context<Self>`",
            )),
            _ if message.is_some() => {
                fail(syn::Error::new_spanned(&ty, "a `#[ws_handler]` takes exactly one message argument"))
            }
            _ => {
                message = Some(ty.clone());
                args.push(Arg::Message(ty));
            }
        }
    }
    if message.is_none() {
        fail(syn::Error::new(
            sig.paren_token.span.join(),
            "a `#[ws_handler]` takes one message argument, e.g. `msg: UserMessage`",
        ));
    }
    let ret = match &sig.output {
        ReturnType::Default => syn::parse_quote_spanned!(sig.ident.span()=> ()),
        ReturnType::Type(_, ty) => (**ty).clone(),
    };
    Some(Handler {
        ident: sig.ident.clone(),
        summary,
        description: description.map(|d| d.value()).or_else(|| doc_comment(&method.attrs)),
        tags: tags.unwrap_or_default(),
        output,
        message: message.filter(|_| valid)?,
        args,
        ret,
    })
}

/// `SystemMessageConsumer` -> `system_message`.
fn default_name(type_name: &str) -> String {
    let base = type_name.strip_suffix("Consumer").filter(|b| !b.is_empty()).unwrap_or(type_name);
    let mut name = String::with_capacity(base.len() + 4);
    for (i, c) in base.chars().enumerate() {
        if c.is_uppercase() {
            if i > 0 {
                name.push('_');
            }
            name.extend(c.to_lowercase());
        } else {
            name.push(c);
        }
    }
    name
}
