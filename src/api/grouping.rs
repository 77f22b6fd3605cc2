//! Duplicate collapsing and per-topic grouping, the way 0.8.2 builds its maps.
//!
//! 0.8.2 parses each request's `(topic, partition)` entries into a `Map` (`Map(pairs: _*)`),
//! so a repeated pair keeps only its **last** value, and builds responses by grouping a map
//! by topic. Responses therefore carry one entry per distinct requested partition (as
//! 0.8.2). Orders here are deterministic (first appearance), which clients accept since
//! 0.8.2's own order is arbitrary.

use std::collections::HashMap;
use std::sync::Arc;

/// Flatten topics → partitions into `(topic, entry)` pairs with duplicates collapsed: a
/// later entry for the same `(topic, partition)` replaces the earlier one, which keeps
/// its position.
pub fn unique_partitions<'a, T: 'a>(
    topics: impl IntoIterator<Item = (&'a str, &'a [T])>,
    partition_of: impl Fn(&T) -> i32,
) -> Vec<(&'a str, &'a T)> {
    let mut index: HashMap<(&'a str, i32), usize> = HashMap::new();
    let mut out: Vec<(&'a str, &'a T)> = Vec::new();
    for (topic, entries) in topics {
        for entry in entries {
            let key = (topic, partition_of(entry));
            match index.get(&key) {
                Some(&i) => out[i] = (topic, entry),
                None => {
                    index.insert(key, out.len());
                    out.push((topic, entry));
                }
            }
        }
    }
    out
}

/// Group `(topic, entry)` pairs by topic (topics in first-appearance order, entries in
/// arrival order), collapsing a repeated `(topic, partition)` so that the later entry wins
/// in the earlier one's position. Topic names arrive borrowed or shared (`&str`,
/// `Arc<str>`, `String`); the response gets one `String` per topic, never one per entry,
/// so a request naming many partitions of a long topic costs its name once.
pub fn group_by_topic<S: AsRef<str>, T>(
    entries: impl IntoIterator<Item = (S, T)>,
    partition_of: impl Fn(&T) -> i32,
) -> Vec<(String, Vec<T>)> {
    let mut topic_index: HashMap<String, usize> = HashMap::new();
    let mut partition_index: HashMap<(usize, i32), usize> = HashMap::new();
    let mut out: Vec<(String, Vec<T>)> = Vec::new();
    // Entries of one topic usually come together: look the name up only when it changes.
    let mut last: Option<usize> = None;
    for (topic, entry) in entries {
        let topic = topic.as_ref();
        let t = match last {
            Some(t) if out[t].0 == topic => t,
            _ => match topic_index.get(topic) {
                Some(&t) => t,
                None => {
                    topic_index.insert(topic.to_string(), out.len());
                    out.push((topic.to_string(), Vec::new()));
                    out.len() - 1
                }
            },
        };
        last = Some(t);
        let p = partition_of(&entry);
        let partitions = &mut out[t].1;
        match partition_index.get(&(t, p)) {
            Some(&i) => partitions[i] = entry,
            None => {
                partition_index.insert((t, p), partitions.len());
                partitions.push(entry);
            }
        }
    }
    out
}

/// One shared copy of each topic name a handler keeps past the request it came in (a
/// deferred answer): entries hold an `Arc<str>` each, not a copy of the name each.
#[derive(Default)]
pub struct SharedNames {
    names: HashMap<Box<str>, Arc<str>>,
    last: Option<Arc<str>>,
}

impl SharedNames {
    pub fn get(&mut self, topic: &str) -> Arc<str> {
        if let Some(last) = &self.last {
            if &**last == topic {
                return last.clone();
            }
        }
        let shared = self.names.entry(topic.into()).or_insert_with(|| Arc::from(topic)).clone();
        self.last = Some(shared.clone());
        shared
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_duplicate_wins_in_first_position() {
        let a = [(0, 'a'), (1, 'b'), (0, 'c')];
        let b = [(0, 'd')];
        let got = unique_partitions([("x", &a[..]), ("y", &b[..]), ("x", &b[..])], |e| e.0);
        let got: Vec<_> = got.into_iter().map(|(t, e)| (t, e.1)).collect();
        assert_eq!(got, vec![("x", 'd'), ("x", 'b'), ("y", 'd')]);
    }

    #[test]
    fn groups_by_topic_and_collapses() {
        let got = group_by_topic(
            vec![("x".to_string(), (0, 'a')), ("y".into(), (0, 'b')), ("x".into(), (1, 'c')), ("x".into(), (0, 'd'))],
            |e| e.0,
        );
        assert_eq!(got, vec![("x".to_string(), vec![(0, 'd'), (1, 'c')]), ("y".to_string(), vec![(0, 'b')])]);
    }
}
