//! The full scan's prefilter: a block whose raw bytes hold no `ASCRIBESPOOL`, no watched
//! script and no unspent watched outpoint has nothing for the index, and is not
//! deserialized (one Aho-Corasick pass over its bytes).

use aho_corasick::AhoCorasick;
use bitcoin::consensus::encode;
use bitcoin::{OutPoint, ScriptBuf};

/// The bytes every SPOOL payload starts with.
pub(crate) const MARKER: &[u8] = b"ASCRIBESPOOL";

/// What a block's bytes are searched for.
pub(crate) struct Prefilter {
    patterns: Vec<Vec<u8>>,
    automaton: Option<AhoCorasick>,
}

impl Prefilter {
    /// Searches for [`MARKER`], `scripts` and the serialized `outpoints`.
    pub(crate) fn new<'a>(
        scripts: impl Iterator<Item = &'a ScriptBuf>,
        outpoints: &[OutPoint],
    ) -> Prefilter {
        let mut patterns = vec![MARKER.to_vec()];
        patterns.extend(
            scripts
                .filter(|s| !s.is_empty())
                .map(|s| s.as_bytes().to_vec()),
        );
        patterns.extend(outpoints.iter().map(encode::serialize));
        let mut prefilter = Prefilter {
            patterns,
            automaton: None,
        };
        prefilter.build();
        prefilter
    }

    fn build(&mut self) {
        // A set the automaton cannot take: no prefilter (every block is read).
        self.automaton = AhoCorasick::new(&self.patterns).ok();
    }

    /// Adds outpoints (outputs of watched scripts found while reading a batch).
    pub(crate) fn add_outpoints(&mut self, outpoints: impl Iterator<Item = OutPoint>) {
        let before = self.patterns.len();
        self.patterns
            .extend(outpoints.map(|o| encode::serialize(&o)));
        if self.patterns.len() > before {
            self.build();
        }
    }

    /// Whether `raw` may hold something for the index (`true` when unsure).
    pub(crate) fn hits(&self, raw: &[u8]) -> bool {
        self.automaton.as_ref().is_none_or(|a| a.is_match(raw))
    }
}

/// Whether `raw` holds a SPOOL marker.
pub(crate) fn has_marker(raw: &[u8]) -> bool {
    raw.windows(MARKER.len()).any(|w| w == MARKER)
}
