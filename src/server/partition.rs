//! One partition hosted by this broker (0.8.2 `kafka.cluster.Partition`): its log, whether
//! we lead or follow, the ISR as the controller last told us, the followers' log end
//! offsets, and the high watermark.

use super::fetcher::FollowerLog;
use crate::api::PartitionState;
use crate::common::TopicPartition;
use crate::log::Log;
use bytes::Bytes;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

#[derive(Debug, Clone)]
pub struct LeaderState {
    /// Broker id of the leader (ours when we lead), -1 when unknown.
    pub leader: i32,
    pub leader_epoch: i32,
    pub controller_epoch: i32,
    pub isr: Vec<i32>,
    pub replicas: Vec<i32>,
    /// Version of the state znode, for conditional ISR updates.
    pub zk_version: i32,
}

#[derive(Debug, Clone, Copy)]
struct FollowerPos {
    leo: i64,
    /// When its log end offset last moved (or it last fetched while caught up).
    updated_ms: i64,
}

#[derive(Debug)]
struct Inner {
    state: LeaderState,
    /// Each follower's position, from its fetches (leader only); absent = unknown.
    follower_leo: HashMap<i32, FollowerPos>,
    /// When we became leader: followers we have not heard from are judged from here.
    leader_since_ms: i64,
}

/// An ISR change the leader must write to ZooKeeper before applying it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsrChange {
    pub new_isr: Vec<i32>,
    pub leader_epoch: i32,
    pub controller_epoch: i32,
    pub zk_version: i32,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

#[derive(Debug)]
pub struct Partition {
    pub tp: TopicPartition,
    pub log: Arc<Log>,
    broker_id: i32,
    inner: Mutex<Inner>,
    high_watermark: AtomicI64,
    /// acks=-1 produces waiting for the high watermark to reach an offset (0.8.2's
    /// producer purgatory, keyed by partition): each is woken exactly once, when the
    /// watermark passes its offset, or dropped (its receiver errs) when leadership changes.
    hw_waiters: Mutex<BTreeMap<i64, Vec<tokio::sync::oneshot::Sender<()>>>>,
    /// Whether we lead, as seen under `hw_waiters`' lock (set before the waiters are
    /// dropped on a leadership change, so no waiter registers after the drop).
    leading: std::sync::atomic::AtomicBool,
    /// The topic's `BrokerTopicMetrics` counters, held so that counting a produce or a
    /// fetch needs no lookup.
    pub stats: Arc<crate::metrics::TopicCounters>,
    /// As a follower: the leader's high watermark minus our log end after the last fetch
    /// (0.8.2 `FetcherLagMetrics`).
    fetcher_lag: AtomicI64,
    /// Parked long-poll fetches reading this partition, each woken (and forgotten) when
    /// its data, high watermark or leadership changes; a fetch parked on other
    /// partitions is never woken by this one's appends.
    fetch_waiters: Mutex<Vec<std::sync::Weak<tokio::sync::Notify>>>,
}

impl Partition {
    pub fn new(tp: TopicPartition, log: Arc<Log>, broker_id: i32, high_watermark: i64) -> Partition {
        let hw = high_watermark.clamp(0, log.log_end_offset());
        Partition {
            tp,
            log,
            broker_id,
            inner: Mutex::new(Inner {
                state: LeaderState { leader: -1, leader_epoch: -1, controller_epoch: -1, isr: vec![], replicas: vec![], zk_version: 0 },
                follower_leo: HashMap::new(),
                leader_since_ms: now_ms(),
            }),
            high_watermark: AtomicI64::new(hw),
            hw_waiters: Mutex::new(BTreeMap::new()),
            leading: std::sync::atomic::AtomicBool::new(false),
            stats: Arc::default(),
            fetcher_lag: AtomicI64::new(0),
            fetch_waiters: Mutex::new(Vec::new()),
        }
    }

    /// Wake `waiter` at the next change of this partition (append, high watermark,
    /// leadership). A notification between this call and the wait is kept by the
    /// `Notify`, so a fetch that registers before it reads never misses one.
    pub fn wake_on_change(&self, waiter: &Arc<tokio::sync::Notify>) {
        let mut w = self.fetch_waiters.lock().unwrap_or_else(|e| e.into_inner());
        // Finished fetches leave dead entries; one fetch registers once.
        w.retain(|x| x.strong_count() > 0);
        if !w.iter().any(|x| std::ptr::eq(x.as_ptr(), Arc::as_ptr(waiter))) {
            w.push(Arc::downgrade(waiter));
        }
    }

    /// Wake every parked fetch reading this partition.
    pub fn wake_fetches(&self) {
        let waiters = std::mem::take(&mut *self.fetch_waiters.lock().unwrap_or_else(|e| e.into_inner()));
        for w in waiters.iter().filter_map(|w| w.upgrade()) {
            w.notify_one();
        }
    }

    /// Count into `stats` (the broker's counters of this topic) instead of private ones.
    pub fn with_topic_stats(mut self, stats: Arc<crate::metrics::TopicCounters>) -> Partition {
        self.stats = stats;
        self
    }

    pub fn set_fetcher_lag(&self, lag: i64) {
        self.fetcher_lag.store(lag.max(0), Ordering::Relaxed);
    }

    /// The lag of our last fetch as a follower; 0 while we lead.
    pub fn fetcher_lag(&self) -> i64 {
        if self.is_leader() {
            0
        } else {
            self.fetcher_lag.load(Ordering::Relaxed)
        }
    }

    /// Whether we lead with fewer in-sync replicas than assigned ones (0.8.2
    /// `Partition.isUnderReplicated`).
    pub fn is_under_replicated(&self) -> bool {
        let inner = self.lock();
        inner.state.leader == self.broker_id && inner.state.isr.len() < inner.state.replicas.len()
    }

    /// A receiver completed once the high watermark reaches `offset`; `None` if it already
    /// has or we do not lead. The receiver errs when the waiters are dropped (leadership
    /// changed): look at the partition again then.
    pub fn wait_for_high_watermark(&self, offset: i64) -> Option<tokio::sync::oneshot::Receiver<()>> {
        let mut w = self.hw_waiters.lock().unwrap_or_else(|e| e.into_inner());
        // Checked under the waiters' lock: a watermark stored (or leadership lost) before
        // a wake-up (or drop) that we missed is visible here.
        if self.high_watermark() >= offset || !self.leading.load(Ordering::Acquire) {
            return None;
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        w.entry(offset).or_default().push(tx);
        Some(rx)
    }

    fn wake_high_watermark_waiters(&self, hw: i64) {
        let mut w = self.hw_waiters.lock().unwrap_or_else(|e| e.into_inner());
        let later = w.split_off(&(hw + 1));
        for tx in std::mem::replace(&mut *w, later).into_values().flatten() {
            let _ = tx.send(());
        }
    }

    /// Leadership changed: every waiter looks again (and finds it is no longer leader).
    fn drop_high_watermark_waiters(&self) {
        self.hw_waiters.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn state(&self) -> LeaderState {
        self.lock().state.clone()
    }

    pub fn leader_epoch(&self) -> i32 {
        self.lock().state.leader_epoch
    }

    pub fn is_leader(&self) -> bool {
        self.lock().state.leader == self.broker_id
    }

    pub fn leader(&self) -> i32 {
        self.lock().state.leader
    }

    pub fn high_watermark(&self) -> i64 {
        self.high_watermark.load(Ordering::Acquire)
    }

    pub fn isr_size(&self) -> usize {
        self.lock().state.isr.len()
    }

    /// Become leader: followers' positions are forgotten until they fetch again; the high
    /// watermark stays where it was (0.8.2 keeps the checkpointed value).
    pub fn make_leader(&self, s: &PartitionState) {
        let mut inner = self.lock();
        inner.state = LeaderState {
            leader: self.broker_id,
            leader_epoch: s.leader_epoch,
            controller_epoch: s.controller_epoch,
            isr: s.isr.clone(),
            replicas: s.replicas.clone(),
            zk_version: s.zk_version,
        };
        inner.follower_leo.clear();
        inner.leader_since_ms = now_ms();
        self.maybe_advance_hw(&inner);
        drop(inner);
        self.leading.store(true, Ordering::Release);
        self.drop_high_watermark_waiters();
        self.wake_fetches();
    }

    /// Become follower of `s.leader`. Returns `(fetch_from, verify_to)`: the fetcher starts
    /// at our high watermark and, up to our log end offset `verify_to`, compares what the
    /// leader sends with what we hold, truncating only at the first difference (or where
    /// the leader's log ends). 0.8.2 truncated to the high watermark here at once; a
    /// follower elected leader before it re-fetched then lost messages that were
    /// committed above its (lagging) high watermark (KAFKA-1211). Nothing is truncated
    /// until the leader has shown what it holds.
    pub fn make_follower(&self, s: &PartitionState) -> (i64, i64) {
        {
            let mut inner = self.lock();
            inner.state = LeaderState {
                leader: s.leader,
                leader_epoch: s.leader_epoch,
                controller_epoch: s.controller_epoch,
                isr: s.isr.clone(),
                replicas: s.replicas.clone(),
                zk_version: s.zk_version,
            };
            inner.follower_leo.clear();
        }
        self.leading.store(false, Ordering::Release);
        self.drop_high_watermark_waiters();
        self.wake_fetches();
        let leo = self.log.log_end_offset();
        let hw = self.high_watermark().clamp(self.log.log_start_offset().min(leo), leo);
        (hw, leo)
    }

    /// After a local append (leader) or a follower fetch: recompute the high watermark as
    /// the smallest log end offset over the ISR. Returns true if it moved.
    pub fn update_follower_leo(&self, follower: i32, leo: i64) -> bool {
        let mut inner = self.lock();
        if inner.state.leader != self.broker_id {
            return false;
        }
        let now = now_ms();
        let leader_leo = self.log.log_end_offset();
        let entry = inner.follower_leo.entry(follower).or_insert(FollowerPos { leo, updated_ms: now });
        // 0.8.2 counts a fetch as progress when the offset moved; a follower that is
        // fully caught up fetches the same offset again and again, which is progress too.
        if entry.leo != leo || leo >= leader_leo {
            entry.updated_ms = now;
        }
        entry.leo = leo;
        self.maybe_advance_hw(&inner)
    }

    /// A follower outside the ISR that has reached the high watermark rejoins (0.8.2
    /// `maybeExpandIsr`). Returns the change to write, if any.
    pub fn isr_expansion(&self, follower: i32) -> Option<IsrChange> {
        let inner = self.lock();
        let s = &inner.state;
        if s.leader != self.broker_id || s.isr.contains(&follower) || !s.replicas.contains(&follower) {
            return None;
        }
        let pos = inner.follower_leo.get(&follower)?;
        if pos.leo < self.high_watermark() {
            return None;
        }
        let mut new_isr = s.isr.clone();
        new_isr.push(follower);
        Some(IsrChange { new_isr, leader_epoch: s.leader_epoch, controller_epoch: s.controller_epoch, zk_version: s.zk_version })
    }

    /// Followers stuck (no progress for `lag_time_ms`) or too far behind (more than
    /// `lag_messages`) leave the ISR (0.8.2 `maybeShrinkIsr`).
    pub fn isr_shrink(&self, lag_time_ms: i64, lag_messages: i64) -> Option<IsrChange> {
        let inner = self.lock();
        let s = &inner.state;
        if s.leader != self.broker_id {
            return None;
        }
        let now = now_ms();
        let leo = self.log.log_end_offset();
        let out: Vec<i32> = s
            .isr
            .iter()
            .copied()
            .filter(|id| *id != self.broker_id)
            .filter(|id| match inner.follower_leo.get(id) {
                Some(p) => now - p.updated_ms > lag_time_ms || leo - p.leo > lag_messages,
                None => now - inner.leader_since_ms > lag_time_ms,
            })
            .collect();
        if out.is_empty() {
            return None;
        }
        let new_isr: Vec<i32> = s.isr.iter().copied().filter(|id| !out.contains(id)).collect();
        Some(IsrChange { new_isr, leader_epoch: s.leader_epoch, controller_epoch: s.controller_epoch, zk_version: s.zk_version })
    }

    /// Apply an ISR change that was written to ZooKeeper as version `zk_version`, if the
    /// partition is still in the state the change was computed from.
    pub fn apply_isr_change(&self, change: &IsrChange, zk_version: i32) -> bool {
        let mut inner = self.lock();
        if inner.state.leader != self.broker_id || inner.state.leader_epoch != change.leader_epoch || inner.state.zk_version != change.zk_version {
            return false;
        }
        inner.state.isr = change.new_isr.clone();
        inner.state.zk_version = zk_version;
        self.maybe_advance_hw(&inner);
        true
    }

    pub fn after_local_append(&self) -> bool {
        let inner = self.lock();
        if inner.state.leader != self.broker_id {
            return false;
        }
        let moved = self.maybe_advance_hw(&inner);
        drop(inner);
        // Followers wait for the log end, consumers for the high watermark.
        self.wake_fetches();
        moved
    }

    fn maybe_advance_hw(&self, inner: &Inner) -> bool {
        let leo = self.log.log_end_offset();
        let mut new_hw = leo;
        for id in &inner.state.isr {
            if *id == self.broker_id {
                continue;
            }
            match inner.follower_leo.get(id) {
                Some(p) => new_hw = new_hw.min(p.leo),
                None => return false, // a follower whose position we do not know yet
            }
        }
        let old = self.high_watermark.load(Ordering::Acquire);
        if new_hw > old {
            self.high_watermark.store(new_hw, Ordering::Release);
            self.wake_high_watermark_waiters(new_hw);
            self.wake_fetches();
            true
        } else {
            false
        }
    }

    /// Follower: the leader's high watermark, capped by our own log end.
    pub fn set_follower_high_watermark(&self, leader_hw: i64) {
        let hw = leader_hw.min(self.log.log_end_offset()).max(0);
        if self.high_watermark.swap(hw, Ordering::AcqRel) != hw {
            // A debugging consumer (-2) may be parked on this follower.
            self.wake_fetches();
        }
    }

    /// Truncation (e.g. offset out of range on a follower) may pull the watermark down.
    pub fn clamp_high_watermark(&self) {
        let leo = self.log.log_end_offset();
        let _ = self.high_watermark.fetch_min(leo, Ordering::AcqRel);
    }
}

/// What the replica fetcher does to a partition this broker follows.
impl FollowerLog for Partition {
    fn log_end_offset(&self) -> i64 {
        self.log.log_end_offset()
    }

    fn read(&self, from: i64, max_bytes: usize) -> Result<Bytes, String> {
        let region = self.log.read(from, max_bytes, None).map_err(|e| e.to_string())?;
        region.read_bytes().map_err(|e| e.to_string())
    }

    fn append_as_follower(&self, set: Bytes) -> Result<(), String> {
        self.log.append(set, false).map(|_| ()).map_err(|e| e.to_string())
    }

    fn append_may_block(&self) -> bool {
        self.log.config().flush_interval_messages != i64::MAX
    }

    fn truncate_to(&self, offset: i64) -> Result<(), String> {
        self.log.truncate_to(offset).map_err(|e| e.to_string())?;
        self.clamp_high_watermark();
        Ok(())
    }

    fn truncate_fully_and_start_at(&self, offset: i64) -> Result<(), String> {
        self.log.truncate_fully_and_start_at(offset).map_err(|e| e.to_string())?;
        self.clamp_high_watermark();
        Ok(())
    }

    fn set_leader_high_watermark(&self, high_watermark: i64) {
        self.set_fetcher_lag(high_watermark - self.log.log_end_offset());
        self.set_follower_high_watermark(high_watermark);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::SystemClock;
    use crate::log::LogConfig;
    use crate::message::{encode_messages, CompressionCodec, Message};

    fn state(leader: i32, epoch: i32, isr: Vec<i32>) -> PartitionState {
        PartitionState { topic: "w".into(), partition: 0, controller_epoch: 1, leader, leader_epoch: epoch, isr, zk_version: 0, replicas: vec![1, 2] }
    }

    #[test]
    fn acks_all_waiters_wake_once_the_watermark_passes_them_and_on_leadership_loss() {
        let dir = std::env::temp_dir().join(format!("kafka08-partition-waiters-{}", std::process::id()));
        let log = Arc::new(crate::log::Log::open(&dir.join("w-0"), LogConfig::default(), 0, false, Arc::new(SystemClock)).unwrap());
        let p = Partition::new(TopicPartition::new("w", 0), log.clone(), 1, 0);
        assert!(p.wait_for_high_watermark(1).is_none(), "a follower has nothing to wait for");
        p.make_leader(&state(1, 0, vec![1, 2]));
        let msgs: Vec<Message> = (0..3).map(|i| Message::new(None, Some(format!("{i}").as_bytes()), CompressionCodec::None)).collect();
        log.append(encode_messages(CompressionCodec::None, &msgs, 0), true).unwrap();
        p.after_local_append();
        let mut at2 = p.wait_for_high_watermark(2).expect("follower 2 has not fetched");
        let mut at3 = p.wait_for_high_watermark(3).expect("waits");
        p.update_follower_leo(2, 2);
        assert_eq!(p.high_watermark(), 2);
        assert_eq!(at2.try_recv(), Ok(()));
        assert!(at3.try_recv().is_err(), "still waiting at 2");
        p.update_follower_leo(2, 3);
        assert_eq!(at3.try_recv(), Ok(()));
        assert!(p.wait_for_high_watermark(3).is_none());
        // Leadership lost: waiters are dropped (they look again), and none registers.
        log.append(encode_messages(CompressionCodec::None, &msgs, 0), true).unwrap();
        let mut at6 = p.wait_for_high_watermark(6).expect("waits");
        p.make_follower(&state(2, 1, vec![2]));
        assert!(matches!(at6.try_recv(), Err(tokio::sync::oneshot::error::TryRecvError::Closed)));
        assert!(p.wait_for_high_watermark(6).is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_parked_fetch_is_woken_by_its_own_partition_only() {
        let dir = std::env::temp_dir().join(format!("kafka08-partition-fetch-waiters-{}", std::process::id()));
        let open = |t: &str| {
            let log = Arc::new(crate::log::Log::open(&dir.join(format!("{t}-0")), LogConfig::default(), 0, false, Arc::new(SystemClock)).unwrap());
            let p = Partition::new(TopicPartition::new(t, 0), log.clone(), 1, 0);
            p.make_leader(&state(1, 0, vec![1]));
            (p, log)
        };
        let (a, _) = open("a");
        let (b, blog) = open("b");
        let waiter = Arc::new(tokio::sync::Notify::new());
        a.wake_on_change(&waiter);
        a.wake_on_change(&waiter);
        assert_eq!(a.fetch_waiters.lock().unwrap().len(), 1, "registered once");
        let msgs = [Message::new(None, Some(b"x"), CompressionCodec::None)];
        blog.append(encode_messages(CompressionCodec::None, &msgs, 0), true).unwrap();
        b.after_local_append();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let woken = |w: &Arc<tokio::sync::Notify>| {
            rt.block_on(async { tokio::time::timeout(std::time::Duration::from_millis(20), w.notified()).await.is_ok() })
        };
        assert!(!woken(&waiter), "an append to b woke a fetch parked on a");
        a.log.append(encode_messages(CompressionCodec::None, &msgs, 0), true).unwrap();
        a.after_local_append();
        assert!(woken(&waiter), "an append to a wakes it");
        assert!(a.fetch_waiters.lock().unwrap().is_empty(), "woken once, then forgotten");
        a.wake_on_change(&waiter);
        a.make_follower(&state(2, 1, vec![2]));
        assert!(woken(&waiter), "leadership moving wakes it");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
