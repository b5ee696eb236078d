//! The proofs' arithmetic: decoding, the coinbase's merkle branch, the tree's depth.

use bitcoin::block::Header;
use bitcoin::consensus::encode;
use bitcoin::hashes::{sha256d, Hash};
use bitcoin::{MerkleBlock, Transaction, TxMerkleNode, Txid};

/// Decodes consensus bytes given in hex: the hex first, in one pass, then the bytes.
fn from_hex<T: encode::Decodable>(hex: &str) -> Result<T, String> {
    use bitcoin::hex::FromHex;
    let bytes = Vec::<u8>::from_hex(hex).map_err(|e| e.to_string())?;
    encode::deserialize(&bytes).map_err(|e| e.to_string())
}

/// Decodes a hex header.
pub(crate) fn header_from_hex(hex: &str) -> Result<Header, String> {
    from_hex(hex)
}

/// Decodes a hex transaction.
pub(crate) fn tx_from_hex(hex: &str) -> Result<Transaction, String> {
    from_hex(hex)
}

/// Decodes a hex `gettxoutproof` (header and partial merkle tree).
pub(crate) fn merkle_block_from_hex(hex: &str) -> Result<MerkleBlock, String> {
    from_hex(hex)
}

/// The parent of two merkle nodes.
fn parent(left: TxMerkleNode, right: TxMerkleNode) -> TxMerkleNode {
    let mut bytes = [0u8; 64];
    bytes[..32].copy_from_slice(left.as_byte_array());
    bytes[32..].copy_from_slice(right.as_byte_array());
    TxMerkleNode::from_raw_hash(sha256d::Hash::hash(&bytes))
}

/// A txid as a merkle leaf.
fn leaf(txid: Txid) -> TxMerkleNode {
    TxMerkleNode::from_raw_hash(txid.to_raw_hash())
}

/// The merkle root that the coinbase (leaf 0) and its branch give.
pub(crate) fn root_from_coinbase(coinbase: Txid, branch: &[TxMerkleNode]) -> TxMerkleNode {
    branch
        .iter()
        .fold(leaf(coinbase), |node, sibling| parent(node, *sibling))
}

/// The depth of a block's merkle tree of `transactions` leaves: the number of levels
/// above the leaves (0 for a block with only its coinbase).
pub(crate) fn tree_depth(transactions: u32) -> usize {
    let mut depth = 0;
    while (1u64 << depth) < u64::from(transactions) {
        depth += 1;
    }
    depth
}

/// The merkle branch of the first transaction (the coinbase) of a block whose transactions
/// are `txids`, in order: what a backend computes from the block's txid list.
pub fn coinbase_branch(txids: &[Txid]) -> Vec<TxMerkleNode> {
    let mut level: Vec<TxMerkleNode> = txids.iter().copied().map(leaf).collect();
    let mut branch = Vec::new();
    while level.len() > 1 {
        branch.push(*level.get(1).unwrap_or(&level[0]));
        level = level
            .chunks(2)
            .map(|pair| parent(pair[0], *pair.get(1).unwrap_or(&pair[0])))
            .collect();
    }
    branch
}
