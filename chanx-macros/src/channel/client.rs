//! The typed client of a consumer (feature `client`): `MyConsumer::client(url)`, one
//! method per `#[ws_handler]`, and the enum of every frame the consumer sends.

use proc_macro2::{Group, TokenStream, TokenTree};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{GenericArgument, PathArguments, Type};

use super::model::{Channel, Handler, Mixin};

/// The framework frames every consumer may send, as `chanx` names them.
const FRAMEWORK: [&str; 6] = [
    "ErrorMessage",
    "CompleteMessage",
    "GroupCompleteMessage",
    "EventCompleteMessage",
    "PongMessage",
    "AuthenticationMessage",
];

/// The topic protocol's acknowledgements, for a consumer with topics.
const TOPIC_FRAMES: [&str; 2] = ["SubscribedMessage", "UnsubscribedMessage"];

pub fn client(model: &Channel, p: &TokenStream) -> TokenStream {
    let self_ty = &model.self_ty;
    let type_name = &model.type_name;
    let client = format_ident!("{}Client", type_name);
    let frame = format_ident!("{}Frame", type_name);
    let frames = frame_enum(model, &frame, p);
    let methods = model.handlers.iter().map(|handler| method(handler, &frame, &Target::Consumer, self_ty, p));
    let doc_client = format!(
        "A typed client of [`{type_name}`]: one method per handler, and [`next`]({client}::next) for every \
         frame that answers no request. It dereferences to [`chanx::client::Client`] for topics and raw requests."
    );
    let doc_connect = format!(
        "Options for a connection to a [`{type_name}`] server at `url`; `.connect()` gives a [`{client}`]."
    );
    quote! {
        #frames

        #[doc = #doc_client]
        #[derive(Debug)]
        #[allow(dead_code, private_interfaces)]
        pub struct #client<C = #p::Client>(C);

        impl ::core::convert::From<#p::Client> for #client {
            fn from(client: #p::Client) -> Self {
                #client(client)
            }
        }

        impl ::core::ops::Deref for #client {
            type Target = #p::Client;

            fn deref(&self) -> &#p::Client {
                &self.0
            }
        }

        impl ::core::ops::DerefMut for #client {
            fn deref_mut(&mut self) -> &mut #p::Client {
                &mut self.0
            }
        }

        // Generated API an app need not call; generic over the connection so that a
        // handler's types are checked where its method is called (see `Asks`).
        #[allow(dead_code, private_interfaces, private_bounds)]
        impl<C: ::core::marker::Sync> #client<C> {
            #(#methods)*
        }

        #[allow(dead_code, private_interfaces)]
        impl #client {
            /// The next frame that answers no waiting request; `None` once the
            /// connection is closed and every frame was read.
            pub async fn next(&mut self) -> ::core::option::Option<::core::result::Result<#frame, #p::ClientError>> {
                self.0.next::<#frame>().await
            }

            /// Closes the connection (1000) and waits until the server closed it too.
            pub async fn close(self) {
                self.0.close().await
            }
        }

        #[allow(dead_code, private_interfaces)]
        impl #self_ty {
            #[doc = #doc_connect]
            pub fn client(url: impl ::core::convert::Into<::std::string::String>) -> #p::ClientBuilder<#client> {
                let camelize = <Self as #p::Channel>::CAMELIZE.unwrap_or(false);
                #p::ClientBuilder::new(url).camelize(camelize)
            }
        }
    }
}

/// The typed client of a topic: `RoomTopic::on(&client, "room:lobby")` over any
/// client's connection (a hub's, or a standalone route's), one method per handler,
/// and `RoomTopicFrame` for what the topic sends.
pub fn topic_client(model: &Channel, p: &TokenStream) -> TokenStream {
    let self_ty = &model.self_ty;
    let type_name = &model.type_name;
    let client = format_ident!("{}Client", type_name);
    let frame = format_ident!("{}Frame", type_name);
    let frames = frame_enum(model, &frame, p);
    let methods = model.handlers.iter().map(|handler| method(handler, &frame, &Target::Topic, self_ty, p));
    let doc_client = format!(
        "One topic of type [`{type_name}`] over a client's connection: `subscribe`, `unsubscribe`, and one \
         method per handler, each frame carrying the topic."
    );
    let doc_on = format!("The topic `topic` of type [`{type_name}`] over `client`'s connection.");
    quote! {
        #frames

        #[doc = #doc_client]
        #[derive(Debug)]
        #[allow(dead_code, private_interfaces)]
        pub struct #client<'a, C = #p::Client> {
            client: &'a C,
            topic: ::std::string::String,
        }

        #[allow(dead_code, private_interfaces)]
        impl #client<'_> {
            /// Subscribes to the topic and waits for `subscribed`.
            pub async fn subscribe(&self) -> ::core::result::Result<(), #p::ClientError> {
                self.client.subscribe(&self.topic).await
            }

            /// Leaves the topic and waits for `unsubscribed`.
            pub async fn unsubscribe(&self) -> ::core::result::Result<(), #p::ClientError> {
                self.client.unsubscribe(&self.topic).await
            }
        }

        #[allow(dead_code, private_interfaces, private_bounds)]
        impl<C: ::core::marker::Sync> #client<'_, C> {
            #(#methods)*
        }

        #[allow(dead_code, private_interfaces)]
        impl #self_ty {
            #[doc = #doc_on]
            pub fn on<'a>(client: &'a #p::Client, topic: impl ::core::convert::Into<::std::string::String>) -> #client<'a> {
                #client { client, topic: topic.into() }
            }
        }
    }
}

/// The typed client of a mixin's handlers: a trait (`PresenceClient`), implemented for
/// every connection, that the typed client of any consumer including the mixin reaches
/// through its `Deref` to `chanx::client::Client` once the trait is in scope. A handler
/// whose types name `Self` (the consumer, unknown here) gets no method.
pub fn mixin_client(model: &Mixin, vis: &syn::Visibility, p: &TokenStream) -> TokenStream {
    let client = format_ident!("{}Client", model.ident);
    let handlers: Vec<&Handler> = model
        .handlers
        .iter()
        .filter(|h| {
            !names_self(&h.message) && !names_self(&h.ret) && h.output.as_ref().is_none_or(|o| o.len() == 1)
        })
        .collect();
    let signature = |handler: &Handler| {
        let name = &handler.ident;
        let message = &handler.message;
        let answer = handler.output.as_ref().and_then(|o| o.first()).unwrap_or(&handler.ret);
        let doc = format!(
            "Sends a `{}` to the handler `{name}` and waits for its answer, if it has one.",
            type_text(message)
        );
        quote! {
            #[doc = #doc]
            fn #name(&self, message: #message) -> impl ::core::future::Future<
                Output = ::core::result::Result<<Self as #p::Asks<#answer, #message>>::Reply, #p::ClientError>,
            > + ::core::marker::Send
            where
                Self: #p::Asks<#answer, #message>
        }
    };
    let declarations = handlers.iter().map(|h| {
        let signature = signature(h);
        quote!(#signature;)
    });
    let definitions = handlers.iter().map(|h| {
        let signature = signature(h);
        let message = &h.message;
        let answer = h.output.as_ref().and_then(|o| o.first()).unwrap_or(&h.ret);
        quote! {
            #signature {
                <Self as #p::Asks<#answer, #message>>::ask(self, ::core::option::Option::None, message)
            }
        }
    });
    let doc = format!(
        "The handlers of the mixin [`{}`] for a typed client of a consumer that includes it: `use` this \
         trait, then call them on the client.",
        model.ident
    );
    quote! {
        #[doc = #doc]
        #[allow(dead_code, private_interfaces, private_bounds)]
        #vis trait #client {
            #(#declarations)*
        }

        #[allow(dead_code, private_interfaces, private_bounds)]
        impl<C: ::std::borrow::Borrow<#p::Client> + ?::core::marker::Sized> #client for C {
            #(#definitions)*
        }
    }
}

/// Whether `ty` mentions `Self`.
fn names_self(ty: &Type) -> bool {
    fn any(tokens: TokenStream) -> bool {
        tokens.into_iter().any(|token| match token {
            TokenTree::Ident(ident) => ident == "Self",
            TokenTree::Group(group) => any(group.stream()),
            _ => false,
        })
    }
    any(ty.to_token_stream())
}

/// The enum of every frame a consumer or topic is seen to send, with its `Debug`
/// (messages need not be `Debug`) and its `FromFrame`. A variant whose type is no
/// message (read from a signature that names an alias, say) never decodes: such
/// frames are `Other`.
fn frame_enum(model: &Channel, frame: &syn::Ident, p: &TokenStream) -> TokenStream {
    let variants = frame_variants(model);
    let names: Vec<&syn::Ident> = variants.iter().map(|(name, _)| name).collect();
    let types: Vec<&Type> = variants.iter().map(|(_, ty)| ty).collect();
    let labels = names.iter().map(ToString::to_string);
    let shows = types.iter().map(|ty| quote!((&&#p::Decoder::<#ty>::NEW)));
    let decodes = variants.iter().map(|(name, ty)| {
        quote! {
            if let ::core::option::Option::Some(decoded) = (&&#p::Decoder::<#ty>::NEW).decode_if(&frame, action.as_deref()) {
                return decoded.map(#frame::#name);
            }
        }
    });
    let type_name = &model.type_name;
    let doc = format!(
        "Every frame [`{type_name}`] sends to a client, decoded; `Other` for an action none of its signatures shows."
    );
    quote! {
        #[doc = #doc]
        #[allow(clippy::large_enum_variant, dead_code, private_interfaces)]
        pub enum #frame {
            #(
                #[allow(missing_docs)]
                #names(#types),
            )*
            /// A frame of another action.
            Other(#p::RawFrame),
        }

        impl ::core::fmt::Debug for #frame {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                #[allow(unused_imports)]
                use #p::{DecodeFrame as _, SkipFrame as _};
                match self {
                    #(#frame::#names(message) => #shows.show(message, #labels, f),)*
                    #frame::Other(frame) => f.debug_tuple("Other").field(frame).finish(),
                }
            }
        }

        impl #p::FromFrame for #frame {
            fn from_frame(frame: #p::RawFrame) -> ::core::result::Result<Self, #p::ClientError> {
                #[allow(unused_imports)]
                use #p::{DecodeFrame as _, SkipFrame as _};
                let action = frame.action().map(|action| action.into_owned());
                #(#decodes)*
                ::core::result::Result::Ok(#frame::Other(frame))
            }
        }
    }
}

/// Where a generated method sends: the consumer's own handlers, or a topic's.
enum Target {
    /// `self.0`, the connection.
    Consumer,
    /// `self.client`, with `self.topic`.
    Topic,
}

/// One method per handler, typed by the handler's signature through `Asks`: the reply
/// its return type names (a request), nothing for `()` (a send), or, for a handler that
/// declares several `output`s, the frame enum.
fn method(
    handler: &Handler,
    frame: &syn::Ident,
    target: &Target,
    self_ty: &Type,
    p: &TokenStream,
) -> TokenStream {
    let name = &handler.ident;
    let message = &with_self(&handler.message, self_ty);
    let (connection, topic) = match target {
        Target::Consumer => (quote!(&self.0), quote!(::core::option::Option::None)),
        Target::Topic => (quote!(self.client), quote!(::core::option::Option::Some(&self.topic))),
    };
    let doc = format!(
        "Sends a `{}` to the handler `{name}` and waits for its answer, if it has one.",
        type_text(message)
    );
    match handler.output.as_deref() {
        Some([_, _, ..]) => quote_spanned! {message.span()=>
            #[doc = #doc]
            pub async fn #name(&self, message: #message) -> ::core::result::Result<#frame, #p::ClientError>
            where
                C: #p::Asks<#p::RawFrame, #message, Reply = #p::RawFrame>,
            {
                let answer = <C as #p::Asks<#p::RawFrame, #message>>::ask(#connection, #topic, message).await?;
                <#frame as #p::FromFrame>::from_frame(answer)
            }
        },
        output => {
            let answer = with_self(
                match output {
                    Some([one]) => one,
                    _ => &handler.ret,
                },
                self_ty,
            );
            quote_spanned! {message.span()=>
                #[doc = #doc]
                pub async fn #name(&self, message: #message) -> ::core::result::Result<<C as #p::Asks<#answer, #message>>::Reply, #p::ClientError>
                where
                    C: #p::Asks<#answer, #message>,
                {
                    <C as #p::Asks<#answer, #message>>::ask(#connection, #topic, message).await
                }
            }
        }
    }
}

/// The messages a handler's return type carries, read from its syntax: `M`,
/// `Option<M>`, `Result<M, _>` (any path ending in `Result`) or `()` (none); `None`
/// for a type that cannot be read so (an alias, say).
fn reply_types(ret: &Type) -> Option<Vec<Type>> {
    match ret {
        Type::Tuple(tuple) if tuple.elems.is_empty() => Some(Vec::new()),
        Type::Paren(inner) => reply_types(&inner.elem),
        Type::Path(path) => {
            let last = path.path.segments.last()?;
            let wrapper = last.ident == "Option" || last.ident == "Result";
            match (&last.arguments, wrapper) {
                (PathArguments::None, _) => Some(vec![ret.clone()]),
                (PathArguments::AngleBracketed(args), true) => match args.args.first()? {
                    GenericArgument::Type(inner) => reply_types(inner),
                    _ => None,
                },
                _ => None,
            }
        }
        _ => None,
    }
}

/// The variants of the frame enum: each message type the consumer is seen to send
/// (replies, `output`, `broadcasts`, event handlers' replies, passthrough events,
/// `sends`) and the framework frames, each once, named after its type.
fn frame_variants(model: &Channel) -> Vec<(syn::Ident, Type)> {
    let replies = model.handlers.iter().chain(&model.events).flat_map(|handler| {
        let mut types = handler.output.clone().or_else(|| reply_types(&handler.ret)).unwrap_or_default();
        types.extend(handler.broadcasts.iter().cloned());
        types
    });
    let framework = FRAMEWORK
        .iter()
        .chain(if model.topics.is_empty() && model.pattern.is_none() { &[][..] } else { &TOPIC_FRAMES[..] })
        .map(|name| {
            let name = format_ident!("{}", name);
            syn::parse_quote!(::chanx::__private::#name)
        });
    let mut variants: Vec<(syn::Ident, Type)> = Vec::new();
    for ty in
        replies.chain(model.passthrough.iter().cloned()).chain(model.sends.iter().cloned()).chain(framework)
    {
        let Type::Path(path) = &ty else { continue };
        let Some(last) = path.path.segments.last() else { continue };
        // A primitive (`u32`) is no message: no variant for it.
        let named = last.ident.to_string().starts_with(|c: char| c.is_ascii_uppercase());
        if !named
            || !matches!(last.arguments, PathArguments::None)
            || variants.iter().any(|(name, _)| *name == last.ident)
        {
            continue;
        }
        variants.push((last.ident.clone(), with_self(&ty, &model.self_ty)));
    }
    variants
}

/// `ty` with `Self` (the consumer, in its impl block) spelled out: the client's code
/// is outside that block, where `Self` is something else.
fn with_self(ty: &Type, self_ty: &Type) -> Type {
    fn replace(tokens: TokenStream, self_ty: &Type) -> TokenStream {
        tokens
            .into_iter()
            .flat_map(|token| match token {
                TokenTree::Ident(ident) if ident == "Self" => self_ty.to_token_stream(),
                TokenTree::Group(group) => {
                    let mut inner = Group::new(group.delimiter(), replace(group.stream(), self_ty));
                    inner.set_span(group.span());
                    TokenTree::Group(inner).into()
                }
                other => other.into(),
            })
            .collect()
    }
    syn::parse2(replace(ty.to_token_stream(), self_ty)).unwrap_or_else(|_| ty.clone())
}

fn type_text(ty: &Type) -> String {
    ty.to_token_stream().to_string().replace(' ', "")
}
