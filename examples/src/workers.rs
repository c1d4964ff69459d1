//! Session threads: each client session runs on one thread of its own choosing (round robin),
//! a single-threaded tokio runtime per thread.
//!
//! A session is two tasks (client -> upstream, upstream -> client) that hand each other work
//! through the pipe of pending responses. On a work-stealing runtime they land on different
//! threads, and every statement then costs cross-thread wake-ups (futex calls and interrupts)
//! on top of its socket I/O. Pinned to one thread, both tasks and both sockets are driven by
//! the same event loop; sessions spread over the threads.

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::runtime::Handle;
use tokio::sync::watch;

/// The session threads of one gateway; they stop when this is dropped.
pub(crate) struct SessionThreads {
    handles: Vec<Handle>,
    next: AtomicUsize,
    stop: watch::Sender<bool>,
}

impl SessionThreads {
    /// Starts `n` threads (at least one).
    pub(crate) fn start(n: usize) -> std::io::Result<SessionThreads> {
        let (stop, _) = watch::channel(false);
        let mut handles = Vec::with_capacity(n.max(1));
        for i in 0..n.max(1) {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            handles.push(rt.handle().clone());
            let mut stopped = stop.subscribe();
            std::thread::Builder::new()
                .name(format!("guard-session-{i}"))
                .spawn(move || {
                    rt.block_on(async move {
                        let _ = stopped.wait_for(|s| *s).await;
                    });
                    // Sessions still running are dropped with the runtime.
                })?;
        }
        Ok(SessionThreads {
            handles,
            next: AtomicUsize::new(0),
            stop,
        })
    }

    /// The runtime the next session runs on.
    pub(crate) fn pick(&self) -> &Handle {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.handles.len();
        &self.handles[i]
    }
}

impl Drop for SessionThreads {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}
