//! `Harp\Chain`: the chain's link function, for PHP code that checks or
//! builds entries itself.

use ext_php_rs::binary::Binary;
use ext_php_rs::binary_slice::BinarySlice;
use ext_php_rs::prelude::*;

use super::exceptions::guard;

/// The hash chain's link function.
#[php_class]
#[php(name = "Harp\\Chain")]
#[derive(Default)]
pub struct Chain;

#[php_impl]
impl Chain {
    /// SHA3-256 of `$metaBytes` followed by `$prevHash`: the 32 raw bytes
    /// that link an entry to the one before it. `$prevHash` must be 32 raw
    /// bytes (an author's first entry uses 32 zero bytes); anything else
    /// throws `ConfigException`.
    pub fn link(prev_hash: BinarySlice<u8>, meta_bytes: BinarySlice<u8>) -> PhpResult<Binary<u8>> {
        guard(|| {
            let h = crate::chain::link_checked(&prev_hash, &meta_bytes)?;
            Ok(h.to_vec().into_iter().collect())
        })
    }
}
