//! The hand-off between the cache's polling thread (and its rebalance callback) and its
//! writer, and the one owner of what they share: the batch being gathered, whether the writer
//! holds one, the one-slot job queue, the pause flag and the shutdown deadline. The polling
//! side hands batches over ([`Handoff::hand_off`], [`Handoff::flush`]); the writer takes them
//! from the queue and says when it is idle again ([`Handoff::writer_idle`]).

use super::batch::Batch;
use super::stats::CacheStats;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Work for the writer.
#[derive(Debug)]
pub(super) enum Job {
    /// Write this batch, deliver its dead letters, then store its offsets.
    Write(Batch),
    /// Stop: the polling thread has ended.
    Stop,
}

/// State shared by the polling thread, its rebalance callback and the writer.
#[derive(Debug)]
pub(super) struct Handoff {
    gathering: Mutex<Batch>,
    /// True while the writer holds a batch (from hand-off until its offsets are stored).
    busy: Mutex<bool>,
    idle: Condvar,
    jobs: mpsc::Sender<Job>,
    /// The assigned partitions are paused (the gathering batch is full).
    paused: AtomicBool,
    /// The cache's counters.
    pub(super) stats: Arc<CacheStats>,
    batch_max: u64,
    batch_wait: Duration,
    /// The shutdown deadline, set when the polling thread stops.
    stop_by: Mutex<Option<Instant>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The data stays consistent across a panic elsewhere (plain counters and maps).
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Handoff {
    /// An empty hand-off whose batches go to `jobs` (a one-slot queue), due at `batch_max`
    /// messages or `batch_wait` after their first (zero: at once).
    pub(super) fn new(
        jobs: mpsc::Sender<Job>,
        stats: Arc<CacheStats>,
        batch_max: u64,
        batch_wait: Duration,
    ) -> Self {
        Self {
            gathering: Mutex::new(Batch::default()),
            busy: Mutex::new(false),
            idle: Condvar::new(),
            jobs,
            paused: AtomicBool::new(false),
            stats,
            batch_max,
            batch_wait,
            stop_by: Mutex::new(None),
        }
    }

    /// The batch being gathered.
    pub(super) fn gathering(&self) -> MutexGuard<'_, Batch> {
        lock(&self.gathering)
    }

    /// Whether `batch` should go now (it has `batch_max` messages, or its first is
    /// `batch_wait` old).
    fn due(&self, batch: &Batch) -> bool {
        batch.messages >= self.batch_max
            || batch
                .started
                .is_some_and(|t| self.batch_wait.is_zero() || t.elapsed() >= self.batch_wait)
    }

    /// Hands the gathering batch to the writer when the writer is idle and the batch is due
    /// (or `force`). True when handed off.
    pub(super) fn hand_off(&self, force: bool) -> bool {
        let mut busy = lock(&self.busy);
        if *busy {
            return false;
        }
        let mut gathering = self.gathering();
        if gathering.is_empty() || !(force || self.due(&gathering)) {
            return false;
        }
        let batch = gathering.take();
        drop(gathering);
        // The writer is idle, so the one-slot queue is free; it fails only when the writer
        // has gone (stopped), and then the batch's offsets stay uncommitted.
        if self.jobs.try_send(Job::Write(batch)).is_err() {
            return false;
        }
        *busy = true;
        true
    }

    /// Waits until the writer is idle; false when `timeout` passed first.
    fn wait_idle(&self, timeout: Duration) -> bool {
        let busy = lock(&self.busy);
        let (busy, _) = self
            .idle
            .wait_timeout_while(busy, timeout, |b| *b)
            .unwrap_or_else(PoisonError::into_inner);
        !*busy
    }

    /// Writes everything gathered so far (bounded by `timeout`); true when done.
    pub(super) fn flush(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        if !self.wait_idle(timeout) {
            return false;
        }
        if !self.hand_off(true) {
            return self.gathering().is_empty();
        }
        self.wait_idle(deadline.saturating_duration_since(Instant::now()))
    }

    /// Starts the shutdown deadline: `within` from now.
    pub(super) fn stop_within(&self, within: Duration) {
        *lock(&self.stop_by) = Some(Instant::now() + within);
    }

    /// Time left before the shutdown deadline (`None`: not stopping yet).
    pub(super) fn stop_left(&self) -> Option<Duration> {
        lock(&self.stop_by).map(|by| by.saturating_duration_since(Instant::now()))
    }

    /// Tells the writer to stop once it has done what it holds. Blocking (the polling thread's
    /// side); false when the writer has gone already.
    pub(super) fn stop_writer(&self) -> bool {
        self.jobs.blocking_send(Job::Stop).is_ok()
    }

    /// The writer is done with its batch (written and its offsets stored, or given up).
    pub(super) fn writer_idle(&self) {
        *lock(&self.busy) = false;
        self.idle.notify_all();
    }

    /// The writer is done with its batch and takes the next one itself when it is due: what
    /// gathered while Redis wrote goes at once, without waiting for the polling thread's next
    /// turn (natural batching: the busier Redis is, the more each write covers). `None`: the
    /// writer is idle now.
    pub(super) fn writer_next(&self) -> Option<Batch> {
        let mut busy = lock(&self.busy);
        let mut gathering = self.gathering();
        if !gathering.is_empty() && self.due(&gathering) {
            return Some(gathering.take());
        }
        drop(gathering);
        *busy = false;
        drop(busy);
        self.idle.notify_all();
        None
    }

    /// Whether the assigned partitions are paused.
    pub(super) fn paused(&self) -> bool {
        self.paused.load(Ordering::Relaxed)
    }

    /// Records whether the assigned partitions are paused.
    pub(super) fn set_paused(&self, paused: bool) {
        self.paused.store(paused, Ordering::Relaxed);
    }

    /// One look at the gathering batch after each poll: its distinct keys, and the next poll's
    /// timeout (the batch goes as soon as it is due; shutdown is seen within 100 ms).
    pub(super) fn glance(&self) -> (usize, Duration) {
        let most = Duration::from_millis(100);
        let gathering = self.gathering();
        // A batch due at once goes now (writer idle) or when the writer takes it; one that
        // waits for `batch_wait` needs this thread to hand it off when that has passed. While
        // paused no message wakes the poll: look again soon, to resume once the writer took
        // the batch.
        let timeout = match gathering.started {
            _ if self.paused() => Duration::from_millis(1),
            Some(t) if !self.batch_wait.is_zero() => self
                .batch_wait
                .saturating_sub(t.elapsed())
                .clamp(Duration::from_millis(1), most),
            _ => most,
        };
        // Dead letters count like keys: a flood of them while the DLQ is down is bounded too.
        (gathering.keys() + gathering.letters.len(), timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handoff(batch_wait: Duration) -> (Handoff, mpsc::Receiver<Job>) {
        let (tx, rx) = mpsc::channel(1);
        let stats = Arc::new(CacheStats::default());
        (Handoff::new(tx, stats, 5000, batch_wait), rx)
    }

    fn gather(h: &Handoff, offsets: std::ops::Range<i64>) {
        let mut g = h.gathering();
        for o in offsets {
            g.cover("ticks.v1", 0, o);
        }
    }

    fn messages(job: Option<Job>) -> u64 {
        match job {
            Some(Job::Write(b)) => b.messages,
            other => panic!("expected a batch, got {other:?}"),
        }
    }

    #[test]
    fn an_idle_writer_gets_a_message_at_once_and_a_busy_one_takes_what_gathered_meanwhile() {
        let (h, mut jobs) = handoff(Duration::ZERO);
        gather(&h, 0..1);
        assert!(h.hand_off(false), "idle writer, batch_wait 0: due at once");
        assert_eq!(messages(jobs.try_recv().ok()), 1);
        // While that write is in flight, messages coalesce and are not handed off.
        gather(&h, 1..4);
        assert!(!h.hand_off(false), "the writer is busy");
        assert!(jobs.try_recv().is_err());
        // The writer, done, takes them itself, and stays busy with them.
        assert_eq!(h.writer_next().map(|b| b.messages), Some(3));
        assert!(!h.wait_idle(Duration::ZERO), "busy with the taken batch");
        gather(&h, 4..5);
        assert!(!h.hand_off(false));
        assert_eq!(h.writer_next().map(|b| b.messages), Some(1));
        // Nothing gathered: the writer goes idle, and the next message goes at once again.
        assert!(h.writer_next().is_none());
        assert!(h.wait_idle(Duration::ZERO));
        gather(&h, 5..6);
        assert!(h.hand_off(false));
        assert_eq!(messages(jobs.try_recv().ok()), 1);
    }

    #[test]
    fn with_a_batch_wait_a_batch_waits_for_it_or_for_batch_max() {
        let (h, mut jobs) = handoff(Duration::from_millis(200));
        gather(&h, 0..1);
        assert!(!h.hand_off(false), "not due before batch_wait");
        let (_, timeout) = h.glance();
        assert!(
            timeout > Duration::from_millis(100) - Duration::from_millis(1),
            "the poll wakes when it is due (at most 100 ms): {timeout:?}"
        );
        assert!(h.hand_off(true), "forced (a flush)");
        assert_eq!(messages(jobs.try_recv().ok()), 1);
        gather(&h, 1..2);
        assert!(h.writer_next().is_none(), "not due: the writer goes idle");
        assert!(h.wait_idle(Duration::ZERO));
        gather(&h, 2..4999);
        assert!(!h.hand_off(false), "4,998 messages, not due yet");
        gather(&h, 4999..5001);
        assert!(h.hand_off(false), "batch_max messages: due");
        assert_eq!(messages(jobs.try_recv().ok()), 5000);
    }
}
