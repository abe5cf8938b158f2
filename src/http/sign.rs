//! Request signatures, computed for each attempt from the request as it will be sent, a fresh
//! time and (for ACS3) a fresh nonce: AWS Signature Version 4 (the official `aws-sigv4` crate),
//! Alibaba Cloud's ACS3-HMAC-SHA256, and Azure Storage Shared Key (RustCrypto `hmac` + `sha2`).
//!
//! Pure: the time and nonce are arguments, so each scheme is checked against its provider's
//! published example, and the sandbox recomputes the same functions to verify what it receives.

use std::fmt;
use std::time::SystemTime;

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

/// A scheme with its secrets, ready to sign attempts. `Debug` never shows a secret.
#[derive(Clone)]
pub enum Signer {
    AwsSigV4 {
        service: String,
        region: String,
        content_sha256: bool,
        access_key_id: String,
        secret_access_key: SecretString,
        session_token: Option<SecretString>,
    },
    Acs3 {
        access_key_id: String,
        access_key_secret: SecretString,
        security_token: Option<SecretString>,
    },
    AzureSharedKey {
        account: String,
        /// The account key, still base64.
        key: SecretString,
    },
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Signer::AwsSigV4 {
                service, region, ..
            } => write!(f, "AwsSigV4({service}, {region}, [redacted])"),
            Signer::Acs3 { .. } => f.write_str("Acs3([redacted])"),
            Signer::AzureSharedKey { account, .. } => {
                write!(f, "AzureSharedKey({account}, [redacted])")
            }
        }
    }
}

/// A request as it will be sent, for signing.
#[derive(Debug, Clone, Copy)]
pub struct Unsigned<'a> {
    pub method: &'a str,
    pub url: &'a url::Url,
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

/// Why a request cannot be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SignError(pub String);

/// The headers a signature adds; the last one is `Authorization` (the secret one).
pub type Signed = Vec<(String, String)>;

impl Signer {
    /// Signs `request` at `time`; `nonce` is used by the schemes that send one.
    pub fn sign(
        &self,
        request: Unsigned<'_>,
        time: SystemTime,
        nonce: &str,
    ) -> Result<Signed, SignError> {
        match self {
            Signer::AwsSigV4 {
                service,
                region,
                content_sha256,
                access_key_id,
                secret_access_key,
                session_token,
            } => aws_sigv4(
                request,
                time,
                AwsKeys {
                    service,
                    region,
                    content_sha256: *content_sha256,
                    access_key_id,
                    secret_access_key: secret_access_key.expose_secret(),
                    session_token: session_token.as_ref().map(|t| t.expose_secret()),
                },
            ),
            Signer::Acs3 {
                access_key_id,
                access_key_secret,
                security_token,
            } => Ok(acs3(
                request,
                time,
                nonce,
                access_key_id,
                access_key_secret.expose_secret(),
                security_token.as_ref().map(|t| t.expose_secret()),
            )
            .0),
            Signer::AzureSharedKey { account, key } => {
                azure_shared_key(request, time, account, key.expose_secret())
            }
        }
    }

    /// Every secret and the forms the wire shows them in, for redaction.
    pub fn secrets(&self) -> Vec<&str> {
        match self {
            Signer::AwsSigV4 {
                secret_access_key,
                session_token,
                ..
            } => std::iter::once(secret_access_key.expose_secret())
                .chain(session_token.as_ref().map(|t| t.expose_secret()))
                .collect(),
            Signer::Acs3 {
                access_key_secret,
                security_token,
                ..
            } => std::iter::once(access_key_secret.expose_secret())
                .chain(security_token.as_ref().map(|t| t.expose_secret()))
                .collect(),
            Signer::AzureSharedKey { key, .. } => vec![key.expose_secret()],
        }
    }
}

fn hex_sha256(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    // HMAC takes a key of any length: this cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

struct AwsKeys<'a> {
    service: &'a str,
    region: &'a str,
    content_sha256: bool,
    access_key_id: &'a str,
    secret_access_key: &'a str,
    session_token: Option<&'a str>,
}

fn aws_sigv4(
    request: Unsigned<'_>,
    time: SystemTime,
    keys: AwsKeys<'_>,
) -> Result<Signed, SignError> {
    use aws_sigv4::http_request::{
        PayloadChecksumKind, SignableBody, SignableRequest, SigningSettings, sign,
    };
    let identity = aws_credential_types::Credentials::new(
        keys.access_key_id,
        keys.secret_access_key,
        keys.session_token.map(str::to_owned),
        None,
        "unitask",
    )
    .into();
    let mut settings = SigningSettings::default();
    if keys.content_sha256 {
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    }
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(keys.region)
        .name(keys.service)
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| SignError(format!("cannot sign for AWS: {e}")))?
        .into();
    let host = host_header(request.url);
    let headers = request
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .chain(std::iter::once(("host", host.as_str())));
    let signable = SignableRequest::new(
        request.method,
        request.url.as_str(),
        headers,
        SignableBody::Bytes(request.body),
    )
    .map_err(|e| SignError(format!("cannot sign for AWS: {e}")))?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| SignError(format!("cannot sign for AWS: {e}")))?
        .into_parts();
    let (headers, _) = instructions.into_parts();
    let mut signed: Signed = Vec::new();
    let mut authorization = None;
    for header in headers {
        let (name, value) = (header.name().to_owned(), header.value().to_owned());
        if name.eq_ignore_ascii_case("authorization") {
            authorization = Some((name, value));
        } else {
            signed.push((name, value));
        }
    }
    signed.extend(authorization);
    Ok(signed)
}

/// `host` or `host:port` when the port is not the scheme's default, as HTTP sends it.
fn host_header(url: &url::Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

/// RFC 3986 percent-encoding as ACS3 wants it: unreserved characters kept, `%20` for a space.
fn acs_encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, crate::http::request::COMPONENT).to_string()
}

/// The ACS3 signature: the headers to add, and the canonical request (for tests and the
/// sandbox's refusal messages).
pub fn acs3(
    request: Unsigned<'_>,
    time: SystemTime,
    nonce: &str,
    access_key_id: &str,
    secret: &str,
    security_token: Option<&str>,
) -> (Signed, String) {
    let date = jiff::Timestamp::try_from(time)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let payload = hex_sha256(request.body);
    let mut added: Signed = vec![
        ("x-acs-date".into(), date),
        ("x-acs-signature-nonce".into(), nonce.to_owned()),
        ("x-acs-content-sha256".into(), payload.clone()),
    ];
    if let Some(token) = security_token {
        added.push(("x-acs-security-token".into(), token.to_owned()));
    }
    // Signed: host, content-type and every x-acs-* header; values of a repeated name are
    // joined with `,` in the order sent.
    let mut signed: Vec<(String, String)> = vec![("host".into(), host_header(request.url))];
    for (name, value) in request.headers.iter().chain(added.iter()) {
        let lower = name.to_ascii_lowercase();
        if lower.starts_with("x-acs-") || lower == "content-type" {
            match signed.iter_mut().find(|(n, _)| *n == lower) {
                Some((_, existing)) => {
                    existing.push(',');
                    existing.push_str(value.trim());
                }
                None => signed.push((lower, value.trim().to_owned())),
            }
        }
    }
    signed.sort_by(|a, b| a.0.cmp(&b.0));
    let mut query: Vec<(String, String)> = request
        .url
        .query_pairs()
        .map(|(n, v)| (acs_encode(&n), acs_encode(&v)))
        .collect();
    query.sort();
    let canonical_query: Vec<String> = query.iter().map(|(n, v)| format!("{n}={v}")).collect();
    let path = if request.url.path().is_empty() {
        "/"
    } else {
        request.url.path()
    };
    let canonical_headers: String = signed.iter().map(|(n, v)| format!("{n}:{v}\n")).collect();
    let signed_names: Vec<&str> = signed.iter().map(|(n, _)| n.as_str()).collect();
    let signed_names = signed_names.join(";");
    let canonical = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        request.method,
        path,
        canonical_query.join("&"),
        canonical_headers,
        signed_names,
        payload
    );
    let to_sign = format!("ACS3-HMAC-SHA256\n{}", hex_sha256(canonical.as_bytes()));
    let signature = hex(&hmac_sha256(secret.as_bytes(), to_sign.as_bytes()));
    added.push((
        "Authorization".into(),
        format!(
            "ACS3-HMAC-SHA256 Credential={access_key_id},SignedHeaders={signed_names},Signature={signature}"
        ),
    ));
    (added, canonical)
}

/// The Shared Key signature for the Blob service (version 2009-09-19 and later), with
/// `x-ms-date` (so the `Date` line is empty).
fn azure_shared_key(
    request: Unsigned<'_>,
    time: SystemTime,
    account: &str,
    key: &str,
) -> Result<Signed, SignError> {
    let date = http_date(time);
    let mut headers: Vec<(String, String)> = request.headers.to_vec();
    headers.push(("x-ms-date".into(), date.clone()));
    let string_to_sign = azure_string_to_sign(
        request.method,
        request.url,
        &headers,
        request.body.len(),
        account,
    );
    let key = base64::engine::general_purpose::STANDARD
        .decode(key.trim())
        .map_err(|_| SignError("the Azure storage key is not base64".into()))?;
    let signature = base64::engine::general_purpose::STANDARD
        .encode(hmac_sha256(&key, string_to_sign.as_bytes()));
    Ok(vec![
        ("x-ms-date".into(), date),
        (
            "Authorization".into(),
            format!("SharedKey {account}:{signature}"),
        ),
    ])
}

/// The string a Shared Key signs: the verb, eleven standard header values (an absent or zero
/// `Content-Length` empty), the `x-ms-*` headers, then the canonical resource.
pub fn azure_string_to_sign(
    method: &str,
    url: &url::Url,
    headers: &[(String, String)],
    body_len: usize,
    account: &str,
) -> String {
    let get = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    };
    let length = if body_len == 0 {
        String::new()
    } else {
        body_len.to_string()
    };
    let mut out = format!(
        "{method}\n{}\n{}\n{length}\n{}\n{}\n\n{}\n{}\n{}\n{}\n{}\n",
        get("content-encoding"),
        get("content-language"),
        get("content-md5"),
        get("content-type"),
        get("if-modified-since"),
        get("if-match"),
        get("if-none-match"),
        get("if-unmodified-since"),
        get("range"),
    );
    let mut ms: Vec<(String, String)> = headers
        .iter()
        .filter(|(n, _)| n.to_ascii_lowercase().starts_with("x-ms-"))
        .map(|(n, v)| {
            let unfolded = v.split_whitespace().collect::<Vec<_>>().join(" ");
            (n.to_ascii_lowercase(), unfolded)
        })
        .collect();
    ms.sort();
    for (name, value) in ms {
        out.push_str(&format!("{name}:{value}\n"));
    }
    out.push('/');
    out.push_str(account);
    out.push_str(url.path());
    let mut params: Vec<(String, Vec<String>)> = Vec::new();
    for (name, value) in url.query_pairs() {
        let name = name.to_ascii_lowercase();
        match params.iter_mut().find(|(n, _)| *n == name) {
            Some((_, values)) => values.push(value.into_owned()),
            None => params.push((name, vec![value.into_owned()])),
        }
    }
    params.sort();
    for (name, mut values) in params {
        values.sort();
        out.push_str(&format!("\n{name}:{}", values.join(",")));
    }
    out
}

/// An RFC 1123 date in GMT, as `x-ms-date` wants it.
pub fn http_date(time: SystemTime) -> String {
    jiff::Timestamp::try_from(time)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .strftime("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

/// A fresh nonce: 128 random bits, hex.
pub fn nonce() -> String {
    format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> SystemTime {
        SystemTime::from(text.parse::<jiff::Timestamp>().expect("valid"))
    }

    fn header<'a>(signed: &'a Signed, name: &str) -> &'a str {
        signed
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    }

    fn aws(access: &str, secret: &str, token: Option<&str>) -> Signer {
        Signer::AwsSigV4 {
            service: "service".into(),
            region: "us-east-1".into(),
            content_sha256: false,
            access_key_id: access.into(),
            secret_access_key: secret.to_owned().into(),
            session_token: token.map(|t| t.to_owned().into()),
        }
    }

    /// AWS's SigV4 test suite (aws-c-auth `tests/aws-signing-test-suite/v4`, as shipped with
    /// `aws-sigv4`): `get-vanilla`, `get-vanilla-query-order-key-case`, `get-header-value-trim`.
    #[test]
    fn aws_sigv4_matches_the_published_test_suite() {
        let signer = aws(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            None,
        );
        let time = at("2015-08-30T12:36:00Z");
        // URL, extra headers, signed headers, signature.
        type Case<'a> = (&'a str, Vec<(String, String)>, &'a str, &'a str);
        let cases: [Case<'_>; 3] = [
            (
                "https://example.amazonaws.com/",
                vec![],
                "host;x-amz-date",
                "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
            ),
            (
                "https://example.amazonaws.com/?Param2=value2&Param1=value1",
                vec![],
                "host;x-amz-date",
                "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
            ),
            (
                "https://example.amazonaws.com/",
                vec![
                    ("My-Header1".into(), "value1".into()),
                    ("My-Header2".into(), "\"a   b   c\"".into()),
                ],
                "host;my-header1;my-header2;x-amz-date",
                "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
            ),
        ];
        for (url, headers, signed_headers, signature) in cases {
            let url = url::Url::parse(url).expect("valid");
            let signed = signer
                .sign(
                    Unsigned {
                        method: "GET",
                        url: &url,
                        headers: &headers,
                        body: b"",
                    },
                    time,
                    "",
                )
                .expect("valid");
            assert_eq!(header(&signed, "x-amz-date"), "20150830T123600Z");
            assert_eq!(
                header(&signed, "authorization"),
                format!(
                    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders={signed_headers}, Signature={signature}"
                ),
                "{url}"
            );
            assert!(
                signed
                    .last()
                    .expect("valid")
                    .0
                    .eq_ignore_ascii_case("authorization")
            );
        }
    }

    #[test]
    fn aws_sigv4_sends_the_session_token_and_the_payload_hash_when_asked() {
        let mut signer = aws("AKID", "secret", Some("SESSION"));
        if let Signer::AwsSigV4 { content_sha256, .. } = &mut signer {
            *content_sha256 = true;
        }
        let url = url::Url::parse(
            "https://123456789012.s3-control.us-west-2.amazonaws.com/v20180820/jobs/j-1",
        )
        .expect("valid");
        let signed = signer
            .sign(
                Unsigned {
                    method: "GET",
                    url: &url,
                    headers: &[],
                    body: b"",
                },
                at("2026-01-01T00:00:00Z"),
                "",
            )
            .expect("valid");
        assert_eq!(header(&signed, "x-amz-security-token"), "SESSION");
        assert_eq!(
            header(&signed, "x-amz-content-sha256"),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert!(header(&signed, "authorization").contains("x-amz-security-token"));
    }

    /// Alibaba Cloud's worked example ("V3 request structure and signature", fixed parameter
    /// values): a `RunInstances` POST.
    #[test]
    fn acs3_matches_alibabas_worked_example() {
        let url = url::Url::parse(
            "https://ecs.cn-shanghai.aliyuncs.com/?ImageId=win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd&RegionId=cn-shanghai",
        )
        .expect("valid");
        let headers = vec![
            ("x-acs-action".to_owned(), "RunInstances".to_owned()),
            ("x-acs-version".to_owned(), "2014-05-26".to_owned()),
        ];
        let (signed, canonical) = acs3(
            Unsigned {
                method: "POST",
                url: &url,
                headers: &headers,
                body: b"",
            },
            at("2023-10-26T10:22:32Z"),
            "3156853299f313e23d1673dc12e1703d",
            "YourAccessKeyId",
            "YourAccessKeySecret",
            None,
        );
        assert_eq!(
            hex_sha256(canonical.as_bytes()),
            "7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259",
            "{canonical}"
        );
        assert_eq!(
            header(&signed, "authorization"),
            "ACS3-HMAC-SHA256 Credential=YourAccessKeyId,SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,Signature=06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"
        );
        assert_eq!(header(&signed, "x-acs-date"), "2023-10-26T10:22:32Z");
    }

    /// The SDK's own vector (aliyun/darabonba-openapi `test_get_authorization`): an empty query
    /// value and a header repeated under two spellings.
    #[test]
    fn acs3_matches_the_sdk_vector_with_repeated_headers() {
        // The SDK hashes a given payload; here the headers it adds are left out by signing the
        // canonical request the SDK describes directly.
        let url = url::Url::parse("https://example.com/?test=ok&empty=").expect("valid");
        let canonical = format!(
            "GET\n/\nempty=&test=ok\nx-acs-test:http,https\n\nx-acs-test\n{}",
            "55e12e91650d2fec56ec74e1d3e4ddbfce2ef3a65890c2a19ecf88a307e76a23"
        );
        let to_sign = format!("ACS3-HMAC-SHA256\n{}", hex_sha256(canonical.as_bytes()));
        assert_eq!(
            hex(&hmac_sha256(b"secret", to_sign.as_bytes())),
            "d16b30a7699ae9e43875b13195b2f81bcc3ed10c14a9b5eb780e51619aa50be1"
        );
        // And the query half of it comes out of `acs3` the same way.
        let (_, ours) = acs3(
            Unsigned {
                method: "GET",
                url: &url,
                headers: &[],
                body: b"",
            },
            at("2023-10-26T10:22:32Z"),
            "n",
            "acesskey",
            "secret",
            None,
        );
        assert!(
            ours.starts_with("GET\n/\nempty=&test=ok\nhost:example.com\n"),
            "{ours}"
        );
    }

    /// The Shared Key example of the Azure Storage SDK for Node (`test/common/sharedkey-tests.js`,
    /// "SignRequest"), with the storage emulator's published account key; its resource has no
    /// `/` between the account and the path.
    #[test]
    fn azure_shared_key_matches_the_sdk_example() {
        let key = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
        let string_to_sign = "GET\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:Fri, 23 Sep 2011 01:37:34 GMT\nx-ms-version:2018-03-28\n/devstoreaccount1container\nrestype:container";
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(key)
            .expect("valid");
        let signature = base64::engine::general_purpose::STANDARD
            .encode(hmac_sha256(&decoded, string_to_sign.as_bytes()));
        assert_eq!(signature, "oLMszNt2eVud2V8sP9MlxQFMIX6R3ofUaOsyI6DwnJQ=");
        // The string to sign built from the request is the SDK's, but for that missing `/`.
        let url =
            url::Url::parse("http://127.0.0.1:10000/container?restype=container").expect("valid");
        let headers = vec![
            ("x-ms-version".to_owned(), "2018-03-28".to_owned()),
            (
                "x-ms-date".to_owned(),
                "Fri, 23 Sep 2011 01:37:34 GMT".to_owned(),
            ),
        ];
        let ours = azure_string_to_sign("GET", &url, &headers, 0, "devstoreaccount1");
        assert_eq!(ours, string_to_sign.replace("1container", "1/container"));
    }

    /// Microsoft's documented layout ("Authorize with Shared Key"): a container metadata read
    /// with three query parameters, names lower-cased and sorted.
    #[test]
    fn azure_string_to_sign_follows_the_documented_layout() {
        let url = url::Url::parse(
            "https://myaccount.blob.core.windows.net/mycontainer?restype=container&comp=metadata&timeout=20",
        )
        .expect("valid");
        let headers = vec![
            ("x-ms-version".to_owned(), "2009-09-19".to_owned()),
            (
                "x-ms-date".to_owned(),
                "Sun, 11 Oct 2009 21:49:13 GMT".to_owned(),
            ),
        ];
        assert_eq!(
            azure_string_to_sign("GET", &url, &headers, 0, "myaccount"),
            "GET\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:Sun, 11 Oct 2009 21:49:13 GMT\nx-ms-version:2009-09-19\n/myaccount/mycontainer\ncomp:metadata\nrestype:container\ntimeout:20"
        );
    }

    #[test]
    fn azure_signs_a_head_with_a_fresh_date() {
        let signer = Signer::AzureSharedKey {
            account: "myaccount".into(),
            key: "a2V5".to_owned().into(),
        };
        let url = url::Url::parse("https://myaccount.blob.core.windows.net/c/b").expect("valid");
        let headers = vec![("x-ms-version".to_owned(), "2021-08-06".to_owned())];
        let signed = signer
            .sign(
                Unsigned {
                    method: "HEAD",
                    url: &url,
                    headers: &headers,
                    body: b"",
                },
                at("2015-06-26T23:39:12Z"),
                "",
            )
            .expect("valid");
        assert_eq!(
            header(&signed, "x-ms-date"),
            "Fri, 26 Jun 2015 23:39:12 GMT"
        );
        assert!(header(&signed, "authorization").starts_with("SharedKey myaccount:"));
        let bad = Signer::AzureSharedKey {
            account: "a".into(),
            key: "not base64!".to_owned().into(),
        };
        assert!(
            bad.sign(
                Unsigned {
                    method: "HEAD",
                    url: &url,
                    headers: &headers,
                    body: b""
                },
                SystemTime::now(),
                ""
            )
            .is_err()
        );
    }

    #[test]
    fn debug_hides_every_secret() {
        let shown = format!(
            "{:?} {:?}",
            aws("AKID", "very-secret", Some("tok-secret")),
            Signer::Acs3 {
                access_key_id: "id".into(),
                access_key_secret: "acs-secret".to_owned().into(),
                security_token: None
            }
        );
        assert!(!shown.contains("secret"), "{shown}");
    }
}
