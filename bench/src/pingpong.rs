//! Round-trip latency with the pong side in a process of its own, as nodes are deployed:
//! the ping side runs in this process, the echo in a child (`pinion-bench role
//! pong|bare-pong`) with a runtime of the same kind as this process's. With both sides
//! in one process, three threads share the two vCPUs, and where the kernel puts them
//! moves a round trip by more than the difference between the systems.

use crate::baseline::{BarePub, BareSub};
use crate::latency::{alternate, BarePinger, PinionPinger};
use crate::role::{Place, Role};
use crate::rows::Row;
use crate::setup::{reliable, Payload};
use pinion::prelude::*;
use std::time::Duration;

/// Time allowed for a child to start and connect.
const READY: Duration = Duration::from_secs(15);

/// The latency rows of one transport and size, the pong sides in child processes.
pub async fn latency(
    master: &str,
    dir: &std::path::Path,
    transport: &'static str,
    size: usize,
    selection: &crate::setup::Selection,
) -> anyhow::Result<Vec<Row>> {
    // The children run on the same kind of runtime as this process.
    let threads = if selection.one_thread { "1" } else { "2" };
    let role_args = |args: &[&str]| -> Vec<String> {
        args.iter()
            .chain(&["--threads", threads])
            .map(|a| (*a).to_owned())
            .collect()
    };
    let (ha, hb) = crate::setup::hosts(transport);
    let place = Place {
        master: master.to_owned(),
        host: hb.to_owned(),
        ip: None,
        namespace: None,
    };
    let ping_node = Node::init(crate::setup::node_options(master, "lat_ping", ha)).await?;
    let mut pinion = PinionPinger::new(&ping_node, size).await?;
    let (pong, _) = ready(Role::spawn(&place, &role_args(&["pong"]))?, "ready").await?;
    pinion.connected().await?;

    let (bare_ping, ping_ep) =
        BarePub::bind(&crate::setup::bare_endpoint(dir, transport, "ping")).await?;
    let pong_bind = crate::setup::bare_endpoint(dir, transport, "pong");
    let bare_pong = Role::spawn(&place, &role_args(&["bare-pong", &ping_ep, &pong_bind]))?;
    let (bare_pong, line) = ready(bare_pong, "ready ").await?;
    let pong_ep = line.trim_start_matches("ready ").to_owned();
    let bare_pongs = BareSub::connect(&pong_ep, "p").await?;
    let mut bare = BarePinger::new(bare_ping, bare_pongs, size).await?;

    let rows = alternate(
        &mut pinion,
        &mut bare,
        transport,
        size,
        selection.gap,
        ", pong apart",
    )
    .await;
    drop((pong, bare_pong));
    ping_node.close().await;
    rows
}

/// Waits, off the runtime, for a child's line starting with `prefix`; the child and the
/// line.
async fn ready(mut role: Role, prefix: &'static str) -> anyhow::Result<(Role, String)> {
    tokio::task::spawn_blocking(move || {
        let line = role.expect(prefix, READY)?;
        Ok((role, line))
    })
    .await?
}

/// `role pong`: a node that republishes on `lat/pong` what arrives on `lat/ping`.
pub async fn pong() -> anyhow::Result<()> {
    let node = Node::init(pinion::NodeOptions::from_env("lat_pong")).await?;
    let mut pings = node.subscribe::<Payload>("lat/ping").await?;
    let pong = node
        .advertise_with::<Payload>("lat/pong", reliable())
        .await?;
    tokio::time::timeout(READY, pong.wait_for_subscribers(1)).await??;
    println!("ready");
    while let Some(m) = pings.recv().await {
        pong.publish(&m).await?;
    }
    Ok(())
}

/// `role bare-pong PING_ENDPOINT BIND`: a bare PUB bound at BIND that sends back what a
/// bare SUB of PING_ENDPOINT receives; prints `ready ENDPOINT` once bound.
pub async fn bare_pong(ping: &str, bind: &str) -> anyhow::Result<()> {
    let (mut pong, endpoint) = BarePub::bind(bind).await?;
    let mut pings = BareSub::connect(ping, "p").await?;
    println!("ready {endpoint}");
    while let Ok(frames) = pings.recv().await {
        pong.send(frames).await?;
    }
    Ok(())
}
