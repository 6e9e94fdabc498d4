//! `#[derive(Message)]`: parse attributes, check, generate.

use crate::attrs::{message_name, serde_attrs};
use crate::schema::{data_model, private};
use proc_macro2::TokenStream;
use quote::quote;
use syn::{parse_quote, DeriveInput, GenericParam};

pub fn expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    let container = serde_attrs(&input.attrs)?;
    let explicit_name = message_name(&input.attrs)?;
    let ident = &input.ident;
    let schema_name = container.rename.unwrap_or_else(|| ident.to_string());
    let type_name = explicit_name.unwrap_or_else(|| schema_name.clone());
    let model = data_model(&input.data, input)?;
    let p = private();

    let mut schema_generics = input.generics.clone();
    let mut message_generics = input.generics.clone();
    for param in input.generics.params.iter() {
        if let GenericParam::Type(t) = param {
            let id = &t.ident;
            schema_generics
                .make_where_clause()
                .predicates
                .push(parse_quote!(#id: #p::Schema));
            message_generics
                .make_where_clause()
                .predicates
                .push(parse_quote!(#id: #p::Schema + #p::Serialize + #p::DeserializeOwned + ::core::marker::Send + ::core::marker::Sync + 'static));
        }
        if let GenericParam::Lifetime(l) = param {
            return Err(syn::Error::new_spanned(
                l,
                "derive(Message) needs an owned type: messages cannot borrow (remove the lifetime)",
            ));
        }
    }
    let (impl_g, ty_g, schema_where) = schema_generics.split_for_impl();
    let (_, _, message_where) = message_generics.split_for_impl();

    Ok(quote! {
        const _: () = {
            impl #impl_g #p::Schema for #ident #ty_g #schema_where {
                const SCHEMA: &'static #p::NamedType = &#p::NamedType {
                    name: #schema_name,
                    ty: &#model,
                };
            }
            impl #impl_g ::pinion::Message for #ident #ty_g #message_where {
                const TYPE_NAME: &'static str = #type_name;
            }
        };
    })
}
