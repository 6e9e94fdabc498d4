//! From TOML text to typed values, collecting every problem on the way.

use super::duration::parse_duration;
use super::problem::{Location, Problem};
use super::{DeploySpec, LaunchFile, MachineSpec, MasterSpec, NodeSpec, Respawn, RespawnPolicy};
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml_edit::{ImDocument, Item, TableLike, Value};

/// How deep includes may nest.
const MAX_INCLUDE_DEPTH: usize = 8;

/// The largest launch file (or include) read.
const MAX_FILE_BYTES: u64 = 4 << 20;

const TOP_KEYS: &[&str] = &[
    "robot",
    "include",
    "max_message",
    "master",
    "machines",
    "node",
    "deploy",
];
const MASTER_KEYS: &[&str] = &["machine", "bind"];
const DEPLOY_KEYS: &[&str] = &["health_deadline", "steady_for"];
const MACHINE_KEYS: &[&str] = &["address", "target", "agent", "runner", "host_id"];
const NODE_KEYS: &[&str] = &[
    "name",
    "binary",
    "interpreter",
    "machine",
    "args",
    "env",
    "params",
    "remap",
    "namespace",
    "respawn",
    "respawn_delay",
    "respawn_max_delay",
    "max_restarts",
    "required",
    "after",
    "stop_timeout",
];

/// Reading context of one file: its path, its text, and the problem list.
struct Ctx<'a> {
    file: &'a Path,
    text: &'a str,
    problems: &'a mut Vec<Problem>,
}

impl Ctx<'_> {
    fn at(&self, span: Option<Range<usize>>) -> Location {
        Location::of_span(self.file, self.text, span)
    }

    fn problem(&mut self, span: Option<Range<usize>>, message: impl Into<String>) {
        let at = self.at(span);
        self.problems.push(Problem {
            at,
            message: message.into(),
        });
    }
}

/// Reads a file and, recursively, the files it includes.
pub fn read_with_includes(path: &Path, problems: &mut Vec<Problem>) -> Option<LaunchFile> {
    let mut stack = Vec::new();
    let mut file = read_file(path, problems, &mut stack, None)?;
    robot_wide_env(&mut file);
    Some(file)
}

/// Robot-wide settings reach every node through its environment, unless the node sets
/// them itself.
fn robot_wide_env(file: &mut LaunchFile) {
    if let Some(max) = file.max_message {
        for node in &mut file.nodes {
            node.env
                .entry("PINION_MAX_MESSAGE".to_owned())
                .or_insert_with(|| max.to_string());
        }
    }
}

fn read_file(
    path: &Path,
    problems: &mut Vec<Problem>,
    stack: &mut Vec<PathBuf>,
    from: Option<Location>,
) -> Option<LaunchFile> {
    let at = from.clone().unwrap_or(Location {
        file: path.to_owned(),
        line: 1,
        column: 1,
    });
    let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
    if stack.contains(&canonical) {
        problems.push(Problem {
            at,
            message: format!("include cycle: {} includes itself", path.display()),
        });
        return None;
    }
    if stack.len() >= MAX_INCLUDE_DEPTH {
        problems.push(Problem {
            at,
            message: format!("includes nest deeper than {MAX_INCLUDE_DEPTH} files"),
        });
        return None;
    }
    let text = match read_bounded(path) {
        Ok(t) => t,
        Err(message) => {
            problems.push(Problem { at, message });
            return None;
        }
    };
    stack.push(canonical);
    let mut includes = Vec::new();
    let file = read_document(&text, path, problems, &mut includes);
    let mut file = file?;
    for (include, location) in includes {
        let target = path.parent().unwrap_or(Path::new(".")).join(&include);
        if let Some(inner) = read_file(&target, problems, stack, Some(location.clone())) {
            merge(&mut file, inner, &location, problems);
        }
    }
    stack.pop();
    Some(file)
}

/// Reads a launch file of at most [`MAX_FILE_BYTES`], which must be a regular file (not
/// a device or a pipe, which could be read for ever).
fn read_bounded(path: &Path) -> Result<String, String> {
    use std::io::Read;
    let cannot = |e: std::io::Error| format!("cannot read {}: {e}", path.display());
    let file = std::fs::File::open(path).map_err(cannot)?;
    let meta = file.metadata().map_err(cannot)?;
    if !meta.is_file() {
        return Err(format!(
            "{} is not a regular file; a launch file or include must be one",
            path.display()
        ));
    }
    let mut text = String::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(cannot)?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(format!(
            "{} is larger than {MAX_FILE_BYTES} bytes; a launch file is not",
            path.display()
        ));
    }
    Ok(text)
}

/// Adds an included file's machines and nodes; a name defined twice is a problem.
fn merge(into: &mut LaunchFile, from: LaunchFile, at: &Location, problems: &mut Vec<Problem>) {
    for (name, machine) in from.machines {
        if let Some(existing) = into.machines.get(&name) {
            problems.push(Problem {
                at: machine.at.clone(),
                message: format!(
                    "machine `{name}` is also defined at {} (included from {at})",
                    existing.at
                ),
            });
        } else {
            into.machines.insert(name, machine);
        }
    }
    into.nodes.extend(from.nodes);
}

/// Reads one file's text, without following includes.
pub fn read_text(text: &str, path: &Path, problems: &mut Vec<Problem>) -> Option<LaunchFile> {
    let mut includes = Vec::new();
    let mut file = read_document(text, path, problems, &mut includes)?;
    robot_wide_env(&mut file);
    Some(file)
}

fn read_document(
    text: &str,
    path: &Path,
    problems: &mut Vec<Problem>,
    includes: &mut Vec<(String, Location)>,
) -> Option<LaunchFile> {
    let doc = match ImDocument::parse(text) {
        Ok(d) => d,
        Err(e) => {
            let at = Location::of_span(path, text, e.span());
            let message = e.message().trim().to_owned();
            problems.push(Problem {
                at,
                message: format!("not valid TOML: {message}"),
            });
            return None;
        }
    };
    let mut ctx = Ctx {
        file: path,
        text,
        problems,
    };
    let root = doc.as_table();
    unknown_keys(&mut ctx, root, TOP_KEYS, "the top level");

    let robot = string(&mut ctx, root, "robot")
        .map(|(s, _)| s)
        .unwrap_or_else(|| {
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "robot".to_owned())
        });
    let max_message = string(&mut ctx, root, "max_message").and_then(|(text, span)| {
        match pinion::limits::parse_size(&text) {
            Ok(n) => Some(n),
            Err(e) => {
                ctx.problem(span, format!("max_message: {e}"));
                None
            }
        }
    });
    if let Some((list, spans)) = string_list(&mut ctx, root, "include") {
        for (name, span) in list.into_iter().zip(spans) {
            includes.push((name, ctx.at(span)));
        }
    }
    let master = match table(&mut ctx, root, "master") {
        Some(t) => {
            unknown_keys(&mut ctx, t, MASTER_KEYS, "[master]");
            let bind = string(&mut ctx, t, "bind");
            MasterSpec {
                machine: string(&mut ctx, t, "machine").map(|(s, _)| s),
                at: ctx.at(bind.as_ref().and_then(|(_, s)| s.clone())),
                bind: bind.map(|(s, _)| s).unwrap_or_else(default_bind),
            }
        }
        None => MasterSpec {
            machine: None,
            bind: default_bind(),
            at: ctx.at(None),
        },
    };
    let deploy = read_deploy(&mut ctx, root);
    let mut machines = BTreeMap::new();
    if let Some(t) = table(&mut ctx, root, "machines") {
        for (name, _) in t.iter() {
            let Some((key, item)) = t.get_key_value(name) else {
                continue;
            };
            let span = key.span();
            match item.as_table_like() {
                Some(m) => {
                    if let Some(machine) = read_machine(&mut ctx, name, m, span) {
                        machines.insert(name.to_owned(), machine);
                    }
                }
                None => ctx.problem(
                    span,
                    format!("machine `{name}` must be a table: [machines.{name}]"),
                ),
            }
        }
    }
    let mut nodes = Vec::new();
    match root.get("node") {
        None => {}
        Some(Item::ArrayOfTables(array)) => {
            for t in array.iter() {
                if let Some(node) = read_node(&mut ctx, t, t.span()) {
                    nodes.push(node);
                }
            }
        }
        Some(Item::Value(Value::Array(array))) => {
            for v in array.iter() {
                match v.as_inline_table() {
                    Some(t) => {
                        if let Some(node) = read_node(&mut ctx, t, v.span()) {
                            nodes.push(node);
                        }
                    }
                    None => ctx.problem(v.span(), "each node must be a table"),
                }
            }
        }
        Some(other) => ctx.problem(
            other.span(),
            "`node` must be a list of tables: write [[node]]",
        ),
    }
    Some(LaunchFile {
        robot,
        max_message,
        master,
        deploy,
        machines,
        nodes,
        path: path.to_owned(),
    })
}

/// The `[deploy]` table; an include's is ignored (the including file decides).
fn read_deploy(ctx: &mut Ctx<'_>, root: &dyn TableLike) -> DeploySpec {
    let mut spec = DeploySpec::default();
    if let Some(t) = table(ctx, root, "deploy") {
        unknown_keys(ctx, t, DEPLOY_KEYS, "[deploy]");
        if let Some(d) = duration(ctx, t, "health_deadline") {
            spec.health_deadline = d;
        }
        if let Some(d) = duration(ctx, t, "steady_for") {
            spec.steady_for = d;
        }
        if spec.steady_for >= spec.health_deadline {
            let span = t.get("steady_for").and_then(Item::span);
            ctx.problem(
                span,
                format!(
                    "[deploy] steady_for ({:?}) must be shorter than health_deadline ({:?})",
                    spec.steady_for, spec.health_deadline
                ),
            );
        }
    }
    spec
}

fn default_bind() -> String {
    "tcp://127.0.0.1:11311".to_owned()
}

fn read_machine(
    ctx: &mut Ctx<'_>,
    name: &str,
    t: &dyn TableLike,
    span: Option<Range<usize>>,
) -> Option<MachineSpec> {
    unknown_keys(ctx, t, MACHINE_KEYS, &format!("[machines.{name}]"));
    let address = string(ctx, t, "address").map(|(s, _)| s);
    if address.is_none() && t.get("address").is_none() {
        ctx.problem(span.clone(), format!("machine `{name}` has no `address`"));
    }
    let runner = match t.get("runner") {
        Some(Item::Value(Value::String(s))) => {
            s.value().split_whitespace().map(str::to_owned).collect()
        }
        Some(_) => string_list(ctx, t, "runner")
            .map(|(l, _)| l)
            .unwrap_or_default(),
        None => Vec::new(),
    };
    Some(MachineSpec {
        name: name.to_owned(),
        address: address?,
        target: string(ctx, t, "target").map(|(s, _)| s),
        agent: string(ctx, t, "agent").map(|(s, _)| s),
        runner,
        host_id: string(ctx, t, "host_id")
            .map(|(s, _)| s)
            .unwrap_or_else(|| name.to_owned()),
        at: ctx.at(span),
    })
}

fn read_node(ctx: &mut Ctx<'_>, t: &dyn TableLike, span: Option<Range<usize>>) -> Option<NodeSpec> {
    unknown_keys(ctx, t, NODE_KEYS, "[[node]]");
    let name = string(ctx, t, "name");
    let binary = string(ctx, t, "binary");
    if t.get("name").is_none() {
        ctx.problem(span.clone(), "a [[node]] has no `name`");
    }
    if t.get("binary").is_none() {
        let who = name
            .as_ref()
            .map_or("a [[node]]".to_owned(), |(n, _)| format!("node `{n}`"));
        ctx.problem(span.clone(), format!("{who} has no `binary`"));
    }
    let defaults = Respawn::default();
    let policy = match string(ctx, t, "respawn") {
        None => RespawnPolicy::Never,
        Some((p, s)) => match p.as_str() {
            "never" => RespawnPolicy::Never,
            "on-failure" => RespawnPolicy::OnFailure,
            "always" => RespawnPolicy::Always,
            other => {
                ctx.problem(
                    s,
                    format!("unknown respawn policy `{other}`; use never, on-failure or always"),
                );
                RespawnPolicy::Never
            }
        },
    };
    let max_restarts = match t.get("max_restarts") {
        None => None,
        Some(item) => match item.as_integer() {
            Some(n) if (0..=i64::from(u32::MAX)).contains(&n) => Some(n as u32),
            _ => {
                ctx.problem(
                    item.span(),
                    "`max_restarts` must be a whole number, 0 or more",
                );
                None
            }
        },
    };
    let respawn = Respawn {
        policy,
        delay: duration(ctx, t, "respawn_delay").unwrap_or(defaults.delay),
        max_delay: duration(ctx, t, "respawn_max_delay").unwrap_or(defaults.max_delay),
        max_restarts,
    };
    let required = match t.get("required") {
        None => false,
        Some(item) => item.as_bool().unwrap_or_else(|| {
            ctx.problem(item.span(), "`required` must be true or false");
            false
        }),
    };
    let params = match t.get("params").map(|i| (i, i.as_table_like())) {
        None => BTreeMap::new(),
        Some((_, Some(p))) => p.iter().map(|(k, v)| (k.to_owned(), to_json(v))).collect(),
        Some((item, None)) => {
            ctx.problem(item.span(), "`params` must be a table");
            BTreeMap::new()
        }
    };
    let at = ctx.at(name.as_ref().and_then(|(_, s)| s.clone()).or(span));
    let node = NodeSpec {
        name: name?.0,
        binary: binary?.0,
        interpreter: string_list(ctx, t, "interpreter").map(|(l, _)| l),
        machine: string(ctx, t, "machine").map(|(s, _)| s),
        args: string_list(ctx, t, "args")
            .map(|(l, _)| l)
            .unwrap_or_default(),
        env: string_map(ctx, t, "env"),
        params,
        remap: string_map(ctx, t, "remap"),
        namespace: string(ctx, t, "namespace").map(|(s, _)| s),
        respawn,
        required,
        after: string_list(ctx, t, "after")
            .map(|(l, _)| l)
            .unwrap_or_default(),
        stop_timeout: duration(ctx, t, "stop_timeout").unwrap_or(Duration::from_secs(5)),
        at,
    };
    Some(node)
}

fn unknown_keys(ctx: &mut Ctx<'_>, t: &dyn TableLike, allowed: &[&str], what: &str) {
    let keys: Vec<String> = t.iter().map(|(k, _)| k.to_owned()).collect();
    for key in keys {
        if !allowed.contains(&key.as_str()) {
            let span = t.get_key_value(&key).and_then(|(k, _)| k.span());
            let hint = closest(&key, allowed)
                .map(|c| format!(" (did you mean `{c}`?)"))
                .unwrap_or_default();
            ctx.problem(
                span,
                format!(
                    "unknown key `{key}` in {what}{hint}; allowed: {}",
                    allowed.join(", ")
                ),
            );
        }
    }
}

/// The allowed key nearest to a misspelt one, if it is near enough.
fn closest<'a>(key: &str, allowed: &[&'a str]) -> Option<&'a str> {
    allowed
        .iter()
        .map(|a| (edit_distance(key, a), *a))
        .filter(|(d, a)| *d <= 2.max(a.len() / 4))
        .min()
        .map(|(_, a)| a)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

fn table<'a>(ctx: &mut Ctx<'_>, t: &'a dyn TableLike, key: &str) -> Option<&'a dyn TableLike> {
    let item = t.get(key)?;
    match item.as_table_like() {
        Some(inner) => Some(inner),
        None => {
            ctx.problem(item.span(), format!("`{key}` must be a table"));
            None
        }
    }
}

fn string(
    ctx: &mut Ctx<'_>,
    t: &dyn TableLike,
    key: &str,
) -> Option<(String, Option<Range<usize>>)> {
    let item = t.get(key)?;
    match item.as_str() {
        Some(s) => Some((s.to_owned(), item.span())),
        None => {
            ctx.problem(item.span(), format!("`{key}` must be a string"));
            None
        }
    }
}

type Spans = Vec<Option<Range<usize>>>;

fn string_list(ctx: &mut Ctx<'_>, t: &dyn TableLike, key: &str) -> Option<(Vec<String>, Spans)> {
    let item = t.get(key)?;
    let Some(array) = item.as_array() else {
        ctx.problem(
            item.span(),
            format!("`{key}` must be a list of strings, like [\"a\", \"b\"]"),
        );
        return None;
    };
    let mut out = Vec::new();
    let mut spans = Vec::new();
    for v in array.iter() {
        match v.as_str() {
            Some(s) => {
                out.push(s.to_owned());
                spans.push(v.span());
            }
            None => ctx.problem(v.span(), format!("`{key}` must hold only strings")),
        }
    }
    Some((out, spans))
}

fn string_map(ctx: &mut Ctx<'_>, t: &dyn TableLike, key: &str) -> BTreeMap<String, String> {
    let Some(item) = t.get(key) else {
        return BTreeMap::new();
    };
    let Some(map) = item.as_table_like() else {
        ctx.problem(
            item.span(),
            format!("`{key}` must be a table of strings, like {{ A = \"b\" }}"),
        );
        return BTreeMap::new();
    };
    let mut out = BTreeMap::new();
    for (k, v) in map.iter() {
        match v.as_str() {
            Some(s) => {
                out.insert(k.to_owned(), s.to_owned());
            }
            None => ctx.problem(v.span(), format!("`{key}.{k}` must be a string")),
        }
    }
    out
}

fn duration(ctx: &mut Ctx<'_>, t: &dyn TableLike, key: &str) -> Option<Duration> {
    let item = t.get(key)?;
    let parsed = match (item.as_str(), item.as_integer(), item.as_float()) {
        (Some(s), _, _) => parse_duration(s).map_err(|e| e.to_string()),
        (_, Some(n), _) if n >= 0 => Ok(Duration::from_secs(n as u64)),
        (_, _, Some(f)) if f >= 0.0 && f.is_finite() => {
            parse_duration(&format!("{f}s")).map_err(|e| e.to_string())
        }
        _ => Err(format!(
            "`{key}` must be a duration such as \"500ms\" or \"2s\""
        )),
    };
    match parsed {
        Ok(d) => Some(d),
        Err(message) => {
            ctx.problem(item.span(), format!("bad `{key}`: {message}"));
            None
        }
    }
}

fn to_json(item: &Item) -> serde_json::Value {
    match item {
        Item::Value(v) => value_to_json(v),
        Item::Table(t) => {
            serde_json::Value::Object(t.iter().map(|(k, v)| (k.to_owned(), to_json(v))).collect())
        }
        Item::ArrayOfTables(a) => serde_json::Value::Array(
            a.iter()
                .map(|t| {
                    serde_json::Value::Object(
                        t.iter().map(|(k, v)| (k.to_owned(), to_json(v))).collect(),
                    )
                })
                .collect(),
        ),
        Item::None => serde_json::Value::Null,
    }
}

fn value_to_json(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::String(s) => J::String(s.value().clone()),
        Value::Integer(i) => J::from(*i.value()),
        Value::Float(f) => serde_json::Number::from_f64(*f.value()).map_or(J::Null, J::Number),
        Value::Boolean(b) => J::Bool(*b.value()),
        Value::Datetime(d) => J::String(d.value().to_string()),
        Value::Array(a) => J::Array(a.iter().map(value_to_json).collect()),
        Value::InlineTable(t) => J::Object(
            t.iter()
                .map(|(k, v)| (k.to_owned(), value_to_json(v)))
                .collect(),
        ),
    }
}
