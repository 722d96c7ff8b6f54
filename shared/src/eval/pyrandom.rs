//! CPython's `random.Random` (MT19937), seeded as Python seeds it from an int or a string, and
//! its `random()`: upstream evaluators draw their coin flips from it, so the same flips are
//! drawn here. WildBench: `random.seed(42)` then `random() < 0.5` per task (which model is A).
//! AlpacaEval: `random.Random("is_switched_outputs" + instruction + "0").choices([False, True])`
//! (whether the outputs are swapped before the judge sees them).

use sha2::{Digest, Sha512};

const N: usize = 624;

pub struct PyRandom {
    mt: [u32; N],
    idx: usize,
}

impl PyRandom {
    /// `random.seed(n)` for a non-negative int that fits 32 bits.
    pub fn new(seed: u32) -> Self {
        Self::from_key(&[seed])
    }

    /// `random.seed(s)` for a str (version 2): the int of `s` UTF-8 bytes followed by their
    /// SHA-512, big-endian.
    pub fn from_str_seed(s: &str) -> Self {
        let mut bytes = s.as_bytes().to_vec();
        bytes.extend_from_slice(&Sha512::digest(s.as_bytes()));
        // The int's 32-bit words, least significant first, as many as its bit length needs.
        let mut le: Vec<u8> = bytes.into_iter().rev().collect();
        while le.len() > 1 && le.last() == Some(&0) {
            le.pop();
        }
        while le.len() & 3 != 0 {
            le.push(0);
        }
        let key: Vec<u32> = le.chunks(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        Self::from_key(&key)
    }

    /// MT19937's `init_by_array`.
    fn from_key(key: &[u32]) -> Self {
        let mut mt = [0u32; N];
        mt[0] = 19650218;
        for i in 1..N {
            mt[i] = 1812433253u32.wrapping_mul(mt[i - 1] ^ (mt[i - 1] >> 30)).wrapping_add(i as u32);
        }
        let (mut i, mut j) = (1usize, 0usize);
        for _ in 0..N.max(key.len()) {
            mt[i] = (mt[i] ^ (mt[i - 1] ^ (mt[i - 1] >> 30)).wrapping_mul(1664525)).wrapping_add(key[j]).wrapping_add(j as u32);
            i += 1;
            j += 1;
            if i >= N {
                mt[0] = mt[N - 1];
                i = 1;
            }
            if j >= key.len() {
                j = 0;
            }
        }
        for _ in 0..N - 1 {
            mt[i] = (mt[i] ^ (mt[i - 1] ^ (mt[i - 1] >> 30)).wrapping_mul(1566083941)).wrapping_sub(i as u32);
            i += 1;
            if i >= N {
                mt[0] = mt[N - 1];
                i = 1;
            }
        }
        mt[0] = 0x8000_0000;
        PyRandom { mt, idx: N }
    }

    fn next_u32(&mut self) -> u32 {
        if self.idx >= N {
            for i in 0..N {
                let y = (self.mt[i] & 0x8000_0000) | (self.mt[(i + 1) % N] & 0x7fff_ffff);
                self.mt[i] = self.mt[(i + 397) % N] ^ (y >> 1) ^ if y & 1 == 1 { 0x9908_b0df } else { 0 };
            }
            self.idx = 0;
        }
        let mut y = self.mt[self.idx];
        self.idx += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// A float in [0, 1) with 53 random bits, as `random.random()`.
    pub fn random(&mut self) -> f64 {
        let (a, b) = ((self.next_u32() >> 5) as f64, (self.next_u32() >> 6) as f64);
        (a * 67108864.0 + b) / 9007199254740992.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_cpython() {
        // CPython 3.11: random.seed(42); random.random() x3
        let mut r = PyRandom::new(42);
        assert_eq!([r.random(), r.random(), r.random()], [0.6394267984578837, 0.025010755222666936, 0.27502931836911926]);
        // random.Random(s).random() for str seeds (short, empty, and longer than 624 words' worth is not needed).
        let cases = [
            ("is_switched_outputsWhat are the names of some famous actors that started their careers on Broadway?0", 0.7568804589113483),
            ("is_switched_outputsabc0", 0.6650781308632606),
            ("", 0.9602256525641875),
        ];
        for (s, want) in cases {
            assert_eq!(PyRandom::from_str_seed(s).random(), want, "{s:?}");
        }
        assert_eq!(PyRandom::from_str_seed(&"x".repeat(300)).random(), 0.22742392778346976);
    }
}
