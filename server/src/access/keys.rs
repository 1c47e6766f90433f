//! API keys: how they are made, hashed and stored. Keys are random 192-bit
//! secrets, so a single SHA-256 is enough to store them (a slow password hash
//! protects guessable secrets; these are not guessable). Demo keys are the
//! exception by design and exist only when `seed --demo-keys` asks for them.

use mongodb::bson::DateTime as BsonDateTime;
use rand::Rng;
use sha2::{Digest, Sha256};

use crate::store::documents::{ApiKeyDoc, Role};

/// Hex SHA-256 of a key: what is stored and looked up.
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// A new random key for `tenant_id`, e.g. `pk_live_acme_<32 base62 chars>`.
pub fn generate_key(tenant_id: &str) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut rng = rand::rng();
    let secret: String = (0..32)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    format!("pk_live_{tenant_id}_{secret}")
}

/// The well-known demo key of a tenant and role (SPEC §4).
pub fn demo_key(tenant_id: &str, role: Role) -> String {
    format!("pk_demo_{tenant_id}_{}", role.as_str())
}

/// The stored form of `key`.
pub fn stored_key(key: &str, role: Role, label: &str) -> ApiKeyDoc {
    let hash = hash_key(key);
    ApiKeyDoc {
        // The first 12 hex digits of the hash name the key in logs and UIs
        // without revealing it.
        id: format!("key_{}", &hash[..12]),
        hash,
        role,
        label: label.to_owned(),
        created_at: BsonDateTime::now(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_stable_hex_sha256() {
        assert_eq!(
            hash_key("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let stored = stored_key("pk_demo_acme_viewer", Role::Viewer, "demo");
        assert_ne!(stored.hash, "pk_demo_acme_viewer");
        assert!(stored.id.starts_with("key_"));
    }

    #[test]
    fn generated_keys_are_distinct_and_name_their_tenant() {
        let first = generate_key("acme");
        assert!(first.starts_with("pk_live_acme_"));
        assert_eq!(first.len(), "pk_live_acme_".len() + 32);
        assert_ne!(first, generate_key("acme"));
        assert_eq!(demo_key("globex", Role::Ingest), "pk_demo_globex_ingest");
    }
}
