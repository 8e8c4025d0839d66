//! XXH3-64 of one `u64` (its 8 little-endian bytes) under a seed, computed from the integer in
//! registers: no byte buffer, so no store-to-load forwarding stall, and the seed's share of
//! the work done once ([`seed_flip`]). Equal to the xxhash crate's `xxh3_64_with_seed`, as the
//! tests check; the Bloom filters and the velocity store hash with it.

/// XXH3's 64-bit secret words 1 and 2 XORed: all of the secret an 8-byte input uses.
const SECRET_FLIP: u64 = u64::from_le_bytes([0x7c, 0x01, 0x81, 0x2c, 0xf7, 0x21, 0xad, 0x1c])
    ^ u64::from_le_bytes([0xde, 0xd4, 0x6d, 0xe9, 0x83, 0x90, 0x97, 0xdb]);

/// The key-independent part of XXH3-64 of an 8-byte input under `seed` (its "bitflip").
#[inline]
pub(crate) const fn seed_flip(seed: u64) -> u64 {
    let seed = seed ^ (((seed as u32).swap_bytes() as u64) << 32);
    SECRET_FLIP.wrapping_sub(seed)
}

/// `XXH3_64bits_withSeed(key.to_le_bytes(), seed)` given `flip = seed_flip(seed)`: XXH3's
/// 4-to-8-byte path for exactly 8 bytes.
#[inline(always)]
pub(crate) fn hash8(key: u64, flip: u64) -> u64 {
    // XXH3 reads the low and high halves and swaps them: a rotation by 32.
    let mut h = key.rotate_left(32) ^ flip;
    h ^= h.rotate_left(49) ^ h.rotate_left(24);
    h = h.wrapping_mul(0x9FB2_1C65_1E98_DF25);
    h ^= (h >> 35).wrapping_add(8);
    h = h.wrapping_mul(0x9FB2_1C65_1E98_DF25);
    h ^ (h >> 28)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use xxhash_rust::xxh3::xxh3_64_with_seed;

    fn crate_hash(key: u64, seed: u64) -> u64 {
        xxh3_64_with_seed(&key.to_le_bytes(), seed)
    }

    #[test]
    fn hash8_is_xxh3_at_the_edges() {
        let edges = [
            0,
            1,
            7,
            0x5eed,
            u64::MAX,
            1 << 32,
            0xFFFF_FFFF,
            77_011_234_567,
        ];
        for &seed in &edges {
            for &key in &edges {
                assert_eq!(
                    hash8(key, seed_flip(seed)),
                    crate_hash(key, seed),
                    "{key} {seed}"
                );
            }
        }
        // Published-by-the-crate values, so a change on both sides is caught too.
        assert_eq!(hash8(0, seed_flip(0)), 0xc77b_3abb_6f87_acd9);
        assert_eq!(hash8(u64::MAX, seed_flip(u64::MAX)), 0xda8f_77a4_d5c3_99ea);
    }

    proptest! {
        #[test]
        fn hash8_is_xxh3_of_the_key_bytes(key in any::<u64>(), seed in any::<u64>()) {
            prop_assert_eq!(hash8(key, seed_flip(seed)), crate_hash(key, seed));
        }
    }
}
