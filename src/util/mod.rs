//! Small helpers shared across the crate, with no knowledge of any part of it: a stable hash
//! (the same numbers on every platform and version) for seeds, jitter and salts, and the order
//! [`stats`] (median, percentile) that history and plans report.

pub mod stats;

/// splitmix64: a small, stable mixing function (the same numbers on every platform and
/// version, unlike the standard library's hashers).
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A stable hash of `parts`, mixed with `seed`.
pub fn hash(seed: u64, parts: &[&str]) -> u64 {
    // FNV-1a over the parts, separated so that ("ab", "c") differs from ("a", "bc").
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    for part in parts {
        for b in part.bytes().chain(std::iter::once(0xFF)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01B3);
        }
    }
    mix(h ^ mix(seed))
}

/// A number in [0, 1) from a hash.
#[allow(clippy::cast_precision_loss)]
pub fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}
