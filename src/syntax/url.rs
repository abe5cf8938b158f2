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
