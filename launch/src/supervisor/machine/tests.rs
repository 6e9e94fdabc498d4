use super::*;
use crate::model::{Location, Respawn, RespawnPolicy};
use std::collections::BTreeMap;

fn spec(name: &str) -> NodeSpec {
    NodeSpec {
        name: name.to_owned(),
        binary: name.to_owned(),
        machine: None,
        args: Vec::new(),
        env: BTreeMap::new(),
        params: BTreeMap::new(),
        remap: BTreeMap::new(),
        namespace: None,
        interpreter: None,
        respawn: Respawn::default(),
        required: false,
        after: Vec::new(),
        stop_timeout: Duration::from_secs(4),
        at: Location {
            file: "test.toml".into(),
            line: 1,
            column: 1,
        },
    }
}

fn respawning(name: &str, max_restarts: Option<u32>) -> NodeSpec {
    let mut s = spec(name);
    s.respawn = Respawn {
        policy: RespawnPolicy::OnFailure,
        delay: Duration::from_millis(100),
        max_delay: Duration::from_millis(350),
        max_restarts,
    };
    s
}

/// A machine and its clock.
struct Run {
    m: Machine,
    t0: Instant,
}

impl Run {
    fn new(specs: Vec<NodeSpec>) -> Self {
        let t0 = Instant::now();
        Self {
            m: Machine::new(specs, "local", t0),
            t0,
        }
    }

    fn at(&mut self, ms: u64, event: Event) -> Vec<Action> {
        self.m.handle(event, self.t0 + Duration::from_millis(ms))
    }

    fn state(&self, node: usize) -> NodeState {
        self.m.status()[node].state
    }
}

fn exit(node: usize, success: bool) -> Event {
    Event::Exited {
        node,
        success,
        how: if success {
            "exit code 0"
        } else {
            "exit code 1"
        }
        .to_owned(),
    }
}

#[test]
fn nodes_start_at_once_and_a_failing_one_respawns_with_a_doubling_delay() {
    let mut r = Run::new(vec![respawning("a", None)]);
    assert_eq!(r.at(0, Event::Tick), vec![Action::Spawn(0)]);
    assert!(r.at(1, Event::Spawned { node: 0, pid: 10 }).is_empty());
    assert_eq!(r.state(0), NodeState::Running);
    // A quick failure: back in 100 ms, then 200, then 350 (the cap).
    let mut at = 2;
    for delay in [100, 200, 350, 350] {
        assert!(r.at(at, exit(0, false)).is_empty());
        assert_eq!(r.state(0), NodeState::Backoff);
        assert!(
            r.at(at + delay - 1, Event::Tick).is_empty(),
            "started too early"
        );
        assert_eq!(r.at(at + delay, Event::Tick), vec![Action::Spawn(0)]);
        r.at(at + delay, Event::Spawned { node: 0, pid: 11 });
        at += delay + 1;
    }
    // A run of more than ten seconds was healthy: the delay starts again at 100 ms.
    at += 10_000;
    r.at(at, exit(0, false));
    assert_eq!(r.at(at + 100, Event::Tick), vec![Action::Spawn(0)]);
    assert_eq!(r.m.status()[0].restarts, 5);
}

#[test]
fn the_restart_limit_leaves_a_node_failed_and_a_set_of_final_nodes_ends() {
    let mut r = Run::new(vec![respawning("a", Some(1)), spec("b")]);
    assert_eq!(
        r.at(0, Event::Tick),
        vec![Action::Spawn(0), Action::Spawn(1)]
    );
    r.at(1, Event::Spawned { node: 0, pid: 10 });
    r.at(1, Event::Spawned { node: 1, pid: 11 });
    r.at(2, exit(0, false));
    assert_eq!(r.at(102, Event::Tick), vec![Action::Spawn(0)]);
    r.at(103, Event::Spawned { node: 0, pid: 12 });
    assert!(r.at(104, exit(0, false)).is_empty());
    assert_eq!(r.state(0), NodeState::Failed);
    // `b` does not respawn (policy never): its clean exit ends the set.
    assert_eq!(
        r.at(105, exit(1, true)),
        vec![Action::Finish(Ending::AllDone)]
    );
    assert_eq!(r.state(1), NodeState::Exited);
    assert!(r.m.is_finished());
}

#[test]
fn a_required_node_that_exits_stops_the_others_and_ends_the_set() {
    let mut a = spec("a");
    a.required = true;
    let mut r = Run::new(vec![a, respawning("b", None)]);
    r.at(0, Event::Tick);
    r.at(1, Event::Spawned { node: 0, pid: 10 });
    r.at(1, Event::Spawned { node: 1, pid: 11 });
    assert_eq!(r.at(5, exit(0, true)), vec![Action::AskShutdown(1)]);
    // Nothing starts any more, whatever the policies say.
    assert!(r
        .at(
            3000,
            Event::Asked {
                node: 1,
                asked: true
            }
        )
        .is_empty());
    assert_eq!(
        r.at(3001, exit(1, false)),
        vec![Action::Finish(Ending::RequiredExited("a".into()))]
    );
    assert!(r.at(9000, Event::Tick).is_empty());
}

#[test]
fn after_waits_until_the_node_is_registered_with_the_pid_it_runs_as_now() {
    let mut b = spec("b");
    b.after = vec!["a".into()];
    let mut c = spec("c");
    c.after = vec!["elsewhere".into()];
    let mut r = Run::new(vec![spec("a"), b, c]);
    // Who may start depends on the graph: it is asked for first.
    assert_eq!(r.at(0, Event::Tick), vec![Action::QueryGraph]);
    assert!(r.at(1, Event::Tick).is_empty(), "one query at a time");
    assert_eq!(
        r.at(2, Event::Graph(Some(Vec::new()))),
        vec![Action::Spawn(0)]
    );
    assert_eq!(r.state(1), NodeState::Waiting);
    r.at(3, Event::Spawned { node: 0, pid: 10 });
    assert_eq!(r.at(4, Event::Tick), vec![Action::QueryGraph]);
    // `a` registered by an earlier instance (another pid): not yet.
    assert!(r
        .at(5, Event::Graph(Some(vec![("a".into(), 9)])))
        .is_empty());
    assert_eq!(r.at(6, Event::Tick), vec![Action::QueryGraph]);
    assert_eq!(
        r.at(7, Event::Graph(Some(vec![("a".into(), 10)]))),
        vec![Action::Spawn(1)]
    );
    // A node of another machine counts by name; a master that does not answer, never.
    assert_eq!(r.at(8, Event::Tick), vec![Action::QueryGraph]);
    assert!(r.at(9, Event::Graph(None)).is_empty());
    assert_eq!(r.at(10, Event::Tick), vec![Action::QueryGraph]);
    assert_eq!(
        r.at(11, Event::Graph(Some(vec![("elsewhere".into(), 1)]))),
        vec![Action::Spawn(2)]
    );
}

#[test]
fn parameters_go_to_the_master_before_the_node_starts() {
    let mut a = spec("a");
    a.params.insert("rate".into(), serde_json::json!(5));
    let mut r = Run::new(vec![a]);
    assert_eq!(r.at(0, Event::Tick), vec![Action::SetParams(0)]);
    // The master did not take them: again at the next tick.
    assert!(r.at(1, Event::ParamsSet { node: 0, ok: false }).is_empty());
    assert_eq!(r.state(0), NodeState::Waiting);
    assert_eq!(r.at(2, Event::Tick), vec![Action::SetParams(0)]);
    assert_eq!(
        r.at(3, Event::ParamsSet { node: 0, ok: true }),
        vec![Action::Spawn(0)]
    );
}

#[test]
fn a_stop_asks_then_escalates_to_sigterm_at_half_and_sigkill_at_the_timeout() {
    let mut r = Run::new(vec![spec("a"), spec("b")]);
    r.at(0, Event::Tick);
    r.at(1, Event::Spawned { node: 0, pid: 10 });
    r.at(1, Event::Spawned { node: 1, pid: 11 });
    let stop = |node| Event::Stop {
        node,
        then: AfterStop::Down,
    };
    assert_eq!(r.at(100, stop(0)), vec![Action::AskShutdown(0)]);
    assert_eq!(r.state(0), NodeState::Stopping);
    assert!(r
        .at(
            101,
            Event::Asked {
                node: 0,
                asked: true
            }
        )
        .is_empty());
    assert!(r.at(2099, Event::Tick).is_empty());
    assert_eq!(
        r.at(2100, Event::Tick),
        vec![Action::Signal(0, Signal::Term)]
    );
    assert!(r.at(4099, Event::Tick).is_empty());
    assert_eq!(
        r.at(4100, Event::Tick),
        vec![Action::Signal(0, Signal::Kill)]
    );
    assert!(r.at(4200, Event::Tick).is_empty(), "SIGKILL is sent once");
    assert!(r.at(4300, exit(0, false)).is_empty());
    assert_eq!(r.state(0), NodeState::Exited);
    // A node that cannot be asked gets SIGTERM at once (not again at half time).
    assert_eq!(r.at(5000, stop(1)), vec![Action::AskShutdown(1)]);
    assert_eq!(
        r.at(
            5001,
            Event::Asked {
                node: 1,
                asked: false
            }
        ),
        vec![Action::Signal(1, Signal::Term)]
    );
    assert!(r.at(7001, Event::Tick).is_empty());
    assert_eq!(
        r.at(9001, Event::Tick),
        vec![Action::Signal(1, Signal::Kill)]
    );
}

#[test]
fn a_restart_stops_the_node_and_starts_it_again_without_counting_a_failure() {
    // `b` keeps running, so that the set goes on when `a` is down.
    let mut r = Run::new(vec![spec("a"), spec("b")]);
    r.at(0, Event::Tick);
    r.at(1, Event::Spawned { node: 0, pid: 10 });
    r.at(1, Event::Spawned { node: 1, pid: 11 });
    let restart = Event::Stop {
        node: 0,
        then: AfterStop::Restart,
    };
    assert_eq!(r.at(10, restart.clone()), vec![Action::AskShutdown(0)]);
    r.at(
        11,
        Event::Asked {
            node: 0,
            asked: true,
        },
    );
    assert!(r.at(20, exit(0, true)).is_empty());
    assert_eq!(r.state(0), NodeState::Backoff);
    assert_eq!(r.at(21, Event::Tick), vec![Action::Spawn(0)]);
    assert_eq!(r.m.status()[0].restarts, 1);
    // A node that is down restarts at once; stopping a node that is down keeps it down.
    r.at(
        22,
        Event::SpawnFailed {
            node: 0,
            error: "gone".into(),
        },
    );
    assert_eq!(r.state(0), NodeState::Failed);
    assert!(r.at(23, restart).is_empty());
    assert_eq!(r.at(24, Event::Tick), vec![Action::Spawn(0)]);
}

#[test]
fn a_start_that_fails_follows_the_respawn_policy() {
    let mut r = Run::new(vec![respawning("a", None), spec("b")]);
    r.at(0, Event::Tick);
    let failed = |node| Event::SpawnFailed {
        node,
        error: "no such file".into(),
    };
    assert!(r.at(1, failed(0)).is_empty());
    assert_eq!(r.state(0), NodeState::Backoff);
    assert_eq!(r.at(101, Event::Tick), vec![Action::Spawn(0)]);
    r.at(102, failed(1));
    assert_eq!(r.state(1), NodeState::Failed);
    assert_eq!(
        r.m.status()[1].last_exit.as_deref(),
        Some("cannot start: no such file")
    );
}

#[test]
fn stopping_the_set_asks_every_running_node_and_ends_once_all_are_down() {
    let mut b = spec("b");
    b.after = vec!["a".into()];
    let mut r = Run::new(vec![spec("a"), b, spec("c")]);
    r.at(0, Event::Tick);
    r.at(1, Event::Graph(Some(Vec::new())));
    r.at(2, Event::Spawned { node: 0, pid: 10 });
    // `c` is still being started when the stop comes.
    assert_eq!(r.at(3, Event::StopAll), vec![Action::AskShutdown(0)]);
    assert_eq!(r.state(1), NodeState::Exited, "never started");
    assert_eq!(
        r.at(4, Event::Spawned { node: 2, pid: 12 }),
        vec![Action::AskShutdown(2)]
    );
    assert!(r.at(5, exit(0, true)).is_empty());
    assert_eq!(
        r.at(6, exit(2, true)),
        vec![Action::Finish(Ending::Stopped)]
    );
    assert!(r.at(10_000, Event::Tick).is_empty());
}
