//! A hostile peer on loopback against every socket that accepts connections: the
//! master, a node's control and data ports, a service and an agent, each run as a real
//! process with `RLIMIT_NOFILE` 1024. Each gets random bytes, frame headers announcing
//! 2^62, 2^40, 2^31 and its limit + 1 bytes (as the first frame, and after a proper
//! READY), a greeting with another security mechanism, and 2000 idle connections. In
//! every case the process stays up, answers a legitimate request within 1 s during
//! and after, grows less than 32 MB, and logs the offending connection with a count.

mod support;

use pinion::protocol::control::{ControlReply, ControlRequest};
use pinion::protocol::{self, MasterReply, NodeToMaster};
use pinion::transport::Requester;
use pinion_nodes::{AddTwoIntsRequest, AddTwoIntsResponse, Chatter};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A legitimate request must be answered within this.
const WITHIN: Duration = Duration::from_secs(1);
/// Growth allowed over the whole suite of one target.
const GROWTH_LIMIT_KB: u64 = 32 * 1024;
/// Idle connections of the flood.
const FLOOD: usize = 2000;

/// `program` with a soft and hard limit of 1024 open files.
fn limited(program: &Path) -> Command {
    let mut c = Command::new("bash");
    c.arg("-c")
        .arg(r#"ulimit -Sn 1024 && ulimit -Hn 1024 && exec "$0" "$@""#)
        .arg(program)
        .env("RUST_LOG", "info,zeromq=error");
    c
}

fn addr(endpoint: &str) -> SocketAddr {
    endpoint
        .strip_prefix("tcp://")
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("not a tcp endpoint: {endpoint}"))
}

/// The test process opens the flood's connections: it needs more than 1024 files.
fn raise_own_fd_limit() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
    assert!(
        hard > FLOOD as u64 + 200,
        "this test opens {FLOOD} connections; the hard limit on open files is {hard}"
    );
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard).expect("setrlimit");
}

fn greeting(mechanism: &[u8]) -> Vec<u8> {
    let mut g = vec![0u8; 64];
    g[0] = 0xff;
    g[9] = 0x7f;
    g[10] = 3;
    g[12..12 + mechanism.len()].copy_from_slice(mechanism);
    g
}

fn ready(socket_type: &[u8]) -> Vec<u8> {
    let mut body = vec![5];
    body.extend_from_slice(b"READY");
    body.push(11);
    body.extend_from_slice(b"Socket-Type");
    body.extend_from_slice(&(socket_type.len() as u32).to_be_bytes());
    body.extend_from_slice(socket_type);
    let mut frame = vec![0x04, body.len() as u8];
    frame.extend(body);
    frame
}

fn long_header(len: u64) -> Vec<u8> {
    let mut h = vec![0x02];
    h.extend_from_slice(&len.to_be_bytes());
    h
}

/// The bytes of each one-connection attack, named.
fn attacks(max_message: usize, socket_type: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut noise = vec![0u8; 4096];
    getrandom::getrandom(&mut noise).expect("random");
    noise[0] = b'G';
    out.push(("random bytes".to_owned(), noise));
    out.push((
        "a greeting with the CURVE mechanism".to_owned(),
        greeting(b"CURVE"),
    ));
    for len in [1u64 << 62, 1 << 40, 1 << 31, max_message as u64 + 1] {
        let mut first = greeting(b"NULL");
        first.extend(long_header(len));
        out.push((format!("a first frame announcing {len} bytes"), first));
        let mut after = greeting(b"NULL");
        after.extend(ready(socket_type));
        after.extend(long_header(len));
        out.push((
            format!("a message announcing {len} bytes after READY"),
            after,
        ));
    }
    out
}

/// Sends `bytes` on a new connection and waits until the peer closes it; returns the
/// local address the peer saw.
async fn attack_once(target: SocketAddr, bytes: &[u8]) -> SocketAddr {
    let mut tcp = TcpStream::connect(target).await.expect("connect");
    let local = tcp.local_addr().expect("local address");
    // The peer may close before all is written: that is the point.
    let _ = tcp.write_all(bytes).await;
    let mut sink = [0u8; 1024];
    let closed = tokio::time::timeout(SOON, async {
        loop {
            match tcp.read(&mut sink).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "{target} kept a hostile connection open");
    local
}

/// What a legitimate client of one target asks.
trait Legit {
    async fn ask(&mut self) -> Result<(), String>;
}

/// Runs every attack on `target`, checking the process after each.
async fn assault(
    what: &str,
    proc: &mut Proc,
    target: SocketAddr,
    max_message: usize,
    socket_type: &[u8],
    legit: &mut impl Legit,
) {
    let within = |r: Result<Result<(), String>, tokio::time::error::Elapsed>, when: &str| match r {
        Ok(Ok(())) => {}
        Ok(Err(e)) => panic!("{what}: legitimate request failed {when}: {e}"),
        Err(_) => panic!("{what}: no answer to a legitimate request within {WITHIN:?} {when}"),
    };
    within(
        tokio::time::timeout(WITHIN, legit.ask()).await,
        "before the attacks",
    );
    let base = rss_kb(proc.pid());
    let mut last_count = 0u64;
    for (name, bytes) in attacks(max_message, socket_type) {
        let local = attack_once(target, &bytes).await;
        let line = proc.expect_line(&format!("logging {name} from {local}"), SOON, |_, l| {
            l.contains("guard closed a connection") && l.contains(&format!("peer={local}"))
        });
        let count: u64 = line
            .split("refused=")
            .nth(1)
            .and_then(|c| c.split_whitespace().next()?.parse().ok())
            .unwrap_or_else(|| panic!("{what}: no count in {line:?}"));
        assert!(count > last_count, "{what}: the count did not grow: {line}");
        last_count = count;
        assert!(alive(proc.pid()), "{what} died of {name}");
        within(
            tokio::time::timeout(WITHIN, legit.ask()).await,
            &format!("after {name}"),
        );
    }

    // The flood: idle connections, held while a legitimate request is made.
    let mut held = Vec::with_capacity(FLOOD);
    for _ in 0..FLOOD {
        match tokio::time::timeout(SOON, TcpStream::connect(target)).await {
            Ok(Ok(tcp)) => held.push(tcp),
            other => panic!("{what}: connection {} of the flood: {other:?}", held.len()),
        }
    }
    within(
        tokio::time::timeout(WITHIN, legit.ask()).await,
        &format!("with {FLOOD} idle connections open"),
    );
    proc.expect_line("logging connections given up in the flood", SOON, |_, l| {
        l.contains("guard closed") && l.contains("slot")
    });
    assert!(alive(proc.pid()), "{what} died of the flood");
    drop(held);
    within(
        tokio::time::timeout(WITHIN, legit.ask()).await,
        "after the flood",
    );
    let grown = rss_kb(proc.pid()).saturating_sub(base);
    assert!(
        grown < GROWTH_LIMIT_KB,
        "{what} grew by {grown} kB under attack (limit {GROWTH_LIMIT_KB} kB)"
    );
    eprintln!("{what}: survived every attack, grew by {grown} kB, {last_count} refusals logged");
}

struct AskMaster(String);

impl Legit for AskMaster {
    async fn ask(&mut self) -> Result<(), String> {
        match ask(
            &self.0,
            &NodeToMaster::ListNodes(pinion::protocol::node_to_master::ListNodes),
        )
        .await
        {
            Ok(MasterReply::Nodes(_)) => Ok(()),
            other => Err(format!("{other:?}")),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_master_survives_a_hostile_peer() {
    raise_own_fd_limit();
    let dir = TempDir::new("hostile-master");
    let mut c = limited(&bin("pinion"));
    c.args(["master", "--bind", "tcp://127.0.0.1:0"])
        .env("PINION_RUNTIME_DIR", &dir.0);
    let mut master = Proc::spawn("master", c);
    let line = master.expect_line("PINION_MASTER=", SOON, |s, l| {
        s == Src::Out && l.starts_with("PINION_MASTER=")
    });
    let endpoint = line.trim_start_matches("PINION_MASTER=").to_owned();
    assault(
        "master",
        &mut master,
        addr(&endpoint),
        pinion::limits::MAX_CONTROL_MESSAGE,
        b"REQ",
        &mut AskMaster(endpoint.clone()),
    )
    .await;
}

/// A node under attack, started with the file limit, and what the test learnt of it.
struct Victim {
    proc: Proc,
    control: String,
    data: String,
}

async fn start_victim(env: &Env, program: &str, name: &str, args: &[&str]) -> Victim {
    let mut c = limited(&bin(program));
    c.args(args)
        .env("PINION_RUNTIME_DIR", &env.runtime_dir)
        .env("PINION_MASTER", &env.master)
        .env("PINION_NODE_NAME", name)
        .env_remove("PINION_HOST");
    let proc = Proc::spawn(name, c);
    assert!(
        wait_nodes(&env.master, SOON, |n| n.iter().any(|n| n == name))
            .await
            .is_some(),
        "{name} did not register"
    );
    let info = node_info(&env.master, name).await;
    let control = info.control.tcp.clone().expect("tcp control endpoint");
    let mut client = Requester::new(&control, SOON).expect("client");
    let body = protocol::encode("identify", &ControlRequest::Identify).expect("encode");
    let reply = client.request(body).await.expect("identify");
    let Ok(ControlReply::Identity(identity)) = protocol::decode("identity", &reply) else {
        panic!("no identity");
    };
    Victim {
        proc,
        control,
        data: identity.data.tcp.expect("tcp data endpoint"),
    }
}

struct Ping(Requester);

impl Legit for Ping {
    async fn ask(&mut self) -> Result<(), String> {
        let body = protocol::encode("ping", &ControlRequest::Ping).map_err(|e| e.to_string())?;
        let reply = self.0.request(body).await.map_err(|e| e.to_string())?;
        match protocol::decode("reply", &reply) {
            Ok(ControlReply::Ok) => Ok(()),
            other => Err(format!("{other:?}")),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nodes_control_port_survives_a_hostile_peer() {
    raise_own_fd_limit();
    let dir = TempDir::new("hostile-control");
    let (_master, env) = start_master(&dir);
    let mut victim = start_victim(&env, "talker", "victim", &["--rate", "50"]).await;
    let client = Requester::new(&victim.control, WITHIN).expect("client");
    assault(
        "control port",
        &mut victim.proc,
        addr(&victim.control),
        pinion::limits::MAX_CONTROL_MESSAGE,
        b"REQ",
        &mut Ping(client),
    )
    .await;
}

/// A subscriber on another host id (so over tcp) that must keep receiving, and a new
/// raw connection to the data port that must receive too.
struct Receive {
    sub: pinion::Subscriber<Chatter>,
    data: String,
}

impl Legit for Receive {
    async fn ask(&mut self) -> Result<(), String> {
        recv_within(&mut self.sub, WITHIN)
            .await
            .ok_or("the subscriber got nothing")?;
        let mut fresh = pinion::transport::DataSubscriber::new("chatter\0", WITHIN, None)
            .await
            .map_err(|e| e.to_string())?;
        fresh.connect(&self.data).await.map_err(|e| e.to_string())?;
        tokio::time::timeout(WITHIN, fresh.recv())
            .await
            .map_err(|_| "a new data connection got nothing".to_owned())?;
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nodes_data_port_survives_a_hostile_peer() {
    raise_own_fd_limit();
    let dir = TempDir::new("hostile-data");
    let (_master, env) = start_master(&dir);
    let mut victim = start_victim(&env, "talker", "victim", &["--rate", "50"]).await;
    let node = pinion::Node::init(options(&env, "watcher").host("elsewhere"))
        .await
        .expect("node");
    let sub = node
        .subscribe::<Chatter>("chatter")
        .await
        .expect("subscribe");
    let mut legit = Receive {
        sub,
        data: victim.data.clone(),
    };
    assault(
        "data port",
        &mut victim.proc,
        addr(&victim.data),
        pinion::transport::credit::MAX_CONTROL,
        b"DEALER",
        &mut legit,
    )
    .await;
    node.close().await;
}

struct Call(pinion::service::ServiceClient<AddTwoIntsRequest, AddTwoIntsResponse>);

impl Legit for Call {
    async fn ask(&mut self) -> Result<(), String> {
        let r = self
            .0
            .call(&AddTwoIntsRequest { a: 2, b: 3 })
            .await
            .map_err(|e| e.to_string())?;
        (r.sum == 5).then_some(()).ok_or(format!("sum {}", r.sum))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_survives_a_hostile_peer() {
    raise_own_fd_limit();
    let dir = TempDir::new("hostile-service");
    let (_master, env) = start_master(&dir);
    let mut victim = start_victim(&env, "add_server", "adder", &[]).await;
    let node = pinion::Node::init(options(&env, "caller").host("elsewhere"))
        .await
        .expect("node");
    let client = node
        .client::<AddTwoIntsRequest, AddTwoIntsResponse>("add_two_ints")
        .expect("client");
    let Ok(MasterReply::Service(info)) = ask(
        &env.master,
        &NodeToMaster::LookupService(pinion::protocol::node_to_master::LookupService {
            name: pinion::TopicName::new("add_two_ints").expect("name"),
            request: <AddTwoIntsRequest as pinion::Message>::type_info(),
            response: <AddTwoIntsResponse as pinion::Message>::type_info(),
        }),
    )
    .await
    else {
        panic!("service not found");
    };
    let service = info.endpoints.tcp.expect("tcp service endpoint");
    assault(
        "service",
        &mut victim.proc,
        addr(&service),
        pinion::transport::DEFAULT_MAX_MESSAGE,
        b"REQ",
        &mut Call(client),
    )
    .await;
    node.close().await;
}

struct AgentPing(pinion_launch::agent::client::AgentClient);

impl Legit for AgentPing {
    async fn ask(&mut self) -> Result<(), String> {
        self.0
            .ask(pinion_launch::agent::protocol::calls::Ping)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_survives_a_hostile_peer() {
    raise_own_fd_limit();
    let dir = TempDir::new("hostile-agent");
    let key_path = dir.0.join("robot.key");
    std::fs::write(&key_path, "hostile-test-key-0123456789abcdef").expect("key");
    let mut c = limited(&bin("pinion"));
    c.args(["agent", "--listen", "tcp://127.0.0.1:0", "--key-file"])
        .arg(&key_path)
        .arg("--store")
        .arg(dir.0.join("store"))
        .env("PINION_RUNTIME_DIR", &dir.0);
    let mut agent = Proc::spawn("agent", c);
    let line = agent.expect_line("PINION_AGENT=", SOON, |s, l| {
        s == Src::Out && l.starts_with("PINION_AGENT=")
    });
    let endpoint = line.trim_start_matches("PINION_AGENT=").to_owned();
    let key = pinion::auth::Key::load(&key_path).expect("key");
    let client =
        pinion_launch::agent::client::AgentClient::new(&endpoint, key, WITHIN).expect("client");
    let mut legit = AgentPing(client);
    assault(
        "agent",
        &mut agent,
        addr(&endpoint),
        pinion_launch::agent::MAX_REQUEST,
        b"REQ",
        &mut legit,
    )
    .await;

    // A whole unsigned request of 256 MiB, sent as a REQ socket sends it: cut off at its
    // frame header, before the agent buffers any of it.
    let base = rss_kb(agent.pid());
    let mut tcp = TcpStream::connect(addr(&endpoint)).await.expect("connect");
    let mut head = greeting(b"NULL");
    head.extend(ready(b"REQ"));
    head.extend([0x01, 0x00]);
    head.extend(long_header(256 << 20));
    let _ = tcp.write_all(&head).await;
    let chunk = vec![0u8; 1 << 20];
    let mut sent = 0usize;
    for _ in 0..256 {
        match tokio::time::timeout(SOON, tcp.write_all(&chunk)).await {
            Ok(Ok(())) => sent += chunk.len(),
            _ => break,
        }
    }
    assert!(sent < 256 << 20, "the agent took all 256 MiB");
    agent.expect_line("the refusal of the 256 MiB request", SOON, |_, l| {
        l.contains("guard closed a connection") && l.contains("268435456")
    });
    let grown = rss_kb(agent.pid()).saturating_sub(base);
    assert!(
        grown < 16 * 1024,
        "a 256 MiB request grew the agent by {grown} kB"
    );
    assert!(tokio::time::timeout(WITHIN, legit.ask()).await.is_ok());
}
