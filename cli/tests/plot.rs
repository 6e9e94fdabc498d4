//! `pinion topic plot` draws in a terminal: run in a tmux session of its own, its
//! screen (captured by tmux) shows the axes, the field and a value that moves.

mod support;

use std::time::Duration;
use support::tmux::Terminal;
use support::*;

/// The value the legend shows for `seq`.
fn shown(screen: &str) -> Option<f64> {
    let rest = screen.split("seq = ").nth(1)?;
    rest.split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .next()?
        .parse()
        .ok()
}

#[test]
fn plot_draws_axes_and_a_moving_value_in_a_terminal() {
    let dir = TempDir::new("plot");
    let (_master, env) = start_master(&dir);
    let mut talker = env.node("talker", "talker", &["--rate", "20"]);
    talker.expect_line("registered", SOON, |_, l| l.contains("registered"));
    let terminal = Terminal::pinion(&env, "topic plot chatter seq --window 5", 100, 24);
    let capture = || terminal.screen();
    let first = wait::until(SOON, Duration::from_millis(100), || {
        let screen = capture()?;
        (screen.contains("time (s)") && screen.contains("chatter (demo/Chatter)")).then_some(())?;
        shown(&screen).map(|v| (v, screen))
    });
    let (v1, screen) = first.expect("the plot shows its axes and a value");
    assert!(
        screen.contains('└') && screen.contains('│'),
        "no axes:\n{screen}"
    );
    let moved = wait::until(SOON, Duration::from_millis(100), || {
        shown(&capture()?).filter(|v2| *v2 > v1)
    });
    assert!(moved.is_some(), "the value stayed at {v1}:\n{screen}");

    assert!(terminal.quit(), "q did not end the plot");
}
