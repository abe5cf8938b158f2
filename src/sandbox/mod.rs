//! The sandbox: a real HTTP server on loopback that plays every definition from the definition
//! itself, so everything works with no credentials and no network.
//!
//! Each provider lives under `/<id>`: a client pointed at `http://127.0.0.1:<port>/<id>` sends
//! the very request the definition describes. The sandbox checks it (method, path template,
//! query flags, inputs and their patterns, the credential where the definition puts it) and
//! answers the next step of the requested task: scenarios advance on each poll, examples answer
//! alone, and fault scenarios misbehave (429, 5xx, slow, truncated, malformed, undocumented
//! status, failure inside a 2xx) before they recover into the provider's first scenario.
//! Every track answers to ids that the definition's own patterns accept. `GET /`
//! lists everything served, with an id for every track (`GET /?ids=N` lists up to N per track,
//! at most 1,000).

pub mod auth;
mod plan;
mod server;

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use plan::{Body, Fault, Ids, Outcome, ProviderPlan, Reply, Step, Track, TrackKind};
pub use server::Served;

use crate::http::request::Credentials;
use crate::interp::{Engine, ProviderClient};
use crate::model::Provider;
use crate::runtime::Error;

/// Hears of every request the sandbox answers.
pub type RequestLog = Arc<dyn Fn(&Served) + Send + Sync>;

/// How the sandbox behaves.
#[derive(Clone)]
pub struct Options {
    /// How long the `fault-slow` answer waits: set it past the client's timeout.
    pub slow: Duration,
    /// Called once per answered request.
    pub log: Option<RequestLog>,
    /// How many ids each track gets where they are generated from the task-id pattern (where the
    /// pattern accepts `<name>-<n>`, every `n` reaches the track).
    pub ids_per_track: usize,
    /// The secrets requests are checked against (signatures recomputed with them, grants
    /// checked); `None`: the placeholders of [`auth::placeholder_credentials`].
    pub credentials: Option<crate::http::request::Credentials>,
    /// How long the tokens its OAuth endpoints issue live.
    pub token_lifetime: Duration,
}

/// How long an issued token lives unless the caller says otherwise: short, so a watch of a
/// few minutes sees it renewed.
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(60);

/// Generated ids per track unless the caller says otherwise.
pub const DEFAULT_IDS_PER_TRACK: usize = 16;

impl Default for Options {
    fn default() -> Self {
        Options {
            slow: Duration::from_secs(35),
            log: None,
            ids_per_track: DEFAULT_IDS_PER_TRACK,
            credentials: None,
            token_lifetime: DEFAULT_TOKEN_LIFETIME,
        }
    }
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("slow", &self.slow)
            .field("log", &self.log.is_some())
            .field("ids_per_track", &self.ids_per_track)
            .finish()
    }
}

/// Every definition's plan, and how far each task id has advanced.
#[derive(Debug)]
pub struct Sandbox {
    plans: Vec<ProviderPlan>,
    by_id: HashMap<String, usize>,
    polls: Mutex<HashMap<(usize, String), u32>>,
    served: AtomicU64,
    /// Per provider with declared rate limits, one limiter per limit, exactly as declared (the
    /// sandbox holds one set of credentials, so a provider's credential is its key).
    limiters: HashMap<String, Vec<DeclaredLimit>>,
    /// Requests answered `429` for going over a declared limit.
    rate_limited: AtomicU64,
    /// Set when the sandbox stops: slow answers end at once.
    stopping: tokio::sync::watch::Sender<bool>,
    options: Options,
    /// What requests' credentials are checked against.
    credentials: crate::http::request::Credentials,
    /// Tokens issued, nonces seen.
    ledger: auth::Ledger,
}

impl Sandbox {
    /// A sandbox playing every definition `engine` holds.
    pub fn of(engine: &Engine, options: Options) -> Self {
        Sandbox::new(engine.iter().map(|loaded| &loaded.provider), options)
    }

    /// Plans every provider (the last one of an id wins).
    #[doc(hidden)]
    pub fn new<'a, P: std::borrow::Borrow<Provider> + 'a>(
        providers: impl IntoIterator<Item = &'a P>,
        options: Options,
    ) -> Self {
        let mut plans: Vec<ProviderPlan> = Vec::new();
        let mut by_id = HashMap::new();
        for provider in providers {
            let provider: &Provider = provider.borrow();
            let plan = ProviderPlan::new(provider, options.slow, options.ids_per_track);
            match by_id.get(&provider.id) {
                Some(&i) => plans[i] = plan,
                None => {
                    by_id.insert(provider.id.clone(), plans.len());
                    plans.push(plan);
                }
            }
        }
        let credentials = options.credentials.clone().unwrap_or_else(|| {
            auth::placeholder_credentials(
                plans.iter().map(|p| &p.provider),
                std::path::Path::new(""),
            )
        });
        let limiters = plans
            .iter()
            .filter(|p| !p.provider.rate_limits.is_empty())
            .map(|p| {
                let limiters = p
                    .provider
                    .rate_limits
                    .iter()
                    .map(declared_limiter)
                    .collect();
                (p.provider.id.clone(), limiters)
            })
            .collect();
        Sandbox {
            plans,
            by_id,
            polls: Mutex::new(HashMap::new()),
            served: AtomicU64::new(0),
            limiters,
            rate_limited: AtomicU64::new(0),
            stopping: tokio::sync::watch::Sender::new(false),
            options,
            credentials,
            ledger: auth::Ledger::default(),
        }
    }

    /// Requests answered `429` so far for going over a limit their definition declares.
    pub fn rate_limited(&self) -> u64 {
        self.rate_limited.load(Ordering::Relaxed)
    }

    /// `None` when provider `id` may be answered now (the request is counted), else how long
    /// until it may.
    fn over_limit(&self, id: &str) -> Option<Duration> {
        use governor::clock::Clock as _;
        let clock = governor::clock::DefaultClock::default();
        let wait = self
            .limiters
            .get(id)?
            .iter()
            .find_map(|limit| match limit {
                DeclaredLimit::Bucket(limiter) => limiter
                    .check()
                    .err()
                    .map(|not_until| not_until.wait_time_from(clock.now())),
                DeclaredLimit::Window { requests, per, log } => {
                    let now = std::time::Instant::now();
                    let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
                    while log
                        .front()
                        .is_some_and(|at| now.duration_since(*at) >= *per)
                    {
                        log.pop_front();
                    }
                    if log.len() < *requests {
                        log.push_back(now);
                        None
                    } else {
                        log.front().map(|oldest| *per - now.duration_since(*oldest))
                    }
                }
            })?;
        self.rate_limited.fetch_add(1, Ordering::Relaxed);
        Some(wait)
    }

    /// Credentials every definition it plays accepts: placeholders for each variable they read
    /// (for a signature or a JWT grant, the keys the sandbox checks with).
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// The plans, in the order the providers were given.
    pub fn plans(&self) -> &[ProviderPlan] {
        &self.plans
    }

    /// The plan of provider `id`, if the sandbox serves it.
    pub fn plan(&self, id: &str) -> Option<&ProviderPlan> {
        self.by_id.get(id).map(|&i| &self.plans[i])
    }

    /// OAuth tokens issued so far.
    pub fn tokens_issued(&self) -> u64 {
        self.ledger
            .activity()
            .values()
            .map(|a| a.tokens_issued)
            .sum()
    }

    /// What the credentials of each provider that used any did so far (tokens issued and
    /// expired, signed requests), in the order the sandbox serves the providers.
    pub fn auth_activity(&self) -> Vec<(&str, auth::Activity)> {
        let activity = self.ledger.activity();
        self.plans
            .iter()
            .filter_map(|p| {
                let id = p.provider.id.as_str();
                activity.get(id).map(|a| (id, *a))
            })
            .collect()
    }

    fn ids(&self) -> Vec<&str> {
        self.plans.iter().map(|p| p.provider.id.as_str()).collect()
    }

    /// How many requests have reached `task_id` of `provider` (each one advanced its track by
    /// a step): what a client really sent, retries included, whatever it says it sent.
    pub fn polls(&self, provider: &str, task_id: &str) -> u32 {
        let Some(&index) = self.by_id.get(provider) else {
            return 0;
        };
        let polls = self.polls.lock().unwrap_or_else(|e| e.into_inner());
        polls
            .get(&(index, task_id.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    /// Counts a poll of `task_id` and returns how many came before it; `None` when too many
    /// task ids are tracked already.
    fn advance(&self, provider: &str, task_id: &str) -> Option<u32> {
        let index = *self.by_id.get(provider)?;
        let mut polls = self.polls.lock().unwrap_or_else(|e| e.into_inner());
        let key = (index, task_id.to_owned());
        if let Some(count) = polls.get_mut(&key) {
            let before = *count;
            *count = count.saturating_add(1);
            return Some(before);
        }
        if polls.len() >= server::MAX_TRACKED_TASKS {
            return None;
        }
        polls.insert(key, 1);
        Some(0)
    }

    /// Binds `127.0.0.1:port` (0: any free port) and serves until stopped.
    pub async fn start(self, port: u16) -> std::io::Result<Running> {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
        let addr = listener.local_addr()?;
        let sandbox = Arc::new(self);
        let app = axum::Router::new()
            .fallback(server::handle)
            .with_state(Arc::clone(&sandbox));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });
        let root = url::Url::parse(&format!("http://{addr}/")).map_err(std::io::Error::other)?;
        Ok(Running {
            addr,
            root,
            sandbox,
            stop,
            task,
        })
    }
}

/// A limit as its definition declares it, enforced exactly (a watch paces itself a little
/// under it).
#[derive(Debug)]
enum DeclaredLimit {
    /// A bucket of `burst` requests refilled at `requests` per `per`.
    Bucket(governor::DefaultDirectRateLimiter),
    /// No window of `per` holds more than `requests`: the times of the last ones answered.
    Window {
        requests: usize,
        per: Duration,
        log: Mutex<std::collections::VecDeque<std::time::Instant>>,
    },
}

fn declared_limiter(limit: &crate::model::RateLimit) -> DeclaredLimit {
    match limit.burst {
        Some(burst) => {
            let burst = std::num::NonZeroU32::new(burst).unwrap_or(std::num::NonZeroU32::MIN);
            let quota = governor::Quota::with_period(limit.interval().max(Duration::from_nanos(1)))
                .unwrap_or_else(|| governor::Quota::per_second(std::num::NonZeroU32::MIN))
                .allow_burst(burst);
            DeclaredLimit::Bucket(governor::DefaultDirectRateLimiter::direct(quota))
        }
        None => DeclaredLimit::Window {
            requests: limit.requests as usize,
            per: limit.per,
            log: Mutex::new(std::collections::VecDeque::new()),
        },
    }
}

/// A sandbox being served.
#[derive(Debug)]
pub struct Running {
    addr: SocketAddr,
    root: url::Url,
    sandbox: Arc<Sandbox>,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// The address the sandbox listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Where a client of provider `id` fetches its OAuth tokens (`--auth-url`).
    pub fn token_url(&self, id: &str) -> url::Url {
        let mut url = self.root.clone();
        url.set_path(&format!("/{}/{id}/token", server::TOKEN_PREFIX));
        url
    }

    /// `--auth-url` for every provider at once: [`token_url`](Self::token_url) with
    /// `{provider}` where the id goes.
    pub fn token_url_template(&self) -> String {
        format!("{}/{}/{{provider}}/token", self.url(), server::TOKEN_PREFIX)
    }

    /// `--base-url` for every provider at once: [`base_url`](Self::base_url) with `{provider}`
    /// where the id goes.
    pub fn base_url_template(&self) -> String {
        format!("{}/{{provider}}", self.url())
    }

    /// Where a client of provider `id` sends its requests.
    pub fn base_url(&self, id: &str) -> url::Url {
        let mut url = self.root.clone();
        url.set_path(&format!("/{id}"));
        url
    }

    /// A client for provider `id` of `engine`, sending its requests here with credentials the
    /// sandbox accepts (OAuth tokens fetched from [`token_url`](Self::token_url)).
    pub fn client(&self, engine: &Engine, id: &str) -> Result<ProviderClient, Error> {
        let client = engine.provider(id)?;
        let provider = engine.get(id).map(|l| &l.provider);
        let names = provider.map(|p| p.auth.env_names()).unwrap_or_default();
        // Only the provider's own: the sandbox holds every definition's placeholders.
        let mut credentials = Credentials::new().with_token_endpoint(self.token_url(id));
        for name in names {
            if let Some(value) = self.sandbox.credentials().value(name) {
                credentials.set(name, value);
            }
        }
        Ok(client.base_url(self.base_url(id)).credentials(credentials))
    }

    /// The sandbox being served: its plans and what it has counted.
    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    /// Requests received so far (a slow answer counts when it arrives).
    pub fn served(&self) -> u64 {
        self.sandbox.served.load(Ordering::Relaxed)
    }

    /// Stops accepting, ends slow answers, lets the other requests in flight finish (at most
    /// `STOP_GRACE`), and returns.
    pub async fn stop(self) -> std::io::Result<()> {
        self.sandbox.stopping.send_replace(true);
        let _ = self.stop.send(());
        let abort = self.task.abort_handle();
        match tokio::time::timeout(STOP_GRACE, self.task).await {
            Ok(Ok(result)) => result,
            Ok(Err(error)) => Err(std::io::Error::other(error)),
            Err(_) => {
                abort.abort();
                Ok(())
            }
        }
    }
}

/// How long stopping waits for requests in flight.
const STOP_GRACE: Duration = Duration::from_secs(5);
