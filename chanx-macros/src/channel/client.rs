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
    let client = format_ident!("{}Client", model.type_name);
    let frame = format_ident!("{}Frame", model.type_name);
    let variants = frame_variants(model);
    let variant_names = variants.iter().map(|(name, _)| name);
    let variant_types = variants.iter().map(|(_, ty)| ty);
    let decodes = variants.iter().map(|(name, ty)| {
        quote! {
            if action.as_deref() == ::core::option::Option::Some(<#ty as #p::Message>::ACTION) {
                return frame.decode::<#ty>().map(#frame::#name);
            }
        }
    });
    let methods = model.handlers.iter().map(|handler| method(handler, &frame, p));
    let type_name = &model.type_name;
    let doc_frame = format!("Every frame [`{type_name}`] sends to a client, decoded; `Other` for an action none of its signatures shows.");
    let doc_client = format!(
        "A typed client of [`{type_name}`]: one method per handler, and [`next`]({client}::next) for every \
         frame that answers no request. It dereferences to [`chanx::client::Client`] for topics and raw requests."
    );
    let doc_connect = format!("Options for a connection to a [`{type_name}`] server at `url`; `.connect()` gives a [`{client}`].");
    let debug_names = variants.iter().map(|(name, _)| name.to_string());
    let debug_variants = variants.iter().map(|(name, _)| name);
    quote! {
        #[doc = #doc_frame]
        #[allow(clippy::large_enum_variant)]
        pub enum #frame {
            #(
                #[allow(missing_docs)]
                #variant_names(#variant_types),
            )*
            /// A frame of another action.
            Other(#p::RawFrame),
        }

        // Messages need not be `Debug`: each shows as its frame.
        impl ::core::fmt::Debug for #frame {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                match self {
                    #(#frame::#debug_variants(message) => #p::debug_message(#debug_names, message, f),)*
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

        #[doc = #doc_client]
        #[derive(Debug)]
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

        impl #client {
            #(#methods)*

            /// The next frame that answers no waiting request; `None` once the
            /// connection is closed and every frame was read.
            pub async fn next(&mut self) -> ::core::option::Option<::core::result::Result<#frame, #p::ClientError>> {
                self.0.next::<#frame>().await
            }
        }

        impl #self_ty {
            #[doc = #doc_connect]
            pub fn client(url: impl ::core::convert::Into<::std::string::String>) -> #p::ClientBuilder<#client> {
                #p::ClientBuilder::new(url)
            }
        }
    }
}

/// One method per handler: a request typed by the handler's signature, a send for a
/// handler that answers nothing, the frame enum for one whose answer is unclear.
fn method(handler: &Handler, frame: &syn::Ident, p: &TokenStream) -> TokenStream {
    let name = &handler.ident;
    let message = &handler.message;
    let doc = format!("Sends a `{}` to the handler `{name}` and waits for its answer.", type_text(message));
    let outputs = match &handler.output {
        Some(types) => types.clone(),
        None => reply_types(&handler.ret).unwrap_or_default(),
    };
    let unclear = handler.output.is_none() && reply_types(&handler.ret).is_none();
    let body = if unclear || outputs.len() > 1 {
        quote_spanned! {message.span()=>
            pub async fn #name(&self, message: #message) -> ::core::result::Result<#frame, #p::ClientError> {
                let answer = self.0.exchange(&message, ::core::option::Option::None).await?;
                <#frame as #p::FromFrame>::from_frame(answer)
            }
        }
    } else if let Some(reply) = outputs.first() {
        quote_spanned! {message.span()=>
            pub async fn #name(&self, message: #message) -> ::core::result::Result<#reply, #p::ClientError> {
                self.0.request::<#message, #reply>(&message).await
            }
        }
    } else {
        let doc = format!("Sends a `{}` to the handler `{name}`, which answers nothing.", type_text(message));
        return quote_spanned! {message.span()=>
            #[doc = #doc]
            pub async fn #name(&self, message: #message) -> ::core::result::Result<(), #p::ClientError> {
                self.0.send(&message).await
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
        .chain(if model.topics.is_empty() { &[][..] } else { &TOPIC_FRAMES[..] })
        .map(|name| {
            let name = format_ident!("{}", name);
            syn::parse_quote!(::chanx::__private::#name)
        });
    let mut variants: Vec<(syn::Ident, Type)> = Vec::new();
    for ty in replies.chain(model.passthrough.iter().cloned()).chain(model.sends.iter().cloned()).chain(framework) {
        let Type::Path(path) = &ty else { continue };
        let Some(last) = path.path.segments.last() else { continue };
        if !matches!(last.arguments, PathArguments::None) || variants.iter().any(|(name, _)| *name == last.ident) {
            continue;
        }
        variants.push((last.ident.clone(), ty.clone()));
    }
    variants
}

fn type_text(ty: &Type) -> String {
    ty.to_token_stream().to_string().replace(' ', "")
}
