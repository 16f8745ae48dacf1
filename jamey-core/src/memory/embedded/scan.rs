//! The first pass of a vector search: scores the int8 codes of the candidates and keeps a
//! shortlist for exact ranking. A large scan is cut into blocks that the searching thread and the
//! store's helper thread take in turn.
//!
//! The helper lives as long as the store and sleeps between scans. A thread spawned per search
//! would be cheaper to write but slow to start: Linux places a new thread by recent load, often on
//! the searching thread's own busy core, where it waits milliseconds for the idle core to pull it
//! over (measured: 2.2 ms median at 100k vectors, longer than the whole scan). Waking a sleeping
//! thread goes to an idle core at once.

use super::quantized::QuantizedQuery;
use super::vectors::VectorIndex;
use parking_lot::RwLock;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::ops::Range;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Arc, Weak};

/// Above this many candidates a scan asks the helper to share it; below it the hand-off costs
/// more than it saves.
const PARALLEL_SCAN_MIN: usize = 20_000;

/// The candidates a thread takes at a time (1.5 MB of codes at 384 dimensions). Threads take blocks
/// until none is left, so a helper that starts late, or not at all, does less of the work instead
/// of delaying the answer.
const SCAN_BLOCK: usize = 4_096;

/// The candidates of a search: every slot, or those a filter lets through (ascending).
#[derive(Debug, Clone)]
pub(super) enum Slots {
    All(Range<usize>),
    Listed(Arc<[usize]>),
}

impl Slots {
    fn len(&self) -> usize {
        match self {
            Self::All(range) => range.len(),
            Self::Listed(listed) => listed.len(),
        }
    }

    fn to_vec(&self) -> Vec<usize> {
        match self {
            Self::All(range) => range.clone().collect(),
            Self::Listed(listed) => listed.to_vec(),
        }
    }
}

/// The slots among `slots` whose codes score best against `query`: at least `len` of them (all of
/// them when there are no more), in no particular order. `helper` may take part in a large scan.
pub(super) fn shortlist(
    index: &VectorIndex,
    slots: Slots,
    query: &[f32],
    len: usize,
    helper: Option<&ScanHelper>,
) -> Vec<usize> {
    if slots.len() <= len {
        return slots.to_vec();
    }
    let large = slots.len() > PARALLEL_SCAN_MIN;
    let job = Arc::new(ScanJob::new(QuantizedQuery::new(query), slots, len));
    let counted = helper
        .filter(|_| large)
        .map(|helper| (helper, helper.scans.begin()));
    // While another large scan runs, the helper would take a core from it rather than an idle one.
    let helping = match &counted {
        Some((helper, (_, 0))) => helper.offer(&job),
        _ => None,
    };
    let mut found = job.work(index).into_slots();
    if let Some(reply) = helping {
        if job.close() {
            // The helper had not started: this thread has done every block.
            return found;
        }
        match reply.recv() {
            Ok(theirs) => found.extend(theirs.into_slots()),
            // The helper died with blocks of its own unscanned: scan everything here instead.
            Err(_) => {
                let alone = ScanJob::new(job.query.clone(), job.slots.clone(), len);
                return alone.work(index).into_slots();
            }
        }
    }
    found
}

/// A thread that takes part in its store's large scans.
#[derive(Debug)]
pub(super) struct ScanHelper {
    jobs: Sender<(Arc<ScanJob>, SyncSender<Shortlist>)>,
    scans: ScanCount,
}

impl ScanHelper {
    /// Starts the helper of `index`. It ends once the index is dropped.
    pub(super) fn start(index: Weak<RwLock<VectorIndex>>) -> std::io::Result<Self> {
        let (jobs, queue) = mpsc::channel();
        std::thread::Builder::new()
            .name("jamey-vector-scan".into())
            .spawn(move || serve(&index, &queue))?;
        Ok(Self {
            jobs,
            scans: ScanCount::default(),
        })
    }

    /// Hands `job` to the helper; the answer arrives on the receiver if the helper joins it.
    fn offer(&self, job: &Arc<ScanJob>) -> Option<Receiver<Shortlist>> {
        let (reply, answer) = mpsc::sync_channel(1);
        self.jobs.send((Arc::clone(job), reply)).ok()?;
        Some(answer)
    }
}

fn serve(
    index: &Weak<RwLock<VectorIndex>>,
    queue: &Receiver<(Arc<ScanJob>, SyncSender<Shortlist>)>,
) {
    for (job, reply) in queue {
        let Some(index) = index.upgrade() else {
            return;
        };
        // The searching thread holds a read lock until it closes the job, so a job still open
        // sees the same vectors. A recursive read does not queue behind a waiting writer, which
        // would wait for the searching thread, which would wait for this one.
        let vectors = index.read_recursive();
        if job.join() {
            // The searching thread may have given up waiting only if this thread has died.
            let _ = reply.send(job.work(&vectors));
        }
    }
}

/// The large scans in progress.
#[derive(Debug, Default)]
struct ScanCount(AtomicUsize);

impl ScanCount {
    /// Counts a scan until the guard is dropped; also returns how many others were in progress.
    fn begin(&self) -> (CountedScan<'_>, usize) {
        let others = self.0.fetch_add(1, Ordering::AcqRel);
        (CountedScan(&self.0), others)
    }
}

struct CountedScan<'a>(&'a AtomicUsize);

impl Drop for CountedScan<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The job has not been taken up by the helper yet.
const OPEN: u8 = 0;
/// The helper takes part: the searching thread waits for its shortlist.
const JOINED: u8 = 1;
/// The searching thread finished without the helper.
const CLOSED: u8 = 2;

/// One scan, shared by the threads that work on it.
#[derive(Debug)]
struct ScanJob {
    query: QuantizedQuery,
    slots: Slots,
    len: usize,
    blocks: usize,
    next_block: AtomicUsize,
    state: AtomicU8,
}

impl ScanJob {
    fn new(query: QuantizedQuery, slots: Slots, len: usize) -> Self {
        Self {
            query,
            blocks: slots.len().div_ceil(SCAN_BLOCK),
            slots,
            len,
            next_block: AtomicUsize::new(0),
            state: AtomicU8::new(OPEN),
        }
    }

    /// Scans blocks until none is left; the best `len` of those this thread scanned.
    fn work(&self, index: &VectorIndex) -> Shortlist {
        let mut shortlist = Shortlist::new(self.len);
        loop {
            let block = self.next_block.fetch_add(1, Ordering::Relaxed);
            if block >= self.blocks {
                return shortlist;
            }
            let start = block * SCAN_BLOCK;
            let end = (start + SCAN_BLOCK).min(self.slots.len());
            match &self.slots {
                Slots::All(range) => {
                    let slots = range.start + start..range.start + end;
                    let codes = index.codes(slots.clone());
                    for (slot, codes) in slots.zip(codes.chunks_exact(index.dimensions().max(1))) {
                        shortlist.offer(self.query.dot(codes), slot);
                    }
                }
                Slots::Listed(listed) => {
                    for &slot in &listed[start..end] {
                        shortlist.offer(self.query.dot(index.codes(slot..slot + 1)), slot);
                    }
                }
            }
        }
    }

    /// The helper's claim on the job; false when the searching thread has finished without it.
    fn join(&self) -> bool {
        self.state
            .compare_exchange(OPEN, JOINED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// The searching thread's claim that it finished alone; false when the helper has joined.
    fn close(&self) -> bool {
        self.state
            .compare_exchange(OPEN, CLOSED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }
}

/// The best `len` slots by code score seen so far: a min-heap whose root is the one to evict next.
/// Ties between equal scores are broken arbitrarily; the exact ranking settles them.
#[derive(Debug)]
struct Shortlist {
    len: usize,
    heap: BinaryHeap<Reverse<(i32, usize)>>,
}

impl Shortlist {
    fn new(len: usize) -> Self {
        Self {
            len,
            heap: BinaryHeap::with_capacity(len.saturating_add(1).min(4_096)),
        }
    }

    // Inlined into the scan: nearly every offer is turned down by one comparison.
    #[inline]
    fn offer(&mut self, score: i32, slot: usize) {
        if self.heap.len() < self.len {
            self.heap.push(Reverse((score, slot)));
        } else if self.heap.peek().is_some_and(|worst| score > worst.0 .0) {
            self.heap.pop();
            self.heap.push(Reverse((score, slot)));
        }
    }

    fn into_slots(self) -> Vec<usize> {
        self.heap
            .into_iter()
            .map(|Reverse((_, slot))| slot)
            .collect()
    }
}
