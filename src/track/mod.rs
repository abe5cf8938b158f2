//! Tracking tasks durably: the tasks live in a [`Store`] (SQLite or PostgreSQL), and a
//! [`Tracker`] polls those that are due until each ends, however long that takes and however
//! often the process restarts.
//!
//! The tracker is the watch's scheduler with the store as its queue. It claims due tasks in
//! batches with a lease, polls each through the same [`Endpoint`]s and declared rate limits as a
//! watch, decides with the same course (`watch::course`: what is a change, when to poll next,
//! when to give up, where a follow-up goes), and writes each outcome back with its journal
//! entries, only while its lease holds. Outcomes are written in batches (a group commit: while
//! one transaction writes, the answers that arrive wait for the next), so the store's cost is
//! a few statements per batch, not per poll. Memory holds the polls in flight, their answers
//! until written and a bounded map of requests; a task's state between polls is its row. Several trackers may share one PostgreSQL store:
//! each claims different rows, and a tracker that dies leaves leases that run out.

pub mod store;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::FutureExt as _;
use tokio::task::JoinSet;
use tokio::time::Instant;

pub use store::{Filter, Journaled, NewTask, Store, StoreError, Tracked, Tracking};

use crate::http::transport::{Prepared, Transport};
use crate::runtime::quota::Quota;
use crate::runtime::{Error, ErrorKind};
use crate::watch::course::{Course, News, Next};
use crate::watch::limit::Limits;
use crate::watch::{self, Ending, Endpoint, Event, Finished, Options, Target, TaskKey};
use store::{Claim, Settlement};

/// How a tracker polls.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackOptions {
    /// Polls in flight at once, intervals, and polls that may fail in a row (`timeout` is
    /// when [`Tracker::run`] returns, counted from its start).
    pub watch: Options,
    /// How long a claim holds a task: longer than a poll can take (its retries included), or
    /// another worker polls the task meanwhile. A worker that dies leaves its tasks due again
    /// after this long.
    pub lease: Duration,
    /// How often an idle tracker looks for tasks another process tracked or made due.
    pub idle_check: Duration,
    /// How often the tracker says it is alive. A worker silent for five heartbeats is taken
    /// for dead: the others give its tasks back (due at once) without waiting for its leases.
    pub heartbeat: Duration,
    /// Return once no task in the store is left to poll (the CLI's `watch --store`), instead of
    /// waiting for more (a service).
    pub until_idle: bool,
    /// Names this tracker's leases; unique per process (a random one by default).
    pub worker: String,
}

impl Default for TrackOptions {
    fn default() -> Self {
        TrackOptions {
            watch: Options::default(),
            lease: Duration::from_secs(300),
            idle_check: Duration::from_secs(1),
            heartbeat: Duration::from_secs(2),
            until_idle: false,
            worker: format!("w{:016x}", fastrand::u64(..)),
        }
    }
}

/// Why [`Tracker::run`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stopped {
    /// Nothing was left to poll (`until_idle`).
    Idle,
    /// The stop future completed.
    Interrupted,
    /// The timeout passed.
    TimedOut,
}

/// What a tracker's run did.
#[derive(Debug, Clone)]
pub struct TrackReport {
    /// Why it returned.
    pub stopped: Stopped,
    /// Polls answered and written.
    pub polls: u64,
    /// Polls whose outcome was dropped: the task was removed or claimed by another worker.
    pub dropped: u64,
    /// Errors of the store (each poll's write is retried by polling again after the lease).
    pub store_errors: u64,
    /// HTTP requests sent through the endpoints' transports, retries included.
    pub requests: u64,
    /// How long it ran.
    pub elapsed: Duration,
}

/// Polls the due tasks of a store until each ends.
#[derive(Debug)]
pub struct Tracker {
    store: Store,
    endpoints: Vec<Endpoint>,
    options: TrackOptions,
    metrics: Arc<TrackMetrics>,
}

/// What a tracker counts as it runs, read while it runs (the service's `/metrics`).
#[derive(Debug, Default)]
pub struct TrackMetrics {
    /// Polls answered and written.
    pub polls: AtomicU64,
    /// Polls that failed (after the transport's retries).
    pub poll_errors: AtomicU64,
    /// Polls the provider refused with `429`.
    pub rate_limited: AtomicU64,
    /// Outcomes dropped: the task was removed or claimed by another worker meanwhile.
    pub dropped: AtomicU64,
    /// Errors of the store.
    pub store_errors: AtomicU64,
    /// How long polls took, as counts at or under each of [`LATENCY_BUCKETS`] (seconds), then
    /// all of them.
    pub latency: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    /// The sum of every poll's duration, in microseconds.
    pub latency_micros: AtomicU64,
}

/// The upper bounds, in seconds, of the poll latency histogram.
pub const LATENCY_BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

impl TrackMetrics {
    /// Counts a poll that was sent: how long it took, and whether it failed (`Some(true)`:
    /// with a `429`).
    fn answered(&self, took: Option<(Duration, Option<bool>)>) {
        let Some((took, failed)) = took else {
            return;
        };
        self.poll_took(took);
        if failed.is_some() {
            self.poll_errors.fetch_add(1, Ordering::Relaxed);
        }
        if failed == Some(true) {
            self.rate_limited.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn poll_took(&self, took: Duration) {
        let seconds = took.as_secs_f64();
        for (bucket, bound) in self.latency.iter().zip(LATENCY_BUCKETS) {
            if seconds <= bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.latency[LATENCY_BUCKETS.len()].fetch_add(1, Ordering::Relaxed);
        self.latency_micros.fetch_add(
            took.as_micros().try_into().unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }
}

/// What one poll came to, back in the tracker's loop and waiting to be written: the claim,
/// the course after the answer, and what the course made of it.
struct Answered {
    claim: Claim,
    /// The target polled (the claim's, or the follow-up its course is on).
    polled: Arc<Target>,
    course: Course,
    news: Option<News>,
    next: Next,
    /// How long the poll took, and whether it failed (`Some(true)` for a `429`); `None` when
    /// nothing was sent.
    took: Option<(Duration, Option<bool>)>,
    /// A `429`: the endpoint polled holds its polls this long.
    pause: Option<(usize, Duration)>,
    /// What the answer's `RateLimit` headers said of the endpoint's allowance.
    quota: Option<(usize, Quota)>,
}

/// A batch of answers and whether each was written: `Some(false)` when its lease no longer
/// held, `None` when the store failed (`Err`: it failed for all).
type Written = (Vec<Answered>, Result<Vec<Option<bool>>, StoreError>);

impl Tracker {
    /// A tracker of `store` with no endpoint yet.
    pub fn new(store: Store, options: TrackOptions) -> Tracker {
        Tracker {
            store,
            endpoints: Vec::new(),
            options,
            metrics: Arc::default(),
        }
    }

    /// Its counters, shared: they move while it runs.
    pub fn metrics(&self) -> Arc<TrackMetrics> {
        Arc::clone(&self.metrics)
    }

    /// Makes a provider pollable (a later endpoint of the same id replaces it).
    pub fn add(&mut self, endpoint: Endpoint) -> &mut Tracker {
        self.endpoints.retain(|e| e.id() != endpoint.id());
        self.endpoints.push(endpoint);
        self
    }

    /// Polls due tasks until `stop` completes, the timeout passes, or (`until_idle`) none is
    /// left; `on_event` hears of every change, failed poll and end written to the store (a
    /// task's key is its row id). On return, the polls in flight are cancelled and their tasks
    /// given back, due at once.
    pub async fn run(
        self,
        stop: impl Future<Output = ()>,
        mut on_event: impl FnMut(&Event),
    ) -> Result<TrackReport, StoreError> {
        let started = Instant::now();
        let transports = watch::distinct_transports(&self.endpoints);
        let sent_before: u64 = transports.iter().map(Transport::requests_sent).sum();
        let options = &self.options;
        let concurrency = options.watch.concurrency.max(1);
        // Claims come in batches: one query per quarter of the slots, not per slot.
        let batch = concurrency.div_ceil(4);
        let deadline = options.watch.timeout.and_then(|t| started.checked_add(t));
        let shared = Arc::new(Shared {
            index: self
                .endpoints
                .iter()
                .enumerate()
                .map(|(i, e)| (e.id().to_owned(), i))
                .collect(),
            endpoints: self.endpoints.clone().into(),
            options: options.watch.clone(),
        });
        let mut limits = Limits::new(&self.endpoints);
        let providers: Vec<String> = self.endpoints.iter().map(|e| e.id().to_owned()).collect();
        let mut running: JoinSet<Answered> = JoinSet::new();
        // Answers wait here while the batch before them is written: one write at a time, of
        // every answer that came meanwhile (a group commit: the busier, the fewer writes).
        let mut answered: Vec<Answered> = Vec::new();
        let mut writing: JoinSet<Written> = JoinSet::new();
        let mut in_write = 0;
        let mut requests = Requests::default();
        let mut held: HashMap<TaskKey, (usize, Claim)> = HashMap::new();
        let mut next_claim = started;
        let mut next_heartbeat = started;
        let stale = options.heartbeat.saturating_mul(5);
        let mut report = TrackReport {
            stopped: Stopped::Interrupted,
            polls: 0,
            dropped: 0,
            store_errors: 0,
            requests: 0,
            elapsed: Duration::ZERO,
        };
        let mut stop = std::pin::pin!(stop.fuse());
        let stopped = loop {
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                break Stopped::TimedOut;
            }
            if now >= next_heartbeat {
                match self.store.heartbeat(&options.worker, stale).await {
                    Ok(0) => {}
                    // A dead worker's tasks are due again.
                    Ok(_) => next_claim = now,
                    Err(error) => {
                        report.store_errors += 1;
                        tracing::warn!("{error}");
                    }
                }
                next_heartbeat = now + options.heartbeat;
            }
            while running.len() < concurrency {
                let Some(key) = limits.release(now) else {
                    break;
                };
                if let Some((e, claim)) = held.remove(&key) {
                    let request = requests.get(&shared.endpoints, e, &claim);
                    running.spawn(poll(Arc::clone(&shared), e, claim, request));
                }
            }
            let busy = running.len() + held.len() + answered.len() + in_write;
            let free = concurrency.saturating_sub(busy);
            let may_claim = free > 0 && (free >= batch || running.is_empty());
            if may_claim && now >= next_claim {
                match self
                    .store
                    .claim(&options.worker, &providers, free, options.lease)
                    .await
                {
                    Ok(claims) => {
                        let full = claims.len() == free;
                        for claim in claims {
                            let key = TaskKey(claim.id as u64);
                            let provider = &claim.course.polled(&claim.target).provider;
                            let Some(&e) = shared.index.get(provider.as_str()) else {
                                answered.push(unknown(&shared, claim));
                                continue;
                            };
                            if limits.admit(e, key, now) {
                                let request = requests.get(&shared.endpoints, e, &claim);
                                running.spawn(poll(Arc::clone(&shared), e, claim, request));
                            } else {
                                held.insert(key, (e, claim));
                            }
                        }
                        next_claim = if full {
                            now
                        } else {
                            match self.store.next_due(&providers).await {
                                Ok(Some(due)) => now + due.min(options.idle_check),
                                Ok(None)
                                    if options.until_idle
                                        && running.is_empty()
                                        && held.is_empty()
                                        && answered.is_empty()
                                        && writing.is_empty() =>
                                {
                                    break Stopped::Idle;
                                }
                                Ok(None) => now + options.idle_check,
                                Err(error) => {
                                    report.store_errors += 1;
                                    tracing::warn!("{error}");
                                    now + options.idle_check
                                }
                            }
                        };
                    }
                    Err(error) => {
                        report.store_errors += 1;
                        tracing::warn!("{error}");
                        next_claim = now + options.idle_check;
                    }
                }
            }
            // A claim waits for its time and for a batch's worth of free slots (a join frees one).
            let claim_at = may_claim.then_some(next_claim.min(next_heartbeat));
            let wake = match (
                claim_at,
                limits.next_wake().filter(|_| running.len() < concurrency),
            ) {
                (Some(claim), Some(held)) => Some(claim.min(held)),
                (claim, held) => claim.or(held),
            };
            // Answers (those of this turn's claims included) go to the store as soon as it is free.
            if writing.is_empty() && !answered.is_empty() {
                in_write = answered.len();
                writing.spawn(write(self.store.clone(), std::mem::take(&mut answered)));
            }
            tokio::select! {
                biased;
                () = &mut stop => break Stopped::Interrupted,
                Some(joined) = running.join_next(), if !running.is_empty() => {
                    let Ok(answer) = joined else { continue };
                    self.metrics.answered(answer.took);
                    if let Some((e, wait)) = answer.pause {
                        limits.pause(e, watch::later(wait));
                    }
                    if let Some((e, quota)) = &answer.quota {
                        limits.observe(*e, quota, Instant::now());
                    }
                    answered.push(answer);
                }
                Some(joined) = writing.join_next(), if !writing.is_empty() => {
                    let lost = std::mem::take(&mut in_write) as u64;
                    let Ok(written) = joined else {
                        // Its tasks are polled again once their leases run out.
                        report.store_errors += lost;
                        self.metrics.store_errors.fetch_add(lost, Ordering::Relaxed);
                        tracing::warn!("a write of {lost} polls' outcomes failed");
                        continue;
                    };
                    if let Some(due) = absorb(written, &mut report, &self.metrics, &mut requests, started, &mut on_event) {
                        next_claim = next_claim.min(Instant::now() + due);
                    }
                    if options.until_idle && running.is_empty() && held.is_empty() && answered.is_empty() {
                        // Perhaps the last: look now rather than at the next idle check.
                        next_claim = Instant::now();
                    }
                }
                () = self.store.tracked() => next_claim = Instant::now(),
                () = sleep_until(deadline) => break Stopped::TimedOut,
                () = sleep_until(wake) => {}
            }
        };
        // The polls in flight are cancelled; their tasks (and those held back) are due again.
        // The answers in hand are written first.
        running.abort_all();
        while running.join_next().await.is_some() {}
        loop {
            while let Some(joined) = writing.join_next().await {
                if let Ok(written) = joined {
                    absorb(
                        written,
                        &mut report,
                        &self.metrics,
                        &mut requests,
                        started,
                        &mut on_event,
                    );
                }
            }
            if answered.is_empty() {
                break;
            }
            writing.spawn(write(self.store.clone(), std::mem::take(&mut answered)));
        }
        if let Err(error) = self.store.release(&options.worker).await {
            report.store_errors += 1;
            tracing::warn!("{error}");
        }
        report.stopped = stopped;
        report.requests =
            transports.iter().map(Transport::requests_sent).sum::<u64>() - sent_before;
        report.elapsed = started.elapsed();
        Ok(report)
    }
}

/// What every poll of a run reads.
struct Shared {
    endpoints: Arc<[Endpoint]>,
    index: HashMap<String, usize>,
    options: Options,
}

/// Polls a claimed task through endpoint `e` with its request, and decides with its course.
async fn poll(
    shared: Arc<Shared>,
    e: usize,
    claim: Claim,
    request: Result<Arc<Prepared>, Error>,
) -> Answered {
    let polled = Arc::clone(claim.course.polled(&claim.target));
    let sent = Instant::now();
    let (result, quota) = match request {
        Ok(request) => shared.endpoints[e].send(&polled, &request).await,
        Err(error) => (Err(error), None),
    };
    let took = (
        sent.elapsed(),
        result
            .as_ref()
            .err()
            .map(|error| error.kind == ErrorKind::RateLimited),
    );
    let mut course = claim.course.clone();
    let mut endpoint = e;
    let outcome = course.answered(
        &mut endpoint,
        &shared.endpoints,
        &shared.index,
        &shared.options,
        result,
    );
    Answered {
        claim,
        polled,
        course,
        news: outcome.news,
        next: outcome.next,
        took: Some(took),
        pause: outcome.pause.map(|wait| (e, wait)),
        quota: quota.map(|quota| (e, quota)),
    }
}

/// Requests kept by row, so a task's request is made once, not at every claim: at most
/// [`Requests::KEPT`], one evicted at random when full, and forgotten when its task ends (a
/// task evicted has its request made again; it costs microseconds).
#[derive(Default)]
struct Requests {
    by_row: HashMap<i64, (usize, Arc<Target>, Arc<Prepared>)>,
}

impl Requests {
    const KEPT: usize = 4096;

    /// The request polling `claim` through endpoint `e`.
    fn get(
        &mut self,
        endpoints: &[Endpoint],
        e: usize,
        claim: &Claim,
    ) -> Result<Arc<Prepared>, Error> {
        let polled = claim.course.polled(&claim.target);
        if let Some((on, target, prepared)) = self.by_row.get(&claim.id)
            && *on == e
            && **target == **polled
        {
            return Ok(Arc::clone(prepared));
        }
        let prepared = Arc::new(endpoints[e].prepare(polled)?);
        if self.by_row.len() >= Self::KEPT
            && let Some(&old) = self.by_row.keys().next()
        {
            self.by_row.remove(&old);
        }
        self.by_row
            .insert(claim.id, (e, Arc::clone(polled), Arc::clone(&prepared)));
        Ok(prepared)
    }

    /// Forgets an ended task's request.
    fn forget(&mut self, row: i64) {
        self.by_row.remove(&row);
    }
}

/// A claimed task handed over to a follow-up of a provider this tracker has no endpoint for
/// ends with an error saying so (claims take only tasks of its own providers).
fn unknown(shared: &Shared, claim: Claim) -> Answered {
    let polled = Arc::clone(claim.course.polled(&claim.target));
    let known: Vec<&str> = shared.endpoints.iter().map(Endpoint::id).collect();
    let error = Error::local(
        ErrorKind::Definition,
        format!(
            "no provider `{}` here (known: {})",
            polled.provider,
            known.join(", ")
        ),
    );
    Answered {
        course: claim.course.clone(),
        claim,
        polled,
        news: None,
        next: Next::End(Ending::Failed(error), None),
        took: None,
        pause: None,
        quota: None,
    }
}

impl Answered {
    /// What writing it stores.
    fn settlement(&self) -> Settlement<'_> {
        let (ending, end_task) = match &self.next {
            Next::End(ending, task) => (Some(ending), task.as_ref()),
            Next::After(_) => (None, None),
        };
        let (changed_task, poll_error) = match &self.news {
            Some(News::Changed(task)) => (Some(task), None),
            Some(News::Failed { error, .. }) => (None, Some(error)),
            None => (None, None),
        };
        let ended_error = match ending {
            Some(Ending::Failed(error)) => Some(error),
            _ => None,
        };
        Settlement {
            claim: &self.claim,
            course: &self.course,
            task: changed_task.or(end_task),
            error: poll_error.or(ended_error),
            ending: ending.map(Ending::name),
            next_poll: self.due_in(),
            changed: changed_task.is_some(),
        }
    }

    /// When the task is due again, if it is.
    fn due_in(&self) -> Option<Duration> {
        match &self.next {
            Next::After(wait) => Some((*wait).min(watch::MAX_WAIT)),
            Next::End(..) => None,
        }
    }

    /// The events to tell once it is written.
    fn into_events(self, elapsed: Duration) -> Vec<Event> {
        let Answered {
            claim,
            polled,
            course,
            news,
            next,
            ..
        } = self;
        let key = TaskKey(claim.id as u64);
        let mut events = Vec::new();
        match news {
            Some(News::Changed(task)) => events.push(Event::Changed {
                key,
                target: Arc::clone(&polled),
                task,
                polls: course.polls,
                elapsed,
            }),
            Some(News::Failed { error, gives_up }) => events.push(Event::Failed {
                key,
                target: Arc::clone(&polled),
                error,
                polls: course.polls,
                elapsed,
                gives_up,
            }),
            None => {}
        }
        if let Next::End(ending, task) = next {
            let mut finished = Finished::unpolled(ending, elapsed);
            finished.task = task;
            finished.polls = course.polls;
            if let Some(seen) = course.last {
                finished.state = Some(seen.state);
                finished.native_status = Some(seen.native_status);
                finished.progress = seen.progress;
            }
            events.push(Event::Finished {
                key,
                target: claim.target,
                finished,
            });
        }
        events
    }
}

/// Writes a batch of answers in one transaction; if that fails, each alone, so one that
/// cannot be written (a corrupt row, a deadlock with another worker) fails alone.
async fn write(store: Store, batch: Vec<Answered>) -> Written {
    let settlements: Vec<Settlement<'_>> = batch.iter().map(Answered::settlement).collect();
    let mut written = store
        .settle(&settlements)
        .await
        .map(|all| all.into_iter().map(Some).collect());
    if written.is_err() && settlements.len() > 1 {
        let mut each = Vec::with_capacity(settlements.len());
        for settlement in &settlements {
            match store.settle(std::slice::from_ref(settlement)).await {
                Ok(one) => each.push(one.first().copied()),
                Err(error) => {
                    // Not written: polled again once its lease runs out.
                    tracing::warn!("{error}");
                    each.push(None);
                }
            }
        }
        written = Ok(each);
    }
    drop(settlements);
    (batch, written)
}

/// Counts a written batch and tells its events; when the soonest of its tasks is due again.
fn absorb(
    (batch, written): Written,
    report: &mut TrackReport,
    metrics: &TrackMetrics,
    requests: &mut Requests,
    started: Instant,
    on_event: &mut impl FnMut(&Event),
) -> Option<Duration> {
    let written = match written {
        Ok(written) => written,
        Err(error) => {
            // Each is polled again once its lease runs out.
            let failed = batch.len() as u64;
            report.store_errors += failed;
            metrics.store_errors.fetch_add(failed, Ordering::Relaxed);
            tracing::warn!("{error}");
            return None;
        }
    };
    let elapsed = started.elapsed();
    let mut soonest: Option<Duration> = None;
    for (answer, written) in batch.into_iter().zip(written) {
        match written {
            Some(true) => {}
            Some(false) => {
                report.dropped += 1;
                metrics.dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            None => {
                report.store_errors += 1;
                metrics.store_errors.fetch_add(1, Ordering::Relaxed);
                continue;
            }
        }
        report.polls += 1;
        metrics.polls.fetch_add(1, Ordering::Relaxed);
        match answer.due_in() {
            Some(due) => soonest = Some(soonest.map_or(due, |s| s.min(due))),
            None => requests.forget(answer.claim.id),
        }
        for event in answer.into_events(elapsed) {
            on_event(&event);
        }
    }
    soonest
}

/// Sleeps until `at`, or forever when there is nothing to wait for.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
