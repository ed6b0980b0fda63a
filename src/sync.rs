//! Locking that survives a panic elsewhere.
//!
//! A thread that panicked while holding a lock poisons it; the data behind our locks
//! (counters, caches, log lines) stays usable, so every lock here takes it anyway
//! rather than turning one panic into a failure of every later request.

use std::sync::{Mutex, MutexGuard};

/// Locks `m`, poisoned or not.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
