//! Default replica assignment, as 0.8.2 `AdminUtils.assignReplicasToBrokers`
//! (docs/zookeeper-layout.md, replica assignment at topic creation).

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssignmentError {
    BadPartitions(i32),
    BadReplicationFactor(i32),
    ReplicationFactorTooLarge { rf: i32, brokers: usize },
}

impl std::fmt::Display for AssignmentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AssignmentError::BadPartitions(_) => write!(f, "number of partitions must be larger than 0"),
            AssignmentError::BadReplicationFactor(_) => write!(f, "replication factor must be larger than 0"),
            AssignmentError::ReplicationFactorTooLarge { rf, brokers } => {
                write!(f, "replication factor: {} larger than available brokers: {}", rf, brokers)
            }
        }
    }
}

impl std::error::Error for AssignmentError {}

/// `brokers` are the live broker ids (sorted here). `fixed_start` (≥ 0) fixes both the
/// start index and the shift, as the 0.8.2 code does; otherwise `random(n)` supplies two
/// independent values in `[0, n)`.
pub fn assign_replicas_to_brokers(
    brokers: &[i32],
    n_partitions: i32,
    replication_factor: i32,
    fixed_start: i32,
    start_partition: i32,
    mut random: impl FnMut(usize) -> usize,
) -> Result<BTreeMap<i32, Vec<i32>>, AssignmentError> {
    if n_partitions <= 0 {
        return Err(AssignmentError::BadPartitions(n_partitions));
    }
    if replication_factor <= 0 {
        return Err(AssignmentError::BadReplicationFactor(replication_factor));
    }
    let mut brokers = brokers.to_vec();
    brokers.sort_unstable();
    brokers.dedup();
    let n = brokers.len();
    if replication_factor as usize > n {
        return Err(AssignmentError::ReplicationFactorTooLarge { rf: replication_factor, brokers: n });
    }
    let start_index = if fixed_start >= 0 { fixed_start as usize } else { random(n) };
    let mut shift = if fixed_start >= 0 { fixed_start as usize } else { random(n) };
    let mut p = if start_partition >= 0 { start_partition as usize } else { 0 };
    let mut out = BTreeMap::new();
    for _ in 0..n_partitions {
        if p > 0 && p % n == 0 {
            shift += 1;
        }
        let first = (p + start_index) % n;
        let mut replicas = vec![brokers[first]];
        for j in 0..(replication_factor as usize - 1) {
            replicas.push(brokers[(first + 1 + (shift + j) % (n - 1)) % n]);
        }
        out.insert(p as i32, replicas);
        p += 1;
    }
    Ok(out)
}

/// A small time-seeded generator for the random start index and shift (no `rand` crate).
pub fn time_seeded_random() -> impl FnMut(usize) -> usize {
    let mut state = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0x9E37_79B9)
        ^ ((std::process::id() as u64) << 32)
        | 1;
    move |n| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        if n == 0 {
            0
        } else {
            (state % n as u64) as usize
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_082_with_a_fixed_start() {
        // 5 brokers, 10 partitions, rf 3, fixed start 0: the table from 0.8.2's AdminTest.
        let a = assign_replicas_to_brokers(&[0, 1, 2, 3, 4], 10, 3, 0, -1, |_| unreachable!()).unwrap();
        let expected: Vec<Vec<i32>> = vec![
            vec![0, 1, 2],
            vec![1, 2, 3],
            vec![2, 3, 4],
            vec![3, 4, 0],
            vec![4, 0, 1],
            vec![0, 2, 3],
            vec![1, 3, 4],
            vec![2, 4, 0],
            vec![3, 0, 1],
            vec![4, 1, 2],
        ];
        assert_eq!(a.values().cloned().collect::<Vec<_>>(), expected);
    }

    #[test]
    fn rejects_bad_arguments() {
        assert!(assign_replicas_to_brokers(&[0, 1], 0, 1, -1, -1, |_| 0).is_err());
        assert!(assign_replicas_to_brokers(&[0, 1], 1, 0, -1, -1, |_| 0).is_err());
        assert_eq!(
            assign_replicas_to_brokers(&[0, 1], 1, 3, -1, -1, |_| 0).unwrap_err(),
            AssignmentError::ReplicationFactorTooLarge { rf: 3, brokers: 2 }
        );
    }

    #[test]
    fn random_assignments_are_valid() {
        let mut r = time_seeded_random();
        for _ in 0..100 {
            let a = assign_replicas_to_brokers(&[5, 1, 9], 7, 3, -1, -1, &mut r).unwrap();
            for reps in a.values() {
                let mut s = reps.clone();
                s.sort();
                assert_eq!(s, vec![1, 5, 9]);
            }
        }
    }

    #[test]
    fn adding_partitions_continues_numbering() {
        let a = assign_replicas_to_brokers(&[0, 1, 2], 2, 2, 0, 3, |_| 0).unwrap();
        assert_eq!(a.keys().cloned().collect::<Vec<_>>(), vec![3, 4]);
    }
}
