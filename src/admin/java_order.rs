//! The iteration order of a `java.util.Properties` (a `java.util.Hashtable`), which is the
//! order 0.8.2's tools print topic configurations in (`kafka-topics.sh --describe` prints
//! `Configs:k=v,...` by iterating the `Properties` read from `/config/topics/<t>`), and the
//! order `LogConfig.validateNames` meets keys in (so which unknown key is reported first).
//!
//! The Hashtable of Java 7u6+ and 8 with alternative hashing off (the default): capacity 11,
//! load factor 0.75, bucket `(String.hashCode & 0x7FFFFFFF) % capacity`, new entries at the
//! head of their chain, rehash to `2n+1` when `count >= threshold` before an insert (walking
//! old buckets from the last, which reverses chains), iteration from the last bucket to the
//! first and each chain from its head.

use crate::common::java_string_hash;

/// A `java.util.Hashtable<String, String>` kept only to reproduce its iteration order.
#[derive(Debug, Clone)]
pub struct JavaHashtable {
    /// Each chain head first.
    buckets: Vec<Vec<(String, String)>>,
    count: usize,
    threshold: usize,
}

impl Default for JavaHashtable {
    fn default() -> Self {
        JavaHashtable::new()
    }
}

fn bucket(key: &str, capacity: usize) -> usize {
    ((java_string_hash(key) & 0x7FFF_FFFF) as usize) % capacity
}

impl JavaHashtable {
    /// `new Properties()`: capacity 11, threshold `(int)(11 * 0.75)` = 8.
    pub fn new() -> JavaHashtable {
        JavaHashtable { buckets: vec![Vec::new(); 11], count: 0, threshold: 8 }
    }

    /// Insert in the given order.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> JavaHashtable {
        let mut t = JavaHashtable::new();
        for (k, v) in pairs {
            t.put(k, v);
        }
        t
    }

    pub fn put(&mut self, key: &str, value: &str) {
        let i = bucket(key, self.buckets.len());
        if let Some(e) = self.buckets[i].iter_mut().find(|(k, _)| k == key) {
            e.1 = value.to_string();
            return;
        }
        if self.count >= self.threshold {
            self.rehash();
        }
        let i = bucket(key, self.buckets.len());
        self.buckets[i].insert(0, (key.to_string(), value.to_string()));
        self.count += 1;
    }

    /// `putAll(other)`: `other`'s entries in `other`'s iteration order.
    pub fn put_all(&mut self, other: &JavaHashtable) {
        for (k, v) in other.iter() {
            self.put(k, v);
        }
    }

    pub fn remove(&mut self, key: &str) -> Option<String> {
        let i = bucket(key, self.buckets.len());
        let pos = self.buckets[i].iter().position(|(k, _)| k == key)?;
        self.count -= 1;
        Some(self.buckets[i].remove(pos).1)
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        let i = bucket(key, self.buckets.len());
        self.buckets[i].iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    fn rehash(&mut self) {
        let new_capacity = self.buckets.len() * 2 + 1;
        self.threshold = (new_capacity as f64 * 0.75) as usize;
        let old = std::mem::replace(&mut self.buckets, vec![Vec::new(); new_capacity]);
        for chain in old.into_iter().rev() {
            for (k, v) in chain {
                let i = bucket(&k, new_capacity);
                self.buckets[i].insert(0, (k, v));
            }
        }
    }

    /// Entries in Hashtable iteration order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.buckets.iter().rev().flat_map(|chain| chain.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iteration_runs_from_the_last_bucket_and_newest_first_in_a_chain() {
        // "a" (97 % 11 = 9), "b" (98 % 11 = 10), "l" (108 % 11 = 9).
        let t = JavaHashtable::from_pairs([("a", "1"), ("b", "2"), ("l", "3")]);
        let keys: Vec<&str> = t.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, vec!["b", "l", "a"]);
    }

    /// Orders printed by a real `java.util.Hashtable` (OpenJDK 17; Hashtable's algorithm is
    /// unchanged since Java 7, and `Properties` was a plain Hashtable until Java 9).
    #[test]
    fn orders_match_a_real_java_hashtable() {
        let keys = crate::log::TOPIC_CONFIG_NAMES;
        let order = |t: &JavaHashtable| t.iter().map(|(k, _)| k.to_string()).collect::<Vec<_>>().join(",");
        let expected = [
            (2, "segment.bytes,segment.ms"),
            (5, "segment.bytes,segment.jitter.ms,segment.index.bytes,segment.ms,flush.messages"),
            (9, "segment.index.bytes,segment.bytes,flush.ms,retention.bytes,segment.ms,max.message.bytes,flush.messages,retention.ms,segment.jitter.ms"),
            (16, "segment.index.bytes,file.delete.delay.ms,segment.bytes,flush.ms,delete.retention.ms,index.interval.bytes,retention.bytes,min.insync.replicas,cleanup.policy,unclean.leader.election.enable,segment.ms,max.message.bytes,flush.messages,min.cleanable.dirty.ratio,retention.ms,segment.jitter.ms"),
        ];
        for (n, want) in expected {
            assert_eq!(order(&JavaHashtable::from_pairs(keys[..n].iter().map(|k| (*k, "v")))), want, "{} keys", n);
        }
        let names: Vec<String> = (0..40).map(|i| format!("key{}", i)).collect();
        assert_eq!(
            order(&JavaHashtable::from_pairs(names.iter().map(|k| (k.as_str(), "v")))),
            "key31,key30,key9,key8,key7,key6,key5,key4,key3,key2,key1,key0,key29,key28,key27,key26,key25,key24,key23,key22,key21,key20,key19,key18,key17,key16,key15,key14,key13,key12,key11,key10,key39,key38,key37,key36,key35,key34,key33,key32"
        );
        assert_eq!(order(&JavaHashtable::from_pairs([("retention.ms", "1"), ("cleanup.policy", "c")])), "retention.ms,cleanup.policy");
    }

    #[test]
    fn growth_rehashes_to_2n_plus_1_and_keeps_every_entry() {
        let mut t = JavaHashtable::new();
        for i in 0..40 {
            t.put(&format!("key{}", i), &i.to_string());
        }
        assert_eq!(t.len(), 40);
        assert_eq!(t.buckets.len(), 95);
        for i in 0..40 {
            assert_eq!(t.get(&format!("key{}", i)), Some(i.to_string().as_str()));
        }
        assert_eq!(t.remove("key3").as_deref(), Some("3"));
        assert_eq!(t.get("key3"), None);
        assert_eq!(t.len(), 39);
    }
}
