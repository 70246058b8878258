//! `Harp\Chain`: the chain's link function, for PHP code that checks or
//! builds entries itself.

// Parameter names are PHP's, for named arguments: hence camelCase.
#![allow(non_snake_case)]

use ext_php_rs::binary::Binary;
use ext_php_rs::binary_slice::BinarySlice;
use ext_php_rs::prelude::*;

use super::exceptions::guard;

/// The hash chain's link function.
#[php_class]
#[php(flags = ext_php_rs::flags::ClassFlags::Final)]
#[php(name = "Harp\\Chain")]
#[derive(Default)]
pub struct Chain;

#[php_impl]
impl Chain {
    /// SHA3-256 of `$metaBytes` followed by `$prevHash`: the 32 raw bytes
    /// that link an entry to the one before it. `$prevHash` must be 32 raw
    /// bytes (an author's first entry uses 32 zero bytes); anything else
    /// throws `ConfigException`.
    pub fn link(prevHash: BinarySlice<u8>, metaBytes: BinarySlice<u8>) -> PhpResult<Binary<u8>> {
        guard(|| {
            let h = crate::chain::link_checked(&prevHash, &metaBytes)?;
            Ok(h.iter().copied().collect())
        })
    }
}
