//! What an answer's IETF `RateLimit` headers say of the client's allowance: the provider's
//! policies (so many requests per window) and, when a window has nothing left, how long until
//! it resets. A watch keeps under the policies an answer names, on top of those its definition
//! declares, and holds its polls while a window is spent: answers tighten the pace, never
//! loosen it.
//!
//! Every form the drafts of `draft-ietf-httpapi-ratelimit-headers` gave is read:
//!
//! - structured fields: `RateLimit-Policy: "burst";q=100;w=60, "day";q=1000;w=86400` and
//!   `RateLimit: "burst";r=0;t=30`;
//! - the earlier lists: `RateLimit-Policy: 100;w=60, 1000;w=86400` with `RateLimit-Limit`,
//!   `RateLimit-Remaining: 0` and `RateLimit-Reset: 30`, or all three in one
//!   `RateLimit: limit=100, remaining=0, reset=30`.
//!
//! A policy counted in something other than requests (`qu="content-bytes"`) is not one a
//! watch can keep, and is left out. A header sent on several lines reads as one list, as
//! HTTP joins them. A reset of a billion seconds or more is a Unix time (some providers send
//! one though the drafts say seconds); a window or wait over a day is not believed.

use std::time::{Duration, SystemTime};

/// The most policies kept from one answer: a provider names two or three (per second, per
/// day); more is a header gone wrong.
const MOST_POLICIES: usize = 4;

/// The longest window or wait an answer is believed about: a day.
const LONGEST: u64 = 86_400;

/// A reset at least this large is a Unix time (2001-09-09 on), not seconds from now.
const EPOCH_RESET: u64 = 1_000_000_000;

/// What one answer's headers say of the allowance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Quota {
    /// The provider's policies, in the order named (at most four).
    pub policies: Vec<Policy>,
    /// Some window has nothing left: the longest time until one that is spent resets.
    pub wait: Option<Duration>,
}

/// One policy: at most `requests` in any `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Policy {
    /// From 1 to 1,000,000.
    pub requests: u32,
    /// From a second to a day.
    pub window: Duration,
}

/// The allowance `headers` describe, if they describe one (names compare case-insensitively).
pub fn read(headers: &[(String, String)]) -> Option<Quota> {
    let unix_now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    read_at(headers, unix_now)
}

/// [`read`], at Unix time `unix_now` (a reset given as a Unix time counts from it).
fn read_at(headers: &[(String, String)], unix_now: u64) -> Option<Quota> {
    // A field sent on several lines is one list, its lines joined with commas (RFC 9110, 5.3).
    let header = |name: &str| {
        let mut lines = headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str());
        let first = lines.next()?;
        Some(lines.fold(first.to_owned(), |joined, line| joined + ", " + line))
    };
    let policies: Vec<Policy> = header("ratelimit-policy")
        .map(|value| {
            value
                .split(',')
                .filter_map(policy)
                .take(MOST_POLICIES)
                .collect()
        })
        .unwrap_or_default();
    let wait = match header("ratelimit") {
        // The earlier drafts' one header names its members; the structured form names policies.
        Some(value) if value.contains("remaining=") => {
            spent(value.split(','), "remaining", "reset")
        }
        Some(value) => value
            .split(',')
            .filter_map(|item| spent(item.split(';'), "r", "t"))
            .max(),
        None => header("ratelimit-remaining")
            .as_deref()
            .and_then(number)
            .filter(|&remaining| remaining == 0)
            .and_then(|_| header("ratelimit-reset").as_deref().and_then(number)),
    }
    .map(|reset| {
        if reset >= EPOCH_RESET {
            reset.saturating_sub(unix_now)
        } else {
            reset
        }
    })
    .filter(|&seconds| seconds <= LONGEST)
    .map(Duration::from_secs);
    (!policies.is_empty() || wait.is_some()).then_some(Quota { policies, wait })
}

/// One item of `RateLimit-Policy`: `"name";q=100;w=60` or `100;w=60`.
fn policy(item: &str) -> Option<Policy> {
    let mut params = item.split(';');
    let first = params.next()?.trim();
    // The earlier drafts put the quota first; the structured form, the policy's name.
    let mut requests = number(first);
    let mut window = None;
    for param in params {
        match param.trim().split_once('=') {
            Some(("q", v)) => requests = number(v),
            Some(("w", v)) => window = number(v),
            Some(("qu", v)) if v.trim().trim_matches('"') != "requests" => return None,
            _ => {}
        }
    }
    let requests = u32::try_from(requests?)
        .ok()
        .filter(|r| (1..=1_000_000).contains(r))?;
    let window = window.filter(|w| (1..=LONGEST).contains(w))?;
    Some(Policy {
        requests,
        window: Duration::from_secs(window),
    })
}

/// The seconds until a window resets, if it is spent, from its `key=value` parameters: a
/// structured item's (`r` and `t`, split at `;`) or the earlier single header's (`remaining`
/// and `reset`, split at `,`).
fn spent<'a>(
    params: impl Iterator<Item = &'a str>,
    remaining_key: &str,
    reset_key: &str,
) -> Option<u64> {
    let mut remaining = None;
    let mut reset = None;
    for param in params {
        match param.trim().split_once('=') {
            Some((key, v)) if key == remaining_key => remaining = number(v),
            Some((key, v)) if key == reset_key => reset = number(v),
            _ => {}
        }
    }
    (remaining == Some(0)).then_some(reset).flatten()
}

fn number(value: &str) -> Option<u64> {
    value.trim().trim_matches('"').parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Unix time the tests read answers at.
    const NOW: u64 = 1_800_000_000;

    fn quota(headers: &[(&str, &str)]) -> Option<Quota> {
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        read_at(&headers, NOW)
    }

    fn per(requests: u32, seconds: u64) -> Policy {
        Policy {
            requests,
            window: Duration::from_secs(seconds),
        }
    }

    #[test]
    fn policies_are_read_in_every_drafts_form() {
        for (value, policies) in [
            (r#""default";q=100;w=10"#, vec![per(100, 10)]),
            (
                r#""burst";q=10;w=1, "day";q=1000;w=86400"#,
                vec![per(10, 1), per(1000, 86_400)],
            ),
            ("100;w=60", vec![per(100, 60)]),
            (
                "10;w=1, 50;w=60;comment=\"x\"",
                vec![per(10, 1), per(50, 60)],
            ),
            // Counted in bytes, or with no window: nothing a watch can keep.
            (
                r#""b";q=1000;w=1;qu="content-bytes", "r";q=5;w=1"#,
                vec![per(5, 1)],
            ),
            (r#""default";q=100"#, vec![]),
            ("0;w=10, 10;w=0, lots;w=1", vec![]),
        ] {
            let read = quota(&[("RateLimit-Policy", value)]);
            assert_eq!(
                read.map(|q| q.policies).unwrap_or_default(),
                policies,
                "{value}"
            );
        }
    }

    #[test]
    fn a_spent_window_is_a_wait_until_it_resets() {
        for (headers, wait) in [
            (
                vec![("RateLimit", "limit=100, remaining=0, reset=30")],
                Some(30),
            ),
            (
                vec![("RateLimit", "limit=100, remaining=5, reset=30")],
                None,
            ),
            (vec![("ratelimit", r#""default";r=0;t=12"#)], Some(12)),
            (
                vec![("RateLimit", r#""burst";r=3;t=1, "daily";r=0;t=3600"#)],
                Some(3600),
            ),
            (vec![("RateLimit", r#""default";r=1;t=12"#)], None),
            (
                vec![("RateLimit-Remaining", "0"), ("RateLimit-Reset", "7")],
                Some(7),
            ),
            (
                vec![("RateLimit-Remaining", "2"), ("RateLimit-Reset", "7")],
                None,
            ),
            // A reset as a Unix time counts from now; one past, or more than a day away, is
            // not believed.
            (
                vec![
                    ("RateLimit-Remaining", "0"),
                    ("RateLimit-Reset", "1800000045"),
                ],
                Some(45),
            ),
            (
                vec![("RateLimit", "limit=10, remaining=0, reset=1799999990")],
                Some(0),
            ),
            (vec![("RateLimit", r#""default";r=0;t=99999999"#)], None),
            (vec![("RateLimit", r#""default";r=0;t=1900000000"#)], None),
            // The earlier single header with a policy's parameters on its members.
            (
                vec![("RateLimit", "limit=10;w=1, remaining=0, reset=3")],
                Some(3),
            ),
            // A field on several lines is one list.
            (
                vec![
                    ("RateLimit", r#""burst";r=4;t=1"#),
                    ("RateLimit", r#""day";r=0;t=600"#),
                ],
                Some(600),
            ),
        ] {
            let read = quota(&headers).and_then(|q| q.wait);
            assert_eq!(read, wait.map(Duration::from_secs), "{headers:?}");
        }
    }

    #[test]
    fn policies_on_several_lines_are_one_list() {
        let read = quota(&[
            ("RateLimit-Policy", r#""burst";q=10;w=1"#),
            ("Content-Type", "application/json"),
            ("ratelimit-policy", r#""day";q=1000;w=86400"#),
        ]);
        assert_eq!(
            read.map(|q| q.policies).unwrap_or_default(),
            vec![per(10, 1), per(1000, 86_400)]
        );
    }

    #[test]
    fn an_answer_with_no_such_header_has_no_quota() {
        assert_eq!(quota(&[("Content-Type", "application/json")]), None);
        assert_eq!(quota(&[("RateLimit-Limit", "100")]), None);
    }
}
