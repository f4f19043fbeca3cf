//! Temporary stand-in for `ovs::key::KeyAttr` until the key codec lands: a raw key attribute.

use crate::nl::attr::nla_size;
use crate::nl::{Nla, NlaWriter};
use crate::Result;

/// A key attribute kept as type + payload.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyAttr {
    /// `OVS_KEY_ATTR_*`.
    pub kind: u16,
    /// Raw payload.
    pub payload: Vec<u8>,
}

impl KeyAttr {
    /// Decodes from an attribute.
    pub fn parse(nla: &Nla<'_>) -> Result<Self> {
        Ok(KeyAttr {
            kind: nla.kind,
            payload: nla.payload.to_vec(),
        })
    }
    /// Encoded size.
    pub fn buffer_len(&self) -> usize {
        nla_size(self.payload.len())
    }
    /// Appends the attribute.
    pub fn emit(&self, w: &mut NlaWriter<'_>) {
        w.put(self.kind, &self.payload);
    }
}
