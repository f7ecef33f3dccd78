//! Draws the window when the GPU finishes, not before. On a software adapter (lavapipe) drawing a frame
//! costs tens of milliseconds of the same CPU cores that run the training kernels, so while a training
//! submission is in flight the window draws nothing new: a thread waits for the GPU and asks for one
//! frame once the work is done (that frame shows the statistics and records the next steps). Input still
//! draws at once (eframe repaints on every event).

use std::sync::mpsc::{Sender, channel};
use std::time::Duration;

/// Longest wait for one submission; past it the window draws anyway (a lost submission never freezes
/// the window).
const WAIT_LIMIT: Duration = Duration::from_secs(10);

/// A thread that requests a repaint each time the GPU has finished what was submitted before
/// [`Waker::after_gpu`] was called.
#[derive(Debug)]
pub struct Waker {
    tx: Sender<()>,
}

impl Waker {
    /// Starts the thread; `None` when the operating system cannot start one (the window then repaints
    /// continuously as on a hardware adapter). The thread ends with the `Waker`.
    pub fn start(device: wgpu::Device, ctx: egui::Context) -> Option<Waker> {
        let (tx, rx) = channel::<()>();
        std::thread::Builder::new()
            .name("gradscope-waker".into())
            .spawn(move || {
                while rx.recv().is_ok() {
                    // requests that queued up meanwhile are covered by this wait
                    while rx.try_recv().is_ok() {}
                    // a failed or timed-out wait still draws: the frame polls and goes on
                    let _ = device.poll(wgpu::PollType::Wait {
                        submission_index: None,
                        timeout: Some(WAIT_LIMIT),
                    });
                    ctx.request_repaint();
                }
            })
            .ok()?;
        Some(Waker { tx })
    }

    /// Asks for a repaint once everything submitted so far has finished on the GPU. Returns false when
    /// the thread is gone (the caller then repaints at once).
    pub fn after_gpu(&self) -> bool {
        self.tx.send(()).is_ok()
    }
}
