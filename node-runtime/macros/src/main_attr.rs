//! `#[pinion::main]`: wrap `async fn main(node: Node) -> pinion::Result<()>`, and make
//! `pinion::alloc::NodeAllocator` the binary's global allocator unless told
//! `global_allocator = false`.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{FnArg, ItemFn, LitBool, LitStr, ReturnType};

/// What the attribute was told.
struct Args {
    /// `name = "..."`: the node's default name.
    name: Option<LitStr>,
    /// `global_allocator = false`: the binary sets its own.
    global_allocator: bool,
}

pub fn expand(args: TokenStream, item: &ItemFn) -> syn::Result<TokenStream> {
    let Args {
        name,
        global_allocator,
    } = parse_args(args)?;
    check_signature(item)?;
    let body = &item.block;
    let attrs = &item.attrs;
    let args: Vec<&syn::PatType> = item
        .sig
        .inputs
        .iter()
        .map(|a| match a {
            FnArg::Typed(pat) => Ok(pat),
            FnArg::Receiver(r) => Err(syn::Error::new_spanned(
                r,
                "#[pinion::main] takes `node: Node` (and optionally the node's parts)",
            )),
        })
        .collect::<syn::Result<_>>()?;
    let inputs = &item.sig.inputs;
    let output = match &item.sig.output {
        ReturnType::Type(_, ty) => quote!(#ty),
        ReturnType::Default => quote!(()),
    };
    let default_name = match name {
        Some(n) => quote!(#n),
        None => quote!(::core::env!("CARGO_CRATE_NAME")),
    };
    // On a runtime worker if the future of `main` is `Send`, else on the main thread:
    // the first `run` that applies (see `pinion::runtime::Main`).
    let entry = if args.len() == 2 {
        let parts = &args[1].ty;
        quote!(::pinion::__private::Main::<_, ::pinion::__private::WithParts<#parts>>::with_parts(__pinion_user_main))
    } else {
        quote!(::pinion::__private::Main::new(__pinion_user_main))
    };
    let runner = quote!({
        #[allow(unused_imports)]
        use ::pinion::__private::{OnMainThread as _, OnWorker as _};
        (&&#entry).run(#default_name)
    });
    let allocator = global_allocator.then(|| quote!(::pinion::__install_node_allocator!();));
    Ok(quote! {
        #allocator
        #(#attrs)*
        fn main() -> ::std::process::ExitCode {
            // Tells `pinion launch --check` that this file is a Pinion node, which it may
            // run with `--pinion-manifest` (see `pinion::runtime::NODE_MARKER`). Used, so
            // that the linker keeps it.
            static __PINION_NODE_MARKER: [u8; 24] = *b"\x7fpinion-node-manifest/1\0";
            ::std::hint::black_box(&__PINION_NODE_MARKER);
            async fn __pinion_user_main(#inputs) -> #output #body
            #runner
        }
    })
}

/// On error: the error, plus a stand-in so that only the macro's own message shows
/// (no second error about a missing or ill-typed `main`).
pub fn fallback(error: syn::Error, item: &ItemFn) -> TokenStream {
    let error = error.into_compile_error();
    if item.sig.ident == "main" {
        quote!(#error fn main() {})
    } else {
        quote!(#error #item)
    }
}

fn parse_args(args: TokenStream) -> syn::Result<Args> {
    let mut parsed = Args {
        name: None,
        global_allocator: true,
    };
    if args.is_empty() {
        return Ok(parsed);
    }
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("name") {
            parsed.name = Some(meta.value()?.parse::<LitStr>()?);
            Ok(())
        } else if meta.path.is_ident("global_allocator") {
            parsed.global_allocator = meta.value()?.parse::<LitBool>()?.value;
            Ok(())
        } else {
            Err(meta.error(
                "unknown #[pinion::main] argument; expected `name = \"...\"` or `global_allocator = false`",
            ))
        }
    });
    syn::parse::Parser::parse2(parser, args)?;
    Ok(parsed)
}

fn check_signature(item: &ItemFn) -> syn::Result<()> {
    let sig = &item.sig;
    if sig.ident != "main" {
        return Err(syn::Error::new_spanned(
            &sig.ident,
            "#[pinion::main] goes on `async fn main(node: Node)`",
        ));
    }
    if sig.asyncness.is_none() {
        return Err(syn::Error::new_spanned(
            sig.fn_token,
            "#[pinion::main] needs an `async fn`",
        ));
    }
    if sig.inputs.is_empty() || sig.inputs.len() > 2 {
        return Err(syn::Error::new_spanned(
            &sig.inputs,
            "#[pinion::main] takes `node: Node`, and optionally the node's parts: `io: MyParts` (a #[derive(Node)] struct)",
        ));
    }
    if !sig.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &sig.generics,
            "#[pinion::main] cannot be generic",
        ));
    }
    Ok(())
}
