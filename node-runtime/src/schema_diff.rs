//! Field-by-field comparison of two schemas, for type-mismatch errors.

use postcard_schema::schema::owned::{
    OwnedDataModelType as T, OwnedDataModelVariant as V, OwnedNamedType,
};

/// Lists the differences between two schemas, one line each, with the path of the field.
///
/// Empty when the schemas are equal.
pub fn differences(a: &OwnedNamedType, b: &OwnedNamedType) -> Vec<String> {
    let mut out = Vec::new();
    diff_named(&a.name, a, b, &mut out);
    out
}

fn diff_named(path: &str, a: &OwnedNamedType, b: &OwnedNamedType, out: &mut Vec<String>) {
    if a.name != b.name {
        out.push(format!("{path}: type name `{}` vs `{}`", a.name, b.name));
    }
    diff_ty(path, &a.ty, &b.ty, out);
}

fn diff_ty(path: &str, a: &T, b: &T, out: &mut Vec<String>) {
    match (a, b) {
        (T::Struct(fa), T::Struct(fb)) => diff_fields(path, fa, fb, out),
        (T::Enum(va), T::Enum(vb)) => {
            for (i, x) in va.iter().enumerate() {
                match vb.iter().position(|y| y.name == x.name) {
                    None => out.push(format!(
                        "{path}::{}: variant only in the first type",
                        x.name
                    )),
                    Some(j) if j != i => {
                        out.push(format!("{path}::{}: variant index {i} vs {j}", x.name))
                    }
                    Some(j) => diff_variant(&format!("{path}::{}", x.name), &x.ty, &vb[j].ty, out),
                }
            }
            for y in vb.iter().filter(|y| !va.iter().any(|x| x.name == y.name)) {
                out.push(format!(
                    "{path}::{}: variant only in the second type",
                    y.name
                ));
            }
        }
        (T::Option(x), T::Option(y))
        | (T::Seq(x), T::Seq(y))
        | (T::NewtypeStruct(x), T::NewtypeStruct(y)) => diff_named(path, x, y, out),
        (T::Tuple(xs), T::Tuple(ys)) | (T::TupleStruct(xs), T::TupleStruct(ys)) => {
            diff_list(path, xs, ys, out)
        }
        (T::Map { key: ka, val: va }, T::Map { key: kb, val: vb }) => {
            diff_named(&format!("{path}.<key>"), ka, kb, out);
            diff_named(&format!("{path}.<value>"), va, vb, out);
        }
        (x, y) if x == y => {}
        (x, y) => out.push(format!("{path}: {} vs {}", short(x), short(y))),
    }
}

fn diff_variant(path: &str, a: &V, b: &V, out: &mut Vec<String>) {
    match (a, b) {
        (V::UnitVariant, V::UnitVariant) => {}
        (V::NewtypeVariant(x), V::NewtypeVariant(y)) => diff_named(path, x, y, out),
        (V::TupleVariant(xs), V::TupleVariant(ys)) => diff_list(path, xs, ys, out),
        (V::StructVariant(xs), V::StructVariant(ys)) => diff_fields(path, xs, ys, out),
        _ => out.push(format!("{path}: variant kind differs")),
    }
}

fn diff_fields(
    path: &str,
    a: &[postcard_schema::schema::owned::OwnedNamedValue],
    b: &[postcard_schema::schema::owned::OwnedNamedValue],
    out: &mut Vec<String>,
) {
    for (i, x) in a.iter().enumerate() {
        let field = format!("{path}.{}", x.name);
        match b.iter().position(|y| y.name == x.name) {
            None => out.push(format!("{field}: only in the first type ({})", x.ty.name)),
            Some(j) => {
                if i != j {
                    out.push(format!("{field}: position {i} vs {j}"));
                }
                diff_named(&field, &x.ty, &b[j].ty, out);
            }
        }
    }
    for y in b.iter().filter(|y| !a.iter().any(|x| x.name == y.name)) {
        out.push(format!(
            "{path}.{}: only in the second type ({})",
            y.name, y.ty.name
        ));
    }
}

fn diff_list(path: &str, xs: &[OwnedNamedType], ys: &[OwnedNamedType], out: &mut Vec<String>) {
    if xs.len() != ys.len() {
        out.push(format!("{path}: {} elements vs {}", xs.len(), ys.len()));
    }
    for (i, (x, y)) in xs.iter().zip(ys).enumerate() {
        diff_named(&format!("{path}.{i}"), x, y, out);
    }
}

fn short(t: &T) -> String {
    let s = format!("{t:?}");
    match s.find('(') {
        Some(i) => s[..i].to_owned(),
        None => s,
    }
}
