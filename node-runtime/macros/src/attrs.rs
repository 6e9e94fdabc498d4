//! Reading the `#[serde(...)]` and `#[message(...)]` attributes that shape a schema.

use syn::{Attribute, LitStr};

/// What the serde attributes of one item (container, field or variant) say about its wire shape.
#[derive(Default)]
pub struct SerdeAttrs {
    pub rename: Option<String>,
    pub skip: bool,
    /// `#[serde(with = "serde_bytes")]`: a byte string on the wire (postcard writes it
    /// exactly as a `Vec<u8>`, but in one copy instead of byte by byte).
    pub bytes: bool,
}

/// Serde attributes that change the postcard wire format in a way a schema cannot describe.
const UNSUPPORTED: &[&str] = &[
    "flatten",
    "tag",
    "content",
    "untagged",
    "rename_all",
    "rename_all_fields",
    "with",
    "serialize_with",
    "deserialize_with",
    "skip_serializing",
    "skip_deserializing",
    "skip_serializing_if",
    "transparent",
    "into",
    "from",
    "try_from",
    "remote",
    "other",
];

/// Reads `#[serde(...)]` attributes, refusing those that would make the schema lie.
pub fn serde_attrs(attrs: &[Attribute]) -> syn::Result<SerdeAttrs> {
    let mut out = SerdeAttrs::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        attr.parse_nested_meta(|meta| {
            let key = meta
                .path
                .get_ident()
                .map(ToString::to_string)
                .unwrap_or_default();
            if key == "rename" {
                if meta.input.peek(syn::Token![=]) {
                    let lit: LitStr = meta.value()?.parse()?;
                    out.rename = Some(lit.value());
                    return Ok(());
                }
                return Err(meta.error(
                    "derive(Message) supports only `#[serde(rename = \"...\")]`, not separate serialize/deserialize names",
                ));
            }
            if key == "skip" {
                out.skip = true;
                return Ok(());
            }
            if key == "with" && meta.input.peek(syn::Token![=]) {
                let lit: LitStr = meta.value()?.parse()?;
                let path = lit.value();
                if path == "serde_bytes" || path.ends_with("::serde_bytes") {
                    out.bytes = true;
                    return Ok(());
                }
                return Err(syn::Error::new(
                    lit.span(),
                    "derive(Message) supports `with` only for `serde_bytes` (byte strings): postcard's schema cannot describe other custom encodings",
                ));
            }
            if UNSUPPORTED.contains(&key.as_str()) {
                return Err(meta.error(format!(
                    "derive(Message) does not support `#[serde({key})]`: postcard's schema cannot describe it"
                )));
            }
            // Attributes such as `default`, `bound` or `deny_unknown_fields` leave the
            // wire shape alone; consume their value if they have one.
            if meta.input.peek(syn::Token![=]) {
                let _: syn::Expr = meta.value()?.parse()?;
            } else if meta.input.peek(syn::token::Paren) {
                let _content;
                syn::parenthesized!(_content in meta.input);
                let _: proc_macro2::TokenStream = _content.parse()?;
            }
            Ok(())
        })?;
    }
    Ok(out)
}

/// Reads `#[message(name = "pkg/Type")]` on the container.
pub fn message_name(attrs: &[Attribute]) -> syn::Result<Option<String>> {
    let mut name = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("message")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("name") {
                let lit: LitStr = meta.value()?.parse()?;
                if lit.value().trim().is_empty() {
                    return Err(syn::Error::new(
                        lit.span(),
                        "message name must not be empty",
                    ));
                }
                name = Some(lit.value());
                Ok(())
            } else {
                Err(meta.error("unknown message attribute; expected `name = \"...\"`"))
            }
        })?;
    }
    Ok(name)
}
