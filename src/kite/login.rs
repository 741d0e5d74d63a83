//! The cryptography of Kite's login (PROTOCOL.md §3.3 and §4): the session checksum and the
//! RFC 6238 TOTP of the account's external 2FA. Shared by the login client and the simulator.

use sha2::{Digest, Sha256};
use totp_rs::{Algorithm, Builder, Secret, Totp};

/// Lowercase hex SHA-256 of `api_key + request_token + api_secret`, the `checksum` that
/// `POST /session/token` wants.
pub fn session_checksum(api_key: &str, request_token: &str, api_secret: &str) -> String {
    let mut h = Sha256::new();
    h.update(api_key.as_bytes());
    h.update(request_token.as_bytes());
    h.update(api_secret.as_bytes());
    hex::encode(h.finalize())
}

/// Why a TOTP secret cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TotpError {
    /// Not base32.
    #[error("the TOTP secret is not base32")]
    NotBase32,
    /// Rejected by the TOTP builder (e.g. shorter than 128 bits).
    #[error("the TOTP secret is unusable: {0}")]
    Unusable(String),
}

/// Kite's TOTP: SHA-1, 6 digits, 30-second steps, one step of skew either way.
pub fn totp(secret_base32: &str) -> Result<Totp, TotpError> {
    let cleaned: String = secret_base32
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '=')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let secret = Secret::try_from_base32(&cleaned).map_err(|_| TotpError::NotBase32)?;
    let builder = Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(secret);
    if cleaned.len() >= 26 {
        builder
            .build()
            .map_err(|e| TotpError::Unusable(e.to_string()))
    } else {
        // Under 128 bits: not RFC-compliant, but some accounts have such secrets.
        Ok(builder.build_noncompliant())
    }
}

/// The 6-digit code for Unix time `unix_secs`.
pub fn totp_code(totp: &Totp, unix_secs: u64) -> String {
    totp.generate(unix_secs).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_matches_the_documented_example() {
        // PROTOCOL.md §3.3: sha256("key"+"rt"+"sec") = 7b47a923…5557
        let c = session_checksum("key", "rt", "sec");
        assert!(c.starts_with("7b47a923") && c.ends_with("5557"), "{c}");
        assert_eq!(c.len(), 64);
    }

    #[test]
    fn totp_follows_rfc_6238() {
        // RFC 6238 appendix B, SHA-1 secret "12345678901234567890", 8 digits → last 6 here.
        let secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
        let t = totp(secret).unwrap();
        assert_eq!(totp_code(&t, 59), "287082");
        assert_eq!(totp_code(&t, 1_111_111_109), "081804");
        assert!(
            t.check("081804", 1_111_111_109 + 30).is_some(),
            "one step of skew"
        );
        assert!(t.check("081804", 1_111_111_109 + 90).is_none());
        assert!(matches!(totp("not base32!"), Err(TotpError::NotBase32)));
    }
}
