//! Partition assignors (docs/zookeeper-layout.md; 0.8.2 `PartitionAssignor.scala`),
//! as pure functions over a snapshot of the group. Each member runs the same function on
//! (ideally) the same snapshot and claims the part that names its own threads.

use super::config::AssignmentStrategy;
use crate::common::{java_string_hash, TopicPartition};
use std::collections::{BTreeMap, BTreeSet};

/// What every member reads before assigning.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AssignmentContext {
    /// topic → every thread id in the group subscribed to it, sorted as strings.
    pub consumers_for_topic: BTreeMap<String, Vec<String>>,
    /// topic → its partition ids, sorted numerically.
    pub partitions_for_topic: BTreeMap<String, Vec<i32>>,
}

impl AssignmentContext {
    /// Build from per-member thread ids (member → topic → thread ids); sorts everything.
    pub fn new(
        members: impl IntoIterator<Item = BTreeMap<String, Vec<String>>>,
        partitions_for_topic: BTreeMap<String, Vec<i32>>,
    ) -> AssignmentContext {
        let mut consumers_for_topic: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for m in members {
            for (topic, threads) in m {
                consumers_for_topic.entry(topic).or_default().extend(threads);
            }
        }
        for threads in consumers_for_topic.values_mut() {
            threads.sort();
            threads.dedup();
        }
        let partitions_for_topic = partitions_for_topic
            .into_iter()
            .filter(|(t, _)| consumers_for_topic.contains_key(t))
            .map(|(t, mut ps)| {
                ps.sort_unstable();
                ps.dedup();
                (t, ps)
            })
            .collect();
        AssignmentContext { consumers_for_topic, partitions_for_topic }
    }
}

/// The round-robin precondition failed (0.8.2's `require` message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssignmentError(pub String);

impl std::fmt::Display for AssignmentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The whole group's assignment: partition → owning thread id.
pub fn assign(
    strategy: AssignmentStrategy,
    ctx: &AssignmentContext,
) -> Result<BTreeMap<TopicPartition, String>, AssignmentError> {
    match strategy {
        AssignmentStrategy::Range => Ok(range(ctx)),
        AssignmentStrategy::RoundRobin => round_robin(ctx),
    }
}

/// Range: per topic, thread `i` of the sorted thread list takes
/// `P[q*i + min(i, r) .. + q + (i < r)]`.
pub fn range(ctx: &AssignmentContext) -> BTreeMap<TopicPartition, String> {
    let mut out = BTreeMap::new();
    for (topic, threads) in &ctx.consumers_for_topic {
        let parts = ctx.partitions_for_topic.get(topic).map(Vec::as_slice).unwrap_or(&[]);
        if threads.is_empty() {
            continue;
        }
        let (q, r) = (parts.len() / threads.len(), parts.len() % threads.len());
        for (i, thread) in threads.iter().enumerate() {
            let start = q * i + i.min(r);
            let count = q + usize::from(i < r);
            for p in &parts[start..start + count] {
                out.insert(TopicPartition::new(topic.clone(), *p), thread.clone());
            }
        }
    }
    out
}

/// Round-robin (KAFKA-687): every topic must have the same set of threads; all
/// partitions sorted by the hash of `"[topic,partition]"` (stable, ties in topic then
/// partition order) are dealt to the sorted threads in turn.
pub fn round_robin(ctx: &AssignmentContext) -> Result<BTreeMap<TopicPartition, String>, AssignmentError> {
    let mut out = BTreeMap::new();
    let Some((head_topic, head)) = ctx.consumers_for_topic.iter().next() else {
        return Ok(out);
    };
    let head_set: BTreeSet<&String> = head.iter().collect();
    for (topic, threads) in &ctx.consumers_for_topic {
        let set: BTreeSet<&String> = threads.iter().collect();
        if set != head_set {
            return Err(AssignmentError(format!(
                "Round-robin assignment is allowed only if all consumers in the group subscribe to the same topics, \
                 AND if the stream counts across topics are identical for a given consumer instance.\n\
                 Topic {} has the following available consumer streams: {:?}\n\
                 Topic {} has the following available consumer streams: {:?}\n",
                topic, set, head_topic, head_set
            )));
        }
    }
    let threads: Vec<&String> = head_set.into_iter().collect();
    if threads.is_empty() {
        return Ok(out);
    }
    let mut all: Vec<TopicPartition> = ctx
        .partitions_for_topic
        .iter()
        .flat_map(|(t, ps)| ps.iter().map(move |p| TopicPartition::new(t.clone(), *p)))
        .collect();
    all.sort_by_key(|tp| java_string_hash(&tp.to_string()));
    for (i, tp) in all.into_iter().enumerate() {
        out.insert(tp, threads[i % threads.len()].clone());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: &str, topics: &[(&str, usize)]) -> BTreeMap<String, Vec<String>> {
        topics.iter().map(|(t, n)| (t.to_string(), (0..*n).map(|i| format!("{}-{}", id, i)).collect())).collect()
    }

    fn parts(topics: &[(&str, i32)]) -> BTreeMap<String, Vec<i32>> {
        topics.iter().map(|(t, n)| (t.to_string(), (0..*n).collect())).collect()
    }

    fn owned_by(a: &BTreeMap<TopicPartition, String>, thread: &str) -> Vec<i32> {
        a.iter().filter(|(_, t)| *t == thread).map(|(tp, _)| tp.partition).collect()
    }

    #[test]
    fn java_string_hash_matches_the_jvm() {
        assert_eq!(java_string_hash(""), 0);
        assert_eq!(java_string_hash("hello"), 99162322);
        assert_eq!(java_string_hash("Aa"), java_string_hash("BB"));
        assert_eq!(java_string_hash("Aa"), 2112);
        // Overflow wraps as Java's int does.
        assert_eq!(java_string_hash("polygenelubricants"), i32::MIN);
        assert_eq!(TopicPartition::new("t", 3).to_string(), "[t,3]");
    }

    #[test]
    fn range_matches_the_082_doc_example() {
        // Two consumers with two streams each, five partitions:
        // p0 -> C1-0, p1 -> C1-0, p2 -> C1-1, p3 -> C2-0, p4 -> C2-1.
        let ctx = AssignmentContext::new([member("C1", &[("t", 2)]), member("C2", &[("t", 2)])], parts(&[("t", 5)]));
        let a = range(&ctx);
        assert_eq!(owned_by(&a, "C1-0"), vec![0, 1]);
        assert_eq!(owned_by(&a, "C1-1"), vec![2]);
        assert_eq!(owned_by(&a, "C2-0"), vec![3]);
        assert_eq!(owned_by(&a, "C2-1"), vec![4]);
    }

    #[test]
    fn range_sorts_thread_ids_as_strings_and_idles_extra_threads() {
        // 11 threads of one consumer: "c-10" sorts between "c-1" and "c-2".
        let ctx = AssignmentContext::new([member("c", &[("t", 11)])], parts(&[("t", 3)]));
        let a = range(&ctx);
        assert_eq!(owned_by(&a, "c-0"), vec![0]);
        assert_eq!(owned_by(&a, "c-1"), vec![1]);
        assert_eq!(owned_by(&a, "c-10"), vec![2]);
        assert!(owned_by(&a, "c-2").is_empty());
        assert_eq!(a.len(), 3);
    }

    #[test]
    fn range_splits_twelve_partitions_over_four_and_five_consumers() {
        let members: Vec<_> = (1..=4).map(|i| member(&format!("g_c{}", i), &[("t", 1)])).collect();
        let a = range(&AssignmentContext::new(members, parts(&[("t", 12)])));
        for i in 1..=4 {
            let start = (i - 1) * 3;
            assert_eq!(owned_by(&a, &format!("g_c{}-0", i)), (start..start + 3).collect::<Vec<_>>());
        }
        let members: Vec<_> = (1..=5).map(|i| member(&format!("g_c{}", i), &[("t", 1)])).collect();
        let a = range(&AssignmentContext::new(members, parts(&[("t", 12)])));
        let counts: Vec<usize> = (1..=5).map(|i| owned_by(&a, &format!("g_c{}-0", i)).len()).collect();
        assert_eq!(counts, vec![3, 3, 2, 2, 2]);
    }

    #[test]
    fn range_is_per_topic_and_skews_to_the_lowest_threads() {
        let ctx = AssignmentContext::new(
            [member("a", &[("x", 1), ("y", 1)]), member("b", &[("x", 1)])],
            parts(&[("x", 3), ("y", 3), ("unsubscribed", 4)]),
        );
        let a = range(&ctx);
        assert_eq!(owned_by(&a, "a-0"), vec![0, 1, 0, 1, 2]); // x0, x1, y0, y1, y2
        assert_eq!(owned_by(&a, "b-0"), vec![2]);
        assert!(!ctx.partitions_for_topic.contains_key("unsubscribed"));
    }

    #[test]
    fn round_robin_deals_partitions_in_hash_order() {
        let ctx = AssignmentContext::new(
            [member("a", &[("t", 1), ("u", 1)]), member("b", &[("t", 1), ("u", 1)])],
            parts(&[("t", 3), ("u", 2)]),
        );
        let a = round_robin(&ctx).unwrap();
        let mut order: Vec<TopicPartition> = a.keys().cloned().collect();
        order.sort_by_key(|tp| java_string_hash(&tp.to_string()));
        for (i, tp) in order.iter().enumerate() {
            assert_eq!(a[tp], if i % 2 == 0 { "a-0" } else { "b-0" }, "{} at {}", tp, i);
        }
        assert_eq!(a.len(), 5);
        // Hash order for one topic is partition order for single digits: "[t,0]" < "[t,1]" < ...
        assert!(java_string_hash("[t,0]") < java_string_hash("[t,1]"));
    }

    #[test]
    fn round_robin_gives_twelve_partitions_three_each_over_four_consumers() {
        let members: Vec<_> = (1..=4).map(|i| member(&format!("g_c{}", i), &[("t", 1)])).collect();
        let a = round_robin(&AssignmentContext::new(members, parts(&[("t", 12)]))).unwrap();
        for i in 1..=4 {
            assert_eq!(owned_by(&a, &format!("g_c{}-0", i)).len(), 3);
        }
    }

    #[test]
    fn round_robin_requires_identical_subscriptions() {
        let ctx = AssignmentContext::new(
            [member("a", &[("t", 1), ("u", 1)]), member("b", &[("t", 1)])],
            parts(&[("t", 2), ("u", 2)]),
        );
        let e = round_robin(&ctx).unwrap_err();
        assert!(e.0.starts_with("Round-robin assignment is allowed only if"), "{}", e);
        let ctx = AssignmentContext::new([member("a", &[("t", 2), ("u", 1)])], parts(&[("t", 2), ("u", 2)]));
        assert!(round_robin(&ctx).is_err(), "different stream counts per topic");
        assert!(round_robin(&AssignmentContext::default()).unwrap().is_empty());
    }

    #[test]
    fn missing_topics_assign_nothing() {
        let ctx = AssignmentContext::new([member("a", &[("gone", 2)])], BTreeMap::new());
        assert!(range(&ctx).is_empty());
        assert!(round_robin(&ctx).unwrap().is_empty());
    }
}
