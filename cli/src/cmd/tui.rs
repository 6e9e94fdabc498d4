//! What the full-screen commands (`topic plot`, `top`) share: `q`, Esc or Ctrl-C quits.

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
