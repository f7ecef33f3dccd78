//! One background job at a time, polled from the frame loop: the window hands slow work (an eigenvalue
//! solver, a Jacobian, a file read) to a thread and picks the result up on a later frame, never waiting.
//! The browser build has no threads: there the job runs at the start of the next poll, between frames.

use std::sync::mpsc::{Receiver, TryRecvError, channel};
use std::time::Duration;
use web_time::Instant;

/// Runs a closure on its own thread and hands its result back through [`Worker::poll`], which never
/// blocks. Starting a new job forgets the one in progress (its thread finishes, its result is dropped).
pub struct Worker<T> {
    pending: Option<Receiver<T>>,
    /// The browser's job, run by the next [`Worker::poll`].
    #[cfg(target_arch = "wasm32")]
    queued: Option<Box<dyn FnOnce()>>,
}

impl<T> std::fmt::Debug for Worker<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("pending", &self.pending.is_some())
            .finish()
    }
}

impl<T> Default for Worker<T> {
    fn default() -> Self {
        Worker {
            pending: None,
            #[cfg(target_arch = "wasm32")]
            queued: None,
        }
    }
}

impl<T: Send + 'static> Worker<T> {
    /// Runs `job` on a new thread named `name`; a job in progress is forgotten. Fails only when the
    /// operating system cannot start a thread (nothing is pending then).
    pub fn start(
        &mut self,
        name: &str,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> std::io::Result<()> {
        let (tx, rx) = channel();
        self.pending = None;
        let run = move || {
            // the receiver may be gone (a newer job replaced this one): nothing to tell then
            let _ = tx.send(job());
        };
        #[cfg(not(target_arch = "wasm32"))]
        std::thread::Builder::new()
            .name(name.to_string())
            .spawn(run)?;
        #[cfg(target_arch = "wasm32")]
        {
            let _ = name;
            self.queued = Some(Box::new(run));
        }
        self.pending = Some(rx);
        Ok(())
    }

    /// The result, once the job has finished; `None` while it runs or when none was started. A job that
    /// panicked yields nothing and is no longer pending.
    pub fn poll(&mut self) -> Option<T> {
        #[cfg(target_arch = "wasm32")]
        if let Some(job) = self.queued.take() {
            job();
        }
        let rx = self.pending.as_ref()?;
        match rx.try_recv() {
            Ok(result) => {
                self.pending = None;
                Some(result)
            }
            Err(TryRecvError::Disconnected) => {
                self.pending = None;
                None
            }
            Err(TryRecvError::Empty) => None,
        }
    }

    /// Whether a job is running.
    pub fn pending(&self) -> bool {
        self.pending.is_some()
    }

    /// Forgets the job in progress.
    pub fn cancel(&mut self) {
        self.pending = None;
        #[cfg(target_arch = "wasm32")]
        {
            self.queued = None;
        }
    }

    /// Waits at most `timeout` for the job in progress (tests and scripts, never the frame loop).
    pub fn wait(&mut self, timeout: Duration) -> Option<T> {
        let start = Instant::now();
        while self.pending() {
            if let Some(result) = self.poll() {
                return Some(result);
            }
            if start.elapsed() >= timeout {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::sync_channel;

    #[test]
    fn poll_never_blocks_and_hands_the_result_over_once() {
        let (go, wait) = sync_channel::<()>(0);
        let mut w = Worker::default();
        w.start("test", move || {
            let _ = wait.recv();
            42
        })
        .expect("thread");
        assert!(w.pending());
        assert_eq!(w.poll(), None, "the job is blocked: poll returns at once");
        go.send(()).expect("the job waits");
        assert_eq!(w.wait(Duration::from_secs(10)), Some(42));
        assert!(!w.pending());
        assert_eq!(w.poll(), None, "handed over once");
    }

    #[test]
    fn a_new_job_replaces_the_old_one_and_a_panic_ends_the_job() {
        let mut w = Worker::default();
        w.start("slow", || {
            std::thread::sleep(Duration::from_millis(200));
            1
        })
        .expect("thread");
        w.start("fast", || 2).expect("thread");
        assert_eq!(w.wait(Duration::from_secs(10)), Some(2));
        w.start("panics", || -> i32 { panic!("job failed") })
            .expect("thread");
        assert_eq!(w.wait(Duration::from_secs(10)), None);
        assert!(!w.pending());
        w.start("cancelled", || 3).expect("thread");
        w.cancel();
        assert!(!w.pending() && w.poll().is_none());
    }
}
