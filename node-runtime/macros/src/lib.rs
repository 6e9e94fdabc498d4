//! Macros for Pinion: `#[derive(Message)]` and `#[pinion::main]`.
//!
//! Each entry point parses its input, hands it to an `expand` function that returns
//! `syn::Result`, and turns an error into a `compile_error!`: the macros never panic.
//! Generated code names the runtime only through `::pinion::__private`.

mod attrs;
mod main_attr;
mod message;
mod node;
mod schema;

use proc_macro::TokenStream;

/// Makes a serde type a Pinion message: a type name, a postcard schema and a schema hash.
///
/// See `pinion::Message` for the generated items and the supported attributes.
#[proc_macro_derive(Message, attributes(message))]
pub fn derive_message(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    message::expand(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Builds a node's publishers, subscribers, parameters and service clients from its fields.
///
/// See `pinion::parts` for the attributes and the generated code.
#[proc_macro_derive(Node, attributes(pinion))]
pub fn derive_node(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    node::expand(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Turns `async fn main(node: Node) -> pinion::Result<()>` into a node's entry point.
///
/// See `pinion::main` for the behaviour of the generated `main`.
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    let item = syn::parse_macro_input!(item as syn::ItemFn);
    main_attr::expand(args.into(), &item)
        .unwrap_or_else(|e| main_attr::fallback(e, &item))
        .into()
}
