//! Keeping under the request limits definitions declare (`rate_limits:`): one `governor`
//! limiter per limit and scope (a credential's own, or one shared by every endpoint on the same
//! host), checked before a poll starts. A task the limit holds back waits in its endpoint's
//! line, and the line goes first, one task each time the limiter allows one, so no task is
//! overtaken and no allowance is wasted on tasks that all wake at once. A `429` from the
//! provider holds the endpoint for as long as it asked.
//!
//! Answers refine this at run time (see [`crate::runtime::quota`]): the policies an answer's
//! `RateLimit-Policy` names become limiters of the endpoint too, kept on top of the declared
//! ones (so the pace only ever tightens), and an answer whose window is spent holds the endpoint
//! until it resets, as a `429` would, before the `429` comes.

use std::collections::{HashMap, VecDeque};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::DefaultDirectRateLimiter;
use governor::clock::{Clock as _, DefaultClock};
use tokio::time::Instant;

use super::{Endpoint, TaskKey};
use crate::model::RateLimit;
use crate::runtime::quota::{Policy, Quota};
use crate::spec::RateLimitScope;
use crate::syntax::template::Part;

/// How much slower than the declared rate a watch paces itself: requests reach the provider
/// with some jitter, and one that arrives early must not be the one over the limit.
pub const PACE_MARGIN: f64 = 1.02;

/// The limiters of every endpoint of a watch, and the tasks they hold back.
pub(crate) struct Limits {
    /// Per endpoint, one limiter per declared limit.
    limiters: Vec<Vec<Arc<DefaultDirectRateLimiter>>>,
    /// Per endpoint, the tasks held back, in the order they were.
    waiting: Vec<VecDeque<TaskKey>>,
    /// Per endpoint, when the first task held back may try again.
    wake: Vec<Instant>,
    /// Per endpoint, until when a `429` (or a spent window) holds it.
    paused: Vec<Option<Instant>>,
    /// Per endpoint, the policies its last answer that named any named, each with its limiter.
    learned: Vec<Vec<(Policy, DefaultDirectRateLimiter)>>,
    clock: DefaultClock,
}

impl Limits {
    pub(crate) fn new(endpoints: &[Endpoint]) -> Limits {
        let mut by_host: HashMap<(String, RateLimit), Arc<DefaultDirectRateLimiter>> =
            HashMap::new();
        let limiters: Vec<Vec<Arc<DefaultDirectRateLimiter>>> = endpoints
            .iter()
            .map(|endpoint| {
                endpoint
                    .provider
                    .rate_limits
                    .iter()
                    .map(|limit| match limit.scope {
                        RateLimitScope::Credential => Arc::new(limiter(limit)),
                        RateLimitScope::Host => Arc::clone(
                            by_host
                                .entry((host(endpoint), *limit))
                                .or_insert_with(|| Arc::new(limiter(limit))),
                        ),
                    })
                    .collect()
            })
            .collect();
        Limits::declared(limiters)
    }

    /// Limits with, per endpoint, the limiters of its declared limits.
    fn declared(limiters: Vec<Vec<Arc<DefaultDirectRateLimiter>>>) -> Limits {
        let now = Instant::now();
        Limits {
            waiting: vec![VecDeque::new(); limiters.len()],
            wake: vec![now; limiters.len()],
            paused: vec![None; limiters.len()],
            learned: std::iter::repeat_with(Vec::new)
                .take(limiters.len())
                .collect(),
            limiters,
            clock: DefaultClock::default(),
        }
    }

    /// Whether task `key` of endpoint `e`, due now, may be polled now (it is then counted);
    /// if not, it waits in the endpoint's line.
    pub(crate) fn admit(&mut self, e: usize, key: TaskKey, now: Instant) -> bool {
        if !self.waiting[e].is_empty() {
            self.waiting[e].push_back(key);
            return false;
        }
        match self.blocked(e, now) {
            None => true,
            Some(wait) => {
                self.waiting[e].push_back(key);
                self.wake[e] = now + wait.min(super::MAX_WAIT);
                false
            }
        }
    }

    /// A task held back that may be polled now (it is counted), first come first served.
    pub(crate) fn release(&mut self, now: Instant) -> Option<TaskKey> {
        for e in 0..self.waiting.len() {
            if self.waiting[e].is_empty() || self.wake[e] > now {
                continue;
            }
            match self.blocked(e, now) {
                None => return self.waiting[e].pop_front(),
                Some(wait) => self.wake[e] = now + wait.min(super::MAX_WAIT),
            }
        }
        None
    }

    /// When the first task held back may try again, if any is.
    pub(crate) fn next_wake(&self) -> Option<Instant> {
        (0..self.waiting.len())
            .filter(|&e| !self.waiting[e].is_empty())
            .map(|e| self.wake[e])
            .min()
    }

    /// The provider answered `429`: no poll of endpoint `e` before `until`.
    pub(crate) fn pause(&mut self, e: usize, until: Instant) {
        if self.paused[e].is_none_or(|paused| paused < until) {
            self.paused[e] = Some(until);
        }
    }

    /// What an answer from endpoint `e` said of the allowance: a window spent holds the
    /// endpoint until it resets; the policies it names pace it from now on. A policy named
    /// before keeps its limiter, and what it has counted; one new to the endpoint starts as if
    /// the answer's own request had been sent under it; one no longer named is dropped.
    pub(crate) fn observe(&mut self, e: usize, quota: &Quota, now: Instant) {
        if let Some(wait) = quota.wait {
            self.pause(e, now + wait.min(super::MAX_WAIT));
        }
        if quota.policies.is_empty() {
            return;
        }
        let mut known = std::mem::take(&mut self.learned[e]);
        for policy in &quota.policies {
            if self.learned[e].iter().any(|(kept, _)| kept == policy) {
                continue;
            }
            let limiter = match known.iter().position(|(kept, _)| kept == policy) {
                Some(at) => known.swap_remove(at).1,
                None => {
                    let limiter = limiter(&RateLimit {
                        requests: policy.requests,
                        per: policy.window,
                        burst: None,
                        scope: RateLimitScope::Credential,
                    });
                    // The request answered counted against the policy already.
                    let _ = limiter.check();
                    limiter
                }
            };
            self.learned[e].push((*policy, limiter));
        }
    }

    /// `None` when endpoint `e` may send now (counted by every limiter), else how long to wait.
    /// The provider's own policies are asked first: a limiter that allows counts the request,
    /// so one asked before a limiter that refuses loses a cell, and the declared limits are the
    /// looser ones when an answer names stricter.
    fn blocked(&self, e: usize, now: Instant) -> Option<Duration> {
        if let Some(until) = self.paused[e].filter(|until| *until > now) {
            return Some(until - now);
        }
        let learned = self.learned[e].iter().map(|(_, limiter)| limiter);
        let declared = self.limiters[e].iter().map(|limiter| &**limiter);
        learned.chain(declared).find_map(|limiter| {
            limiter
                .check()
                .err()
                .map(|not_until| not_until.wait_time_from(self.clock.now()))
        })
    }
}

/// One limit's quota: paced [`PACE_MARGIN`] slower than declared, with at most 1 + 1% of
/// `requests` at once. That burst lets a watch catch up after a late wake-up (timers tick in
/// milliseconds: at 1,000 a second, one request per wake-up would halve the rate), yet keeps a
/// window within its count (the 2% margin pays for it), and never empties a provider's bucket:
/// what it has left absorbs requests that arrive bunched.
fn limiter(limit: &RateLimit) -> DefaultDirectRateLimiter {
    let period = limit
        .interval()
        .mul_f64(PACE_MARGIN)
        .max(Duration::from_nanos(1));
    let catch_up = 1 + limit.requests / 100;
    let burst =
        NonZeroU32::new(catch_up.min(limit.burst.unwrap_or(u32::MAX))).unwrap_or(NonZeroU32::MIN);
    let quota = governor::Quota::with_period(period)
        .unwrap_or_else(|| governor::Quota::per_second(NonZeroU32::MIN))
        .allow_burst(burst);
    DefaultDirectRateLimiter::direct(quota)
}

/// The host an endpoint's requests go to: its base URL's, else the definition's base URL up to
/// its path (placeholders as written), else the provider id (task ids that are whole URLs).
fn host(endpoint: &Endpoint) -> String {
    if let Some(host) = endpoint.base_url.as_ref().and_then(|url| url.host_str()) {
        return host.to_owned();
    }
    let Some(template) = &endpoint.provider.base_url else {
        return endpoint.provider.id.clone();
    };
    let text: String = template
        .parts
        .iter()
        .map(|part| match part {
            Part::Literal(text) => text.clone(),
            Part::Placeholder { name, .. } => format!("{{{name}}}"),
        })
        .collect();
    let after_scheme = text
        .split_once("://")
        .map_or(text.as_str(), |(_, rest)| rest);
    after_scheme
        .split('/')
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn per(requests: u32, seconds: u64) -> Policy {
        Policy {
            requests,
            window: Duration::from_secs(seconds),
        }
    }

    fn named(policies: &[Policy]) -> Quota {
        Quota {
            policies: policies.to_vec(),
            wait: None,
        }
    }

    /// How many polls endpoint 0 may send now, up to 100.
    fn allowed_now(limits: &Limits) -> usize {
        let now = Instant::now();
        (0..100)
            .take_while(|_| limits.blocked(0, now).is_none())
            .count()
    }

    #[test]
    fn a_policy_named_again_keeps_what_it_counted() {
        let mut limits = Limits::declared(vec![vec![]]);
        let now = Instant::now();
        // 5,000 a day allows 1 + 50 at once (and one more each 17 s); the answer's own request
        // took one.
        limits.observe(0, &named(&[per(5000, 86_400)]), now);
        assert_eq!(allowed_now(&limits), 50);
        // Named again, alone or among others in another order: not a fresh allowance.
        limits.observe(0, &named(&[per(5000, 86_400)]), now);
        assert_eq!(allowed_now(&limits), 0);
        limits.observe(0, &named(&[per(100_000, 86_400), per(5000, 86_400)]), now);
        assert_eq!(allowed_now(&limits), 0);
        assert_eq!(limits.learned[0].len(), 2);
        // A policy no longer named no longer holds the endpoint.
        limits.observe(0, &named(&[per(100_000, 86_400)]), now);
        assert_eq!(limits.learned[0].len(), 1);
        assert!(allowed_now(&limits) > 0);
    }

    #[test]
    fn an_answer_with_no_policy_keeps_those_known() {
        let mut limits = Limits::declared(vec![vec![]]);
        let now = Instant::now();
        limits.observe(0, &named(&[per(2, 1)]), now);
        limits.observe(0, &Quota::default(), now);
        assert_eq!(limits.learned[0].len(), 1);
    }

    #[test]
    fn a_pause_only_lengthens() {
        let mut limits = Limits::declared(vec![vec![]]);
        let now = Instant::now();
        let spent = |seconds| Quota {
            policies: Vec::new(),
            wait: Some(Duration::from_secs(seconds)),
        };
        limits.observe(0, &spent(30), now);
        limits.observe(0, &spent(5), now);
        assert_eq!(limits.blocked(0, now), Some(Duration::from_secs(30)));
        limits.pause(0, now + Duration::from_secs(60));
        assert_eq!(limits.blocked(0, now), Some(Duration::from_secs(60)));
        // However long a window says, a hold is at most the longest wait of a watch.
        limits.observe(0, &spent(86_400), now);
        assert_eq!(limits.blocked(0, now), Some(super::super::MAX_WAIT));
        assert_eq!(limits.blocked(0, now + super::super::MAX_WAIT), None);
    }

    #[test]
    fn the_providers_policies_are_asked_before_the_declared_limits() {
        // Declared: 1,000 a day (11 at once); named: 1 a day.
        let declared = Arc::new(limiter(&RateLimit {
            requests: 1000,
            per: Duration::from_secs(86_400),
            burst: None,
            scope: RateLimitScope::Credential,
        }));
        let mut limits = Limits::declared(vec![vec![Arc::clone(&declared)]]);
        limits.observe(0, &named(&[per(1, 86_400)]), Instant::now());
        for _ in 0..20 {
            assert!(limits.blocked(0, Instant::now()).is_some());
        }
        // The refusals took nothing from the declared limit.
        let left = (0..100).take_while(|_| declared.check().is_ok()).count();
        assert_eq!(left, 11);
    }
}
