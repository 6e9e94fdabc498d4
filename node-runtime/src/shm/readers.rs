//! The subscriber connections a publisher's pools send to: each a holder index (its
//! cells in every slot) and an epoch (what it writes there), with its process id, so
//! that the cells of a process that died are cleared.

use super::layout::HOLDERS;
use super::pool::Pool;
use std::sync::Arc;

/// A subscriber connection's place in the pools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Holder {
    /// Its cell in each slot, 1 to `HOLDERS - 1`.
    pub(crate) index: u8,
    /// What its cells hold while it holds a slot; never reused by another holder, so a
    /// late release by a connection that was forgotten clears nothing of another.
    pub(crate) epoch: u32,
}

#[derive(Debug)]
struct Reader {
    epoch: u32,
    pid: u32,
    /// Its connection is closed: free once it holds nothing.
    gone: bool,
}

/// The holder table of one data socket.
#[derive(Debug)]
pub(crate) struct Readers {
    table: Vec<Option<Reader>>,
    next_epoch: u32,
}

impl Default for Readers {
    fn default() -> Self {
        Self {
            table: (0..HOLDERS).map(|_| None).collect(),
            // 0 is free and 1 the publisher's own (pool::OWN).
            next_epoch: 2,
        }
    }
}

fn alive(pid: u32) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    !matches!(
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None),
        Err(nix::errno::Errno::ESRCH)
    )
}

impl Readers {
    /// A holder for a connection of process `pid`; `None` while every index is taken
    /// by one that may still hold something.
    pub(crate) fn register(&mut self, pid: u32, pools: &[Arc<Pool>]) -> Option<Holder> {
        let mut free = self.free_index();
        if free.is_none() {
            self.reclaim(pools);
            free = self.free_index();
        }
        let index = free?;
        let epoch = self.next_epoch;
        self.next_epoch = self.next_epoch.checked_add(1).unwrap_or(2);
        self.table[index] = Some(Reader {
            epoch,
            pid,
            gone: false,
        });
        Some(Holder {
            index: index as u8,
            epoch,
        })
    }

    /// How many connections are registered and open.
    pub(crate) fn active(&self) -> usize {
        self.table.iter().flatten().filter(|r| !r.gone).count()
    }

    fn free_index(&self) -> Option<usize> {
        (1..HOLDERS).find(|&i| self.table[i].is_none())
    }

    /// The connection of `holder` closed: its index is free once it holds nothing.
    pub(crate) fn forget(&mut self, holder: Holder) {
        if let Some(reader) = self.entry(holder) {
            reader.gone = true;
        }
    }

    /// The connection of `holder` cannot map the pools: it holds nothing, clear it.
    pub(crate) fn refused(&mut self, holder: Holder, pools: &[Arc<Pool>]) {
        if self.entry(holder).is_some() {
            for pool in pools {
                pool.release_all(holder.index.into(), holder.epoch);
            }
            self.table[usize::from(holder.index)] = None;
        }
    }

    fn entry(&mut self, holder: Holder) -> Option<&mut Reader> {
        self.table
            .get_mut(usize::from(holder.index))?
            .as_mut()
            .filter(|r| r.epoch == holder.epoch)
    }

    /// Clears the cells of holders whose process is gone, and frees the indices of
    /// closed connections that hold nothing any more.
    pub(crate) fn reclaim(&mut self, pools: &[Arc<Pool>]) {
        for (index, entry) in self.table.iter_mut().enumerate().skip(1) {
            let Some(reader) = entry else {
                continue;
            };
            if !alive(reader.pid) {
                let held: usize = pools.iter().map(|p| p.held_by(index, reader.epoch)).sum();
                for pool in pools {
                    pool.release_all(index, reader.epoch);
                }
                tracing::info!(
                    pid = reader.pid,
                    "shared memory: a subscriber process is gone; released the {held} slots it held"
                );
                *entry = None;
            } else if reader.gone && pools.iter().all(|p| p.held_by(index, reader.epoch) == 0) {
                *entry = None;
            }
        }
    }
}
