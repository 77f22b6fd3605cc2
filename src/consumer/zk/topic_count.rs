//! What a group member subscribes to (0.8.2 `TopicFilter.scala`, `TopicCount.scala`): a
//! static topic → stream-count map, or a whitelist/blacklist regex with one stream count for
//! every matching topic; and the `/consumers/<g>/ids/<id>` document that carries it
//! (docs/zookeeper-layout.md).

use super::error::ConsumerError;
use crate::common::OFFSETS_TOPIC;
use crate::zk::json::ConsumerRegistration;
use regex::Regex;
use std::collections::BTreeMap;

/// Upper bound on the streams of one subscription: each is a queue and a consumer thread;
/// more than this is a typo, not a deployment.
pub const MAX_STREAMS: usize = 1024;

/// A topic filter for wildcard subscriptions. The regex is normalised as 0.8.2 does
/// (trimmed, commas become `|`, spaces dropped, surrounding quotes stripped) and matched
/// against the whole topic name (Java's `String.matches`).
#[derive(Debug, Clone)]
pub enum TopicFilter {
    Whitelist(FilterRegex),
    Blacklist(FilterRegex),
}

#[derive(Debug, Clone)]
pub struct FilterRegex {
    source: String,
    full: Regex,
}

impl PartialEq for FilterRegex {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for FilterRegex {}

impl PartialEq for TopicFilter {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (TopicFilter::Whitelist(a), TopicFilter::Whitelist(b)) => a == b,
            (TopicFilter::Blacklist(a), TopicFilter::Blacklist(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for TopicFilter {}

/// 0.8.2: `rawRegex.trim.replace(',', '|').replace(" ", "")` then strip leading and
/// trailing runs of `"` and `'` (property files may bring quotes).
pub fn normalise_regex(raw: &str) -> String {
    let s = raw.trim().replace(',', "|").replace(' ', "");
    s.trim_start_matches(['"', '\'']).trim_end_matches(['"', '\'']).to_string()
}

impl FilterRegex {
    fn new(raw: &str) -> Result<FilterRegex, ConsumerError> {
        let source = normalise_regex(raw);
        let full = Regex::new(&format!("^(?:{})$", source))
            .map_err(|_| ConsumerError::Subscription(format!("{} is an invalid regex.", source)))?;
        Ok(FilterRegex { source, full })
    }
}

impl TopicFilter {
    pub fn whitelist(raw: &str) -> Result<TopicFilter, ConsumerError> {
        Ok(TopicFilter::Whitelist(FilterRegex::new(raw)?))
    }

    pub fn blacklist(raw: &str) -> Result<TopicFilter, ConsumerError> {
        Ok(TopicFilter::Blacklist(FilterRegex::new(raw)?))
    }

    /// The normalised regex (what goes into the registration's subscription).
    pub fn regex(&self) -> &str {
        match self {
            TopicFilter::Whitelist(r) | TopicFilter::Blacklist(r) => &r.source,
        }
    }

    /// The registration's `pattern` value.
    pub fn pattern(&self) -> &'static str {
        match self {
            TopicFilter::Whitelist(_) => "white_list",
            TopicFilter::Blacklist(_) => "black_list",
        }
    }

    /// 0.8.2 `isTopicAllowed`: (not) a full match, and never the internal offsets topic
    /// while `exclude.internal.topics` is on.
    pub fn is_topic_allowed(&self, topic: &str, exclude_internal_topics: bool) -> bool {
        if exclude_internal_topics && topic == OFFSETS_TOPIC {
            return false;
        }
        match self {
            TopicFilter::Whitelist(r) => r.full.is_match(topic),
            TopicFilter::Blacklist(r) => !r.full.is_match(topic),
        }
    }
}

/// A member's subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicCount {
    /// topic → number of streams.
    Static(BTreeMap<String, usize>),
    /// every topic the filter allows, each with `streams` streams.
    Wildcard { filter: TopicFilter, streams: usize },
}

/// Thread id `n` of a consumer: `<consumerId>-<n>` (docs/zookeeper-layout.md).
pub fn thread_id(consumer_id: &str, n: usize) -> String {
    format!("{}-{}", consumer_id, n)
}

impl TopicCount {
    /// Does this subscription need the list of all topics (`/brokers/topics`)?
    pub fn is_wildcard(&self) -> bool {
        matches!(self, TopicCount::Wildcard { .. })
    }

    /// The registration document, `{"version":1,"subscription":{..},"pattern":..,"timestamp":".."}`.
    pub fn registration(&self, timestamp_ms: i64) -> ConsumerRegistration {
        let (subscription, pattern) = match self {
            TopicCount::Static(m) => (m.iter().map(|(t, n)| (t.clone(), *n as i32)).collect(), "static"),
            TopicCount::Wildcard { filter, streams } => {
                (BTreeMap::from([(filter.regex().to_string(), *streams as i32)]), filter.pattern())
            }
        };
        ConsumerRegistration {
            version: 1,
            subscription,
            pattern: pattern.to_string(),
            timestamp: timestamp_ms.to_string(),
        }
    }

    /// Read another member's subscription (0.8.2 `TopicCount.constructTopicCount`): a
    /// `white_list`/`black_list` pattern with one entry is a wildcard; anything else is
    /// static. Negative or absurd stream counts count as zero streams.
    pub fn from_registration(reg: &ConsumerRegistration) -> Result<TopicCount, ConsumerError> {
        let clamp = |n: i32| (n.max(0) as usize).min(MAX_STREAMS);
        match reg.pattern.as_str() {
            "white_list" | "black_list" if reg.subscription.len() == 1 => {
                let (regex, n) = reg.subscription.iter().next().expect("one entry");
                let filter = if reg.pattern == "white_list" {
                    TopicFilter::whitelist(regex)?
                } else {
                    TopicFilter::blacklist(regex)?
                };
                Ok(TopicCount::Wildcard { filter, streams: clamp(*n) })
            }
            _ => Ok(TopicCount::Static(reg.subscription.iter().map(|(t, n)| (t.clone(), clamp(*n))).collect())),
        }
    }

    /// topic → this member's thread ids for it (0.8.2 `getConsumerThreadIdsPerTopic`).
    /// `all_topics` (children of `/brokers/topics`) is only read for wildcards.
    pub fn thread_ids_per_topic(
        &self,
        consumer_id: &str,
        all_topics: &[String],
        exclude_internal_topics: bool,
    ) -> BTreeMap<String, Vec<String>> {
        let ids = |n: usize| (0..n).map(|i| thread_id(consumer_id, i)).collect::<Vec<_>>();
        match self {
            TopicCount::Static(m) => m.iter().filter(|(_, n)| **n > 0).map(|(t, n)| (t.clone(), ids(*n))).collect(),
            TopicCount::Wildcard { filter, streams } => {
                if *streams == 0 {
                    return BTreeMap::new();
                }
                all_topics
                    .iter()
                    .filter(|t| filter.is_topic_allowed(t, exclude_internal_topics))
                    .map(|t| (t.clone(), ids(*streams)))
                    .collect()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regexes_are_normalised_as_082() {
        assert_eq!(normalise_regex(" a, b ,c "), "a|b|c");
        assert_eq!(normalise_regex("\"foo.*\""), "foo.*");
        assert_eq!(normalise_regex("'\"x\"'"), "x");
        assert!(TopicFilter::whitelist("a[").unwrap_err().to_string().contains("invalid regex"));
    }

    #[test]
    fn whitelist_and_blacklist_match_whole_names_and_skip_the_internal_topic() {
        let w = TopicFilter::whitelist("foo.*,bar").unwrap();
        assert!(w.is_topic_allowed("foo1", true));
        assert!(w.is_topic_allowed("bar", true));
        assert!(!w.is_topic_allowed("xbar", true), "a whitelist is a full match");
        assert!(!w.is_topic_allowed("barx", true));
        let all = TopicFilter::whitelist(".*").unwrap();
        assert!(!all.is_topic_allowed("__consumer_offsets", true));
        assert!(all.is_topic_allowed("__consumer_offsets", false));
        let b = TopicFilter::blacklist("foo.*").unwrap();
        assert!(!b.is_topic_allowed("foo1", true));
        assert!(b.is_topic_allowed("xfoo", true));
        assert!(!b.is_topic_allowed("__consumer_offsets", true));
        assert!(b.is_topic_allowed("__consumer_offsets", false));
    }

    #[test]
    fn registrations_round_trip_in_the_java_layout() {
        let s = TopicCount::Static(BTreeMap::from([("bar".to_string(), 1), ("foo".to_string(), 2)]));
        let bytes = s.registration(1428512949666).to_bytes();
        assert_eq!(
            String::from_utf8(bytes.clone()).unwrap(),
            r#"{"version":1,"subscription":{"bar":1,"foo":2},"pattern":"static","timestamp":"1428512949666"}"#
        );
        assert_eq!(TopicCount::from_registration(&ConsumerRegistration::parse(&bytes).unwrap()).unwrap(), s);

        let w = TopicCount::Wildcard { filter: TopicFilter::whitelist("foo.*, bar").unwrap(), streams: 3 };
        let bytes = w.registration(5).to_bytes();
        assert_eq!(
            String::from_utf8(bytes.clone()).unwrap(),
            r#"{"version":1,"subscription":{"foo.*|bar":3},"pattern":"white_list","timestamp":"5"}"#
        );
        assert_eq!(TopicCount::from_registration(&ConsumerRegistration::parse(&bytes).unwrap()).unwrap(), w);

        // A wildcard pattern with several entries is read as static, as 0.8.2 did.
        let odd = ConsumerRegistration::parse(br#"{"version":1,"subscription":{"a":1,"b":1},"pattern":"white_list"}"#)
            .unwrap();
        assert!(matches!(TopicCount::from_registration(&odd).unwrap(), TopicCount::Static(_)));
    }

    #[test]
    fn thread_ids_per_topic_for_static_and_wildcard() {
        let s = TopicCount::Static(BTreeMap::from([("t".to_string(), 2), ("z".to_string(), 0)]));
        let m = s.thread_ids_per_topic("g_c1", &[], true);
        assert_eq!(m.len(), 1);
        assert_eq!(m["t"], vec!["g_c1-0", "g_c1-1"]);
        let w = TopicCount::Wildcard { filter: TopicFilter::blacklist("skip").unwrap(), streams: 1 };
        let topics = ["a", "skip", "__consumer_offsets"].map(String::from);
        let m = w.thread_ids_per_topic("c", &topics, true);
        assert_eq!(m.keys().collect::<Vec<_>>(), vec!["a"]);
        assert_eq!(m["a"], vec!["c-0"]);
    }
}
