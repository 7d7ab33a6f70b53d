//! Render the model: the routing `match`, the metadata and the compile-time checks.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{ItemImpl, LitStr};

use super::model::{Arg, Channel, Credential, Handler, Pattern};

pub fn channel(item: &ItemImpl, model: &Channel) -> TokenStream {
    let p = quote!(::chanx::__private);
    let self_ty = &model.self_ty;
    let actions = model.handlers.iter().map(|h| {
        let ty = &h.message;
        quote_spanned!(ty.span()=> <#ty as #p::Message>::ACTION)
    });
    let arms = model.handlers.iter().map(|h| dispatch_arm(h, &p));
    let event_arms = model.events.iter().map(|h| dispatch_arm(h, &p));
    let passthrough_arms = model
        .passthrough
        .iter()
        .map(|ty| quote_spanned!(ty.span()=> <#ty as #p::Message>::ACTION => #p::Dispatch::Passthrough,));
    let operations = model.handlers.iter().map(|h| operation(h, &p));
    let events = model.events.iter().map(|h| operation(h, &p));
    let passthrough = metas(&model.passthrough, &p);
    let sends = metas(&model.sends, &p);
    let event_types: Vec<(&syn::Ident, &syn::Type)> = model
        .events
        .iter()
        .map(|h| (&h.ident, &h.message))
        .chain(model.passthrough.iter().map(|ty| (&model.passthrough_label, ty)))
        .collect();
    let handler_types: Vec<(&syn::Ident, &syn::Type)> =
        model.handlers.iter().map(|h| (&h.ident, &h.message)).collect();
    let distinct_handlers = distinct_actions(&handler_types, &p);
    let distinct_events = distinct_actions(&event_types, &p);
    let dispatch = dispatch_fn(quote!(dispatch), quote!(#(#arms)*), &p);
    let dispatch_event =
        dispatch_fn(quote!(dispatch_event), quote!(#(#event_arms)* #(#passthrough_arms)*), &p);
    let name = &model.name;
    let type_name = &model.type_name;
    let description = option_str(model.description.as_deref());
    let tags = &model.tags;
    let groups = &model.groups;
    let layer = option_str(model.layer.as_ref().map(LitStr::value).as_deref());
    let credentials = model.credentials.iter().map(|c| credential(c, &p));
    let log_messages = model.log_messages;
    let log_ignored_actions = &model.log_ignored_actions;
    let camelize = match model.camelize {
        Some(on) => quote!(::core::option::Option::Some(#on)),
        None => quote!(::core::option::Option::None),
    };
    let topic_types = model.topics.iter().map(|ty| quote_spanned!(ty.span()=> #p::TopicType::of::<#ty>()));
    let distinct_topics = distinct_topics(&model.topics, &p);
    let topic = model.pattern.as_ref().map(|pattern| topic(model, pattern, &p));
    let client = cfg!(feature = "client").then(|| match model.pattern {
        None => super::client::client(model, &p),
        Some(_) => super::client::topic_client(model, &p),
    });
    quote! {
        #item

        impl #p::Channel for #self_ty {
            const ACTIONS: &'static [&'static str] = &[#(#actions),*];
            const GROUPS: &'static [&'static str] = &[#(#groups),*];
            const LAYER: ::core::option::Option<&'static str> = #layer;
            const LOG_MESSAGES: bool = #log_messages;
            const LOG_IGNORED_ACTIONS: &'static [&'static str] = &[#(#log_ignored_actions),*];
            const CAMELIZE: ::core::option::Option<bool> = #camelize;
            const TOPICS: &'static [#p::TopicType] = &[#(#topic_types),*];

            fn meta() -> #p::ChannelMeta {
                #p::ChannelMeta {
                    name: #name,
                    type_name: #type_name,
                    description: #description,
                    tags: &[#(#tags),*],
                    groups: Self::GROUPS,
                    layer: Self::LAYER,
                    credentials: &[#(#credentials),*],
                    operations: ::std::vec![#(#operations),*],
                    events: ::std::vec![#(#events),*],
                    passthrough: ::std::vec![#(#passthrough),*],
                    sends: ::std::vec![#(#sends),*],
                }
            }

            #dispatch
            #dispatch_event
        }

        #topic
        #client
        #distinct_handlers
        #distinct_events
        #distinct_topics
    }
}

/// The `TopicChannel` impl of a `#[topic]`: its pattern, and its value built from a
/// name's parameters. The struct literal carries the pattern's span, so that a
/// parameter the type has no field for (or a field the pattern has no parameter for,
/// or a field type that does not parse) is an error on the pattern.
fn topic(model: &Channel, pattern: &Pattern, p: &TokenStream) -> TokenStream {
    let self_ty = &model.self_ty;
    let literal = &pattern.literal;
    let span = literal.span();
    let count = pattern.parameters.len();
    let parameters = &pattern.parameters;
    let values: Vec<syn::Ident> = (0..count).map(|i| format_ident!("__chanx_parameter_{}", i)).collect();
    let fields = parameters.iter().map(|name| syn::Ident::new(name, span));
    // The path too carries the pattern's span, so that a field type without `FromStr`
    // is reported on the pattern.
    let parse = quote_spanned!(span=> ::chanx::__private::parse_parameter);
    let build = quote_spanned! {span=>
        Self { #(#fields: #parse(#values)?),* }
    };
    let type_name = &model.type_name;
    // Inherent, so that `RoomTopic::route()` never competes with `Route::route` of
    // consumers, and spanned on the type: a topic type without `impl Topic` is reported
    // once, here.
    let route = quote_spanned! {self_ty.span()=>
        impl #self_ty {
            /// This topic on an axum route of its own, whose path parameters fill its
            /// pattern: `Router::new().route("/ws/rooms/{room}", RoomTopic::route())`.
            /// The connection subscribes as it opens; frames need no `topic`.
            pub fn route<S>() -> #p::MethodRouter<S>
            where
                S: ::core::clone::Clone + ::core::marker::Send + ::core::marker::Sync + 'static,
            {
                #p::topic_route::<Self, S>(#p::RouteOptions::default())
            }

            /// Like `route`, with per-route options (a connection limit).
            pub fn route_with<S>(options: #p::RouteOptions) -> #p::MethodRouter<S>
            where
                S: ::core::clone::Clone + ::core::marker::Send + ::core::marker::Sync + 'static,
            {
                #p::topic_route::<Self, S>(options)
            }
        }
    };
    quote! {
        #route

        impl #p::TopicChannel for #self_ty {
            const PATTERN: &'static str = #literal;
            const PARAMETERS: &'static [&'static str] = &[#(#parameters),*];
            const TYPE_NAME: &'static str = #type_name;

            #[allow(clippy::init_numbered_fields)]
            fn from_name(name: &str) -> ::core::option::Option<Self> {
                let [#(#values),*] = #p::match_pattern::<#count>(#literal, name)?;
                ::core::option::Option::Some(#build)
            }
        }
    }
}

/// One compile-time check per pair of a consumer's topic types: no topic name matches
/// both patterns. On the second type of the pair.
fn distinct_topics(topics: &[syn::Type], p: &TokenStream) -> TokenStream {
    let mut checks = Vec::new();
    for (i, b) in topics.iter().enumerate() {
        for a in &topics[..i] {
            let overlap = quote_spanned! {b.span()=>
                #p::Overlap<{
                    #p::patterns_overlap(<#a as #p::TopicChannel>::PATTERN, <#b as #p::TopicChannel>::PATTERN)
                }>
            };
            let check = quote_spanned! {b.span()=> #p::assert_distinct_topics::<__ChanxOverlap, #a, #b>() };
            checks.push(quote! {
                const _: () = {
                    type __ChanxOverlap = #overlap;
                    #check
                };
            });
        }
    }
    quote!(#(#checks)*)
}

/// A `Channel::dispatch`-shaped method: a `match` on the action over `arms`.
fn dispatch_fn(name: TokenStream, arms: TokenStream, p: &TokenStream) -> TokenStream {
    quote! {
        #[allow(unreachable_code, unreachable_patterns, unused_variables)]
        fn #name<'a>(
            &'a mut self,
            cx: &'a mut #p::Context,
            action: &'a str,
            payload: ::core::option::Option<&'a #p::RawValue>,
        ) -> impl ::core::future::Future<Output = #p::Dispatch> + ::core::marker::Send + 'a {
            async move {
                match action {
                    #arms
                    _ => #p::Dispatch::Unknown,
                }
            }
        }
    }
}

fn dispatch_arm(handler: &Handler, p: &TokenStream) -> TokenStream {
    let ty = &handler.message;
    let method = &handler.ident;
    let args = handler.args.iter().map(|arg| match arg {
        Arg::Message(ty) => quote_spanned!(ty.span()=> message),
        Arg::Context(ty) => quote_spanned!(ty.span()=> &mut *cx),
    });
    let ret = &handler.ret;
    // A bad return type is reported once, by `assert_reply` on the return type; the
    // reply step then falls back instead of failing a second time.
    let reply = quote_spanned! {ret.span()=>
        {
            #p::assert_reply::<#ret>();
            #[allow(unused_imports)]
            use #p::{NoReply as _, Reply as _};
            (&&#p::Replier::<#ret>::NEW).reply(cx, returned).await
        }
    };
    quote_spanned! {ty.span()=>
        <#ty as #p::Message>::ACTION => match #p::decode::<#ty>(payload) {
            ::core::result::Result::Ok(message) => {
                let returned = self.#method(#(#args),*).await;
                #reply
            }
            ::core::result::Result::Err(invalid) => invalid,
        },
    }
}

/// `<T as Message>::meta()` for each type, spanned on it.
fn metas(types: &[syn::Type], p: &TokenStream) -> Vec<TokenStream> {
    types.iter().map(|ty| quote_spanned!(ty.span()=> <#ty as #p::Message>::meta())).collect()
}

fn operation(handler: &Handler, p: &TokenStream) -> TokenStream {
    let ty = &handler.message;
    let method = handler.ident.to_string();
    let summary = option_str(handler.summary.as_ref().map(LitStr::value).as_deref());
    let description = option_str(handler.description.as_deref());
    let tags = &handler.tags;
    let broadcasts = metas(&handler.broadcasts, p);
    let outputs = match &handler.output {
        Some(types) => {
            let metas = metas(types, p);
            quote!(::std::vec![#(#metas),*])
        }
        // A return type that is no reply is reported by the dispatch code; here it
        // falls back to "no outputs" instead of giving a second error.
        None => {
            let ret = &handler.ret;
            quote!({
                #[allow(unused_imports)]
                use #p::{NoReplyOutputs as _, ReplyOutputs as _};
                (&&#p::Outputs::<#ret>::NEW).reply_outputs()
            })
        }
    };
    quote! {
        #p::OperationMeta {
            handler: #method,
            summary: #summary,
            description: #description,
            tags: &[#(#tags),*],
            input: <#ty as #p::Message>::meta(),
            outputs: #outputs,
            broadcasts: ::std::vec![#(#broadcasts),*],
        }
    }
}

/// A `chanx::Credential` constant.
fn credential(credential: &Credential, p: &TokenStream) -> TokenStream {
    let name = &credential.name;
    let location = format_ident!("{}", credential.location.variant());
    let description = option_str(credential.description.as_ref().map(LitStr::value).as_deref());
    quote! {
        #p::Credential {
            name: #name,
            location: #p::CredentialLocation::#location,
            description: #description,
        }
    }
}

/// One compile-time check per pair of handlers: their messages' actions differ. The
/// check names both handlers (as marker types) and both messages, on the second
/// handler's message.
fn distinct_actions(handlers: &[(&syn::Ident, &syn::Type)], p: &TokenStream) -> TokenStream {
    let mut checks = Vec::new();
    for (i, (later, b)) in handlers.iter().enumerate() {
        for (earlier, a) in &handlers[..i] {
            let marker = |name| quote!(#[allow(non_camel_case_types)] struct #name;);
            let markers = match earlier == later {
                true => marker(later),
                false => [marker(earlier), marker(later)].into_iter().collect(),
            };
            let same = quote_spanned! {b.span()=>
                #p::SameAction<{ #p::str_eq(<#a as #p::Message>::ACTION, <#b as #p::Message>::ACTION) }>
            };
            let check = quote_spanned! {b.span()=>
                #p::assert_distinct_actions::<__ChanxSameAction, #a, #b, #earlier, #later>()
            };
            checks.push(quote! {
                const _: () = {
                    type __ChanxSameAction = #same;
                    {
                        #markers
                        #check
                    }
                };
            });
        }
    }
    quote!(#(#checks)*)
}

fn option_str(value: Option<&str>) -> TokenStream {
    match value {
        Some(text) => quote!(::core::option::Option::Some(#text)),
        None => quote!(::core::option::Option::None),
    }
}
