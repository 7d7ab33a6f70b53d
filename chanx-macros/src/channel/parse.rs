//! Parse the `#[channel]` impl block and its handler attributes into the model,
//! collecting every error.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{
    Attribute, Expr, FnArg, GenericParam, Ident, ImplItem, ImplItemFn, ItemImpl, LitStr, Receiver,
    ReturnType, Token, Type,
};

use super::model::{Arg, Channel, Credential, Handler, Item, Location, Pattern};
use crate::attr::{
    Errors, doc_comment, list_as_value, lit_str, set_once, string_list, string_literal, unknown_key,
};

/// The keys of `#[channel]` and of `#[topic]`, as error messages list them.
const CONSUMER_KEYS: &str = "name, description, tags, groups, layer, passthrough, sends, credentials, \
                             log_messages, log_ignored_actions, topics, mixins, camelize";
const TOPIC_KEYS: &str = "pattern, name, description, tags, passthrough, sends";
/// Keys of `#[channel]` that a topic, which shares its consumer's connection, has not.
const CONSUMER_ONLY: &[&str] = &[
    "groups",
    "layer",
    "credentials",
    "log_messages",
    "log_ignored_actions",
    "topics",
    "mixins",
    "camelize",
];

pub fn channel(args: TokenStream, item: &mut ItemImpl, kind: Item) -> (Option<Channel>, Errors) {
    let mut errors = Errors::default();
    let attribute = kind.attribute();
    let mut pattern: Option<LitStr> = None;
    let mut topics: Option<Vec<Type>> = None;
    let mut mixins: Option<Vec<syn::Path>> = None;
    let mut name: Option<LitStr> = None;
    let mut description: Option<LitStr> = None;
    let mut tags: Option<Vec<LitStr>> = None;
    let mut groups: Option<Vec<LitStr>> = None;
    let mut layer: Option<LitStr> = None;
    let mut passthrough: Option<Vec<Type>> = None;
    let mut sends: Option<Vec<Type>> = None;
    let mut credentials: Option<Vec<Credential>> = None;
    let mut log_messages: Option<()> = None;
    let mut camelize: Option<bool> = None;
    let mut log_ignored_actions: Option<(syn::Path, Vec<LitStr>)> = None;
    let parser = syn::meta::parser(|meta| {
        let consumer_only = CONSUMER_ONLY.iter().any(|key| meta.path.is_ident(key));
        if kind == Item::Topic && consumer_only {
            return unknown_key(&meta, &mut errors, attribute, TOPIC_KEYS);
        }
        if meta.path.is_ident("pattern") && kind == Item::Topic {
            if let Some(value) = lit_str(&meta, &mut errors)? {
                set_once(&mut pattern, value, &meta, &mut errors);
            }
        } else if meta.path.is_ident("topics") {
            let value = type_list(&meta, &mut errors)?;
            set_once(&mut topics, value, &meta, &mut errors);
        } else if meta.path.is_ident("mixins") {
            let value = mixin_list(&meta, &mut errors)?;
            set_once(&mut mixins, value, &meta, &mut errors);
        } else if meta.path.is_ident("name") {
            if let Some(value) = lit_str(&meta, &mut errors)? {
                set_once(&mut name, value, &meta, &mut errors);
            }
        } else if meta.path.is_ident("description") {
            if let Some(value) = lit_str(&meta, &mut errors)? {
                set_once(&mut description, value, &meta, &mut errors);
            }
        } else if meta.path.is_ident("tags") {
            let value = string_list(&meta, &mut errors)?;
            set_once(&mut tags, value, &meta, &mut errors);
        } else if meta.path.is_ident("groups") {
            let value = string_list(&meta, &mut errors)?;
            set_once(&mut groups, value, &meta, &mut errors);
        } else if meta.path.is_ident("layer") {
            if let Some(value) = lit_str(&meta, &mut errors)? {
                set_once(&mut layer, value, &meta, &mut errors);
            }
        } else if meta.path.is_ident("passthrough") {
            let value = type_list(&meta, &mut errors)?;
            set_once(&mut passthrough, value, &meta, &mut errors);
        } else if meta.path.is_ident("sends") {
            let value = type_list(&meta, &mut errors)?;
            set_once(&mut sends, value, &meta, &mut errors);
        } else if meta.path.is_ident("credentials") {
            let value = credential_list(&meta, &mut errors)?;
            set_once(&mut credentials, value, &meta, &mut errors);
        } else if meta.path.is_ident("camelize") {
            if let Some(value) = bool_flag(&meta, &mut errors)? {
                set_once(&mut camelize, value, &meta, &mut errors);
            }
        } else if meta.path.is_ident("log_messages") {
            flag(&meta, &mut errors)?;
            set_once(&mut log_messages, (), &meta, &mut errors);
        } else if meta.path.is_ident("log_ignored_actions") {
            let value = action_list(&meta, &mut errors)?;
            set_once(&mut log_ignored_actions, (meta.path.clone(), value), &meta, &mut errors);
        } else {
            let known = if kind == Item::Topic { TOPIC_KEYS } else { CONSUMER_KEYS };
            unknown_key(&meta, &mut errors, attribute, known)?;
        }
        Ok(())
    });
    let parsed = parser.parse2(args.clone());
    errors.ok(parsed);
    let pattern = match (kind, pattern) {
        (Item::Topic, Some(literal)) => check_pattern(literal, &mut errors),
        (Item::Topic, None) => {
            errors.push(syn::Error::new_spanned(
                &args,
                "a `#[topic]` needs its pattern: `#[topic(pattern = \"room:{room}\")]`",
            ));
            None
        }
        (Item::Consumer, _) => None,
    };
    if let (None, Some((key, _))) = (&log_messages, &log_ignored_actions) {
        errors.push(syn::Error::new_spanned(
            key,
            "`log_ignored_actions` has no effect without `log_messages`: write \
             `#[channel(log_messages, log_ignored_actions(...))]`",
        ));
    }

    let what = match kind {
        Item::Consumer => "consumer",
        Item::Topic => "topic",
    };
    if let Some((_, path, _)) = &item.trait_ {
        errors.push(syn::Error::new_spanned(
            path,
            format!("`#[{attribute}]` goes on an inherent impl block (`impl My{} {{ ... }}`), not on a trait impl", what_type(kind)),
        ));
    }
    if !item.generics.params.is_empty() {
        errors.push(syn::Error::new_spanned(
            &item.generics,
            format!("a `#[{attribute}]` {what} cannot be generic"),
        ));
    }
    let type_name = match &*item.self_ty {
        Type::Path(path) => path.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    };
    let Some(type_name) = type_name else {
        errors.push(syn::Error::new_spanned(
            &item.self_ty,
            format!("`#[{attribute}]` needs a named {what} type"),
        ));
        return (None, errors);
    };

    let passthrough = passthrough.unwrap_or_default();
    let methods = item.items.iter_mut().filter_map(|impl_item| match impl_item {
        ImplItem::Fn(method) => Some(method),
        _ => None,
    });
    let (handlers, events) = handlers(methods, &passthrough, &mut errors);

    let model = Channel {
        self_ty: (*item.self_ty).clone(),
        name: name.map(|n| n.value()).unwrap_or_else(|| default_name(&type_name)),
        description: description.map(|d| d.value()).or_else(|| doc_comment(&item.attrs)),
        type_name,
        tags: tags.unwrap_or_default(),
        groups: groups.unwrap_or_default(),
        layer,
        credentials: credentials.unwrap_or_default(),
        log_messages: log_messages.is_some(),
        camelize,
        log_ignored_actions: log_ignored_actions.map(|(_, actions)| actions).unwrap_or_default(),
        passthrough,
        passthrough_label: Ident::new("passthrough", Span::call_site()),
        sends: sends.unwrap_or_default(),
        handlers,
        events,
        topics: topics.unwrap_or_default(),
        pattern,
        mixins: mixins.unwrap_or_default(),
    };
    // A topic without a valid pattern cannot be rendered; its errors say why.
    if kind == Item::Topic && model.pattern.is_none() {
        return (None, errors);
    }
    (Some(model), errors)
}

/// Reads the `#[ws_handler]` and `#[event_handler]` methods among `methods` (and
/// strips those attributes): the message handlers and the event handlers, without
/// the duplicates, which are recorded.
pub(super) fn handlers<'m>(
    methods: impl Iterator<Item = &'m mut ImplItemFn>,
    passthrough: &[Type],
    errors: &mut Errors,
) -> (Vec<Handler>, Vec<Handler>) {
    let mut handlers: Vec<Handler> = Vec::new();
    let mut events: Vec<Handler> = Vec::new();
    for method in methods {
        let Some((attr, kind)) = take_handler_attr(method) else { continue };
        let Some(handler) = handler(&attr, kind, method, errors) else { continue };
        let (same_kind, what) = match kind {
            HandlerKind::Ws => (&mut handlers, "message"),
            HandlerKind::Event => (&mut events, "event"),
        };
        let key = handler.message.to_token_stream().to_string();
        if let Some(first) = same_kind.iter().find(|h| h.message.to_token_stream().to_string() == key) {
            errors.push(syn::Error::new_spanned(
                &handler.message,
                format!("two handlers for the same {what}: `{}` already handles `{key}`", first.ident),
            ));
            continue;
        }
        if kind == HandlerKind::Event && passthrough.iter().any(|t| t.to_token_stream().to_string() == key) {
            errors.push(syn::Error::new_spanned(
                &handler.message,
                format!("`{key}` is a passthrough event of this channel; it cannot also have a handler"),
            ));
            continue;
        }
        same_kind.push(handler);
    }
    (handlers, events)
}

/// Parses `mixins(Presence, crate::Typing)`: paths of `#[mixin]` traits, none twice.
fn mixin_list(meta: &syn::meta::ParseNestedMeta, errors: &mut Errors) -> syn::Result<Vec<syn::Path>> {
    let listed: Vec<syn::Path> = match list_as_value(meta, errors)? {
        Some(items) => items.iter().filter_map(|item| syn::parse2(item.to_token_stream()).ok()).collect(),
        None => {
            let content;
            syn::parenthesized!(content in meta.input);
            Punctuated::<syn::Path, Token![,]>::parse_terminated(&content)?.into_iter().collect()
        }
    };
    let mut mixins: Vec<syn::Path> = Vec::new();
    for path in listed {
        let key = path.to_token_stream().to_string();
        if path.segments.iter().any(|s| !s.arguments.is_none()) {
            errors.push(syn::Error::new_spanned(&path, "a mixin is a trait without generic parameters"));
        } else if mixins.iter().any(|m| m.to_token_stream().to_string() == key) {
            errors.push(syn::Error::new_spanned(&path, format!("the mixin `{key}` is listed twice")));
        } else {
            mixins.push(path);
        }
    }
    Ok(mixins)
}

/// `Consumer` or `Topic`, for the example type name of an error message.
fn what_type(kind: Item) -> &'static str {
    match kind {
        Item::Consumer => "Consumer",
        Item::Topic => "Topic",
    }
}

/// Checks a topic pattern: literal text and `{parameter}`s, each parameter a Rust
/// identifier (it names a field of the topic type), used once, never right after
/// another (where would one end?), and nothing but `{name}` in braces.
fn check_pattern(literal: LitStr, errors: &mut Errors) -> Option<Pattern> {
    let text = literal.value();
    let fail = |errors: &mut Errors, message: String| {
        errors.push(syn::Error::new_spanned(&literal, message));
        None
    };
    if text.is_empty() {
        return fail(errors, "a topic pattern cannot be empty: write e.g. `\"room:{room}\"`".into());
    }
    let mut parameters: Vec<String> = Vec::new();
    let mut rest = text.as_str();
    let mut after_parameter = false;
    loop {
        let next = rest.find(['{', '}']);
        let Some(at) = next else { break };
        if rest[at..].starts_with('}') {
            return fail(
                errors,
                format!("unbalanced `}}` in the topic pattern `{text}`: parameters are written `{{name}}`"),
            );
        }
        if at == 0 && after_parameter {
            return fail(
                errors,
                format!(
                    "two parameters in a row in the topic pattern `{text}`: put literal text between them, e.g. `{{a}}-{{b}}`"
                ),
            );
        }
        let Some(end) = rest[at..].find('}') else {
            return fail(errors, format!("unclosed `{{` in the topic pattern `{text}`"));
        };
        let name = &rest[at + 1..at + end];
        if syn::parse_str::<Ident>(name).is_err() {
            return fail(
                errors,
                format!(
                    "`{{{name}}}` in the topic pattern `{text}` is no parameter: a parameter is a field name, e.g. `{{room}}`"
                ),
            );
        }
        if parameters.iter().any(|p| p == name) {
            return fail(
                errors,
                format!("the parameter `{name}` appears twice in the topic pattern `{text}`"),
            );
        }
        parameters.push(name.to_owned());
        rest = &rest[at + end + 1..];
        after_parameter = true;
    }
    Some(Pattern { literal, parameters })
}

/// Checks that a flag key (`log_messages`) has no value; a value is recorded and
/// skipped, so that the keys after it are still checked.
fn flag(meta: &syn::meta::ParseNestedMeta, errors: &mut Errors) -> syn::Result<()> {
    let key = meta.path.get_ident().map(ToString::to_string).unwrap_or_default();
    let text = format!("`{key}` takes no value: write `{key}` alone to turn it on, or leave it out");
    if meta.input.peek(Token![=]) {
        let value: Expr = meta.value()?.parse()?;
        let path = &meta.path;
        errors.push(syn::Error::new_spanned(quote!(#path = #value), text));
    } else if meta.input.peek(syn::token::Paren) {
        let content;
        syn::parenthesized!(content in meta.input);
        content.parse::<TokenStream>()?;
        errors.push(syn::Error::new_spanned(&meta.path, text));
    }
    Ok(())
}

/// Parses `log_ignored_actions("a", "b")`: actions, none empty (an empty one is
/// recorded and left out).
fn action_list(meta: &syn::meta::ParseNestedMeta, errors: &mut Errors) -> syn::Result<Vec<LitStr>> {
    let actions = string_list(meta, errors)?;
    let (empty, actions): (Vec<LitStr>, Vec<LitStr>) =
        actions.into_iter().partition(|action| action.value().is_empty());
    for action in empty {
        errors.push(syn::Error::new_spanned(action, "an action cannot be empty"));
    }
    Ok(actions)
}

/// Parses `key(TypeA, TypeB)`; `key = [...]` is recorded (see `list_as_value`).
pub(super) fn type_list(meta: &syn::meta::ParseNestedMeta, errors: &mut Errors) -> syn::Result<Vec<Type>> {
    if let Some(items) = list_as_value(meta, errors)? {
        return Ok(items.iter().filter_map(|item| syn::parse2(item.to_token_stream()).ok()).collect());
    }
    let content;
    syn::parenthesized!(content in meta.input);
    Ok(Punctuated::<Type, Token![,]>::parse_terminated(&content)?.into_iter().collect())
}

/// Parses `credentials(query("token", "Access token"), header("Authorization"), ...)`:
/// every entry has a known location and a non-empty name, and no two share a
/// security scheme. Bad entries are recorded and left out.
fn credential_list(meta: &syn::meta::ParseNestedMeta, errors: &mut Errors) -> syn::Result<Vec<Credential>> {
    let mut credentials: Vec<Credential> = Vec::new();
    meta.parse_nested_meta(|entry| {
        let Some(location) = Location::ALL.into_iter().find(|l| entry.path.is_ident(l.key())) else {
            return unknown_key(&entry, errors, "credentials", "query, header, cookie");
        };
        let Some(credential) = credential(&entry, location, errors)? else { return Ok(()) };
        let scheme = scheme_name(&credential);
        if let Some(first) = credentials.iter().find(|c| scheme_name(c) == scheme) {
            let (key, name, first) = (location.key(), credential.name.value(), first.name.value());
            let text = if name == first {
                format!("duplicate credential `{key}(\"{name}\")`")
            } else {
                format!(
                    "`{key}(\"{name}\")` and `{key}(\"{first}\")` are one credential (security scheme `{scheme}`)"
                )
            };
            errors.push(syn::Error::new_spanned(&credential.name, text));
        } else {
            credentials.push(credential);
        }
        Ok(())
    })?;
    Ok(credentials)
}

/// Parses the `("name")` or `("name", "description")` of one credential entry.
fn credential(
    entry: &syn::meta::ParseNestedMeta,
    location: Location,
    errors: &mut Errors,
) -> syn::Result<Option<Credential>> {
    let key = location.key();
    let usage = format!("`{key}(\"name\")` or `{key}(\"name\", \"description\")`");
    let args = if entry.input.peek(syn::token::Paren) {
        let content;
        syn::parenthesized!(content in entry.input);
        Punctuated::<Expr, Token![,]>::parse_terminated(&content)?
    } else {
        if entry.input.peek(Token![=]) {
            entry.value()?.parse::<Expr>()?;
        }
        Punctuated::new()
    };
    if let Some(extra) = args.iter().nth(2) {
        errors.push(syn::Error::new_spanned(extra, format!("too many arguments; write {usage}")));
        return Ok(None);
    }
    let texts: Vec<Option<LitStr>> = args.iter().map(|arg| string_literal(arg, errors)).collect();
    let (name, description) = match texts.as_slice() {
        [Some(name)] => (name.clone(), None),
        [Some(name), Some(description)] => {
            (name.clone(), Some(description.clone()).filter(|d| !d.value().is_empty()))
        }
        [] => {
            let text = format!("a `{key}` credential needs a name: {usage}");
            errors.push(syn::Error::new_spanned(&entry.path, text));
            return Ok(None);
        }
        _ => return Ok(None),
    };
    if name.value().trim().is_empty() {
        errors.push(syn::Error::new_spanned(&name, "a credential name cannot be empty"));
        return Ok(None);
    }
    Ok(Some(Credential { location, name, description }))
}

/// The AsyncAPI security scheme of a credential, as `chanx::Credential::scheme_name`
/// computes it at run time: two entries with one scheme are one credential.
fn scheme_name(credential: &Credential) -> String {
    format!("{}_{}", credential.location.key(), credential.name.value()).to_lowercase().replace('-', "_")
}

/// Which attribute marks a handler.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum HandlerKind {
    /// `#[ws_handler]`: a client message.
    Ws,
    /// `#[event_handler]`: a server-side event.
    Event,
}

impl HandlerKind {
    fn attribute(self) -> &'static str {
        match self {
            HandlerKind::Ws => "ws_handler",
            HandlerKind::Event => "event_handler",
        }
    }
}

/// Removes the `#[ws_handler]` or `#[event_handler]` attribute of a method, if any.
pub(super) fn take_handler_attr(method: &mut ImplItemFn) -> Option<(Attribute, HandlerKind)> {
    let (position, kind) = method.attrs.iter().enumerate().find_map(|(i, a)| {
        let last = a.path().segments.last()?;
        [HandlerKind::Ws, HandlerKind::Event]
            .into_iter()
            .find(|k| last.ident == k.attribute())
            .map(|k| (i, k))
    })?;
    Some((method.attrs.remove(position), kind))
}

/// `key = Type` or `key = (A, B)`: one type or several.
fn type_value(meta: &syn::meta::ParseNestedMeta) -> syn::Result<Vec<Type>> {
    Ok(match meta.value()?.parse::<Type>()? {
        Type::Tuple(tuple) => tuple.elems.into_iter().collect(),
        Type::Paren(inner) => vec![*inner.elem],
        single => vec![single],
    })
}

pub(super) fn handler(
    attr: &Attribute,
    kind: HandlerKind,
    method: &ImplItemFn,
    errors: &mut Errors,
) -> Option<Handler> {
    let name = kind.attribute();
    let mut summary: Option<LitStr> = None;
    let mut description: Option<LitStr> = None;
    let mut tags: Option<Vec<LitStr>> = None;
    let mut output: Option<Vec<Type>> = None;
    let mut broadcasts: Option<Vec<Type>> = None;
    if let syn::Meta::List(list) = &attr.meta {
        let parser = syn::meta::parser(|meta| {
            if meta.path.is_ident("summary") {
                if let Some(value) = lit_str(&meta, errors)? {
                    set_once(&mut summary, value, &meta, errors);
                }
            } else if meta.path.is_ident("description") {
                if let Some(value) = lit_str(&meta, errors)? {
                    set_once(&mut description, value, &meta, errors);
                }
            } else if meta.path.is_ident("tags") {
                let value = string_list(&meta, errors)?;
                set_once(&mut tags, value, &meta, errors);
            } else if meta.path.is_ident("output") {
                set_once(&mut output, type_value(&meta)?, &meta, errors);
            } else if meta.path.is_ident("broadcasts") {
                let value = type_list(&meta, errors)?;
                set_once(&mut broadcasts, value, &meta, errors);
            } else {
                unknown_key(&meta, errors, name, "summary, description, tags, output, broadcasts")?;
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
        fail(syn::Error::new_spanned(sig.fn_token, format!("a `#[{name}]` must be an `async fn`")));
    }
    if let Some(param) = sig.generics.params.iter().find(|p| !matches!(p, GenericParam::Lifetime(_))) {
        fail(syn::Error::new_spanned(param, format!("a `#[{name}]` cannot have type or const parameters")));
    }
    if let Some(cfg) = method.attrs.iter().find(|a| a.path().is_ident("cfg")) {
        fail(syn::Error::new_spanned(
            cfg,
            format!(
                "`#[cfg]` on a `#[{name}]` is not supported; put the handlers that depend on it in their own `#[channel]` consumer"
            ),
        ));
    }
    let mut inputs = sig.inputs.iter().peekable();
    match inputs.peek() {
        Some(FnArg::Receiver(receiver)) => {
            inputs.next();
            if !by_reference(receiver) {
                fail(syn::Error::new_spanned(
                    receiver,
                    format!("a `#[{name}]` takes `&mut self` or `&self`"),
                ));
            }
        }
        _ => fail(syn::Error::new(
            sig.paren_token.span.join(),
            format!("a `#[{name}]` takes `&mut self` or `&self` first"),
        )),
    }
    let typed: Vec<Type> = inputs
        .filter_map(|input| match input {
            FnArg::Typed(typed) => Some((*typed.ty).clone()),
            FnArg::Receiver(_) => None,
        })
        .collect();
    // `&mut Cx` counts as the context (an alias, say) when another argument is the
    // message; alone, a reference is the message taken by reference.
    let has_by_value = typed.iter().any(|ty| !matches!(ty, Type::Reference(_)));
    let mut args = Vec::new();
    let mut message: Option<Type> = None;
    let mut has_context = false;
    for ty in typed {
        match &ty {
            Type::Reference(reference)
                if reference.mutability.is_some() && (names_context(&reference.elem) || has_by_value) =>
            {
                if has_context {
                    fail(syn::Error::new_spanned(
                        &ty,
                        format!("a `#[{name}]` takes at most one `&mut Context`"),
                    ));
                }
                has_context = true;
                args.push(Arg::Context(ty));
            }
            Type::Reference(reference) if names_context(&reference.elem) => fail(syn::Error::new_spanned(
                &ty,
                format!("a `#[{name}]` takes the context as `&mut Context`"),
            )),
            _ if message.is_some() => fail(syn::Error::new_spanned(
                &ty,
                format!("a `#[{name}]` takes exactly one message argument"),
            )),
            Type::Reference(reference) => {
                let by_value = reference.elem.to_token_stream().to_string();
                let by_reference = match reference.mutability {
                    Some(_) => format!("&mut {by_value}"),
                    None => format!("&{by_value}"),
                };
                fail(syn::Error::new_spanned(
                    &ty,
                    format!(
                        "a `#[{name}]` takes its message by value: write `{by_value}`, not `{by_reference}`"
                    ),
                ));
                message = Some((*reference.elem).clone());
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
            format!("a `#[{name}]` takes one message argument, e.g. `msg: UserMessage`"),
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
        broadcasts: broadcasts.unwrap_or_default(),
        message: message.filter(|_| valid)?,
        args,
        ret,
    })
}

/// Whether `ty` is named `Context` (`Context`, `chanx::Context`).
fn names_context(ty: &Type) -> bool {
    matches!(ty, Type::Path(path) if path.path.segments.last().is_some_and(|s| s.ident == "Context"))
}

/// `&self`, `&mut self`, `self: &Self` or `self: &mut Self`.
fn by_reference(receiver: &Receiver) -> bool {
    match &*receiver.ty {
        Type::Reference(reference) => matches!(&*reference.elem, Type::Path(p) if p.path.is_ident("Self")),
        _ => false,
    }
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

/// Parses a switch that is on alone (`camelize`) or set (`camelize = false`); `None`
/// for a value that is no boolean (recorded).
fn bool_flag(meta: &syn::meta::ParseNestedMeta, errors: &mut Errors) -> syn::Result<Option<bool>> {
    let key = meta.path.get_ident().map(ToString::to_string).unwrap_or_default();
    let text = format!("`{key}` is on alone, or set with a boolean: `{key}`, `{key} = false`");
    if meta.input.peek(Token![=]) {
        let value: Expr = meta.value()?.parse()?;
        if let Expr::Lit(syn::ExprLit { lit: syn::Lit::Bool(on), .. }) = &value {
            return Ok(Some(on.value));
        }
        errors.push(syn::Error::new_spanned(value, text));
        return Ok(None);
    }
    if meta.input.peek(syn::token::Paren) {
        let content;
        syn::parenthesized!(content in meta.input);
        content.parse::<TokenStream>()?;
        errors.push(syn::Error::new_spanned(&meta.path, text));
        return Ok(None);
    }
    Ok(Some(true))
}
