//! `#[message(action = "...")]`: parse the struct, then render the trait impls.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use syn::parse::Parser;
use syn::{Fields, ItemStruct, LitStr, Type};

use crate::attr::{Errors, doc_comment, set_once, unknown_key};

/// Where the payload lives in the struct.
enum PayloadField {
    /// `struct M { payload: T }`
    Named(Type),
    /// `struct M(T);`
    Newtype(Type),
    /// `struct M;` or `struct M {}`: payload is `()`.
    Unit,
}

pub fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let mut action: Option<LitStr> = None;
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("action") {
            let value: LitStr = meta.value()?.parse()?;
            set_once(&mut action, value, &meta, &mut errors);
            Ok(())
        } else {
            unknown_key(&meta, &mut errors, "message", "action")
        }
    });
    let parsed_args = parser.parse2(args.clone());
    errors.ok(parsed_args);

    let item: ItemStruct = match syn::parse2(item) {
        Ok(item) => item,
        Err(e) => {
            errors.push(syn::Error::new(e.span(), "`#[message]` goes on a struct"));
            return errors.into_compile_errors();
        }
    };
    if action.is_none() && errors.is_empty() {
        errors.push(syn::Error::new_spanned(
            &item.ident,
            "missing `action`: write `#[message(action = \"...\")]`",
        ));
    }
    if let Some(action) = &action
        && action.value().is_empty()
    {
        errors.push(syn::Error::new_spanned(action, "the action must not be empty"));
    }
    if !item.generics.params.is_empty() {
        errors.push(syn::Error::new_spanned(&item.generics, "a message cannot be generic"));
    }
    let field = payload_field(&item, &mut errors);
    match (action, field, errors.is_empty()) {
        (Some(action), Some(field), true) => render(&item, &action, &field),
        // Keep the struct so that one mistake gives one error, not a cascade.
        _ => {
            let errors = errors.into_compile_errors();
            quote!(#item #errors)
        }
    }
}

fn payload_field(item: &ItemStruct, errors: &mut Errors) -> Option<PayloadField> {
    let shape =
        "a message has exactly one field, `payload` (or is a newtype around its payload, or a unit struct)";
    match &item.fields {
        Fields::Unit => Some(PayloadField::Unit),
        Fields::Named(named) if named.named.is_empty() => Some(PayloadField::Unit),
        Fields::Named(named) => {
            let mut fields = named.named.iter();
            let first = fields.next()?;
            for extra in fields {
                errors.push(syn::Error::new_spanned(extra, shape));
            }
            if first.ident.as_ref().is_some_and(|i| i == "payload") {
                Some(PayloadField::Named(first.ty.clone()))
            } else {
                errors.push(syn::Error::new_spanned(first, shape));
                None
            }
        }
        Fields::Unnamed(unnamed) if unnamed.unnamed.len() == 1 => {
            Some(PayloadField::Newtype(unnamed.unnamed[0].ty.clone()))
        }
        Fields::Unnamed(unnamed) => {
            errors.push(syn::Error::new_spanned(unnamed, shape));
            None
        }
    }
}

fn render(item: &ItemStruct, action: &LitStr, field: &PayloadField) -> TokenStream {
    let ident = &item.ident;
    let name = ident.to_string();
    let description = match doc_comment(&item.attrs) {
        Some(doc) => quote!(::core::option::Option::Some(#doc)),
        None => quote!(::core::option::Option::None),
    };
    let (payload_ty, borrow, build, take) = match field {
        PayloadField::Named(ty) => {
            (ty.to_token_stream(), quote!(&self.payload), quote!(Self { payload }), quote!({ self.payload }))
        }
        PayloadField::Newtype(ty) => {
            (ty.to_token_stream(), quote!(&self.0), quote!(Self(payload)), quote!({ self.0 }))
        }
        PayloadField::Unit => {
            let build = match &item.fields {
                Fields::Unit => quote!(Self),
                _ => quote!(Self {}),
            };
            (quote!(()), quote!(&()), quote!({ let () = payload; #build }), quote!({}))
        }
    };
    let p = quote!(::chanx::__private);
    quote! {
        #item

        impl #p::Message for #ident {
            const ACTION: &'static str = #action;
            const NAME: &'static str = #name;
            const DESCRIPTION: ::core::option::Option<&'static str> = #description;
            type Payload = #payload_ty;

            fn payload(&self) -> &Self::Payload {
                #borrow
            }

            fn from_payload(payload: Self::Payload) -> Self {
                #build
            }

            fn into_payload(self) -> Self::Payload #take
        }

        impl #p::serde::Serialize for #ident {
            fn serialize<S: #p::serde::Serializer>(&self, serializer: S) -> ::core::result::Result<S::Ok, S::Error> {
                #p::serialize_message(self, serializer)
            }
        }

        impl<'de> #p::serde::Deserialize<'de> for #ident {
            fn deserialize<D: #p::serde::Deserializer<'de>>(deserializer: D) -> ::core::result::Result<Self, D::Error> {
                #p::deserialize_message(deserializer)
            }
        }

        impl #p::schemars::JsonSchema for #ident {
            fn schema_name() -> #p::Cow<'static, str> {
                #p::message_schema_name::<Self>()
            }

            fn schema_id() -> #p::Cow<'static, str> {
                #p::Cow::Borrowed(::core::concat!(::core::module_path!(), "::", #name))
            }

            fn json_schema(generator: &mut #p::schemars::SchemaGenerator) -> #p::schemars::Schema {
                #p::message_schema::<Self>(generator)
            }
        }
    }
}

pub fn expand_payload(args: TokenStream, item: TokenStream) -> TokenStream {
    let p = quote!(::chanx::__private);
    let error = (!args.is_empty())
        .then(|| syn::Error::new_spanned(&args, "`#[payload]` takes no arguments").to_compile_error());
    quote! {
        #[derive(#p::serde::Serialize, #p::serde::Deserialize, #p::schemars::JsonSchema)]
        #[serde(crate = "::chanx::__private::serde")]
        #[schemars(crate = "::chanx::__private::schemars")]
        #item
        #error
    }
}
