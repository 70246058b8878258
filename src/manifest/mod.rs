//! Content manifests: a file cut into content-defined chunks (FastCDC),
//! each known by its BLAKE3 hash. The entry's content hash is SHA3-256 of
//! the manifest's encoding.
//!
//! Chunk sizes: min 16 KiB, average 64 KiB, max 256 KiB (docs/FORMAT.md
//! says why). Encoding (little-endian):
//!
//! ```text
//! version=1 (u8) | file size (u64) | chunk count (u32)
//! | count x ( length (u32) | blake3 (32) )
//! ```
//!
//! Chunk offsets are implied by the lengths. Decoding is strict: lengths
//! must be 1..=MAX_CHUNK and add up to the size.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use fastcdc::v2020::FastCDC;
use sha3::{Digest, Sha3_256};

use crate::chain::Hash;
use crate::error::{HarpError, Result};

/// Smallest chunk (except a file's last).
pub const MIN_CHUNK: usize = 16 * 1024;
/// Target average chunk.
pub const AVG_CHUNK: usize = 64 * 1024;
/// Largest chunk.
pub const MAX_CHUNK: usize = 256 * 1024;
const VERSION: u8 = 1;
/// Bytes read per step; a multiple of MAX_CHUNK.
const BUF: usize = 8 * 1024 * 1024;
/// Buffers at least this large are hashed on two threads.
const PARALLEL_FROM: usize = 2 * 1024 * 1024;

/// One chunk of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk {
    /// Offset in the file.
    pub offset: u64,
    /// Length in bytes.
    pub len: u32,
    /// BLAKE3 of the bytes.
    pub hash: Hash,
}

/// A file's chunk list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Manifest {
    /// File size.
    pub size: u64,
    /// The chunks in file order.
    pub chunks: Vec<Chunk>,
}

impl Manifest {
    /// The canonical encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(13 + 36 * self.chunks.len());
        out.push(VERSION);
        out.extend_from_slice(&self.size.to_le_bytes());
        out.extend_from_slice(&(self.chunks.len() as u32).to_le_bytes());
        for c in &self.chunks {
            out.extend_from_slice(&c.len.to_le_bytes());
            out.extend_from_slice(&c.hash);
        }
        out
    }

    /// Strict decoding.
    pub fn decode(buf: &[u8]) -> Result<Self> {
        let bad = |why: &str| HarpError::Protocol(format!("manifest: {why}"));
        if buf.len() < 13 || buf[0] != VERSION {
            return Err(bad("bad header"));
        }
        let size = u64::from_le_bytes(buf[1..9].try_into().map_err(|_| bad("size"))?);
        let count = u32::from_le_bytes(buf[9..13].try_into().map_err(|_| bad("count"))?) as usize;
        if buf.len() != 13 + count.checked_mul(36).ok_or_else(|| bad("count"))? {
            return Err(bad("length does not match the chunk count"));
        }
        let mut chunks = Vec::with_capacity(count);
        let mut offset = 0u64;
        for rec in buf[13..].chunks_exact(36) {
            let len = u32::from_le_bytes([rec[0], rec[1], rec[2], rec[3]]);
            if len == 0 || len as usize > MAX_CHUNK {
                return Err(bad("chunk length out of range"));
            }
            let mut hash = [0u8; 32];
            hash.copy_from_slice(&rec[4..]);
            chunks.push(Chunk { offset, len, hash });
            offset = offset
                .checked_add(u64::from(len))
                .ok_or_else(|| bad("overflow"))?;
        }
        if offset != size {
            return Err(bad("chunk lengths do not add up to the size"));
        }
        Ok(Manifest { size, chunks })
    }

    /// SHA3-256 of the encoding: the content hash entries carry.
    pub fn content_hash(&self) -> Hash {
        Sha3_256::digest(self.encode()).into()
    }
}

fn hash_chunks(data: &[u8], base: u64, cuts: &[(usize, usize)], out: &mut Vec<Chunk>) {
    let one = |&(off, len): &(usize, usize)| Chunk {
        offset: base + off as u64,
        len: len as u32,
        hash: *blake3::hash(&data[off..off + len]).as_bytes(),
    };
    if data.len() < PARALLEL_FROM || cuts.len() < 2 {
        out.extend(cuts.iter().map(one));
        return;
    }
    // Two cores: each hashes half of the chunks.
    let (a, b) = cuts.split_at(cuts.len() / 2);
    let (ha, hb) = std::thread::scope(|s| {
        let t = s.spawn(|| b.iter().map(one).collect::<Vec<_>>());
        let ha: Vec<Chunk> = a.iter().map(one).collect();
        (ha, t.join())
    });
    out.extend(ha);
    match hb {
        Ok(hb) => out.extend(hb),
        // The helper thread only hashes; if it somehow died, do its half here.
        Err(_) => out.extend(b.iter().map(one)),
    }
}

/// Cuts `data` at content-defined points; (offset, len) pairs.
fn cut(data: &[u8]) -> Vec<(usize, usize)> {
    FastCDC::new(data, MIN_CHUNK, AVG_CHUNK, MAX_CHUNK)
        .map(|c| (c.offset, c.length))
        .collect()
}

/// The manifest of bytes in memory.
pub fn of_bytes(data: &[u8]) -> Manifest {
    let mut chunks = Vec::new();
    hash_chunks(data, 0, &cut(data), &mut chunks);
    Manifest {
        size: data.len() as u64,
        chunks,
    }
}

/// The manifest of a file, read in 8 MiB steps: memory stays bounded
/// whatever the file's size. For files outside a synced folder (tests,
/// benchmarks); inside one, open it with `fsutil::beneath` and use `of_open`.
pub fn of_file(path: &Path) -> Result<Manifest> {
    let io = |e: std::io::Error| HarpError::storage(format!("reading {}", path.display()), e);
    let f = File::open(path).map_err(io)?;
    let len = f.metadata().map_err(io)?.len();
    of_open(f, len, &path.display().to_string())
}

/// The manifest of the first `len` bytes of a file already open (the size
/// its caller saw), read in 8 MiB steps. A file that turns out shorter is
/// an error (it changed while it was read); bytes past `len` are not read,
/// so the manifest's size is always the size recorded with it.
pub fn of_open(f: File, len: u64, name: &str) -> Result<Manifest> {
    let io = |e: std::io::Error| HarpError::storage(format!("reading {name}"), e);
    let short = || {
        HarpError::Storage(format!(
            "reading {name}: it shrank while it was read (it will be read again)"
        ))
    };
    let mut f = f.take(len);
    if len < BUF as u64 {
        // Most files: read whole, no 8 MiB buffer to allocate and clear.
        let mut data = Vec::with_capacity(len as usize);
        f.read_to_end(&mut data).map_err(io)?;
        if data.len() as u64 != len {
            return Err(short());
        }
        return Ok(of_bytes(&data));
    }
    let mut buf = vec![0u8; BUF];
    let mut filled = 0usize; // bytes in buf
    let mut base = 0u64; // file offset of buf[0]
    let mut chunks = Vec::new();
    loop {
        // Fill the buffer, or reach the end of the file.
        let mut eof = false;
        while filled < BUF {
            let n = f.read(&mut buf[filled..]).map_err(io)?;
            if n == 0 {
                eof = true;
                break;
            }
            filled += n;
        }
        let mut cuts = cut(&buf[..filled]);
        if !eof {
            // The last chunk may have been cut short by the buffer's end:
            // carry it into the next round.
            cuts.pop();
        }
        hash_chunks(&buf[..filled], base, &cuts, &mut chunks);
        let used = cuts.last().map(|&(o, l)| o + l).unwrap_or(0);
        if eof {
            let size = base + filled as u64;
            if size != len {
                return Err(short());
            }
            return Ok(Manifest { size, chunks });
        }
        buf.copy_within(used..filled, 0);
        filled -= used;
        base += used as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize, seed: u64) -> Vec<u8> {
        // xorshift: incompressible, reproducible.
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    #[test]
    fn file_and_memory_manifests_agree_across_buffer_boundaries() {
        let d = data(BUF * 2 + 12345, 7);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, &d).unwrap();
        let m = of_file(&p).unwrap();
        assert_eq!(m, of_bytes(&d));
        assert_eq!(m.size, d.len() as u64);
        let total: u64 = m.chunks.iter().map(|c| u64::from(c.len)).sum();
        assert_eq!(total, m.size);
        for c in &m.chunks {
            let s = c.offset as usize;
            assert_eq!(*blake3::hash(&d[s..s + c.len as usize]).as_bytes(), c.hash);
            assert!(c.len as usize <= MAX_CHUNK);
        }
        assert_eq!(Manifest::decode(&m.encode()).unwrap(), m);
    }

    #[test]
    fn an_insertion_changes_only_nearby_chunks() {
        let d = data(4 * 1024 * 1024, 3);
        let mut e = d.clone();
        e.splice(2_000_000..2_000_000, data(1000, 9));
        let a = of_bytes(&d);
        let b = of_bytes(&e);
        let known: std::collections::HashSet<_> = a.chunks.iter().map(|c| c.hash).collect();
        let new = b.chunks.iter().filter(|c| !known.contains(&c.hash)).count();
        assert!(new <= 3, "{new} chunks changed for a 1000-byte insertion");
    }

    #[test]
    fn empty_file_and_malformed_manifests() {
        let m = of_bytes(&[]);
        assert_eq!(m.chunks.len(), 0);
        assert_eq!(Manifest::decode(&m.encode()).unwrap(), m);
        let good = of_bytes(&data(100_000, 1)).encode();
        for cut in 0..good.len() {
            assert!(Manifest::decode(&good[..cut]).is_err());
        }
        let mut wrong_size = good.clone();
        wrong_size[1] ^= 1;
        assert!(Manifest::decode(&wrong_size).is_err());
    }
}
