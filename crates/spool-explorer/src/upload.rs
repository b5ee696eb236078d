//! The file upload form's handler: the file is streamed through MD5 (constant memory) and
//! hashed as pyspool's `File` does, with the optional metadata fields.

use std::collections::BTreeMap;

use axum::extract::Multipart;
use bitcoin::hex::DisplayHex;
use bitcoin::Network;
use md5::{Digest, Md5};
use spool_protocol::file_hash::FileHashes;

/// The metadata fields the form offers, by their pyspool key.
pub(crate) const METADATA_FIELDS: [&str; 2] = ["artist_name", "title"];

/// Reads the form: one `file` field and the optional metadata fields. Returns the file's
/// hashes, or the problem to show the visitor.
pub(crate) async fn hash_form(mut form: Multipart, network: Network) -> Result<FileHashes, String> {
    let mut md5_hex = None;
    let mut metadata = BTreeMap::new();
    loop {
        let field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => return Err(format!("the upload could not be read: {}", e.body_text())),
        };
        let name = field.name().unwrap_or_default().to_owned();
        if name == "file" {
            let mut field = field;
            let mut md5 = Md5::new();
            loop {
                match field.chunk().await {
                    Ok(Some(chunk)) => md5.update(&chunk),
                    Ok(None) => break,
                    Err(e) => return Err(format!("the file could not be read: {}", e.body_text())),
                }
            }
            md5_hex = Some(md5.finalize().as_slice().to_lower_hex_string());
        } else if METADATA_FIELDS.contains(&name.as_str()) {
            let value = field
                .text()
                .await
                .map_err(|e| format!("field {name} could not be read: {}", e.body_text()))?;
            if !value.is_empty() {
                metadata.insert(name, value);
            }
        }
    }
    let md5_hex = md5_hex.ok_or_else(|| "the form carries no file (field \"file\")".to_owned())?;
    Ok(FileHashes::from_md5_hex(&md5_hex, network, &metadata))
}
