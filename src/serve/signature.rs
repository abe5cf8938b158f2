//! Standard Webhooks signatures (<https://www.standardwebhooks.com>): a webhook carries
//! `webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature`, `v1,` followed by
//! the base64 HMAC-SHA256 of `{id}.{timestamp}.{body}` under the secret's key. The secret is
//! written `whsec_<base64 key>`, as the specification's libraries read it.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::Sha256;

/// A webhook signing secret. Its `Debug` never shows the key.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret {
    key: Vec<u8>,
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(***)")
    }
}

/// Why a secret or a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The secret is not `whsec_` and base64.
    #[error("a webhook secret is `whsec_` followed by base64 (at least 16 bytes): {0}")]
    Secret(String),
    /// No signature in the header matches.
    #[error("no signature matches")]
    Mismatch,
    /// The timestamp is not a number, or too far from now.
    #[error("the timestamp is missing, not a number, or more than {0} s from now")]
    Timestamp(i64),
}

impl FromStr for WebhookSecret {
    type Err = SignatureError;

    fn from_str(text: &str) -> Result<WebhookSecret, SignatureError> {
        let encoded = text.trim().strip_prefix("whsec_").unwrap_or(text.trim());
        let key = STANDARD
            .decode(encoded)
            .map_err(|e| SignatureError::Secret(e.to_string()))?;
        if key.len() < 16 {
            return Err(SignatureError::Secret(format!(
                "the key is {} bytes",
                key.len()
            )));
        }
        Ok(WebhookSecret { key })
    }
}

impl WebhookSecret {
    /// A fresh random secret (for a quick start: the service prints it).
    pub fn random() -> WebhookSecret {
        WebhookSecret {
            key: (0..32).map(|_| fastrand::u8(..)).collect(),
        }
    }

    /// The secret as it is written: `whsec_<base64>`.
    pub fn expose(&self) -> String {
        format!("whsec_{}", STANDARD.encode(&self.key))
    }

    /// The `webhook-signature` header of a webhook.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        format!("v1,{}", STANDARD.encode(self.mac(id, timestamp, body)))
    }

    /// Checks a webhook as a receiver does: one of the space-separated `v1,` signatures matches
    /// (compared in constant time), and the timestamp is within `tolerance` seconds of `now`.
    pub fn verify(
        &self,
        id: &str,
        timestamp: &str,
        signatures: &str,
        body: &[u8],
        now: i64,
        tolerance: i64,
    ) -> Result<(), SignatureError> {
        let timestamp: i64 = timestamp
            .trim()
            .parse()
            .map_err(|_| SignatureError::Timestamp(tolerance))?;
        if now.abs_diff(timestamp) > tolerance.unsigned_abs() {
            return Err(SignatureError::Timestamp(tolerance));
        }
        let matches = signatures.split(' ').any(|signature| {
            let Some(encoded) = signature.strip_prefix("v1,") else {
                return false;
            };
            let Ok(given) = STANDARD.decode(encoded) else {
                return false;
            };
            let mut mac = self.hmac();
            mac.update(format!("{id}.{timestamp}.").as_bytes());
            mac.update(body);
            mac.verify_slice(&given).is_ok()
        });
        if matches {
            Ok(())
        } else {
            Err(SignatureError::Mismatch)
        }
    }

    /// [`verify`](Self::verify) with the three headers as a receiver gets them, and the
    /// clock read here: the webhook's id (to deduplicate on) when it verifies. A header that is
    /// missing or not text fails the check.
    pub fn verify_headers<'h>(
        &self,
        headers: &'h axum::http::HeaderMap,
        body: &[u8],
        tolerance: i64,
    ) -> Result<&'h str, SignatureError> {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default()
        };
        let id = header("webhook-id");
        self.verify(
            id,
            header("webhook-timestamp"),
            header("webhook-signature"),
            body,
            jiff::Timestamp::now().as_second(),
            tolerance,
        )?;
        Ok(id)
    }

    fn hmac(&self) -> Hmac<Sha256> {
        Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes a key of any length")
    }

    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
        let mut mac = self.hmac();
        mac.update(format!("{id}.{timestamp}.").as_bytes());
        mac.update(body);
        mac.finalize().into_bytes().to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The specification's published test vector: a receiver's library accepts what we sign.
    #[test]
    fn the_specifications_test_vector_is_reproduced() {
        let secret: WebhookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
            .parse()
            .expect("secret");
        let body = br#"{"test": 2432232314}"#;
        let signature = secret.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, body);
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        let header = format!("v1,bm9wZQ== {signature}");
        secret
            .verify(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                "1614265330",
                &header,
                body,
                1_614_265_330,
                300,
            )
            .expect("verifies");
        assert_eq!(
            secret.verify(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                "1614265330",
                &signature,
                b"{}",
                1_614_265_330,
                300
            ),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            secret.verify(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                "1614265330",
                &signature,
                body,
                1_614_265_330 + 301,
                300
            ),
            Err(SignatureError::Timestamp(300))
        );
        // A timestamp at the far end of the range is refused, not an overflow.
        assert_eq!(
            secret.verify(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                &i64::MIN.to_string(),
                &signature,
                body,
                1_614_265_330,
                300
            ),
            Err(SignatureError::Timestamp(300))
        );
    }

    #[test]
    fn secrets_are_whsec_and_base64_and_never_shown() {
        assert!("whsec_not base64!".parse::<WebhookSecret>().is_err());
        assert!(
            "whsec_c2hvcnQ=".parse::<WebhookSecret>().is_err(),
            "too short"
        );
        let secret = WebhookSecret::random();
        assert_eq!(secret.expose().parse::<WebhookSecret>(), Ok(secret.clone()));
        assert_eq!(format!("{secret:?}"), "WebhookSecret(***)");
    }

    #[test]
    fn a_receiver_verifies_the_headers_it_got_and_learns_the_id() {
        use axum::http::{HeaderMap, HeaderValue};
        let secret = WebhookSecret::random();
        let body = br#"{"type":"task.changed"}"#;
        let now = jiff::Timestamp::now().as_second();
        let mut headers = HeaderMap::new();
        headers.insert("webhook-id", HeaderValue::from_static("evt_1"));
        headers.insert("webhook-timestamp", HeaderValue::from(now));
        let signature = secret.sign("evt_1", now, body);
        headers.insert(
            "webhook-signature",
            HeaderValue::from_str(&signature).expect("ASCII"),
        );
        assert_eq!(secret.verify_headers(&headers, body, 300), Ok("evt_1"));
        assert_eq!(
            secret.verify_headers(&headers, b"{}", 300),
            Err(SignatureError::Mismatch)
        );
        headers.remove("webhook-timestamp");
        assert_eq!(
            secret.verify_headers(&headers, body, 300),
            Err(SignatureError::Timestamp(300))
        );
    }
}
