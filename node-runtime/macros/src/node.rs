//! `#[derive(Node)]`: parse the field attributes, check them, generate `NodeParts`.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Data, DeriveInput, Field, Fields, LitInt, LitStr};

/// What one field is.
enum Kind {
    Publish {
        topic: LitStr,
        latched: bool,
    },
    Subscribe {
        topic: LitStr,
        queue: Option<LitInt>,
    },
    Param {
        key: LitStr,
    },
    Client {
        name: LitStr,
    },
}

pub fn expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    let ident = &input.ident;
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &input.generics,
            "derive(Node) does not support generic structs",
        ));
    }
    let fields = match &input.data {
        Data::Struct(s) => match &s.fields {
            Fields::Named(named) => &named.named,
            _ => {
                return Err(syn::Error::new_spanned(
                    ident,
                    "derive(Node) needs a struct with named fields",
                ))
            }
        },
        _ => {
            return Err(syn::Error::new_spanned(
                ident,
                "derive(Node) goes on a struct whose fields are the node's parts",
            ))
        }
    };
    let p = quote!(::pinion::__private);
    let mut manifest = Vec::new();
    let mut create = Vec::new();
    for field in fields {
        let name = &field.ident;
        let ty = &field.ty;
        match parse_field(field)? {
            Kind::Publish { topic, latched } => {
                manifest.push(quote!(m.publishes.push(#p::TopicUse { topic: #topic.to_owned(), type_info: <#ty as #p::PublishField>::type_info() });));
                create.push(
                    quote!(#name: <#ty as #p::PublishField>::create(node, #topic, #latched).await?),
                );
            }
            Kind::Subscribe { topic, queue } => {
                let queue = match queue {
                    Some(q) => quote!(::core::option::Option::Some(#q)),
                    None => quote!(::core::option::Option::None),
                };
                manifest.push(quote!(m.subscribes.push(#p::TopicUse { topic: #topic.to_owned(), type_info: <#ty as #p::SubscribeField>::type_info() });));
                create.push(
                    quote!(#name: <#ty as #p::SubscribeField>::create(node, #topic, #queue).await?),
                );
            }
            Kind::Param { key } => {
                manifest.push(quote!(m.params.push(#key.to_owned());));
                create.push(quote!(#name: <#ty as #p::ParamField>::create(node, #key).await?));
            }
            Kind::Client { name: service } => {
                manifest.push(quote!({
                    let (request, response) = <#ty as #p::ClientField>::types();
                    m.calls.push(#p::ServiceUse { name: #service.to_owned(), request, response });
                }));
                create.push(quote!(#name: <#ty as #p::ClientField>::create(node, #service)?));
            }
        }
    }
    Ok(quote! {
        const _: () = {
            impl #p::NodeParts for #ident {
                fn manifest() -> #p::Manifest {
                    let mut m = <#p::Manifest as ::core::default::Default>::default();
                    #(#manifest)*
                    m
                }
                async fn create(node: &::pinion::Node) -> ::pinion::Result<Self> {
                    ::core::result::Result::Ok(Self { #(#create,)* })
                }
            }
        };
    })
}

fn parse_field(field: &Field) -> syn::Result<Kind> {
    let mut kind: Option<Kind> = None;
    let mut latched = None;
    let mut queue: Option<LitInt> = None;
    let set = |kind: &mut Option<Kind>, new: Kind, span: &syn::meta::ParseNestedMeta| {
        if kind.is_some() {
            return Err(span
                .error("a field is one part: use only one of publish, subscribe, param, client"));
        }
        *kind = Some(new);
        Ok(())
    };
    for attr in field.attrs.iter().filter(|a| a.path().is_ident("pinion")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("publish") {
                let topic = name_value(&meta)?;
                set(&mut kind, Kind::Publish { topic, latched: false }, &meta)
            } else if meta.path.is_ident("subscribe") {
                let topic = name_value(&meta)?;
                set(&mut kind, Kind::Subscribe { topic, queue: None }, &meta)
            } else if meta.path.is_ident("param") {
                let key = name_value(&meta)?;
                set(&mut kind, Kind::Param { key }, &meta)
            } else if meta.path.is_ident("client") {
                let name = name_value(&meta)?;
                set(&mut kind, Kind::Client { name }, &meta)
            } else if meta.path.is_ident("latched") {
                latched = Some(meta.path.clone());
                Ok(())
            } else if meta.path.is_ident("queue") {
                let q: LitInt = meta.value()?.parse()?;
                if q.base10_parse::<usize>().map_or(true, |n| n == 0) {
                    return Err(syn::Error::new_spanned(&q, "`queue` must be a whole number of at least 1"));
                }
                queue = Some(q);
                Ok(())
            } else {
                Err(meta.error("unknown pinion attribute; expected publish, subscribe, param, client, latched or queue"))
            }
        })?;
    }
    let Some(mut kind) = kind else {
        return Err(syn::Error::new_spanned(
            field,
            "every field of a derive(Node) struct needs #[pinion(publish = \"..\")], #[pinion(subscribe = \"..\")], #[pinion(param = \"..\")] or #[pinion(client = \"..\")]",
        ));
    };
    match (&mut kind, latched, queue) {
        (Kind::Publish { latched: l, .. }, Some(_), None) => *l = true,
        (Kind::Subscribe { queue: q, .. }, None, Some(n)) => *q = Some(n),
        (_, None, None) => {}
        (_, Some(path), _) => {
            return Err(syn::Error::new_spanned(
                path,
                "`latched` goes only with `publish`",
            ))
        }
        (_, None, Some(n)) => {
            return Err(syn::Error::new_spanned(
                n,
                "`queue` goes only with `subscribe`",
            ))
        }
    }
    Ok(kind)
}

/// The string after `=`, checked to be a valid name.
fn name_value(meta: &syn::meta::ParseNestedMeta) -> syn::Result<LitStr> {
    let lit: LitStr = meta.value()?.parse()?;
    let value = lit.value();
    let name = value.strip_prefix('/').unwrap_or(&value);
    let valid = !name.is_empty()
        && name.split('/').all(|seg| {
            seg.chars().next().is_some_and(|c| !c.is_ascii_digit())
                && seg.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
    if !valid {
        return Err(syn::Error::new_spanned(&lit, "invalid name: use ASCII letters, digits, `_` and `/` separators, not starting with a digit"));
    }
    Ok(lit)
}
