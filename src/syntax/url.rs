//! Facts about URLs that both `validate` and the request builder need.

/// Whether the URL's host is `localhost`, `127.0.0.0/8` or `::1`: the only hosts plain `http`
/// may reach.
pub fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Whether the URL carries a user name or a password (`https://user:pass@host`): a credential
/// that would travel outside `auth:`, which alone knows how to send and hide one.
pub fn has_credentials(url: &url::Url) -> bool {
    !url.username().is_empty() || url.password().is_some()
}

/// Whether `value` is a DNS host name: dot-separated labels of letters, digits and `-`, none empty,
/// none starting or ending with `-`, at most 63 bytes each and 253 in all.
pub fn is_dns_name(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 253
        && value.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}
