//! A message type described by Python (JSON text) as the postcard schema the Rust derive
//! writes for the same type, so both meet at the master with the same hash.
//!
//! ```text
//! T := "bool" | "u8" | "u16" | "u32" | "u64" | "u128" | "i8" | ... | "i128" | "f32" | "f64"
//!    | "char" | "string" | "bytes"
//!    | {"option": T} | {"list": T} | {"array": [T, N]} | {"tuple": [T, ...]} | {"map": [K, V]}
//!    | {"struct": {"name": NAME, "fields": [[FIELD, T], ...]}}
//!    | {"enum": {"name": NAME, "variants": [[VARIANT, null | {"newtype": T}
//!                                                  | {"tuple": [T, ...]} | {"fields": [[FIELD, T], ...]}], ...]}}
//! ```

use pinion::message::TypeInfo;
use postcard_schema::schema::owned::{
    OwnedDataModelType as T, OwnedDataModelVariant as V, OwnedNamedType, OwnedNamedValue,
    OwnedNamedVariant,
};
use pyo3::prelude::*;
use serde_json::Value;

/// The type `type_name` described by `description` (JSON text): name, schema and hash.
pub fn type_info(type_name: &str, description: &str) -> Result<TypeInfo, String> {
    let value: Value =
        serde_json::from_str(description).map_err(|e| format!("not a type description: {e}"))?;
    let schema = named(&value, type_name)?;
    Ok(TypeInfo {
        name: type_name.to_owned(),
        hash: pinion::message::schema_hash(&schema),
        schema,
    })
}

/// The schema hash of a described type, as the Rust derive computes it.
#[pyfunction]
pub fn schema_hash(type_name: &str, description: &str) -> PyResult<u64> {
    type_info(type_name, description)
        .map(|t| t.hash)
        .map_err(crate::error)
}

fn named(value: &Value, at: &str) -> Result<OwnedNamedType, String> {
    let (name, ty) = match value {
        Value::String(s) => (
            rust_name(s).ok_or_else(|| format!("{at}: unknown type `{s}`"))?,
            primitive(s).ok_or_else(|| format!("{at}: unknown type `{s}`"))?,
        ),
        Value::Object(map) if map.len() == 1 => {
            let (kind, inner) = map.iter().next().ok_or("empty")?;
            compound(kind, inner, at)?
        }
        other => return Err(format!("{at}: not a type: {other}")),
    };
    Ok(OwnedNamedType { name, ty })
}

fn compound(kind: &str, inner: &Value, at: &str) -> Result<(String, T), String> {
    let pair = |v: &Value| -> Result<(Value, Value), String> {
        match v.as_array().map(Vec::as_slice) {
            Some([a, b]) => Ok((a.clone(), b.clone())),
            _ => Err(format!("{at}: `{kind}` takes two items")),
        }
    };
    Ok(match kind {
        "option" => {
            let t = named(inner, at)?;
            (format!("Option<{}>", t.name), T::Option(Box::new(t)))
        }
        "list" => {
            let t = named(inner, at)?;
            (format!("Vec<{}>", t.name), T::Seq(Box::new(t)))
        }
        "array" => {
            let (t, n) = pair(inner)?;
            let t = named(&t, at)?;
            let n = n
                .as_u64()
                .filter(|n| *n <= 1 << 16)
                .ok_or(format!("{at}: an array's length must be 0 to 65536"))?;
            (
                "[T; N]".to_owned(),
                T::Tuple(std::iter::repeat_n(t, n as usize).collect()),
            )
        }
        "tuple" => {
            let items = inner
                .as_array()
                .ok_or(format!("{at}: a tuple takes a list of types"))?
                .iter()
                .map(|t| named(t, at))
                .collect::<Result<Vec<_>, _>>()?;
            ("(..)".to_owned(), T::Tuple(items))
        }
        "map" => {
            let (k, v) = pair(inner)?;
            let (k, v) = (named(&k, at)?, named(&v, at)?);
            (
                format!("Map<{}, {}>", k.name, v.name),
                T::Map {
                    key: Box::new(k),
                    val: Box::new(v),
                },
            )
        }
        "struct" => {
            let name = inner["name"].as_str().unwrap_or("struct").to_owned();
            let fields = fields(&inner["fields"], &name)?;
            (name, T::Struct(fields))
        }
        "enum" => {
            let name = inner["name"].as_str().unwrap_or("enum").to_owned();
            let variants = inner["variants"]
                .as_array()
                .ok_or(format!("{name}: an enum takes a list of variants"))?
                .iter()
                .map(|v| variant(v, &name))
                .collect::<Result<Vec<_>, _>>()?;
            (name, T::Enum(variants))
        }
        other => return Err(format!("{at}: unknown kind of type `{other}`")),
    })
}

fn fields(value: &Value, at: &str) -> Result<Vec<OwnedNamedValue>, String> {
    value
        .as_array()
        .ok_or(format!("{at}: fields must be a list of [name, type]"))?
        .iter()
        .map(|f| match f.as_array().map(Vec::as_slice) {
            Some([Value::String(name), t]) => Ok(OwnedNamedValue {
                name: name.clone(),
                ty: named(t, &format!("{at}.{name}"))?,
            }),
            _ => Err(format!("{at}: a field must be [name, type]")),
        })
        .collect()
}

fn variant(value: &Value, at: &str) -> Result<OwnedNamedVariant, String> {
    let Some([Value::String(name), body]) = value.as_array().map(Vec::as_slice) else {
        return Err(format!("{at}: a variant must be [name, body]"));
    };
    let here = format!("{at}::{name}");
    let ty = match body {
        Value::Null => V::UnitVariant,
        Value::Object(m) if m.contains_key("newtype") => {
            V::NewtypeVariant(Box::new(named(&m["newtype"], &here)?))
        }
        Value::Object(m) if m.contains_key("tuple") => V::TupleVariant(
            m["tuple"]
                .as_array()
                .ok_or(format!("{here}: a tuple variant takes a list of types"))?
                .iter()
                .map(|t| named(t, &here))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(m) if m.contains_key("fields") => {
            V::StructVariant(fields(&m["fields"], &here)?)
        }
        other => return Err(format!("{here}: not a variant body: {other}")),
    };
    Ok(OwnedNamedVariant {
        name: name.clone(),
        ty,
    })
}

fn primitive(name: &str) -> Option<T> {
    Some(match name {
        "bool" => T::Bool,
        "u8" => T::U8,
        "u16" => T::U16,
        "u32" => T::U32,
        "u64" => T::U64,
        "u128" => T::U128,
        "i8" => T::I8,
        "i16" => T::I16,
        "i32" => T::I32,
        "i64" => T::I64,
        "i128" => T::I128,
        "f32" => T::F32,
        "f64" => T::F64,
        "char" => T::Char,
        "string" => T::String,
        "bytes" => T::ByteArray,
        _ => return None,
    })
}

/// What the Rust derive calls the type (shown by tools; not part of the hash).
fn rust_name(name: &str) -> Option<String> {
    primitive(name)?;
    Some(match name {
        "string" => "String".to_owned(),
        "bytes" => "Blob".to_owned(),
        other => other.to_owned(),
    })
}

/// The description (as Python gives it) of a schema: the way back, for the standard
/// messages, whose schemas come from the Rust types themselves.
pub fn describe(schema: &OwnedNamedType) -> Result<Value, String> {
    use serde_json::json;
    let all = |items: &[OwnedNamedType]| items.iter().map(describe).collect::<Result<Vec<_>, _>>();
    let fields = |fields: &[OwnedNamedValue]| {
        fields
            .iter()
            .map(|f| Ok(json!([f.name, describe(&f.ty)?])))
            .collect::<Result<Vec<_>, String>>()
    };
    Ok(match &schema.ty {
        T::Bool => json!("bool"),
        T::U8 => json!("u8"),
        T::U16 => json!("u16"),
        T::U32 => json!("u32"),
        T::U64 => json!("u64"),
        T::U128 => json!("u128"),
        T::I8 => json!("i8"),
        T::I16 => json!("i16"),
        T::I32 => json!("i32"),
        T::I64 => json!("i64"),
        T::I128 => json!("i128"),
        T::F32 => json!("f32"),
        T::F64 => json!("f64"),
        T::Char => json!("char"),
        T::String => json!("string"),
        T::ByteArray => json!("bytes"),
        T::Option(t) => json!({"option": describe(t)?}),
        T::Seq(t) => json!({"list": describe(t)?}),
        T::Tuple(items) => match items.first() {
            Some(first) if items.len() > 1 && items.iter().all(|i| i == first) => {
                json!({"array": [describe(first)?, items.len()]})
            }
            _ => json!({"tuple": all(items)?}),
        },
        T::Map { key, val } => json!({"map": [describe(key)?, describe(val)?]}),
        T::Struct(fs) => json!({"struct": {"name": schema.name, "fields": fields(fs)?}}),
        T::Enum(variants) => {
            let variants = variants
                .iter()
                .map(|v| {
                    Ok(json!([
                        v.name,
                        match &v.ty {
                            V::UnitVariant => Value::Null,
                            V::NewtypeVariant(t) => json!({"newtype": describe(t)?}),
                            V::TupleVariant(ts) => json!({"tuple": all(ts)?}),
                            V::StructVariant(fs) => json!({"fields": fields(fs)?}),
                        }
                    ]))
                })
                .collect::<Result<Vec<_>, String>>()?;
            json!({"enum": {"name": schema.name, "variants": variants}})
        }
        other => {
            return Err(format!(
                "{}: {other:?} has no Python description",
                schema.name
            ))
        }
    })
}

/// Pinion's standard messages for Python: (module, class, type name, description).
#[pyfunction]
pub fn standard_messages() -> PyResult<Vec<(String, String, String, String)>> {
    use pinion::msgs::{diagnostic, geometry, log, nav, sensor, std_msgs};
    use pinion::Message;
    let mut out = Vec::new();
    let mut add = |module: &str, class: &str, info: TypeInfo| -> PyResult<()> {
        let description = describe(&info.schema).map_err(crate::error)?;
        out.push((
            module.to_owned(),
            class.to_owned(),
            info.name,
            description.to_string(),
        ));
        Ok(())
    };
    add("std_msgs", "Header", std_msgs::Header::type_info())?;
    add("std_msgs", "Text", std_msgs::Text::type_info())?;
    add("std_msgs", "Bool", std_msgs::Bool::type_info())?;
    add("std_msgs", "Float64", std_msgs::Float64::type_info())?;
    add("std_msgs", "Int64", std_msgs::Int64::type_info())?;
    add("std_msgs", "UInt64", std_msgs::UInt64::type_info())?;
    add("geometry", "Vector3", geometry::Vector3::type_info())?;
    add("geometry", "Point", geometry::Point::type_info())?;
    add("geometry", "Quaternion", geometry::Quaternion::type_info())?;
    add("geometry", "Pose", geometry::Pose::type_info())?;
    add("geometry", "Twist", geometry::Twist::type_info())?;
    add(
        "geometry",
        "PoseStamped",
        geometry::PoseStamped::type_info(),
    )?;
    add(
        "geometry",
        "TransformStamped",
        geometry::TransformStamped::type_info(),
    )?;
    add(
        "geometry",
        "TransformList",
        geometry::TransformList::type_info(),
    )?;
    add("sensor", "Imu", sensor::Imu::type_info())?;
    add("sensor", "LaserScan", sensor::LaserScan::type_info())?;
    add("sensor", "Image", sensor::Image::type_info())?;
    add(
        "sensor",
        "CompressedImage",
        sensor::CompressedImage::type_info(),
    )?;
    add("sensor", "PointField", sensor::PointField::type_info())?;
    add("sensor", "PointCloud2", sensor::PointCloud2::type_info())?;
    add("sensor", "BatteryState", sensor::BatteryState::type_info())?;
    add("nav", "Odometry", nav::Odometry::type_info())?;
    add("log", "Log", log::Log::type_info())?;
    add("diagnostic", "KeyValue", diagnostic::KeyValue::type_info())?;
    add(
        "diagnostic",
        "DiagnosticStatus",
        diagnostic::DiagnosticStatus::type_info(),
    )?;
    add(
        "diagnostic",
        "DiagnosticArray",
        diagnostic::DiagnosticArray::type_info(),
    )?;
    Ok(out)
}
