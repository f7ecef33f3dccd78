//! The statistics read-back ring: a few staging buffers in rotation, so that the statistics block of a
//! submission comes back to the CPU without the caller ever waiting for the GPU (a frame of delay instead).
//! A slot is free, pending (copy recorded, map requested), ready (mapped) or failed. [`PolledMap`] is
//! the same idea for a single buffer: the browser build's reads of the weights and of figures.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

const SLOT_FREE: u8 = 0;
const SLOT_PENDING: u8 = 1;
const SLOT_READY: u8 = 2;
const SLOT_FAILED: u8 = 3;
/// Staging buffers in rotation.
pub const STAGING_SLOTS: usize = 3;
/// Bytes after the statistics block in each slot: the pass's two GPU timestamps, where the adapter has
/// them.
pub const TIMESTAMP_BYTES: u64 = 16;

/// A read mapping of one buffer whose completion is polled, never waited for (a browser page cannot
/// block on the GPU; its map callbacks run from the event loop after the frame returns).
pub struct PolledMap(Arc<Mutex<Option<Result<(), String>>>>);

impl PolledMap {
    /// Asks for all of `buffer` (a `MAP_READ` buffer whose copy has been submitted) to be mapped.
    pub fn read(buffer: &wgpu::Buffer) -> PolledMap {
        let state = Arc::new(Mutex::new(None));
        let done = state.clone();
        buffer.map_async(wgpu::MapMode::Read, .., move |r| {
            if let Ok(mut slot) = done.lock() {
                *slot = Some(r.map_err(|e| e.to_string()));
            }
        });
        PolledMap(state)
    }

    /// `Some(Ok)` once the buffer is mapped, `Some(Err)` if mapping failed, `None` before; the outcome
    /// is handed over once.
    pub fn take(&self) -> Option<Result<(), String>> {
        self.0.lock().ok()?.take()
    }
}

/// One arrived statistics block.
pub struct Arrived {
    /// The step the block describes.
    pub step: u64,
    /// The block.
    pub values: Vec<f32>,
    /// The submission's training steps and its pass's GPU timestamps (start, end), when it was timed.
    pub timed: Option<(u32, u64, u64)>,
}

struct Slot {
    buffer: wgpu::Buffer,
    state: Arc<AtomicU8>,
    /// The step the block describes.
    step: u64,
    /// Submission order, so the newest block wins when several arrive together.
    seq: u64,
    /// Training steps of the submission, when its timestamps were copied after the block.
    timed_steps: Option<u32>,
}

/// Rotating `MAP_READ` buffers for one statistics block of `bytes` bytes.
pub struct StatsRing {
    slots: Vec<Slot>,
    seq: u64,
    bytes: u64,
}

impl StatsRing {
    /// Creates the staging buffers.
    pub fn new(device: &wgpu::Device, bytes: u64) -> StatsRing {
        let slots = (0..STAGING_SLOTS)
            .map(|_| Slot {
                // MAP_READ | COPY_DST: the statistics block is copied here and mapped on the CPU
                buffer: device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("gradscope stats readback"),
                    size: bytes + TIMESTAMP_BYTES,
                    usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                }),
                state: Arc::new(AtomicU8::new(SLOT_FREE)),
                step: 0,
                seq: 0,
                timed_steps: None,
            })
            .collect();
        StatsRing {
            slots,
            seq: 0,
            bytes,
        }
    }

    /// GPU bytes the ring holds.
    pub fn gpu_bytes(&self) -> u64 {
        self.slots.iter().map(|s| s.buffer.size()).sum()
    }

    /// Records a copy of the block at byte `offset` of `src` into a free slot; `None` when every slot is
    /// still in flight (this submission's statistics are then skipped, never waited for).
    pub fn record(
        &self,
        enc: &mut wgpu::CommandEncoder,
        src: &wgpu::Buffer,
        offset: u64,
    ) -> Option<usize> {
        let free = self
            .slots
            .iter()
            .position(|s| s.state.load(Ordering::Acquire) == SLOT_FREE)?;
        enc.copy_buffer_to_buffer(src, offset, &self.slots[free].buffer, 0, Some(self.bytes));
        Some(free)
    }

    /// Records a copy of the resolved pass timestamps (`TIMESTAMP_BYTES` at the start of `resolved`) after
    /// the block in `slot`.
    pub fn record_timestamps(
        &self,
        enc: &mut wgpu::CommandEncoder,
        resolved: &wgpu::Buffer,
        slot: usize,
    ) {
        enc.copy_buffer_to_buffer(
            resolved,
            0,
            &self.slots[slot].buffer,
            self.bytes,
            Some(TIMESTAMP_BYTES),
        );
    }

    /// After the submission holding [`StatsRing::record`]'s copy: the slot waits for the block of `step`
    /// (`timed_steps`: the submission's training steps, where its timestamps were recorded too).
    pub fn submitted(&mut self, slot: usize, step: u64, timed_steps: Option<u32>) {
        self.seq += 1;
        let s = &mut self.slots[slot];
        s.step = step;
        s.timed_steps = timed_steps;
        s.seq = self.seq;
        s.state.store(SLOT_PENDING, Ordering::Release);
        let state = s.state.clone();
        s.buffer.map_async(wgpu::MapMode::Read, .., move |r| {
            state.store(
                if r.is_ok() { SLOT_READY } else { SLOT_FAILED },
                Ordering::Release,
            );
        });
    }

    /// Whether a requested block has not arrived yet.
    pub fn any_pending(&self) -> bool {
        self.slots
            .iter()
            .any(|s| s.state.load(Ordering::Acquire) == SLOT_PENDING)
    }

    /// The newest block that has arrived; frees every arrived or failed slot.
    pub fn take_newest(&mut self) -> Option<Arrived> {
        let mut newest: Option<(u64, Arrived)> = None;
        let floats = (self.bytes / 4) as usize;
        for slot in &self.slots {
            let state = slot.state.load(Ordering::Acquire);
            if state == SLOT_FAILED {
                slot.state.store(SLOT_FREE, Ordering::Release);
                continue;
            }
            if state != SLOT_READY {
                continue;
            }
            let arrived = slot.buffer.get_mapped_range(..).ok().map(|view| {
                let all = bytemuck::cast_slice::<u8, f32>(&view);
                // the block's length need not be a multiple of 8: read the ticks unaligned
                let at = self.bytes as usize;
                let ticks = [
                    bytemuck::pod_read_unaligned::<u64>(&view[at..at + 8]),
                    bytemuck::pod_read_unaligned::<u64>(&view[at + 8..at + 16]),
                ];
                Arrived {
                    step: slot.step,
                    values: all[..floats].to_vec(),
                    timed: slot.timed_steps.map(|n| (n, ticks[0], ticks[1])),
                }
            });
            slot.buffer.unmap();
            slot.state.store(SLOT_FREE, Ordering::Release);
            if let Some(arrived) = arrived
                && newest.as_ref().is_none_or(|(seq, _)| slot.seq > *seq)
            {
                newest = Some((slot.seq, arrived));
            }
        }
        newest.map(|(_, a)| a)
    }
}
