//! One partition hosted by this broker (0.8.2 `kafka.cluster.Partition`): its log, whether
//! we lead or follow, the ISR as the controller last told us, the followers' log end
//! offsets, and the high watermark.

use crate::api::PartitionState;
use crate::common::TopicPartition;
use crate::log::Log;
use std::collections::HashMap;
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

#[derive(Debug)]
struct Inner {
    state: LeaderState,
    /// Log end offset of each follower, from its fetches (leader only); absent = unknown.
    follower_leo: HashMap<i32, i64>,
}

#[derive(Debug)]
pub struct Partition {
    pub tp: TopicPartition,
    pub log: Arc<Log>,
    broker_id: i32,
    inner: Mutex<Inner>,
    high_watermark: AtomicI64,
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
            }),
            high_watermark: AtomicI64::new(hw),
        }
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
        self.maybe_advance_hw(&inner);
    }

    /// Become follower of `s.leader`. Returns the offset to fetch from after the log was
    /// truncated to the high watermark (0.8 behaviour).
    pub fn make_follower(&self, s: &PartitionState) -> Result<i64, crate::log::LogError> {
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
        let hw = self.high_watermark();
        self.log.truncate_to(hw)?;
        Ok(self.log.log_end_offset())
    }

    /// After a local append (leader) or a follower fetch: recompute the high watermark as
    /// the smallest log end offset over the ISR. Returns true if it moved.
    pub fn update_follower_leo(&self, follower: i32, leo: i64) -> bool {
        let mut inner = self.lock();
        if inner.state.leader != self.broker_id {
            return false;
        }
        inner.follower_leo.insert(follower, leo);
        self.maybe_advance_hw(&inner)
    }

    pub fn after_local_append(&self) -> bool {
        let inner = self.lock();
        if inner.state.leader != self.broker_id {
            return false;
        }
        self.maybe_advance_hw(&inner)
    }

    fn maybe_advance_hw(&self, inner: &Inner) -> bool {
        let leo = self.log.log_end_offset();
        let mut new_hw = leo;
        for id in &inner.state.isr {
            if *id == self.broker_id {
                continue;
            }
            match inner.follower_leo.get(id) {
                Some(l) => new_hw = new_hw.min(*l),
                None => return false, // a follower whose position we do not know yet
            }
        }
        let old = self.high_watermark.load(Ordering::Acquire);
        if new_hw > old {
            self.high_watermark.store(new_hw, Ordering::Release);
            true
        } else {
            false
        }
    }

    /// Follower: the leader's high watermark, capped by our own log end.
    pub fn set_follower_high_watermark(&self, leader_hw: i64) {
        let hw = leader_hw.min(self.log.log_end_offset()).max(0);
        self.high_watermark.store(hw, Ordering::Release);
    }

    /// Truncation (e.g. offset out of range on a follower) may pull the watermark down.
    pub fn clamp_high_watermark(&self) {
        let leo = self.log.log_end_offset();
        let _ = self.high_watermark.fetch_min(leo, Ordering::AcqRel);
    }
}
