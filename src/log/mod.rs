//! placeholder until the log module lands
use std::path::Path;

/// The entries of an `.index` file as (absolute offset, position) pairs.
pub fn read_index_entries(path: &Path, base_offset: i64) -> std::io::Result<Vec<(i64, u32)>> {
    let b = std::fs::read(path)?;
    Ok(b.chunks_exact(8)
        .map(|c| (base_offset + u32::from_be_bytes(c[..4].try_into().unwrap()) as i64, u32::from_be_bytes(c[4..].try_into().unwrap())))
        .collect())
}
