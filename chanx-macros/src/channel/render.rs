//! Render the model: the routing `match`, the metadata and the compile-time checks.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{ItemImpl, LitStr};

use super::model::{Arg, Channel, Credential, Handler, Pattern};

pub fn channel(item: &ItemImpl, model: &Channel) -> TokenStream {
    let p = quote!(::chanx::__private);
    let self_ty = &model.self_ty;
    let groups = &model.groups;
    let actions = model.handlers.iter().map(|h| {
        let ty = &h.message;
        quote_spanned!(ty.span()=> <#ty as #p::Message>::ACTION)
    });
    let arms = model.handlers.iter().map(|h| dispatch_arm(h, None, &p));
    let event_arms = model.events.iter().map(|h| dispatch_arm(h, None, &p));
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
    let mixins = &model.mixins;
    // Every use of a mixin is spanned on it in `mixins(...)`: a consumer that does not
    // implement it gets its error there (and one more on the attribute, from the `Send`
    // check of the dispatch future).
    let extend_meta = mixins.iter().map(|mixin| {
        let host = respan(self_ty, mixin.span());
        quote_spanned!(mixin.span()=> <#host as #mixin>::__chanx_extend_meta(&mut meta);)
    });
    let dispatch =
        dispatch_fn(quote!(dispatch), quote!(#(#arms)*), &fallthrough(model, "__chanx_dispatch"), &p);
    let dispatch_event = dispatch_fn(
        quote!(dispatch_event),
        quote!(#(#event_arms)* #(#passthrough_arms)*),
        &fallthrough(model, "__chanx_dispatch_event"),
        &p,
    );
    let own_actions = quote!(&[#(#actions),*]);
    let own_groups = quote!(&[#(#groups),*]);
    let actions = merged(self_ty, own_actions, mixins, "__CHANX_ACTIONS", false, &p);
    let groups = merged(self_ty, own_groups, mixins, "__CHANX_GROUPS", true, &p);
    let mixin_checks = mixin_checks(model, &handler_types, &event_types, &p);
    let name = &model.name;
    let type_name = &model.type_name;
    let description = option_str(model.description.as_deref());
    let tags = &model.tags;
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
            const ACTIONS: &'static [&'static str] = #actions;
            const GROUPS: &'static [&'static str] = #groups;
            const LAYER: ::core::option::Option<&'static str> = #layer;
            const LOG_MESSAGES: bool = #log_messages;
            const LOG_IGNORED_ACTIONS: &'static [&'static str] = &[#(#log_ignored_actions),*];
            const CAMELIZE: ::core::option::Option<bool> = #camelize;
            const TOPICS: &'static [#p::TopicType] = &[#(#topic_types),*];

            fn meta() -> #p::ChannelMeta {
                #[allow(unused_mut)]
                let mut meta = #p::ChannelMeta {
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
                };
                #(#extend_meta)*
                meta
            }

            #dispatch
            #dispatch_event
        }

        #topic
        #client
        #distinct_handlers
        #distinct_events
        #distinct_topics
        #mixin_checks
    }
}

/// `own` followed by the same list of each mixin (`<Room as Presence>::__CHANX_ACTIONS`),
/// each string once if `distinct`: `own` alone without mixins, else a constant array
/// built at compile time.
fn merged(
    self_ty: &syn::Type,
    own: TokenStream,
    mixins: &[syn::Path],
    list: &str,
    distinct: bool,
    p: &TokenStream,
) -> TokenStream {
    if mixins.is_empty() {
        return own;
    }
    let list = format_ident!("{}", list);
    let parts = mixins.iter().map(|mixin| {
        let host = respan(self_ty, mixin.span());
        quote_spanned!(mixin.span()=> <#host as #mixin>::#list)
    });
    let (len, concat) = match distinct {
        true => (quote!(#p::distinct_len), quote!(#p::concat_distinct)),
        false => (quote!(#p::total_len), quote!(#p::concat_actions)),
    };
    quote! {{
        const __CHANX_PARTS: &[&[&str]] = &[#own, #(#parts),*];
        const __CHANX_ALL: [&str; #len(__CHANX_PARTS)] = #concat(__CHANX_PARTS);
        &__CHANX_ALL
    }}
}

/// What a consumer's dispatch does with an action of none of its own handlers: asks
/// each mixin in turn.
fn fallthrough(model: &Channel, method: &str) -> TokenStream {
    let p = quote!(::chanx::__private);
    let method = format_ident!("{}", method);
    let self_ty = &model.self_ty;
    let asks = model.mixins.iter().map(|mixin| {
        let host = respan(self_ty, mixin.span());
        quote_spanned! {mixin.span()=>
            match <#host as #mixin>::#method(self, cx, action, payload).await {
                #p::Dispatch::Unknown => {}
                handled => return handled,
            }
        }
    });
    quote!(#(#asks)*)
}

/// The duplicate checks of a consumer's mixins: each handler and event of the
/// consumer against each mixin, each pair of mixins. On the mixin in `mixins(...)`.
/// All in one block, so that each marker type (a handler's or a mixin's name) is
/// declared once and errors print it plainly.
fn mixin_checks(
    model: &Channel,
    handlers: &[(&syn::Ident, &syn::Type)],
    events: &[(&syn::Ident, &syn::Type)],
    p: &TokenStream,
) -> TokenStream {
    if model.mixins.is_empty() {
        return TokenStream::new();
    }
    let self_ty = &model.self_ty;
    let name = |mixin: &syn::Path| {
        let last = mixin.segments.last().map(|s| s.ident.clone());
        last.unwrap_or_else(|| format_ident!("mixin"))
    };
    // The `SameAction` types name the mixin traits, outside the block whose marker
    // types shadow them.
    let mut same = Vec::new();
    let mut checks = Vec::new();
    let mut markers: Vec<syn::Ident> = Vec::new();
    let mut marker = |ident: &syn::Ident| {
        if !markers.contains(ident) {
            markers.push(ident.clone());
        }
    };
    for (i, mixin) in model.mixins.iter().enumerate() {
        let host = respan(self_ty, mixin.span());
        let mixin_name = name(mixin);
        marker(&mixin_name);
        let lists = [
            (handlers, "__CHANX_ACTIONS", "assert_not_in_mixin"),
            (events, "__CHANX_EVENT_ACTIONS", "assert_event_not_in_mixin"),
        ];
        for (own, list, assert) in lists {
            let list = format_ident!("{}", list);
            let assert = format_ident!("{}", assert);
            for (handler, ty) in own.iter() {
                marker(handler);
                let alias = format_ident!("__ChanxSameAction{}", same.len(), span = mixin.span());
                same.push(quote_spanned! {mixin.span()=>
                    type #alias = #p::SameAction<{
                        #p::contains_action(<#host as #mixin>::#list, <#ty as #p::Message>::ACTION)
                    }>;
                });
                checks.push(quote_spanned! {mixin.span()=>
                    #p::#assert::<#alias, #ty, #handler, #mixin_name>();
                });
            }
        }
        for earlier in &model.mixins[..i] {
            let earlier_name = name(earlier);
            let pairs = [
                ("__CHANX_ACTIONS", "assert_distinct_mixins"),
                ("__CHANX_EVENT_ACTIONS", "assert_distinct_mixin_events"),
            ];
            for (list, assert) in pairs {
                let list = format_ident!("{}", list);
                let assert = format_ident!("{}", assert);
                let alias = format_ident!("__ChanxSameAction{}", same.len(), span = mixin.span());
                same.push(quote_spanned! {mixin.span()=>
                    type #alias = #p::SameAction<{
                        #p::actions_overlap(<#host as #earlier>::#list, <#host as #mixin>::#list)
                    }>;
                });
                checks.push(quote_spanned! {mixin.span()=>
                    #p::#assert::<#alias, #earlier_name, #mixin_name>();
                });
            }
        }
    }
    quote! {
        const _: () = {
            #(#same)*
            {
                #(#[allow(non_camel_case_types, dead_code)] struct #markers;)*
                #(#checks)*
            }
        };
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
        // Generated API an app need not call.
        #[allow(dead_code)]
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

/// A `Channel::dispatch`-shaped method: a `match` on the action over `arms`, and
/// `fallthrough` for the other actions.
pub(super) fn dispatch_fn(
    name: TokenStream,
    arms: TokenStream,
    fallthrough: &TokenStream,
    p: &TokenStream,
) -> TokenStream {
    quote! {
        #[allow(unreachable_code, unreachable_patterns, unused_variables)]
        fn #name<'a>(
            &'a mut self,
            cx: &'a mut #p::Context,
            action: &'a str,
            payload: ::core::option::Option<#p::RawPayload<'a>>,
        ) -> impl ::core::future::Future<Output = #p::Dispatch> + ::core::marker::Send + 'a {
            async move {
                match action {
                    #arms
                    _ => {
                        #fallthrough
                        #p::Dispatch::Unknown
                    }
                }
            }
        }
    }
}

/// One arm of a dispatch `match`: decode, call the handler, reply. `owner` is the
/// mixin trait of a mixin's handler (called as `<Self as Mixin>::handler(self, ..)`).
pub(super) fn dispatch_arm(handler: &Handler, owner: Option<&syn::Ident>, p: &TokenStream) -> TokenStream {
    let ty = &handler.message;
    let method = &handler.ident;
    let args = handler.args.iter().map(|arg| match arg {
        Arg::Message(ty) => quote_spanned!(ty.span()=> message),
        Arg::Context(ty) => quote_spanned!(ty.span()=> &mut *cx),
    });
    let call = match owner {
        None => quote!(self.#method(#(#args),*)),
        Some(owner) => quote!(<Self as #owner>::#method(self, #(#args),*)),
    };
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
                let returned = #call.await;
                #reply
            }
            ::core::result::Result::Err(invalid) => invalid,
        },
    }
}

/// `<T as Message>::meta()` for each type, spanned on it.
pub(super) fn metas(types: &[syn::Type], p: &TokenStream) -> Vec<TokenStream> {
    types.iter().map(|ty| quote_spanned!(ty.span()=> <#ty as #p::Message>::meta())).collect()
}

pub(super) fn operation(handler: &Handler, p: &TokenStream) -> TokenStream {
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
pub(super) fn distinct_actions(handlers: &[(&syn::Ident, &syn::Type)], p: &TokenStream) -> TokenStream {
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

/// `tokens` with every span set to `span`, so that an error about them (a consumer
/// that does not implement a mixin) is reported there.
fn respan(tokens: &impl quote::ToTokens, span: proc_macro2::Span) -> TokenStream {
    tokens
        .to_token_stream()
        .into_iter()
        .map(|mut token| {
            if let proc_macro2::TokenTree::Group(group) = &token {
                let mut inner = proc_macro2::Group::new(group.delimiter(), respan(&group.stream(), span));
                inner.set_span(span);
                token = proc_macro2::TokenTree::Group(inner);
            } else {
                token.set_span(span);
            }
            token
        })
        .collect()
}

fn option_str(value: Option<&str>) -> TokenStream {
    match value {
        Some(text) => quote!(::core::option::Option::Some(#text)),
        None => quote!(::core::option::Option::None),
    }
}
