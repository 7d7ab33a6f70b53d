//! `#[mixin]`: a trait whose handlers several consumers include with
//! `#[channel(mixins(...))]`. The trait keeps its handlers as default methods (each
//! `async fn` becomes a `fn` returning a `Send` future, so that they run on any
//! consumer) and gains hidden items that the including consumer's generated code
//! calls: its actions, groups and events, its dispatch and its metadata.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::parse::Parser;
use syn::{Ident, ImplItemFn, ItemTrait, LitStr, TraitItem, Type};

use super::model::Mixin;
use super::parse::{handlers, take_handler_attr, type_list};
use super::render::{dispatch_arm, distinct_actions, metas, operation};
use crate::attr::{Errors, set_once, string_list, unknown_key};

const KEYS: &str = "groups, passthrough, sends";

pub fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut item: ItemTrait = match syn::parse2(item) {
        Ok(item) => item,
        Err(e) => {
            let text = "`#[mixin]` goes on a trait: `trait Presence: Consumer { ... }`";
            return syn::Error::new(e.span(), text).to_compile_error();
        }
    };
    let (model, errors) = parse(args, &mut item);
    let rendered = render(&mut item, &model);
    let errors = errors.into_compile_errors();
    quote!(#rendered #errors)
}

fn parse(args: TokenStream, item: &mut ItemTrait) -> (Mixin, Errors) {
    let mut errors = Errors::default();
    let mut groups: Option<Vec<LitStr>> = None;
    let mut passthrough: Option<Vec<Type>> = None;
    let mut sends: Option<Vec<Type>> = None;
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("groups") {
            let value = string_list(&meta, &mut errors)?;
            set_once(&mut groups, value, &meta, &mut errors);
        } else if meta.path.is_ident("passthrough") {
            let value = type_list(&meta, &mut errors)?;
            set_once(&mut passthrough, value, &meta, &mut errors);
        } else if meta.path.is_ident("sends") {
            let value = type_list(&meta, &mut errors)?;
            set_once(&mut sends, value, &meta, &mut errors);
        } else {
            unknown_key(&meta, &mut errors, "mixin", KEYS)?;
        }
        Ok(())
    });
    let parsed = parser.parse2(args);
    errors.ok(parsed);
    if !item.generics.params.is_empty() {
        errors.push(syn::Error::new_spanned(&item.generics, "a `#[mixin]` trait cannot be generic"));
    }
    let passthrough = passthrough.unwrap_or_default();

    // The handlers as impl methods, for the parser of `#[channel]`; each one's body
    // then goes back into the trait as a default method returning a `Send` future.
    let mut methods: Vec<(usize, ImplItemFn)> = Vec::new();
    for (position, trait_item) in item.items.iter_mut().enumerate() {
        let TraitItem::Fn(method) = trait_item else { continue };
        let marked = method.attrs.iter().any(|a| {
            a.path().segments.last().is_some_and(|s| s.ident == "ws_handler" || s.ident == "event_handler")
        });
        if !marked {
            continue;
        }
        let Some(block) = method.default.clone() else {
            let mut stripped = ImplItemFn {
                attrs: method.attrs.clone(),
                vis: syn::Visibility::Inherited,
                defaultness: None,
                sig: method.sig.clone(),
                block: syn::parse_quote!({}),
            };
            if let Some((attr, _)) = take_handler_attr(&mut stripped) {
                errors.push(syn::Error::new_spanned(
                    attr,
                    "a handler of a `#[mixin]` needs a body: the mixin's consumers share it",
                ));
            }
            method.attrs = stripped.attrs;
            // A body, so that the consumers' impls do not fail a second time.
            method.default = Some(syn::parse_quote!({ ::core::unimplemented!() }));
            method.semi_token = None;
            continue;
        };
        let impl_fn = ImplItemFn {
            attrs: method.attrs.clone(),
            vis: syn::Visibility::Inherited,
            defaultness: None,
            sig: method.sig.clone(),
            block,
        };
        methods.push((position, impl_fn));
    }
    let (handlers, events) = handlers(methods.iter_mut().map(|(_, m)| m), &passthrough, &mut errors);
    for (position, method) in methods {
        let TraitItem::Fn(trait_fn) = &mut item.items[position] else { continue };
        trait_fn.attrs = method.attrs;
        into_send_future(trait_fn);
    }
    let mixin = Mixin {
        ident: item.ident.clone(),
        groups: groups.unwrap_or_default(),
        passthrough,
        passthrough_label: Ident::new("passthrough", Span::call_site()),
        sends: sends.unwrap_or_default(),
        handlers,
        events,
    };
    (mixin, errors)
}

/// `async fn f(..) -> R { body }` -> `fn f(..) -> impl Future<Output = R> + Send {
/// async move { body } }`: a default method's future is not known to be `Send`
/// otherwise, and the consumer's dispatch future must be.
fn into_send_future(method: &mut syn::TraitItemFn) {
    if method.sig.asyncness.take().is_none() {
        return;
    }
    let ret: Type = match &method.sig.output {
        syn::ReturnType::Default => syn::parse_quote!(()),
        syn::ReturnType::Type(_, ty) => (**ty).clone(),
    };
    method.sig.output = syn::parse_quote! {
        -> impl ::core::future::Future<Output = #ret> + ::core::marker::Send
    };
    if let Some(block) = &method.default {
        method.default = Some(syn::parse_quote!({ async move #block }));
    }
}

fn render(item: &mut ItemTrait, model: &Mixin) -> TokenStream {
    let p = quote!(::chanx::__private);
    let ident = &model.ident;
    let name = ident.to_string();
    if !item.attrs.iter().any(|a| a.path().segments.iter().any(|s| s.ident == "on_unimplemented")) {
        let message = format!("`{{Self}}` includes the mixin `{name}` but does not implement it");
        let note = format!("add `impl {name} for {{Self}} {{}}` next to the consumer");
        item.attrs.push(syn::parse_quote! {
            #[diagnostic::on_unimplemented(message = #message, label = "no `impl` of this mixin", note = #note)]
        });
    }
    // The handlers' futures hold `&mut Self`: the consumer must be `Send`, as every
    // consumer is.
    if item.colon_token.is_none() {
        item.colon_token = Some(Default::default());
    }
    item.supertraits.push(syn::parse_quote!(::core::marker::Send));

    let type_action = |ty: &Type| quote!(<#ty as #p::Message>::ACTION);
    let actions = model.handlers.iter().map(|h| type_action(&h.message));
    let event_actions: Vec<TokenStream> = model
        .events
        .iter()
        .map(|h| type_action(&h.message))
        .chain(model.passthrough.iter().map(type_action))
        .collect();
    let groups = &model.groups;
    let arms = model.handlers.iter().map(|h| dispatch_arm(h, Some(ident), &p));
    let event_arms = model.events.iter().map(|h| dispatch_arm(h, Some(ident), &p));
    let passthrough_arms = model.passthrough.iter().map(|ty| {
        let action = type_action(ty);
        quote!(#action => #p::Dispatch::Passthrough,)
    });
    let operations = model.handlers.iter().map(|h| operation(h, &p));
    let events = model.events.iter().map(|h| operation(h, &p));
    let passthrough = metas(&model.passthrough, &p);
    let sends = metas(&model.sends, &p);
    let dispatch = dispatch_fn(quote!(__chanx_dispatch), quote!(#(#arms)*), &p);
    let dispatch_event =
        dispatch_fn(quote!(__chanx_dispatch_event), quote!(#(#event_arms)* #(#passthrough_arms)*), &p);
    let hidden: Vec<TraitItem> = vec![
        syn::parse_quote! {
            /// The actions of this mixin's `#[ws_handler]`s, for `#[channel(mixins(...))]`.
            #[doc(hidden)]
            const __CHANX_ACTIONS: &'static [&'static str] = &[#(#actions),*];
        },
        syn::parse_quote! {
            /// The actions of this mixin's `#[event_handler]`s and passthrough events.
            #[doc(hidden)]
            const __CHANX_EVENT_ACTIONS: &'static [&'static str] = &[#(#event_actions),*];
        },
        syn::parse_quote! {
            /// The groups of this mixin (`#[mixin(groups(...))]`).
            #[doc(hidden)]
            const __CHANX_GROUPS: &'static [&'static str] = &[#(#groups),*];
        },
        syn::parse_quote!(#dispatch),
        syn::parse_quote!(#dispatch_event),
        syn::parse_quote! {
            /// Adds this mixin's operations and events to a consumer's metadata.
            #[doc(hidden)]
            fn __chanx_extend_meta(meta: &mut #p::ChannelMeta) {
                #p::extend_meta(
                    meta,
                    ::std::vec![#(#operations),*],
                    ::std::vec![#(#events),*],
                    ::std::vec![#(#passthrough),*],
                    ::std::vec![#(#sends),*],
                )
            }
        },
    ];
    item.items.extend(hidden);

    let handler_types: Vec<(&Ident, &Type)> = model.handlers.iter().map(|h| (&h.ident, &h.message)).collect();
    let event_types: Vec<(&Ident, &Type)> = model
        .events
        .iter()
        .map(|h| (&h.ident, &h.message))
        .chain(model.passthrough.iter().map(|ty| (&model.passthrough_label, ty)))
        .collect();
    let distinct_handlers = distinct_actions(&handler_types, &p);
    let distinct_events = distinct_actions(&event_types, &p);
    let client = cfg!(feature = "client").then(|| super::client::mixin_client(model, &item.vis, &p));
    quote! {
        #item
        #distinct_handlers
        #distinct_events
        #client
    }
}

/// A hidden dispatch method of the trait: a `match` on the action, `Unknown` for
/// the others (the consumer tries its next mixin then).
fn dispatch_fn(name: TokenStream, arms: TokenStream, p: &TokenStream) -> TokenStream {
    let doc = format!("`{name}`: the handlers of this mixin, for the consumers that include it.");
    let method = super::render::dispatch_fn(name, arms, &TokenStream::new(), p);
    quote! {
        #[doc = #doc]
        #[doc(hidden)]
        #method
    }
}
