//! Generating the `postcard_schema::Schema` description of a struct or enum.

use crate::attrs::serde_attrs;
use proc_macro2::TokenStream;
use quote::quote;
use syn::{Data, DataEnum, Fields};

/// The `DataModelType` expression for the whole type.
pub fn data_model(data: &Data, span_source: &syn::DeriveInput) -> syn::Result<TokenStream> {
    match data {
        Data::Struct(s) => struct_model(&s.fields),
        Data::Enum(e) => enum_model(e),
        Data::Union(_) => Err(syn::Error::new_spanned(
            &span_source.ident,
            "derive(Message) supports structs and enums, not unions",
        )),
    }
}

fn struct_model(fields: &Fields) -> syn::Result<TokenStream> {
    let p = private();
    Ok(match fields {
        Fields::Unit => quote!(#p::DataModelType::UnitStruct),
        Fields::Unnamed(f) if f.unnamed.len() == 1 => {
            let ty = &f.unnamed[0].ty;
            quote!(#p::DataModelType::NewtypeStruct(<#ty as #p::Schema>::SCHEMA))
        }
        Fields::Unnamed(_) => {
            let tys = unnamed_types(fields)?;
            quote!(#p::DataModelType::TupleStruct(&[#(#tys),*]))
        }
        Fields::Named(_) => {
            let values = named_values(fields)?;
            quote!(#p::DataModelType::Struct(&[#(#values),*]))
        }
    })
}

fn enum_model(data: &DataEnum) -> syn::Result<TokenStream> {
    let p = private();
    let mut variants = Vec::new();
    for variant in &data.variants {
        let attrs = serde_attrs(&variant.attrs)?;
        if attrs.skip {
            return Err(syn::Error::new_spanned(
                &variant.ident,
                "derive(Message) does not support skipped enum variants",
            ));
        }
        let name = attrs.rename.unwrap_or_else(|| variant.ident.to_string());
        let ty = match &variant.fields {
            Fields::Unit => quote!(#p::DataModelVariant::UnitVariant),
            Fields::Unnamed(f) if f.unnamed.len() == 1 => {
                let ty = &f.unnamed[0].ty;
                quote!(#p::DataModelVariant::NewtypeVariant(<#ty as #p::Schema>::SCHEMA))
            }
            Fields::Unnamed(_) => {
                let tys = unnamed_types(&variant.fields)?;
                quote!(#p::DataModelVariant::TupleVariant(&[#(#tys),*]))
            }
            Fields::Named(_) => {
                let values = named_values(&variant.fields)?;
                quote!(#p::DataModelVariant::StructVariant(&[#(#values),*]))
            }
        };
        variants.push(quote!(&#p::NamedVariant { name: #name, ty: &#ty }));
    }
    Ok(quote!(#p::DataModelType::Enum(&[#(#variants),*])))
}

fn unnamed_types(fields: &Fields) -> syn::Result<Vec<TokenStream>> {
    let mut out = Vec::new();
    for field in fields {
        let attrs = serde_attrs(&field.attrs)?;
        if attrs.skip {
            return Err(syn::Error::new_spanned(
                field,
                "derive(Message) does not support skipped tuple fields",
            ));
        }
        out.push(field_schema(field, attrs.bytes));
    }
    Ok(out)
}

/// The schema of one field: its type's, or a byte string for `serde_bytes` fields.
fn field_schema(field: &syn::Field, bytes: bool) -> TokenStream {
    let p = private();
    let ty = &field.ty;
    if bytes {
        quote!(&#p::NamedType { name: "bytes", ty: &#p::DataModelType::ByteArray })
    } else {
        quote!(<#ty as #p::Schema>::SCHEMA)
    }
}

fn named_values(fields: &Fields) -> syn::Result<Vec<TokenStream>> {
    let p = private();
    let mut out = Vec::new();
    for field in fields {
        let attrs = serde_attrs(&field.attrs)?;
        if attrs.skip {
            continue;
        }
        let name = match (attrs.rename, &field.ident) {
            (Some(name), _) => name,
            (None, Some(ident)) => ident.to_string().trim_start_matches("r#").to_owned(),
            (None, None) => continue,
        };
        let ty = field_schema(field, attrs.bytes);
        out.push(quote!(&#p::NamedValue { name: #name, ty: #ty }));
    }
    Ok(out)
}

/// The path every generated item uses to reach the runtime.
pub fn private() -> TokenStream {
    quote!(::pinion::__private)
}
