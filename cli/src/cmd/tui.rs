//! What the full-screen commands (`topic plot`, `top`) share: a frame drawn every
//! period until `q`, Esc or Ctrl-C, and the terminal restored however it ends.

use pinion::Node;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyModifiers};
use std::time::Duration;

/// Waits up to `within` for a key; whether it asks to quit.
pub fn quit_pressed(within: Duration) -> anyhow::Result<bool> {
    if !event::poll(within)? {
        return Ok(false);
    }
    let Event::Key(key) = event::read()? else {
        return Ok(false);
    };
    let ctrl_c = key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL);
    Ok(ctrl_c || matches!(key.code, KeyCode::Char('q') | KeyCode::Esc))
}

/// Draws a frame with `draw` every `every` until a quit key, until `node` stops, or
/// until `draw` says there is nothing more to show (false); restores the terminal.
pub fn draw_until_quit(
    node: &Node,
    every: Duration,
    mut draw: impl FnMut(&mut ratatui::DefaultTerminal) -> anyhow::Result<bool>,
) -> anyhow::Result<()> {
    let mut terminal = ratatui::try_init()?;
    let mut frames = || -> anyhow::Result<()> {
        while node.is_ok() {
            if !draw(&mut terminal)? || quit_pressed(every)? {
                return Ok(());
            }
        }
        Ok(())
    };
    let result = frames();
    ratatui::restore();
    result
}
