//! The typed client of a consumer (feature `client`): `MyConsumer::client(url)`, one
//! method per `#[ws_handler]`, and the enum of every frame the consumer sends.

use proc_macro2::TokenStream;
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{GenericArgument, PathArguments, Type};

use super::model::{Channel, Handler};

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
    let methods = model.handlers.iter().map(|handler| method(handler, &frame, &Target::Consumer, p));
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
        pub struct #client(#p::Client);

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

        // Generated API an app need not call.
        #[allow(dead_code, private_interfaces)]
        impl #client {
            #(#methods)*

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
                #p::ClientBuilder::new(url)
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
    let methods = model.handlers.iter().map(|handler| method(handler, &frame, &Target::Topic, p));
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
        pub struct #client<'a> {
            client: &'a #p::Client,
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

/// The enum of every frame a consumer or topic is seen to send, with its `Debug`
/// (messages need not be `Debug`) and its `FromFrame`.
fn frame_enum(model: &Channel, frame: &syn::Ident, p: &TokenStream) -> TokenStream {
    let variants = frame_variants(model);
    let names: Vec<&syn::Ident> = variants.iter().map(|(name, _)| name).collect();
    let types = variants.iter().map(|(_, ty)| ty);
    let labels = names.iter().map(ToString::to_string);
    let decodes = variants.iter().map(|(name, ty)| {
        quote! {
            if action.as_deref() == ::core::option::Option::Some(<#ty as #p::Message>::ACTION) {
                return frame.decode::<#ty>().map(#frame::#name);
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
                match self {
                    #(#frame::#names(message) => #p::debug_message(#labels, message, f),)*
                    #frame::Other(frame) => f.debug_tuple("Other").field(frame).finish(),
                }
            }
        }

        impl #p::FromFrame for #frame {
            fn from_frame(frame: #p::RawFrame) -> ::core::result::Result<Self, #p::ClientError> {
                let action = frame.action().map(|action| action.into_owned());
                #(#decodes)*
                ::core::result::Result::Ok(#frame::Other(frame))
            }
        }
    }
}

/// Where a generated method sends: the consumer's own handlers, or a topic's.
enum Target {
    /// `self.0`, a `Client`.
    Consumer,
    /// `self.client` with `self.topic`.
    Topic,
}

impl Target {
    fn exchange(&self) -> TokenStream {
        match self {
            Target::Consumer => quote!(self.0.exchange(&message, ::core::option::Option::None)),
            Target::Topic => {
                quote!(self.client.exchange(&message, ::core::option::Option::Some(&self.topic)))
            }
        }
    }

    fn request(&self, message: &Type, reply: &Type) -> TokenStream {
        match self {
            Target::Consumer => quote!(self.0.request::<#message, #reply>(&message)),
            Target::Topic => quote!(self.client.request_topic::<#message, #reply>(&self.topic, &message)),
        }
    }

    fn send(&self) -> TokenStream {
        match self {
            Target::Consumer => quote!(self.0.send(&message)),
            Target::Topic => quote!(self.client.send_topic(&self.topic, &message)),
        }
    }
}

/// One method per handler: a request typed by the handler's signature, a send for a
/// handler that answers nothing, the frame enum for one whose answer is unclear.
fn method(handler: &Handler, frame: &syn::Ident, target: &Target, p: &TokenStream) -> TokenStream {
    let name = &handler.ident;
    let message = &handler.message;
    let doc = format!("Sends a `{}` to the handler `{name}` and waits for its answer.", type_text(message));
    let outputs = match &handler.output {
        Some(types) => types.clone(),
        None => reply_types(&handler.ret).unwrap_or_default(),
    };
    let unclear = handler.output.is_none() && reply_types(&handler.ret).is_none();
    let body = if unclear || outputs.len() > 1 {
        let exchange = target.exchange();
        quote_spanned! {message.span()=>
            pub async fn #name(&self, message: #message) -> ::core::result::Result<#frame, #p::ClientError> {
                let answer = #exchange.await?;
                <#frame as #p::FromFrame>::from_frame(answer)
            }
        }
    } else if let Some(reply) = outputs.first() {
        let request = target.request(message, reply);
        quote_spanned! {message.span()=>
            pub async fn #name(&self, message: #message) -> ::core::result::Result<#reply, #p::ClientError> {
                #request.await
            }
        }
    } else {
        let doc = format!("Sends a `{}` to the handler `{name}`, which answers nothing.", type_text(message));
        let send = target.send();
        return quote_spanned! {message.span()=>
            #[doc = #doc]
            pub async fn #name(&self, message: #message) -> ::core::result::Result<(), #p::ClientError> {
                #send.await
            }
        };
    };
    quote!(#[doc = #doc] #body)
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
        if !matches!(last.arguments, PathArguments::None)
            || variants.iter().any(|(name, _)| *name == last.ident)
        {
            continue;
        }
        variants.push((last.ident.clone(), ty.clone()));
    }
    variants
}

fn type_text(ty: &Type) -> String {
    ty.to_token_stream().to_string().replace(' ', "")
}
