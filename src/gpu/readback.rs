//! The statistics read-back ring: a few staging buffers in rotation, so that the statistics block of a
//! submission comes back to the CPU without the caller ever waiting for the GPU (a frame of delay instead).
//! A slot is free, pending (copy recorded, map requested), ready (mapped) or failed.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

const SLOT_FREE: u8 = 0;
const SLOT_PENDING: u8 = 1;
const SLOT_READY: u8 = 2;
const SLOT_FAILED: u8 = 3;
/// Staging buffers in rotation.
pub const STAGING_SLOTS: usize = 3;

struct Slot {
    buffer: wgpu::Buffer,
    state: Arc<AtomicU8>,
    /// The step the block describes.
    step: u64,
    /// Submission order, so the newest block wins when several arrive together.
    seq: u64,
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
                    size: bytes,
                    usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                }),
                state: Arc::new(AtomicU8::new(SLOT_FREE)),
                step: 0,
                seq: 0,
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

    /// After the submission holding [`StatsRing::record`]'s copy: the slot waits for the block of `step`.
    pub fn submitted(&mut self, slot: usize, step: u64) {
        self.seq += 1;
        let s = &mut self.slots[slot];
        s.step = step;
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

    /// The newest block that has arrived, as (step, values); frees every arrived or failed slot.
    pub fn take_newest(&mut self) -> Option<(u64, Vec<f32>)> {
        let mut newest: Option<(u64, u64, Vec<f32>)> = None;
        for slot in &self.slots {
            let state = slot.state.load(Ordering::Acquire);
            if state == SLOT_FAILED {
                slot.state.store(SLOT_FREE, Ordering::Release);
                continue;
            }
            if state != SLOT_READY {
                continue;
            }
            let values = slot
                .buffer
                .get_mapped_range(..)
                .ok()
                .map(|view| bytemuck::cast_slice::<u8, f32>(&view).to_vec());
            slot.buffer.unmap();
            slot.state.store(SLOT_FREE, Ordering::Release);
            if let Some(values) = values
                && newest.as_ref().is_none_or(|(seq, _, _)| slot.seq > *seq)
            {
                newest = Some((slot.seq, slot.step, values));
            }
        }
        newest.map(|(_, step, values)| (step, values))
    }
}
