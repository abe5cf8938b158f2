//! Watching tasks until they end: every task is polled with its definition's polling hints,
//! waits grow (with jitter) while a task stays unchanged, request faults go through the
//! transport's retries and then are forgiven up to a limit, and a global concurrency limit
//! bounds the requests in flight.
//!
//! [`Watcher::start`] gives a [`WatchHandle`] that adds and removes tasks while the watch runs,
//! and [`Events`], a `Stream` of owned [`Event`]s. The stream *is* the driver: one loop owns
//! every task's state (its target, counters and what it last was) and a time-ordered queue of the
//! next polls, and runs only while the consumer asks for the next event. So no poll starts while
//! the consumer is busy (a slow consumer slows polling and never loses an event), and memory
//! grows with the number of watched tasks by their inputs and last state, not by bodies (a task
//! returned by a poll goes out in its event, not into the slot). The polls in flight, at most
//! `concurrency`, are tasks of the runtime: an answer that arrives while the consumer is busy is
//! read at once, so a slow consumer never makes a request time out. On a current-thread runtime
//! (the CLI's) they cost no cross-thread wake-up (measured: 34 → 27 µs of CPU per request against
//! a multi-thread runtime). [`Watcher::run`] is the same stream for a fixed list, with a
//! [`Report`] at the end.

pub(crate) mod course;
pub(crate) mod limit;
mod list;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::stream::{BoxStream, FusedStream};
use futures_util::{FutureExt as _, Stream, StreamExt as _};
use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinSet};
use tokio::time::Instant;

pub use course::{MAX_HOPS, MAX_WAIT};
#[doc(hidden)]
pub use list::{ListError, ParsedList, parse_list};

use course::{Course, News, Next};

use crate::http::request::{Credentials, Inputs};
use crate::http::transport::{Prepared, Request, Transport};
use crate::model::Provider;
pub use crate::model::RateLimit;
use crate::runtime::quota::Quota;
use crate::runtime::{Error, ErrorKind};
pub use crate::spec::RateLimitScope;
use crate::task::{Progress, State, UploadTask};

/// One task to watch: which provider, which task, and the provider's other inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The provider id.
    pub provider: String,
    /// The provider's id for the task.
    pub task_id: String,
    /// The provider's other inputs.
    pub inputs: Inputs,
}

impl Target {
    /// Task `task_id` of provider `provider`, with no other input.
    pub fn new(provider: impl Into<String>, task_id: impl Into<String>) -> Target {
        Target {
            provider: provider.into(),
            task_id: task_id.into(),
            inputs: Inputs::new(),
        }
    }

    /// The same target with one more input.
    pub fn input(mut self, name: impl Into<String>, value: impl Into<String>) -> Target {
        self.inputs.set(name, value);
        self
    }
}

/// Which engine answers a provider's polls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answerer {
    /// The client `build.rs` generated (built-in providers only; others fall back to the
    /// interpreter, which follows the same plan).
    Generated,
    /// The interpreter.
    Interpreted,
}

/// How one provider's tasks are reached: made by a generated client's `endpoint()` or by
/// [`ProviderClient::endpoint`](crate::interp::ProviderClient::endpoint).
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub(crate) provider: Arc<Provider>,
    pub(crate) transport: Transport,
    base_url: Option<url::Url>,
    credentials: Credentials,
    answerer: Answerer,
}

impl Endpoint {
    /// An endpoint answered by `answerer`; `Generated` only for a provider compiled in whose
    /// definition was not replaced at run time (the generated client knows only the built-in
    /// definition).
    #[doc(hidden)]
    pub fn new(
        provider: Arc<Provider>,
        transport: Transport,
        base_url: Option<url::Url>,
        credentials: Credentials,
        answerer: Answerer,
    ) -> Endpoint {
        Endpoint {
            provider,
            transport,
            base_url,
            credentials,
            answerer,
        }
    }

    /// Keeps `limits` instead of the rate limits the definition declares: the plan this
    /// credential is on, where it differs from what the definition documents (a higher tier
    /// allows more; none keeps only what answers' `RateLimit` headers say).
    pub fn rate_limits(mut self, limits: Vec<RateLimit>) -> Endpoint {
        let mut provider = (*self.provider).clone();
        provider.rate_limits = limits;
        self.provider = Arc::new(provider);
        self
    }

    /// An endpoint the interpreter answers.
    #[doc(hidden)]
    pub fn interpreted(
        provider: Arc<Provider>,
        transport: Transport,
        base_url: Option<url::Url>,
        credentials: Credentials,
    ) -> Endpoint {
        Endpoint::new(
            provider,
            transport,
            base_url,
            credentials,
            Answerer::Interpreted,
        )
    }

    /// The provider id.
    pub fn id(&self) -> &str {
        &self.provider.id
    }

    /// Builds `target`'s request without sending it: refuses what every poll of it would (an
    /// unknown input, a value its pattern refuses, a missing required input or credential).
    pub fn check(&self, target: &Target) -> Result<(), Error> {
        crate::http::request::prepare(
            &self.provider,
            &target.task_id,
            &target.inputs,
            self.base_url.as_ref(),
            &self.credentials,
        )
        .map(drop)
    }

    /// Which engine answers its polls.
    pub fn answerer(&self) -> Answerer {
        self.answerer
    }
}

/// How tasks are watched.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Polls in flight at once, across every task.
    pub concurrency: usize,
    /// The first wait between polls, instead of each definition's `polling.interval`.
    pub interval: Option<Duration>,
    /// The longest wait, instead of each definition's `polling.max_interval`.
    pub max_interval: Option<Duration>,
    /// When the whole watch gives up on the tasks still watched, counted from
    /// [`Watcher::start`]: for a fixed list ([`Watcher::run`], the CLI's `watch`); a watch that
    /// takes tasks for as long as it runs leaves it `None` and removes what it no longer wants.
    pub timeout: Option<Duration>,
    /// Polls in a row that may fail with a transient error before the task is given up.
    pub max_errors: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            concurrency: 32,
            interval: None,
            max_interval: None,
            timeout: None,
            max_errors: 5,
        }
    }
}

/// How a watched task ended.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Ending {
    /// The task reached a terminal state.
    Terminal(State),
    /// A request failed in a way polling again would not fix, or too many times in a row.
    Failed(Error),
    /// The watch's timeout passed first.
    TimedOut,
    /// The watch was stopped first.
    Interrupted,
    /// [`WatchHandle::remove`] took it out of the watch.
    Removed,
}

impl Finished {
    /// A task that ended before any poll of it was answered.
    pub(crate) fn unpolled(ending: Ending, elapsed: Duration) -> Finished {
        Finished {
            ending,
            task: None,
            state: None,
            native_status: None,
            progress: None,
            polls: 0,
            elapsed,
        }
    }
}

impl Ending {
    /// `succeeded`, `failed`, …, `error`, `timeout`, `interrupted`, `removed`.
    pub fn name(&self) -> &'static str {
        match self {
            Ending::Terminal(state) => state.as_str(),
            Ending::Failed(_) => "error",
            Ending::TimedOut => "timeout",
            Ending::Interrupted => "interrupted",
            Ending::Removed => "removed",
        }
    }
}

/// What a watched task came to.
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    /// Why watching it stopped.
    pub ending: Ending,
    /// The task that ended it, when it reached a terminal state (in a [`Report`], `None`: the
    /// `Finished` event had it).
    pub task: Option<UploadTask>,
    /// The last state seen, if any poll succeeded.
    pub state: Option<State>,
    /// The last native status seen.
    pub native_status: Option<String>,
    /// The last progress seen.
    pub progress: Option<Progress>,
    /// Polls answered for it (an answer or an error), follow-ups included.
    pub polls: u32,
    /// From the start of the watch.
    pub elapsed: Duration,
}

/// Every task's end, in the order given, and what it took.
#[derive(Debug, Clone)]
pub struct Report {
    /// One per target, in the order given; without the terminal task (the `Finished` event
    /// carried it), so a report of many tasks stays small.
    pub tasks: Vec<Finished>,
    /// HTTP requests sent through the endpoints' transports during the watch, retries included
    /// (anything else sent through the same transports meanwhile counts too).
    pub requests: u64,
    /// How long the watch took.
    pub elapsed: Duration,
}

/// Names one watched task within its watch: [`WatchHandle::add`] gives it, every [`Event`]
/// carries it. Keys of two watches may be equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskKey(pub(crate) u64);

impl TaskKey {
    /// The number behind the key: 0 for the first task added, then counting up.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for TaskKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// What happens while watching, as it happens. Every task added gets exactly one `Finished`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Event {
    /// A poll returned a task whose state, native status or progress differs from the last.
    Changed {
        /// The task's key.
        key: TaskKey,
        /// What was polled: the target, or the follow-up it handed over to.
        target: Arc<Target>,
        /// The task as the poll returned it.
        task: UploadTask,
        /// Polls answered for this key so far.
        polls: u32,
        /// From the start of the watch.
        elapsed: Duration,
    },
    /// A poll failed.
    Failed {
        /// The task's key.
        key: TaskKey,
        /// What was polled: the target, or the follow-up it handed over to.
        target: Arc<Target>,
        /// Why.
        error: Error,
        /// Polls answered for this key so far.
        polls: u32,
        /// From the start of the watch.
        elapsed: Duration,
        /// Whether the task ends with it (a `Finished` follows).
        gives_up: bool,
    },
    /// The task ended: the last event of its key.
    Finished {
        /// The task's key.
        key: TaskKey,
        /// The target as added (whatever follow-ups it took).
        target: Arc<Target>,
        /// How it ended: the terminal task if one ended it, and the last state seen.
        finished: Finished,
    },
}

impl Event {
    /// The key of the task this event is about.
    pub fn key(&self) -> TaskKey {
        match self {
            Event::Changed { key, .. }
            | Event::Failed { key, .. }
            | Event::Finished { key, .. } => *key,
        }
    }

    /// The target this event is about (for `Changed` and `Failed`, a follow-up's own).
    pub fn target(&self) -> &Target {
        match self {
            Event::Changed { target, .. }
            | Event::Failed { target, .. }
            | Event::Finished { target, .. } => target,
        }
    }
}

/// Whether polling again may fix an error: what the transport calls retryable, and a body that
/// could not be read (a provider's hiccup; a definition that never reads the body still ends
/// after `max_errors`).
pub fn is_transient(kind: ErrorKind, retryable: bool) -> bool {
    retryable || kind == ErrorKind::Decode
}

/// Sets up a watch: the providers it can poll (endpoints) and how it polls.
#[derive(Debug)]
pub struct Watcher {
    endpoints: Vec<Endpoint>,
    options: Options,
}

impl Watcher {
    /// A watcher with no endpoint yet.
    pub fn new(options: Options) -> Watcher {
        Watcher {
            endpoints: Vec::new(),
            options,
        }
    }

    /// Makes a provider watchable (a later endpoint of the same id replaces it).
    pub fn add(&mut self, endpoint: Endpoint) -> &mut Watcher {
        self.endpoints
            .retain(|e| e.provider.id != endpoint.provider.id);
        self.endpoints.push(endpoint);
        self
    }

    /// Starts watching: tasks come through the handle, what happens to them out of the stream.
    /// Nothing is polled until the stream is polled; the stream ends once the handle is closed
    /// (or every clone dropped) and every task has finished, or after a stop or the timeout
    /// once every task still watched has had its `Finished`. Call it inside a Tokio runtime.
    pub fn start(self) -> (WatchHandle, Events) {
        let (sender, commands) = mpsc::unbounded_channel();
        let closed = Arc::new(Mutex::new(false));
        let handle = WatchHandle {
            shared: Arc::new(HandleShared {
                sender,
                next_key: AtomicU64::new(0),
                closed: Arc::clone(&closed),
            }),
        };
        // Boxed: the stream moves it in and out of each event's future.
        let driver = Box::new(Driver::new(self.endpoints, self.options, commands, closed));
        let stream = futures_util::stream::unfold(driver, |mut driver| async move {
            let event = driver.next_event().await?;
            Some((event, driver))
        })
        .boxed()
        .fuse();
        (handle, Events { stream })
    }

    /// Polls every target until it ends, `stop` completes, or the timeout passes; `on_event`
    /// hears of every change as it happens. The same stream as [`Watcher::start`], for a fixed
    /// list.
    pub async fn run(
        self,
        targets: Vec<Target>,
        stop: impl Future<Output = ()>,
        mut on_event: impl FnMut(&Event),
    ) -> Report {
        let started = Instant::now();
        let counters = distinct_transports(&self.endpoints);
        let sent_before: u64 = counters.iter().map(Transport::requests_sent).sum();
        let count = targets.len();
        let (handle, mut events) = self.start();
        let mut order = HashMap::with_capacity(count);
        for (i, target) in targets.into_iter().enumerate() {
            if let Ok(key) = handle.add(target) {
                order.insert(key, i);
            }
        }
        handle.close();
        let mut tasks: Vec<Option<Finished>> = vec![None; count];
        let mut stop = std::pin::pin!(stop.fuse());
        loop {
            let event = tokio::select! {
                biased;
                () = &mut stop => {
                    handle.stop();
                    continue;
                }
                event = events.next() => event,
            };
            let Some(event) = event else { break };
            on_event(&event);
            if let Event::Finished { key, finished, .. } = event
                && let Some(&i) = order.get(&key)
            {
                tasks[i] = Some(Finished {
                    task: None,
                    ..finished
                });
            }
        }
        let elapsed = started.elapsed();
        Report {
            tasks: tasks
                .into_iter()
                .map(|finished| {
                    finished.unwrap_or_else(|| Finished::unpolled(Ending::Interrupted, elapsed))
                })
                .collect(),
            requests: counters.iter().map(Transport::requests_sent).sum::<u64>() - sent_before,
            elapsed,
        }
    }
}

/// One transport per counter: endpoints usually share one.
pub(crate) fn distinct_transports(endpoints: &[Endpoint]) -> Vec<Transport> {
    let mut distinct: Vec<Transport> = Vec::new();
    for endpoint in endpoints {
        if !distinct.iter().any(|t| t.same_counter(&endpoint.transport)) {
            distinct.push(endpoint.transport.clone());
        }
    }
    distinct
}

/// Adds tasks to a running watch and takes them out; cheap to clone. Dropping every clone
/// closes the watch (as [`WatchHandle::close`]).
#[derive(Debug, Clone)]
pub struct WatchHandle {
    shared: Arc<HandleShared>,
}

#[derive(Debug)]
struct HandleShared {
    sender: mpsc::UnboundedSender<Command>,
    next_key: AtomicU64,
    /// Whether tasks may no longer be added, shared with the driver (which sets it at the
    /// timeout). Checked and the command sent under the lock, so no task is added after a close,
    /// a stop or the timeout has been decided.
    closed: Arc<Mutex<bool>>,
}

impl HandleShared {
    fn closed(&self) -> std::sync::MutexGuard<'_, bool> {
        self.closed.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Why a task could not be added: the watch was closed or stopped, or its stream dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the watch takes no more tasks (closed, stopped or dropped)")]
pub struct WatchClosed;

#[derive(Debug)]
enum Command {
    Add(TaskKey, Arc<Target>),
    Remove(TaskKey),
    Close,
    Stop,
}

impl WatchHandle {
    /// Watches one more task, from now on; its events carry the key returned. A target whose
    /// provider has no endpoint finishes at once with an error of kind
    /// [`ErrorKind::Definition`].
    pub fn add(&self, target: Target) -> Result<TaskKey, WatchClosed> {
        let closed = self.shared.closed();
        if *closed {
            return Err(WatchClosed);
        }
        let key = TaskKey(self.shared.next_key.fetch_add(1, Ordering::Relaxed));
        self.shared
            .sender
            .send(Command::Add(key, Arc::new(target)))
            .map_err(|_| WatchClosed)?;
        Ok(key)
    }

    /// Stops watching a task: it finishes with [`Ending::Removed`] (unless it already ended);
    /// a poll in flight for it is cancelled.
    pub fn remove(&self, key: TaskKey) {
        let _ = self.shared.sender.send(Command::Remove(key));
    }

    /// Takes no more tasks: the stream ends once the watched ones have finished.
    pub fn close(&self) {
        let mut closed = self.shared.closed();
        *closed = true;
        let _ = self.shared.sender.send(Command::Close);
    }

    /// Ends the watch now: polls in flight are cancelled, every task still watched finishes with
    /// [`Ending::Interrupted`], then the stream ends.
    pub fn stop(&self) {
        let mut closed = self.shared.closed();
        *closed = true;
        let _ = self.shared.sender.send(Command::Stop);
    }
}

/// The events of a watch, as a `Stream`: polling it is what drives the watch. Once ended it
/// stays ended (`FusedStream`).
pub struct Events {
    stream: futures_util::stream::Fuse<BoxStream<'static, Event>>,
}

impl fmt::Debug for Events {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Events").finish_non_exhaustive()
    }
}

impl Stream for Events {
    type Item = Event;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        self.stream.poll_next_unpin(cx)
    }
}

impl FusedStream for Events {
    fn is_terminated(&self) -> bool {
        self.stream.is_terminated()
    }
}

/// What the driver keeps per task between polls.
#[derive(Debug)]
struct Slot {
    target: Arc<Target>,
    endpoint: usize,
    course: Course,
    /// The poll in flight, if any: cancelled when the task is removed.
    in_flight: Option<AbortHandle>,
    /// The request polling it, made at its first poll: the target polled (the task's, or the
    /// follow-up its course is on), through which endpoint, and the request.
    prepared: Option<(Arc<Target>, usize, Arc<Prepared>)>,
}

/// A poll's task, its answer, and what the answer said of the allowance.
type PollResult = (TaskKey, Result<UploadTask, Error>, Option<Quota>);

/// The watch itself: every task's slot, the queue of next polls, the polls in flight, and the
/// events not yet handed to the consumer (a few at most: one poll makes two at most).
struct Driver {
    endpoints: Arc<[Endpoint]>,
    index: HashMap<String, usize>,
    /// The declared rate limits, per endpoint.
    limits: limit::Limits,
    options: Options,
    start: Instant,
    deadline: Option<Instant>,
    slots: HashMap<TaskKey, Slot>,
    queue: BinaryHeap<Reverse<(Instant, TaskKey)>>,
    /// The polls in flight, as runtime tasks, and whose each is.
    running: JoinSet<PollResult>,
    polling: HashMap<tokio::task::Id, TaskKey>,
    commands: mpsc::UnboundedReceiver<Command>,
    /// The handle's flag, set here at the timeout.
    closed: Arc<Mutex<bool>>,
    /// Whether tasks may still be added: no close yet, and a handle left.
    open: bool,
    /// Whether a handle is left to send commands (a removal or a stop after a close).
    listening: bool,
    /// Set by a stop or the timeout: every task left finishes with it, one event at a time.
    ending: Option<Ending>,
    /// The tasks left to finish after a stop or the timeout.
    leftover: VecDeque<TaskKey>,
    pending: VecDeque<Event>,
}

impl Driver {
    fn new(
        endpoints: Vec<Endpoint>,
        options: Options,
        commands: mpsc::UnboundedReceiver<Command>,
        closed: Arc<Mutex<bool>>,
    ) -> Driver {
        let start = Instant::now();
        let index = endpoints
            .iter()
            .enumerate()
            .map(|(i, e)| (e.provider.id.clone(), i))
            .collect();
        Driver {
            limits: limit::Limits::new(&endpoints),
            endpoints: endpoints.into(),
            index,
            deadline: options.timeout.and_then(|t| start.checked_add(t)),
            options,
            start,
            slots: HashMap::new(),
            queue: BinaryHeap::new(),
            running: JoinSet::new(),
            polling: HashMap::new(),
            commands,
            closed,
            open: true,
            listening: true,
            ending: None,
            leftover: VecDeque::new(),
            pending: VecDeque::new(),
        }
    }

    /// Runs the watch until it has an event to hand over, or has ended (`None`).
    async fn next_event(&mut self) -> Option<Event> {
        let concurrency = self.options.concurrency.max(1);
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(event);
            }
            if let Some(ending) = &self.ending {
                // Stopped: what is left finishes, one event per call, then the stream ends.
                let key = self.leftover.pop_front()?;
                let ending = ending.clone();
                self.finish(key, ending, None);
                continue;
            }
            let now = Instant::now();
            // Checked here too: while polls keep completing, the select below may never reach
            // its deadline branch.
            if self.deadline.is_some_and(|d| now >= d) {
                self.end_all(Ending::TimedOut);
                continue;
            }
            // Tasks a declared limit held back go first, in turn.
            while self.running.len() < concurrency {
                let Some(key) = self.limits.release(now) else {
                    break;
                };
                self.launch(key);
            }
            while self.running.len() < concurrency {
                let Some(&Reverse((at, key))) = self.queue.peek() else {
                    break;
                };
                if at > now {
                    break;
                }
                self.queue.pop();
                // A removed task's entry is left in the queue: skipped here.
                let Some(slot) = self.slots.get(&key) else {
                    continue;
                };
                if self.limits.admit(slot.endpoint, key, now) {
                    self.launch(key);
                }
            }
            if !self.open && self.slots.is_empty() {
                return None;
            }
            let wake = (self.running.len() < concurrency)
                .then(|| {
                    let due = self.queue.peek().map(|r| r.0.0);
                    match (due, self.limits.next_wake()) {
                        (Some(due), Some(held)) => Some(due.min(held)),
                        (due, held) => due.or(held),
                    }
                })
                .flatten();
            tokio::select! {
                biased;
                command = self.commands.recv(), if self.listening => self.apply(command),
                Some(joined) = self.running.join_next_with_id(), if !self.running.is_empty() => {
                    self.joined(joined);
                }
                () = sleep_until(self.deadline) => self.end_all(Ending::TimedOut),
                () = sleep_until(wake) => {}
            }
        }
    }

    /// Starts a poll of task `key` (if it is still watched).
    fn launch(&mut self, key: TaskKey) {
        let Some(slot) = self.slots.get_mut(&key) else {
            return;
        };
        let target = Arc::clone(slot.course.polled(&slot.target));
        let e = slot.endpoint;
        let prepared = match &slot.prepared {
            Some((polled, on, prepared)) if *on == e && Arc::ptr_eq(polled, &target) => {
                Ok(Arc::clone(prepared))
            }
            // Made once per task (a follow-up makes its own): its inputs never change.
            _ => self.endpoints[e].prepare(&target).map(Arc::new),
        };
        if let Ok(prepared) = &prepared {
            slot.prepared = Some((Arc::clone(&target), e, Arc::clone(prepared)));
        }
        let endpoints = Arc::clone(&self.endpoints);
        let poll = async move {
            let (result, quota) = match prepared {
                Ok(prepared) => endpoints[e].send(&target, &prepared).await,
                Err(error) => (Err(error), None),
            };
            (key, result, quota)
        };
        let handle = self.running.spawn(poll);
        self.polling.insert(handle.id(), key);
        slot.in_flight = Some(handle);
    }

    fn apply(&mut self, command: Option<Command>) {
        match command {
            Some(Command::Add(key, target)) => self.add(key, target),
            Some(Command::Remove(key)) => {
                if self.slots.contains_key(&key) {
                    self.finish(key, Ending::Removed, None);
                }
            }
            Some(Command::Close) => self.open = false,
            None => {
                self.open = false;
                self.listening = false;
            }
            Some(Command::Stop) => self.end_all(Ending::Interrupted),
        }
    }

    fn add(&mut self, key: TaskKey, target: Arc<Target>) {
        let Some(&endpoint) = self.index.get(target.provider.as_str()) else {
            let known: Vec<&str> = self.endpoints.iter().map(|e| e.id()).collect();
            let error = Error::local(
                ErrorKind::Definition,
                format!(
                    "no provider `{}` (known: {})",
                    target.provider,
                    known.join(", ")
                ),
            );
            self.finish_unpolled(key, target, Ending::Failed(error));
            return;
        };
        let course = Course::new(&self.endpoints[endpoint].provider, &self.options);
        self.slots.insert(
            key,
            Slot {
                target,
                endpoint,
                course,
                in_flight: None,
                prepared: None,
            },
        );
        self.queue.push(Reverse((Instant::now(), key)));
    }

    /// No more polls: every task still watched finishes with `ending`.
    fn end_all(&mut self, ending: Ending) {
        *self.closed.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.open = false;
        self.listening = false;
        // Dropping the set cancels the polls in flight.
        self.running = JoinSet::new();
        self.polling.clear();
        self.queue.clear();
        self.commands.close();
        let mut unseen = Vec::new();
        while let Ok(command) = self.commands.try_recv() {
            if let Command::Add(key, target) = command {
                unseen.push((key, target));
            }
        }
        for (key, target) in unseen {
            self.finish_unpolled(key, target, ending.clone());
        }
        let mut leftover: Vec<TaskKey> = self.slots.keys().copied().collect();
        leftover.sort_unstable();
        self.leftover = leftover.into();
        self.ending = Some(ending);
    }

    /// A poll's task came back: its answer, or (cancelled: its task was removed) nothing.
    fn joined(&mut self, joined: Result<(tokio::task::Id, PollResult), tokio::task::JoinError>) {
        match joined {
            Ok((id, (key, result, quota))) => {
                self.polling.remove(&id);
                if let Some(slot) = self.slots.get_mut(&key) {
                    slot.in_flight = None;
                    if let Some(quota) = quota {
                        self.limits.observe(slot.endpoint, &quota, Instant::now());
                    }
                }
                self.answered(key, result);
            }
            Err(error) => {
                let key = self.polling.remove(&error.id());
                if let (Some(key), true) = (key, error.is_panic()) {
                    if let Some(slot) = self.slots.get_mut(&key) {
                        slot.in_flight = None;
                    }
                    let error = Error::local(
                        ErrorKind::Definition,
                        "the poll panicked (a bug in unitask: please report it)",
                    );
                    self.answered(key, Err(error));
                }
            }
        }
    }

    /// The `Finished` event of a task that never had a slot (an unknown provider, or added as
    /// the watch ended).
    fn finish_unpolled(&mut self, key: TaskKey, target: Arc<Target>, ending: Ending) {
        let finished = Finished::unpolled(ending, self.start.elapsed());
        self.pending.push_back(Event::Finished {
            key,
            target,
            finished,
        });
    }

    /// The task's `Finished` event (with the task that ended it, if one did), and its slot gone.
    fn finish(&mut self, key: TaskKey, ending: Ending, task: Option<UploadTask>) {
        let Some(slot) = self.slots.remove(&key) else {
            return;
        };
        if let Some(poll) = slot.in_flight {
            poll.abort();
        }
        let (state, native_status, progress) = match slot.course.last {
            Some(seen) => (Some(seen.state), Some(seen.native_status), seen.progress),
            None => (None, None, None),
        };
        let finished = Finished {
            ending,
            task,
            state,
            native_status,
            progress,
            polls: slot.course.polls,
            elapsed: self.start.elapsed(),
        };
        self.pending.push_back(Event::Finished {
            key,
            target: slot.target,
            finished,
        });
    }

    /// A poll's answer: events, and the task's next poll or its end.
    fn answered(&mut self, key: TaskKey, result: Result<UploadTask, Error>) {
        let elapsed = self.start.elapsed();
        // A removed task's poll is not reported.
        let Some(slot) = self.slots.get_mut(&key) else {
            return;
        };
        // A follow-up is shown as the task it continues, under its own target.
        let target = Arc::clone(slot.course.polled(&slot.target));
        let polled = slot.endpoint;
        let outcome = slot.course.answered(
            &mut slot.endpoint,
            &self.endpoints,
            &self.index,
            &self.options,
            result,
        );
        let polls = slot.course.polls;
        if let Some(wait) = outcome.pause {
            self.limits.pause(polled, later(wait));
        }
        match outcome.news {
            Some(News::Changed(task)) => self.pending.push_back(Event::Changed {
                key,
                target,
                task,
                polls,
                elapsed,
            }),
            Some(News::Failed { error, gives_up }) => self.pending.push_back(Event::Failed {
                key,
                target,
                error,
                polls,
                elapsed,
                gives_up,
            }),
            None => {}
        }
        match outcome.next {
            Next::After(wait) => self.queue.push(Reverse((later(wait), key))),
            Next::End(ending, task) => self.finish(key, ending, task),
        }
    }
}

/// `wait` from now, `wait` capped at [`MAX_WAIT`].
pub(crate) fn later(wait: Duration) -> Instant {
    Instant::now() + wait.min(MAX_WAIT)
}

/// Sleeps until `at`, or forever when there is nothing to wait for.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

impl Endpoint {
    fn request<'a>(
        &'a self,
        target: &'a Target,
        quota: Option<&'a Mutex<Option<Quota>>>,
    ) -> Request<'a> {
        Request {
            task_id: &target.task_id,
            inputs: &target.inputs,
            base_url: self.base_url.as_ref(),
            credentials: &self.credentials,
            quota,
        }
    }

    /// The request that polls `target`, made once for all its polls.
    pub(crate) fn prepare(&self, target: &Target) -> Result<Prepared, Error> {
        let request = self.request(target, None);
        if self.answerer == Answerer::Generated
            && let Some(prepared) = crate::providers::prepare(&target.provider, request)
        {
            return prepared;
        }
        Prepared::new(&self.provider, request)
    }

    /// Polls `target` once with its request from [`Endpoint::prepare`]: the answer, and what
    /// its `RateLimit` headers said of the allowance.
    pub(crate) async fn send(
        &self,
        target: &Target,
        prepared: &Prepared,
    ) -> (Result<UploadTask, Error>, Option<Quota>) {
        let quota = Mutex::new(None);
        let request = self.request(target, Some(&quota));
        let generated = match self.answerer {
            Answerer::Generated => {
                crate::providers::status_prepared(
                    &target.provider,
                    &self.transport,
                    request,
                    prepared,
                )
                .await
            }
            Answerer::Interpreted => None,
        };
        let result = match generated {
            Some(result) => result,
            None => {
                self.transport
                    .fetch_prepared(&self.provider, request, prepared)
                    .await
            }
        };
        (
            result,
            quota.into_inner().unwrap_or_else(|e| e.into_inner()),
        )
    }
}
