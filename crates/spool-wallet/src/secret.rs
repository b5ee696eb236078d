//! The wallet master secret (pyspool's password): zeroized on drop, never printed.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

/// A wallet's master secret. Its UTF-8 bytes (or any bytes) seed the BIP32 tree.
///
/// The bytes are wiped from memory when the value is dropped; `Debug` and `Display` print
/// `<redacted>`.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct MasterSecret(Vec<u8>);

impl MasterSecret {
    /// Wraps secret bytes (e.g. a password `String`, moved in so no copy stays behind).
    pub fn new(secret: impl Into<Vec<u8>>) -> MasterSecret {
        MasterSecret(secret.into())
    }

    /// The secret bytes, for seeding; do not log them.
    pub fn expose_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for MasterSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterSecret(<redacted>)")
    }
}

impl fmt::Display for MasterSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_are_redacted() {
        let s = MasterSecret::new("hunter2-very-secret");
        assert_eq!(format!("{s:?}"), "MasterSecret(<redacted>)");
        assert_eq!(format!("{s}"), "<redacted>");
        assert!(!format!("{s:?}{s}{s:#?}").contains("hunter2"));
    }

    #[test]
    fn zeroize_wipes_bytes() {
        let mut s = MasterSecret::new(b"abc".to_vec());
        s.zeroize();
        assert!(
            s.expose_bytes().is_empty(),
            "zeroize clears the buffer after wiping it"
        );
    }
}
