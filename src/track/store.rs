//! The store a tracker keeps its tasks in: SQLite (one file, the default) or PostgreSQL (shared
//! by several workers), through one set of queries on sqlx's `Any` driver, with the schema
//! migrated at open from migrations embedded in the binary (`migrations/sqlite`,
//! `migrations/postgres`).
//!
//! A tracked task is one row: what to poll (provider, task id, inputs), the caller's labels and
//! callback, the last task a poll returned, how it ended, and its course (what decides the next
//! poll). A worker claims due rows with a lease: the claim moves a row's due time to the end of
//! the lease, so a row whose worker died is due again when the lease runs out, and a worker
//! writes a poll's outcome only while its lease still holds (else another worker has the row and
//! the outcome is dropped). Workers write a heartbeat; the tasks of a worker not heard from for
//! a few heartbeats are given back by the others at once, so a killed worker's tasks wait
//! seconds, not a whole lease. A change and an end are journaled (`events`) in the same transaction
//! as the row, so no change is lost or told twice across crashes. Triggers keep a tally of
//! tasks per state and deliveries per status as rows change, for metrics that never count a
//! whole table. Credentials are never stored.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::str::FromStr as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::pool::PoolConnection;
use sqlx::{
    Any, AnyConnection, AnyPool, AssertSqlSafe, Connection as _, Executor as _, Row as _,
    SqlSafeStr as _,
};
use tokio::sync::Notify;

use crate::http::request::Inputs;
use crate::runtime::Error;
use crate::task::{Progress, State, UploadTask};
use crate::watch::Target;
use crate::watch::course::{Course, Seen};

/// A store could not be opened, read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store's URL is not one this build reads.
    #[error("{0}")]
    Url(String),
    /// The database refused or failed.
    #[error("{doing}: {source}")]
    Database {
        /// What the store was doing.
        doing: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// The schema could not be brought up to date.
    #[error("cannot migrate the store: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored value is not what this version writes (a newer unitask wrote it, or it was edited).
    #[error("row {id}: the stored {column} cannot be read: {message}")]
    Corrupt {
        /// The row's id.
        id: i64,
        /// The column.
        column: &'static str,
        /// Why.
        message: String,
    },
}

fn database(doing: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |source| StoreError::Database { doing, source }
}

/// One tracked task as the store holds it and the service shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "serve", derive(utoipa::ToSchema))]
pub struct Tracked {
    /// The provider id.
    pub provider: String,
    /// The provider's id for the task.
    pub task_id: String,
    /// The provider's other inputs.
    pub inputs: BTreeMap<String, String>,
    /// The caller's labels.
    pub labels: BTreeMap<String, String>,
    /// Where each change is posted, if anywhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<String>,
    /// The last task a poll returned; `None` before the first answer.
    pub task: Option<UploadTask>,
    /// `None` while tracked, else how it ended: a terminal state's name, `error` (a request
    /// failed for good) or `removed`.
    pub ending: Option<String>,
    /// The last poll's error, if it failed (the one that ended the task, for `error`).
    #[serde(default)]
    pub error: Option<Error>,
    /// Polls answered, follow-ups included.
    pub polls: u32,
    /// When it was first tracked.
    pub created_at: jiff::Timestamp,
    /// When the row was last written.
    pub updated_at: jiff::Timestamp,
}

impl Tracked {
    /// What is polled for it.
    pub fn target(&self) -> Target {
        Target {
            provider: self.provider.clone(),
            task_id: self.task_id.clone(),
            inputs: self.inputs.iter().collect(),
        }
    }
}

/// A task to track: what to poll, and the caller's labels and callback.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewTask {
    /// The provider id.
    pub provider: String,
    /// The provider's id for the task.
    pub task_id: String,
    /// The provider's other inputs.
    pub inputs: BTreeMap<String, String>,
    /// The caller's labels.
    pub labels: BTreeMap<String, String>,
    /// Where each change is posted.
    pub callback_url: Option<String>,
}

impl From<&Target> for NewTask {
    fn from(target: &Target) -> NewTask {
        NewTask {
            provider: target.provider.clone(),
            task_id: target.task_id.clone(),
            inputs: inputs_map(&target.inputs),
            ..NewTask::default()
        }
    }
}

fn inputs_map(inputs: &Inputs) -> BTreeMap<String, String> {
    inputs
        .iter()
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect()
}

/// What [`Store::track`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Tracking {
    /// The task is tracked from now on.
    Created(Tracked),
    /// It was already (its record as it is; a removed one is tracked again).
    Existing(Tracked),
}

/// Which tracked tasks to list, a page at a time (by id, oldest first).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    /// Only this provider's.
    pub provider: Option<String>,
    /// Only those whose last task is in this state.
    pub state: Option<State>,
    /// Only those with this label (name, value).
    pub label: Option<(String, String)>,
    /// Only those still tracked (`Some(false)`) or ended (`Some(true)`).
    pub ended: Option<bool>,
    /// Only rows after this id (the previous page's last).
    pub after: Option<i64>,
    /// At most this many (capped at 1,000).
    pub limit: u32,
}

/// A row of the journal: a change or an end, with the tracked record as it was then.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "serve", derive(utoipa::ToSchema))]
pub struct Journaled {
    /// Its place in the journal: ids grow in the order events were written.
    pub id: i64,
    /// `task.changed` or `task.ended`.
    #[serde(rename = "type")]
    pub kind: String,
    /// When it was written.
    pub timestamp: jiff::Timestamp,
    /// The tracked record then.
    pub data: Tracked,
}

/// A journal row.
fn journaled(row: &AnyRow) -> Result<Journaled, StoreError> {
    let failed = || database("cannot read the journal");
    let id: i64 = row.try_get("id").map_err(failed())?;
    let data: String = row.try_get("data").map_err(failed())?;
    Ok(Journaled {
        id,
        kind: row.try_get("type").map_err(failed())?,
        timestamp: timestamp(row.try_get("at").map_err(failed())?),
        data: serde_json::from_str(&data).map_err(|e| corrupt(id, "data", e))?,
    })
}

/// The `webhook-id` of the webhook of journal event `id`: the same for every attempt.
pub fn webhook_id(event_id: i64) -> String {
    format!("evt_{event_id}")
}

/// A webhook delivery as the service shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "serve", derive(utoipa::ToSchema))]
pub struct Delivery {
    /// The `webhook-id` header of every attempt.
    pub webhook_id: String,
    /// The journal event it carries.
    pub event_id: i64,
    /// The task's provider.
    pub provider: String,
    /// The task's id.
    pub task_id: String,
    /// Where it is posted.
    pub url: String,
    /// `pending`, `delivered` or `failed` (given up after its last attempt).
    pub status: String,
    /// Attempts made.
    pub attempts: u32,
    /// Why the last attempt failed, if one did.
    pub last_error: Option<String>,
    /// When it was last written.
    pub updated_at: jiff::Timestamp,
}

#[cfg(feature = "serve")]
/// A due delivery a worker holds.
#[derive(Debug)]
pub(crate) struct DeliveryClaim {
    pub(crate) event: Journaled,
    pub(crate) url: String,
    /// Attempts made before this one.
    pub(crate) attempts: u32,
}

#[cfg(feature = "serve")]
/// How a delivery attempt went.
#[derive(Debug)]
pub(crate) enum Attempt {
    Delivered,
    Retry { after: Duration, error: String },
    Failed { error: String },
}

/// The journal's event types.
pub(crate) const CHANGED: &str = "task.changed";
pub(crate) const ENDED: &str = "task.ended";

/// A course as stored (JSON): a task not polled yet stores `{}`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct StoredCourse {
    #[serde(skip_serializing_if = "Option::is_none")]
    following: Option<StoredTarget>,
    hops: u8,
    polls: u32,
    errors_in_row: u32,
    delay_ms: u64,
    handed_over: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    last: Option<StoredSeen>,
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredTarget {
    provider: String,
    task_id: String,
    #[serde(default)]
    inputs: BTreeMap<String, String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredSeen {
    state: State,
    native_status: String,
    #[serde(default)]
    progress: Option<Progress>,
}

impl From<&Course> for StoredCourse {
    fn from(course: &Course) -> StoredCourse {
        StoredCourse {
            following: course.following.as_deref().map(|t| StoredTarget {
                provider: t.provider.clone(),
                task_id: t.task_id.clone(),
                inputs: inputs_map(&t.inputs),
            }),
            hops: course.hops,
            polls: course.polls,
            errors_in_row: course.errors_in_row,
            delay_ms: course.delay.as_millis().try_into().unwrap_or(u64::MAX),
            handed_over: course.handed_over,
            last: course.last.as_deref().map(|seen| StoredSeen {
                state: seen.state,
                native_status: seen.native_status.clone(),
                progress: seen.progress.clone(),
            }),
        }
    }
}

impl From<StoredCourse> for Course {
    fn from(stored: StoredCourse) -> Course {
        Course {
            following: stored.following.map(|t| {
                Arc::new(Target {
                    provider: t.provider,
                    task_id: t.task_id,
                    inputs: t.inputs.into_iter().collect(),
                })
            }),
            hops: stored.hops,
            polls: stored.polls,
            errors_in_row: stored.errors_in_row,
            delay: Duration::from_millis(stored.delay_ms),
            last: stored.last.map(|seen| {
                Box::new(Seen {
                    state: seen.state,
                    native_status: seen.native_status,
                    progress: seen.progress,
                })
            }),
            handed_over: stored.handed_over,
        }
    }
}

/// A due task a worker holds: what to poll, its course, and what its journal entries repeat.
#[derive(Debug)]
#[doc(hidden)]
pub struct Claim {
    pub(crate) id: i64,
    pub(crate) lease: String,
    pub(crate) target: Arc<Target>,
    pub(crate) course: Course,
    /// The columns no poll changes (labels and callback are set when the task is tracked),
    /// so an outcome's journal entry is written from the values in hand.
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) callback_url: Option<String>,
    pub(crate) created_at: i64,
}

/// What one poll's outcome writes.
#[derive(Debug)]
pub(crate) struct Settlement<'a> {
    pub(crate) claim: &'a Claim,
    pub(crate) course: &'a Course,
    /// The task the poll returned, if it returned one.
    pub(crate) task: Option<&'a UploadTask>,
    /// The poll's error, if it failed.
    pub(crate) error: Option<&'a Error>,
    /// How the task ended, if it did.
    pub(crate) ending: Option<&'a str>,
    /// When it is due next, if it did not end.
    pub(crate) next_poll: Option<Duration>,
    /// Whether the answer was a change (journaled as `task.changed`).
    pub(crate) changed: bool,
}

impl Settlement<'_> {
    fn journals(&self) -> impl Iterator<Item = &'static str> {
        let changed = self.changed.then_some(CHANGED);
        let ended = self.ending.is_some().then_some(ENDED);
        changed.into_iter().chain(ended)
    }
}

/// A [`Tracked`] record as a settlement writes it: the same JSON, from borrowed values.
#[derive(Serialize)]
struct RecordOut<'a> {
    provider: &'a str,
    task_id: &'a str,
    inputs: &'a BTreeMap<String, String>,
    labels: &'a BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    callback_url: Option<&'a str>,
    task: Option<&'a serde_json::value::RawValue>,
    ending: Option<&'a str>,
    error: Option<&'a Error>,
    polls: u32,
    created_at: jiff::Timestamp,
    updated_at: jiff::Timestamp,
}

/// Rows a statement of a settlement writes at most (its parameters stay far under SQLite's
/// 32,766 and PostgreSQL's 65,535).
const SETTLE_ROWS: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

/// Where tracked tasks live; cheap to clone (one pool of connections).
#[derive(Debug, Clone)]
pub struct Store {
    /// Reads.
    pool: AnyPool,
    /// Writes.
    writer: Writer,
    backend: Backend,
    /// Woken when a task is tracked here, so this process's tracker claims it at once.
    tracked: Arc<Notify>,
    /// Woken when this process journals events, so its readers of the journal look at once
    /// (others look every so often).
    journaled: Arc<Notify>,
}

/// Where writes go.
#[derive(Debug, Clone)]
enum Writer {
    /// SQLite: one connection, kept for the store's life, so its page and statement caches
    /// stay warm (a write by another connection makes every other drop its page cache) and
    /// writes never wait on each other's locks. Not a pool of one: a pool tests each
    /// connection handed back with a round trip to sqlx's SQLite thread, which cost more CPU
    /// than a batch of writes.
    Kept(Arc<tokio::sync::Mutex<Kept>>, AnyConnectOptions),
    /// PostgreSQL: a connection of the pool reads use.
    Pooled(AnyPool),
}

/// The kept SQLite connection, and when it was last known to work.
#[derive(Debug)]
struct Kept {
    connection: AnyConnection,
    checked: std::time::Instant,
}

impl Kept {
    /// How often the kept connection is tested (a round trip): sqlx can end a connection's
    /// thread (a failed rollback), and a store that runs for months replaces it.
    const CHECK_EVERY: Duration = Duration::from_secs(10);

    async fn open(options: &AnyConnectOptions) -> Result<Kept, sqlx::Error> {
        let mut connection = AnyConnection::connect_with(options).await?;
        sqlite_pragmas(&mut connection).await?;
        Ok(Kept {
            connection,
            checked: std::time::Instant::now(),
        })
    }
}

/// A connection to write through, held until dropped.
enum WriteConnection<'a> {
    Kept(tokio::sync::MutexGuard<'a, Kept>),
    Pooled(PoolConnection<Any>),
}

impl std::ops::Deref for WriteConnection<'_> {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        match self {
            WriteConnection::Kept(kept) => &kept.connection,
            WriteConnection::Pooled(connection) => connection,
        }
    }
}

impl std::ops::DerefMut for WriteConnection<'_> {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match self {
            WriteConnection::Kept(kept) => &mut kept.connection,
            WriteConnection::Pooled(connection) => connection,
        }
    }
}

/// The columns a [`Tracked`] is read from.
const RECORD: &str = "id, provider, task_id, inputs, labels, callback_url, task, ending, error, course, created_at, updated_at";

impl Store {
    /// Opens (and creates, for SQLite) the store at `url` and brings its schema up to date:
    /// `sqlite://PATH`, `postgres://…` (or `postgresql://…`), or a plain path to a SQLite file.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let (backend, url) = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Backend::Postgres, url.to_owned())
        } else if let Some(path) = url
            .strip_prefix("sqlite://")
            .or(url.strip_prefix("sqlite:"))
        {
            (Backend::Sqlite, sqlite_url(path))
        } else if url.contains("://") {
            return Err(StoreError::Url(format!(
                "{url:?} is not a store URL: use sqlite://PATH or postgres://…"
            )));
        } else {
            (Backend::Sqlite, sqlite_url(url))
        };
        let options = AnyConnectOptions::from_str(&url)
            .map_err(|e| StoreError::Url(format!("{}: {e}", redact_url(&url))))?;
        let pool = AnyPoolOptions::new()
            .max_connections(match backend {
                Backend::Sqlite => 4,
                Backend::Postgres => 16,
            })
            // A connection to a local file cannot go stale: no round trip to check it.
            .test_before_acquire(backend == Backend::Postgres)
            .after_connect(move |connection, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        sqlite_pragmas(connection).await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options.clone())
            .await
            .map_err(database("cannot open the store"))?;
        let writer = match backend {
            // SQLite takes one writer at a time: more connections would only wait on its lock.
            Backend::Sqlite => {
                let kept = Kept::open(&options)
                    .await
                    .map_err(database("cannot open the store"))?;
                Writer::Kept(Arc::new(tokio::sync::Mutex::new(kept)), options.clone())
            }
            Backend::Postgres => Writer::Pooled(pool.clone()),
        };
        let store = Store {
            pool,
            writer,
            backend,
            tracked: Arc::new(Notify::new()),
            journaled: Arc::new(Notify::new()),
        };
        {
            let mut writer = store
                .writer()
                .await
                .map_err(database("cannot open the store"))?;
            migrator(backend).run(&mut *writer).await?;
        }
        Ok(store)
    }

    /// The connection to write through (on SQLite, the one writer: others wait for it; if
    /// its last test is old and it fails one, it is replaced).
    async fn writer(&self) -> Result<WriteConnection<'_>, sqlx::Error> {
        match &self.writer {
            Writer::Kept(kept, options) => {
                let mut kept = kept.lock().await;
                if kept.checked.elapsed() >= Kept::CHECK_EVERY {
                    if let Err(error) = kept.connection.ping().await {
                        tracing::warn!("the store's writing connection failed ({error}): reopened");
                        *kept = Kept::open(options).await?;
                    }
                    kept.checked = std::time::Instant::now();
                }
                Ok(WriteConnection::Kept(kept))
            }
            Writer::Pooled(pool) => pool.acquire().await.map(WriteConnection::Pooled),
        }
    }

    /// Whether the store is PostgreSQL (else SQLite).
    pub fn is_postgres(&self) -> bool {
        self.backend == Backend::Postgres
    }

    /// Tracks a task (once: a task already tracked is left as it is, unless it was removed,
    /// when it is tracked again).
    pub async fn track(&self, task: &NewTask) -> Result<Tracking, StoreError> {
        let now = now_ms();
        let inputs = json(&task.inputs);
        let labels = json(&task.labels);
        let mut writer = self
            .writer()
            .await
            .map_err(database("cannot track the task"))?;
        let inserted = sqlx::query(
            "INSERT INTO tracked (provider, task_id, inputs, labels, callback_url, course, next_poll_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, '{}', $6, $6, $6) ON CONFLICT (provider, task_id) DO NOTHING RETURNING id",
        )
        .bind(&task.provider)
        .bind(&task.task_id)
        .bind(inputs)
        .bind(labels)
        .bind(task.callback_url.as_deref())
        .bind(now)
        .fetch_optional(&mut *writer)
        .await
        .map_err(database("cannot track the task"))?;
        drop(writer);
        if inserted.is_some() {
            self.tracked.notify_one();
            let record = self.get(&task.provider, &task.task_id).await?;
            return record.map(Tracking::Created).ok_or_else(vanished);
        }
        let existing = self
            .get(&task.provider, &task.task_id)
            .await?
            .ok_or_else(vanished)?;
        if existing.ending.as_deref() != Some("removed") {
            return Ok(Tracking::Existing(existing));
        }
        // A removed task tracked again moves in the tally: in the journal's turn. (Only then:
        // a task tracked twice costs no write.)
        let mut writer = self
            .writer()
            .await
            .map_err(database("cannot track the task again"))?;
        let mut tx = writer
            .begin()
            .await
            .map_err(database("cannot track the task again"))?;
        self.take_journal_turn(&mut tx).await?;
        let revived = sqlx::query(
            "UPDATE tracked SET ending = NULL, error = NULL, next_poll_at = $3, lease = NULL, worker = NULL, updated_at = $3 \
             WHERE provider = $1 AND task_id = $2 AND ending = 'removed'",
        )
        .bind(&task.provider)
        .bind(&task.task_id)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(database("cannot track the task again"))?;
        tx.commit()
            .await
            .map_err(database("cannot track the task again"))?;
        drop(writer);
        if revived.rows_affected() > 0 {
            self.tracked.notify_one();
        }
        self.get(&task.provider, &task.task_id)
            .await?
            .map(Tracking::Existing)
            .ok_or_else(vanished)
    }

    /// The record of a tracked task, if it is (or was) tracked.
    pub async fn get(&self, provider: &str, task_id: &str) -> Result<Option<Tracked>, StoreError> {
        let sql = format!("SELECT {RECORD} FROM tracked WHERE provider = $1 AND task_id = $2");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(provider)
            .bind(task_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(database("cannot read the task"))?;
        row.as_ref().map(record).transpose()
    }

    /// A page of tracked tasks (with each one's id, for the next page's `after`).
    pub async fn list(&self, filter: &Filter) -> Result<Vec<(i64, Tracked)>, StoreError> {
        let mut sql = format!("SELECT {RECORD} FROM tracked WHERE id > $1");
        let mut next = 2;
        let mut placeholder = |sql: &mut String, clause: &str| {
            sql.push_str(&clause.replace('?', &format!("${next}")));
            next += 1;
        };
        if filter.provider.is_some() {
            placeholder(&mut sql, " AND provider = ?");
        }
        if filter.state.is_some() {
            placeholder(&mut sql, " AND state = ?");
        }
        if filter.label.is_some() {
            let clause = match self.backend {
                Backend::Sqlite => " AND json_extract(labels, '$.\"' || ? || '\"')",
                Backend::Postgres => " AND (labels::jsonb ->> ?)",
            };
            placeholder(&mut sql, clause);
            placeholder(&mut sql, " = ?");
        }
        match filter.ended {
            Some(true) => sql.push_str(" AND ending IS NOT NULL"),
            Some(false) => sql.push_str(" AND ending IS NULL"),
            None => {}
        }
        placeholder(&mut sql, " ORDER BY id LIMIT ?");
        let mut query = sqlx::query(AssertSqlSafe(sql)).bind(filter.after.unwrap_or(0));
        if let Some(provider) = &filter.provider {
            query = query.bind(provider.clone());
        }
        if let Some(state) = filter.state {
            query = query.bind(state.as_str());
        }
        if let Some((name, value)) = &filter.label {
            query = query.bind(name.clone()).bind(value.clone());
        }
        let rows = query
            .bind(i64::from(filter.limit.clamp(1, 1000)))
            .fetch_all(&self.pool)
            .await
            .map_err(database("cannot list tasks"))?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get("id").map_err(database("cannot list tasks"))?,
                    record(row)?,
                ))
            })
            .collect()
    }

    /// Stops tracking a task: it ends `removed` (journaled). `None` if it is not tracked;
    /// a task that already ended is left as it is.
    pub async fn untrack(
        &self,
        provider: &str,
        task_id: &str,
    ) -> Result<Option<Tracked>, StoreError> {
        let mut writer = self
            .writer()
            .await
            .map_err(database("cannot remove the task"))?;
        let mut tx = writer
            .begin()
            .await
            .map_err(database("cannot remove the task"))?;
        // Before the row moves: its tally's rows are locked in the journal's turn.
        self.take_journal_turn(&mut tx).await?;
        let now = now_ms();
        let removed = sqlx::query(
            "UPDATE tracked SET ending = 'removed', next_poll_at = NULL, lease = NULL, worker = NULL, updated_at = $3 \
             WHERE provider = $1 AND task_id = $2 AND ending IS NULL RETURNING id",
        )
        .bind(provider)
        .bind(task_id)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await
        .map_err(database("cannot remove the task"))?;
        let journaled = removed.is_some();
        if let Some(row) = removed {
            let id: i64 = row
                .try_get("id")
                .map_err(database("cannot remove the task"))?;
            self.journal(&mut tx, id, ENDED, now).await?;
        }
        tx.commit()
            .await
            .map_err(database("cannot remove the task"))?;
        drop(writer);
        if journaled {
            self.journaled.notify_waiters();
        }
        self.get(provider, task_id).await
    }

    /// The journal after event `after`, oldest first, at most `limit` (capped at 1,000).
    pub async fn events_after(&self, after: i64, limit: u32) -> Result<Vec<Journaled>, StoreError> {
        let rows =
            sqlx::query("SELECT id, type, at, data FROM events WHERE id > $1 ORDER BY id LIMIT $2")
                .bind(after)
                .bind(i64::from(limit.clamp(1, 1000)))
                .fetch_all(&self.pool)
                .await
                .map_err(database("cannot read the journal"))?;
        rows.iter().map(journaled).collect()
    }

    /// Tasks still tracked, and tasks ended, in the whole store.
    pub async fn counts(&self) -> Result<(u64, u64), StoreError> {
        let (mut tracked, mut ended) = (0, 0);
        for (_, ending, n) in self.tally("tasks").await? {
            if ending.is_empty() {
                tracked += n;
            } else {
                ended += n;
            }
        }
        Ok((tracked, ended))
    }

    /// Claims up to `limit` due tasks for `lease` (named `{worker}/{n}`), oldest due first
    /// (public for the store's benchmark).
    #[doc(hidden)]
    pub async fn claim(
        &self,
        worker: &str,
        providers: &[String],
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<Claim>, StoreError> {
        if providers.is_empty() {
            return Ok(Vec::new());
        }
        static CLAIMS: AtomicU64 = AtomicU64::new(0);
        let name = format!("{worker}/{}", CLAIMS.fetch_add(1, Ordering::Relaxed));
        let now = now_ms();
        let locking = match self.backend {
            // Rows another worker is claiming are skipped, not waited for.
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            // SQLite runs one writer at a time: nothing to skip.
            Backend::Sqlite => "",
        };
        // Only tasks of providers this worker can poll: another worker may have more
        // credentials, and a task nobody here can poll is left to it, not failed.
        let within = among(providers, 6);
        let provider = self.unindexed_provider();
        let sql = format!(
            "UPDATE tracked SET lease = $1, worker = $5, next_poll_at = $2 WHERE id IN \
             (SELECT id FROM tracked WHERE next_poll_at <= $3 AND {provider} IN ({within}) \
             ORDER BY next_poll_at LIMIT $4{locking}) \
             RETURNING id, provider, task_id, inputs, labels, callback_url, course, created_at"
        );
        let mut query = sqlx::query(AssertSqlSafe(sql))
            .bind(&name)
            .bind(now.saturating_add(millis(lease)))
            .bind(now)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .bind(worker);
        for provider in providers {
            query = query.bind(provider.clone());
        }
        let rows = query
            .fetch_all(
                &mut *self
                    .writer()
                    .await
                    .map_err(database("cannot claim due tasks"))?,
            )
            .await
            .map_err(database("cannot claim due tasks"))?;
        rows.iter()
            .map(|row| {
                let failed = || database("cannot claim due tasks");
                let id: i64 = row.try_get("id").map_err(failed())?;
                let inputs: String = row.try_get("inputs").map_err(failed())?;
                let inputs: BTreeMap<String, String> =
                    serde_json::from_str(&inputs).map_err(|e| corrupt(id, "inputs", e))?;
                let course: String = row.try_get("course").map_err(failed())?;
                let course: StoredCourse =
                    serde_json::from_str(&course).map_err(|e| corrupt(id, "course", e))?;
                let labels: String = row.try_get("labels").map_err(failed())?;
                let labels = serde_json::from_str(&labels).map_err(|e| corrupt(id, "labels", e))?;
                Ok(Claim {
                    id,
                    lease: name.clone(),
                    target: Arc::new(Target {
                        provider: row.try_get("provider").map_err(failed())?,
                        task_id: row.try_get("task_id").map_err(failed())?,
                        inputs: inputs.into_iter().collect(),
                    }),
                    course: course.into(),
                    labels,
                    callback_url: row.try_get("callback_url").map_err(failed())?,
                    created_at: row.try_get("created_at").map_err(failed())?,
                })
            })
            .collect()
    }

    /// Writes the outcomes of polls, with their changes and ends journaled, in one
    /// transaction (a few statements, however many outcomes: a worker's writes are its
    /// heaviest work). Each is written only if its claim still holds the task; the answer says
    /// which were (`false`: removed, or claimed by another worker after the lease ran out).
    pub(crate) async fn settle(&self, batch: &[Settlement<'_>]) -> Result<Vec<bool>, StoreError> {
        let tasks: Vec<Option<String>> = batch.iter().map(|s| s.task.map(json)).collect();
        // Nearly always every claim still holds its row: the rows written are counted, not
        // read back (each row read back is a message from sqlx's SQLite thread). A batch
        // where a count falls short is rolled back and written again, reading back which rows
        // were held.
        match self.settle_as(batch, &tasks, false).await? {
            Some(written) => Ok(written),
            None => Ok(self
                .settle_as(batch, &tasks, true)
                .await?
                .unwrap_or_default()),
        }
    }

    /// [`Store::settle`], reading back the rows held (`read_back`) or counting them: `None`
    /// when a count fell short (nothing written).
    async fn settle_as(
        &self,
        batch: &[Settlement<'_>],
        tasks: &[Option<String>],
        read_back: bool,
    ) -> Result<Option<Vec<bool>>, StoreError> {
        let failed = || database("cannot save polls");
        let now = now_ms();
        let mut writer = self.writer().await.map_err(failed())?;
        let mut tx = writer.begin().await.map_err(failed())?;
        // A batch that moves a task to another state or ending journals it: the turn is taken
        // before the rows move, so the tally's rows are locked in the journal's turn.
        if batch.iter().any(|s| s.journals().next().is_some()) {
            self.take_journal_turn(&mut tx).await?;
        }
        let mut written = vec![false; batch.len()];
        // A row twice in a batch (a poll that outlived its lease, the row claimed again since)
        // goes in a later statement: each statement settles a row at most once, and only the
        // claim whose lease the row holds is written.
        let mut rounds: Vec<Vec<usize>> = Vec::new();
        let mut seen: HashMap<i64, usize> = HashMap::new();
        for (i, settlement) in batch.iter().enumerate() {
            let round = seen.entry(settlement.claim.id).or_insert(0);
            if rounds.len() <= *round {
                rounds.push(Vec::new());
            }
            rounds[*round].push(i);
            *round += 1;
        }
        for chunk in rounds.iter().flat_map(|round| round.chunks(SETTLE_ROWS)) {
            // Padded with rows that match nothing to a power of two, so a few statement texts
            // serve every batch size and stay prepared.
            let padded = chunk.len().next_power_of_two();
            let rows = (0..padded)
                .map(|n| {
                    let p = 2 + n * 8;
                    format!(
                        "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                        p,
                        p + 1,
                        p + 2,
                        p + 3,
                        p + 4,
                        p + 5,
                        p + 6,
                        p + 7
                    )
                })
                .collect::<Vec<_>>()
                .join(", ");
            // VALUES columns are column1, column2, … on both backends.
            let sql = format!(
                "UPDATE tracked SET course = v.column3, task = COALESCE(v.column4, tracked.task), \
                 state = COALESCE(v.column5, tracked.state), error = v.column6, ending = v.column7, \
                 next_poll_at = v.column8, lease = NULL, worker = NULL, updated_at = $1 \
                 FROM (VALUES {rows}) AS v WHERE tracked.id = v.column1 AND tracked.lease = v.column2{}",
                if read_back {
                    " RETURNING tracked.id"
                } else {
                    ""
                }
            );
            let mut query = sqlx::query(AssertSqlSafe(sql)).bind(now);
            for &i in chunk {
                let settlement = &batch[i];
                query = query
                    .bind(Some(settlement.claim.id))
                    .bind(Some(settlement.claim.lease.as_str()))
                    .bind(Some(json(&StoredCourse::from(settlement.course))))
                    .bind(tasks[i].as_deref())
                    .bind(settlement.task.map(|t| t.state.as_str()))
                    .bind(settlement.error.map(json))
                    .bind(settlement.ending)
                    .bind(
                        settlement
                            .next_poll
                            .map(|wait| now.saturating_add(millis(wait))),
                    );
            }
            for _ in chunk.len()..padded {
                // NULL never equals an id: these rows update nothing.
                query = query
                    .bind(None::<i64>)
                    .bind(None::<&str>)
                    .bind(None::<String>)
                    .bind(None::<&str>)
                    .bind(None::<&str>)
                    .bind(None::<String>)
                    .bind(None::<&str>)
                    .bind(None::<i64>);
            }
            if !read_back {
                let done = query.execute(&mut *tx).await.map_err(failed())?;
                if done.rows_affected() != chunk.len() as u64 {
                    // Dropped, the transaction rolls back.
                    return Ok(None);
                }
                for &i in chunk {
                    written[i] = true;
                }
                continue;
            }
            let held: HashSet<i64> = query
                .fetch_all(&mut *tx)
                .await
                .map_err(failed())?
                .iter()
                .map(|row| row.try_get::<i64, _>("id"))
                .collect::<Result<_, _>>()
                .map_err(failed())?;
            for &i in chunk {
                written[i] = held.contains(&batch[i].claim.id);
            }
        }
        let journaled: Vec<usize> = (0..batch.len())
            .filter(|&i| written[i] && batch[i].journals().next().is_some())
            .collect();
        if !journaled.is_empty() {
            self.journal_settled(&mut tx, batch, tasks, &journaled, now)
                .await?;
        }
        tx.commit().await.map_err(failed())?;
        drop(writer);
        if !journaled.is_empty() {
            self.journaled.notify_waiters();
        }
        Ok(Some(written))
    }

    /// Journals the changes and ends of the written settlements `which`, each with the record
    /// as the settlement left it, and queues their webhooks (in a transaction that took the
    /// journal's turn).
    async fn journal_settled(
        &self,
        tx: &mut sqlx::Transaction<'_, Any>,
        batch: &[Settlement<'_>],
        tasks: &[Option<String>],
        which: &[usize],
        now: i64,
    ) -> Result<(), StoreError> {
        let failed = || database("cannot journal an event");
        // An end with no task in hand (an error, a removal) shows the task the row has.
        let missing: Vec<i64> = which
            .iter()
            .filter(|&&i| tasks[i].is_none())
            .map(|&i| batch[i].claim.id)
            .collect();
        let mut stored: HashMap<i64, String> = HashMap::new();
        for ids in missing.chunks(SETTLE_ROWS) {
            let sql = format!(
                "SELECT id, task FROM tracked WHERE task IS NOT NULL AND id IN ({})",
                among(ids, 1)
            );
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for id in ids {
                query = query.bind(*id);
            }
            for row in query.fetch_all(&mut **tx).await.map_err(failed())? {
                stored.insert(
                    row.try_get("id").map_err(failed())?,
                    row.try_get("task").map_err(failed())?,
                );
            }
        }
        let updated_at = timestamp(now);
        let mut events: Vec<(i64, &'static str, String)> = Vec::new();
        for &i in which {
            let settlement = &batch[i];
            let claim = settlement.claim;
            let task = tasks[i]
                .as_deref()
                .or(stored.get(&claim.id).map(String::as_str));
            let task = task
                .map(serde_json::from_str::<&serde_json::value::RawValue>)
                .transpose()
                .map_err(|e| corrupt(claim.id, "task", e))?;
            let inputs = inputs_map(&claim.target.inputs);
            let data = json(&RecordOut {
                provider: &claim.target.provider,
                task_id: &claim.target.task_id,
                inputs: &inputs,
                labels: &claim.labels,
                callback_url: claim.callback_url.as_deref(),
                task,
                ending: settlement.ending,
                error: settlement.error,
                polls: settlement.course.polls,
                created_at: timestamp(claim.created_at),
                updated_at,
            });
            for kind in settlement.journals() {
                events.push((claim.id, kind, data.clone()));
            }
        }
        let callbacks: HashMap<i64, &str> = which
            .iter()
            .filter_map(|&i| {
                let claim = batch[i].claim;
                Some((claim.id, claim.callback_url.as_deref()?))
            })
            .collect();
        for chunk in events.chunks(SETTLE_ROWS) {
            // Rows go in as listed (a task's change before its end), so ids grow that way.
            let rows = (0..chunk.len())
                .map(|n| format!("(${}, ${}, $1, ${})", 2 + n * 3, 3 + n * 3, 4 + n * 3))
                .collect::<Vec<_>>()
                .join(", ");
            // The events' ids are read back only for the webhooks they carry.
            let called = chunk.iter().any(|(id, ..)| callbacks.contains_key(id));
            let sql = format!(
                "INSERT INTO events (tracked_id, type, at, data) VALUES {rows}{}",
                if called {
                    " RETURNING id, tracked_id"
                } else {
                    ""
                }
            );
            let mut query = sqlx::query(AssertSqlSafe(sql)).bind(now);
            for (id, kind, data) in chunk {
                query = query.bind(*id).bind(*kind).bind(data.as_str());
            }
            if !called {
                query.execute(&mut **tx).await.map_err(failed())?;
                continue;
            }
            let mut deliveries: Vec<(i64, &str)> = Vec::new();
            for row in query.fetch_all(&mut **tx).await.map_err(failed())? {
                let tracked_id: i64 = row.try_get("tracked_id").map_err(failed())?;
                if let Some(url) = callbacks.get(&tracked_id) {
                    deliveries.push((row.try_get("id").map_err(failed())?, url));
                }
            }
            // Each webhook goes out with its event or not at all.
            if !deliveries.is_empty() {
                let rows = (0..deliveries.len())
                    .map(|n| format!("(${}, ${}, 'pending', $1, $1)", 2 + n * 2, 3 + n * 2))
                    .collect::<Vec<_>>()
                    .join(", ");
                let sql = format!(
                    "INSERT INTO deliveries (event_id, url, status, next_attempt_at, updated_at) VALUES {rows}"
                );
                let mut query = sqlx::query(AssertSqlSafe(sql)).bind(now);
                for (event, url) in deliveries {
                    query = query.bind(event).bind(url);
                }
                query.execute(&mut **tx).await.map_err(failed())?;
            }
        }
        Ok(())
    }

    /// Gives back every task `worker` holds, due now, and forgets the worker (a worker
    /// stopping before its polls answered).
    pub(crate) async fn release(&self, worker: &str) -> Result<u64, StoreError> {
        let mut writer = self
            .writer()
            .await
            .map_err(database("cannot give back claimed tasks"))?;
        let released = sqlx::query(
            "UPDATE tracked SET lease = NULL, worker = NULL, next_poll_at = $2 WHERE worker = $1",
        )
        .bind(worker)
        .bind(now_ms())
        .execute(&mut *writer)
        .await
        .map_err(database("cannot give back claimed tasks"))?;
        sqlx::query("UPDATE deliveries SET worker = NULL, next_attempt_at = $2 WHERE worker = $1")
            .bind(worker)
            .bind(now_ms())
            .execute(&mut *writer)
            .await
            .map_err(database("cannot give back claimed tasks"))?;
        sqlx::query("DELETE FROM workers WHERE id = $1")
            .bind(worker)
            .execute(&mut *writer)
            .await
            .map_err(database("cannot give back claimed tasks"))?;
        Ok(released.rows_affected())
    }

    /// Says `worker` is alive, and gives back the tasks of every worker not seen for `stale`
    /// (killed, or cut off): they are due at once. Returns how many tasks were given back.
    pub(crate) async fn heartbeat(&self, worker: &str, stale: Duration) -> Result<u64, StoreError> {
        let now = now_ms();
        let mut writer = self
            .writer()
            .await
            .map_err(database("cannot write the heartbeat"))?;
        sqlx::query(
            "INSERT INTO workers (id, started_at, seen_at) VALUES ($1, $2, $2) \
             ON CONFLICT (id) DO UPDATE SET seen_at = $2",
        )
        .bind(worker)
        .bind(now)
        .execute(&mut *writer)
        .await
        .map_err(database("cannot write the heartbeat"))?;
        let before = now.saturating_sub(millis(stale));
        let mut tx = writer
            .begin()
            .await
            .map_err(database("cannot give back a dead worker's tasks"))?;
        let released = sqlx::query(
            "UPDATE tracked SET lease = NULL, worker = NULL, next_poll_at = $2 \
             WHERE worker IN (SELECT id FROM workers WHERE seen_at < $1)",
        )
        .bind(before)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(database("cannot give back a dead worker's tasks"))?;
        sqlx::query(
            "UPDATE deliveries SET worker = NULL, next_attempt_at = $2 \
             WHERE worker IN (SELECT id FROM workers WHERE seen_at < $1)",
        )
        .bind(before)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(database("cannot give back a dead worker's tasks"))?;
        sqlx::query("DELETE FROM workers WHERE seen_at < $1")
            .bind(before)
            .execute(&mut *tx)
            .await
            .map_err(database("cannot give back a dead worker's tasks"))?;
        tx.commit()
            .await
            .map_err(database("cannot give back a dead worker's tasks"))?;
        Ok(released.rows_affected())
    }

    /// How long until the next task is due (zero if one is), `None` if none is tracked.
    pub(crate) async fn next_due(
        &self,
        providers: &[String],
    ) -> Result<Option<Duration>, StoreError> {
        if providers.is_empty() {
            return Ok(None);
        }
        let sql = format!(
            "SELECT MIN(next_poll_at) AS due FROM tracked WHERE next_poll_at IS NOT NULL AND {} IN ({})",
            self.unindexed_provider(),
            among(providers, 1)
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for provider in providers {
            query = query.bind(provider.clone());
        }
        let row = query
            .fetch_one(&self.pool)
            .await
            .map_err(database("cannot read when tasks are due"))?;
        let due: Option<i64> = row
            .try_get("due")
            .map_err(database("cannot read when tasks are due"))?;
        Ok(due.map(|at| Duration::from_millis(at.saturating_sub(now_ms()).max(0) as u64)))
    }

    /// The provider column where the due index must be used, not the (provider, task id) one:
    /// SQLite otherwise reads every task of the provider and sorts them (unary `+` keeps a term
    /// off an index there; PostgreSQL plans by cost and has no `+` for text).
    fn unindexed_provider(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "+provider",
            Backend::Postgres => "provider",
        }
    }

    /// Completes when a task is tracked through this store (or a clone of it).
    pub(crate) async fn tracked(&self) {
        self.tracked.notified().await;
    }

    /// Completes when this process journals events (or a clone of this store does).
    pub async fn journaled(&self) {
        self.journaled.notified().await;
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(drop)
            .map_err(database("the store does not answer"))
    }

    /// Tasks by (state of the last task, ending), for metrics: the tally the store's triggers
    /// keep, a few rows however many tasks it holds (a state that emptied stays, at zero).
    pub async fn tasks_by_state(
        &self,
    ) -> Result<Vec<(Option<String>, Option<String>, u64)>, StoreError> {
        Ok(self
            .tally("tasks")
            .await?
            .into_iter()
            .map(|(state, ending, n)| {
                let named = |s: String| (!s.is_empty()).then_some(s);
                (named(state), named(ending), n)
            })
            .collect())
    }

    /// Webhook deliveries by status (`pending`, `delivered`, `failed`), for metrics.
    pub async fn deliveries_by_status(&self) -> Result<Vec<(String, u64)>, StoreError> {
        Ok(self
            .tally("deliveries")
            .await?
            .into_iter()
            .map(|(status, _, n)| (status, n))
            .collect())
    }

    /// The counts the triggers keep for `what` (`tasks`, `deliveries`): state, ending, count.
    /// A state that emptied stays, at zero.
    async fn tally(&self, what: &str) -> Result<Vec<(String, String, u64)>, StoreError> {
        let failed = || database("cannot read the counts of tasks and deliveries");
        let rows = sqlx::query(
            "SELECT state, ending, n FROM tally WHERE what = $1 ORDER BY state, ending",
        )
        .bind(what)
        .fetch_all(&self.pool)
        .await
        .map_err(failed())?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get("state").map_err(failed())?,
                    row.try_get("ending").map_err(failed())?,
                    row.try_get::<i64, _>("n").map_err(failed())?.max(0) as u64,
                ))
            })
            .collect()
    }

    /// A page of webhook deliveries, by event id, optionally of one status only.
    pub async fn deliveries(
        &self,
        status: Option<&str>,
        after: i64,
        limit: u32,
    ) -> Result<Vec<Delivery>, StoreError> {
        let filter = if status.is_some() {
            " AND d.status = $3"
        } else {
            ""
        };
        let sql = format!(
            "SELECT d.event_id, d.url, d.status, d.attempts, d.last_error, d.updated_at, t.provider, t.task_id \
             FROM deliveries d JOIN events e ON e.id = d.event_id JOIN tracked t ON t.id = e.tracked_id \
             WHERE d.event_id > $1{filter} ORDER BY d.event_id LIMIT $2"
        );
        let mut query = sqlx::query(AssertSqlSafe(sql))
            .bind(after)
            .bind(i64::from(limit.clamp(1, 1000)));
        if let Some(status) = status {
            query = query.bind(status.to_owned());
        }
        let rows = query
            .fetch_all(&self.pool)
            .await
            .map_err(database("cannot list deliveries"))?;
        rows.iter()
            .map(|row| {
                let failed = || database("cannot list deliveries");
                let event_id: i64 = row.try_get("event_id").map_err(failed())?;
                Ok(Delivery {
                    webhook_id: webhook_id(event_id),
                    event_id,
                    provider: row.try_get("provider").map_err(failed())?,
                    task_id: row.try_get("task_id").map_err(failed())?,
                    url: row.try_get("url").map_err(failed())?,
                    status: row.try_get("status").map_err(failed())?,
                    attempts: row.try_get::<i64, _>("attempts").map_err(failed())?.max(0) as u32,
                    last_error: row.try_get("last_error").map_err(failed())?,
                    updated_at: timestamp(row.try_get("updated_at").map_err(failed())?),
                })
            })
            .collect()
    }

    #[cfg(feature = "serve")]
    /// Claims up to `limit` due webhook deliveries for `lease`, with the event each carries.
    pub(crate) async fn claim_deliveries(
        &self,
        worker: &str,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<DeliveryClaim>, StoreError> {
        let now = now_ms();
        let locking = match self.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE deliveries SET worker = $1, next_attempt_at = $2 WHERE event_id IN \
             (SELECT event_id FROM deliveries WHERE next_attempt_at <= $3 ORDER BY next_attempt_at LIMIT $4{locking}) \
             RETURNING event_id, url, attempts"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(worker)
            .bind(now.saturating_add(millis(lease)))
            .bind(now)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(
                &mut *self
                    .writer()
                    .await
                    .map_err(database("cannot claim webhook deliveries"))?,
            )
            .await
            .map_err(database("cannot claim webhook deliveries"))?;
        let mut claims = Vec::with_capacity(rows.len());
        for row in &rows {
            let failed = || database("cannot claim webhook deliveries");
            let event_id: i64 = row.try_get("event_id").map_err(failed())?;
            let event = sqlx::query("SELECT id, type, at, data FROM events WHERE id = $1")
                .bind(event_id)
                .fetch_one(&self.pool)
                .await
                .map_err(failed())?;
            claims.push(DeliveryClaim {
                event: journaled(&event)?,
                url: row.try_get("url").map_err(failed())?,
                attempts: row.try_get::<i64, _>("attempts").map_err(failed())?.max(0) as u32,
            });
        }
        Ok(claims)
    }

    #[cfg(feature = "serve")]
    /// Writes how a delivery attempt went, if `worker` still holds the delivery.
    pub(crate) async fn settle_delivery(
        &self,
        worker: &str,
        event_id: i64,
        attempt: &Attempt,
    ) -> Result<bool, StoreError> {
        let now = now_ms();
        let (status, next, error) = match attempt {
            Attempt::Delivered => ("delivered", None, None),
            Attempt::Retry { after, error } => (
                "pending",
                Some(now.saturating_add(millis(*after))),
                Some(error.as_str()),
            ),
            Attempt::Failed { error } => ("failed", None, Some(error.as_str())),
        };
        let updated = sqlx::query(
            "UPDATE deliveries SET status = $1, next_attempt_at = $2, last_error = COALESCE($3, last_error), \
             attempts = attempts + 1, worker = NULL, updated_at = $4 WHERE event_id = $5 AND worker = $6",
        )
        .bind(status)
        .bind(next)
        .bind(error)
        .bind(now)
        .bind(event_id)
        .bind(worker)
        .execute(
            &mut *self
                .writer()
                .await
                .map_err(database("cannot save a webhook delivery"))?,
        )
        .await
        .map_err(database("cannot save a webhook delivery"))?;
        Ok(updated.rows_affected() > 0)
    }

    /// Makes `tx` the only transaction writing events or moving tasks between states until it
    /// ends, on PostgreSQL: event ids must grow in commit order, or a reader following the
    /// journal by id could pass an event committed late; and the tally's rows (kept by
    /// triggers) are then never locked by two transactions in opposite orders. (SQLite has one
    /// writer at a time anyway.)
    async fn take_journal_turn(
        &self,
        tx: &mut sqlx::Transaction<'_, Any>,
    ) -> Result<(), StoreError> {
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock(7315273)")
                .execute(&mut **tx)
                .await
                .map_err(database("cannot journal an event"))?;
        }
        Ok(())
    }

    /// Appends the record of row `id`, as it is in `tx` (which took the journal's turn), to the
    /// journal.
    async fn journal(
        &self,
        tx: &mut sqlx::Transaction<'_, Any>,
        id: i64,
        kind: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let sql = format!("SELECT {RECORD} FROM tracked WHERE id = $1");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(id)
            .fetch_one(&mut **tx)
            .await
            .map_err(database("cannot journal an event"))?;
        let data = json(&record(&row)?);
        let event = sqlx::query(
            "INSERT INTO events (tracked_id, type, at, data) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(id)
        .bind(kind)
        .bind(now)
        .bind(data)
        .fetch_one(&mut **tx)
        .await
        .map_err(database("cannot journal an event"))?;
        let event: i64 = event
            .try_get("id")
            .map_err(database("cannot journal an event"))?;
        // Its webhook, if the task has a callback, goes out with the event or not at all.
        sqlx::query(
            "INSERT INTO deliveries (event_id, url, status, next_attempt_at, updated_at) \
             SELECT $1, callback_url, 'pending', $2, $2 FROM tracked WHERE id = $3 AND callback_url IS NOT NULL",
        )
        .bind(event)
        .bind(now)
        .bind(id)
        .execute(&mut **tx)
        .await
        .map_err(database("cannot journal an event"))?;
        Ok(())
    }
}

/// How every SQLite connection of a store is set: WAL, so readers never wait for the writer;
/// NORMAL, so a commit is durable once the WAL is synced at checkpoints (the usual trade for
/// WAL); a wait for locks rather than an error; foreign keys enforced.
async fn sqlite_pragmas(connection: &mut AnyConnection) -> Result<(), sqlx::Error> {
    connection
        .execute(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON",
        )
        .await
        .map(drop)
}

/// `$first, $first+1, …`: one placeholder per item.
fn among<T>(items: &[T], first: usize) -> String {
    (first..first + items.len())
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The migrations of `backend`, embedded.
fn migrator(backend: Backend) -> Migrator {
    let files: [(&str, &'static str); 3] = match backend {
        Backend::Sqlite => [
            (
                "tracking",
                include_str!("../../migrations/sqlite/0001_tracking.sql"),
            ),
            (
                "deliveries",
                include_str!("../../migrations/sqlite/0002_deliveries.sql"),
            ),
            (
                "tally",
                include_str!("../../migrations/sqlite/0003_tally.sql"),
            ),
        ],
        Backend::Postgres => [
            (
                "tracking",
                include_str!("../../migrations/postgres/0001_tracking.sql"),
            ),
            (
                "deliveries",
                include_str!("../../migrations/postgres/0002_deliveries.sql"),
            ),
            (
                "tally",
                include_str!("../../migrations/postgres/0003_tally.sql"),
            ),
        ],
    };
    Migrator::with_migrations(
        files
            .into_iter()
            .zip(1..)
            .map(|((name, sql), version)| {
                Migration::new(
                    version,
                    name.into(),
                    MigrationType::Simple,
                    sql.into_sql_str(),
                    false,
                )
            })
            .collect(),
    )
}

/// A SQLite URL that creates the file if it is missing.
fn sqlite_url(path: &str) -> String {
    if path.contains("mode=") {
        format!("sqlite://{path}")
    } else if path.contains('?') {
        format!("sqlite://{path}&mode=rwc")
    } else {
        format!("sqlite://{path}?mode=rwc")
    }
}

/// A URL without its password, for messages.
pub(crate) fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

fn record(row: &AnyRow) -> Result<Tracked, StoreError> {
    let failed = || database("cannot read a tracked task");
    let id: i64 = row.try_get("id").map_err(failed())?;
    let text = |column: &'static str| -> Result<Option<String>, StoreError> {
        row.try_get::<Option<String>, _>(column).map_err(failed())
    };
    fn parse<T: serde::de::DeserializeOwned>(
        id: i64,
        column: &'static str,
        text: Option<String>,
    ) -> Result<Option<T>, StoreError> {
        text.map(|t| serde_json::from_str(&t).map_err(|e| corrupt(id, column, e)))
            .transpose()
    }
    let course: StoredCourse = parse(id, "course", text("course")?)?.unwrap_or_default();
    Ok(Tracked {
        provider: row.try_get("provider").map_err(failed())?,
        task_id: row.try_get("task_id").map_err(failed())?,
        inputs: parse(id, "inputs", text("inputs")?)?.unwrap_or_default(),
        labels: parse(id, "labels", text("labels")?)?.unwrap_or_default(),
        callback_url: text("callback_url")?,
        task: parse(id, "task", text("task")?)?,
        ending: text("ending")?,
        error: parse(id, "error", text("error")?)?,
        polls: course.polls,
        created_at: timestamp(row.try_get("created_at").map_err(failed())?),
        updated_at: timestamp(row.try_get("updated_at").map_err(failed())?),
    })
}

fn corrupt(id: i64, column: &'static str, error: serde_json::Error) -> StoreError {
    StoreError::Corrupt {
        id,
        column,
        message: error.to_string(),
    }
}

fn vanished() -> StoreError {
    StoreError::Database {
        doing: "cannot read the task just tracked",
        source: sqlx::Error::RowNotFound,
    }
}

fn json<T: Serialize + ?Sized>(value: &T) -> String {
    // Maps of strings, courses and tasks always serialize.
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis().try_into().unwrap_or(i64::MAX))
}

fn millis(duration: Duration) -> i64 {
    duration.as_millis().try_into().unwrap_or(i64::MAX)
}

fn timestamp(ms: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_millisecond(ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::ErrorKind;

    /// A poll that outlived its lease answers in the same batch as the poll of the row's new
    /// claim: only the claim the row holds is written and journaled.
    #[tokio::test]
    async fn a_row_twice_in_a_batch_is_written_once_under_the_lease_it_holds() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("store.db").display());
        let store = Store::open(&url).await.expect("store");
        let task = NewTask {
            provider: "p".into(),
            task_id: "t".into(),
            ..NewTask::default()
        };
        store.track(&task).await.expect("tracked");
        let providers = ["p".to_owned()];
        let mut stale = store
            .claim("w", &providers, 1, Duration::ZERO)
            .await
            .expect("claim");
        // A lease of nothing: the row is due again at once, and claimed anew.
        let mut holding = store
            .claim("w", &providers, 1, Duration::from_secs(60))
            .await
            .expect("claim again");
        let (stale, holding) = (stale.remove(0), holding.remove(0));
        assert_eq!(stale.id, holding.id);
        let error = Error::local(ErrorKind::Transport, "gave up");
        let settle = |claim| Settlement {
            claim,
            course: &claim.course,
            task: None,
            error: Some(&error),
            ending: Some("error"),
            next_poll: None,
            changed: false,
        };
        let batch = [settle(&stale), settle(&holding)];
        assert_eq!(store.settle(&batch).await.expect("settled"), [false, true]);
        // Settled: neither claim holds the row any more.
        let batch = [settle(&holding), settle(&stale)];
        assert_eq!(store.settle(&batch).await.expect("settled"), [false, false]);
        let journal = store.events_after(0, 10).await.expect("journal");
        assert_eq!(journal.len(), 1, "{journal:?}");
        assert_eq!(journal[0].data.ending.as_deref(), Some("error"));
    }

    /// The counts the triggers keep are the counts of the rows, through every kind of write:
    /// tracked, answered (a change of state), ended, removed, tracked again, and webhooks
    /// queued and delivered.
    #[cfg(feature = "serve")]
    #[tokio::test]
    async fn the_tally_follows_every_write() {
        use indexmap::IndexMap;
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("store.db").display());
        let store = Store::open(&url).await.expect("store");
        for n in 0..4 {
            store
                .track(&NewTask {
                    provider: "p".into(),
                    task_id: format!("t{n}"),
                    callback_url: Some("http://127.0.0.1:9/hook".into()),
                    ..NewTask::default()
                })
                .await
                .expect("tracked");
        }
        let providers = ["p".to_owned()];
        let claims = store
            .claim("w", &providers, 4, Duration::from_secs(60))
            .await
            .expect("claim");
        let task = |state: State| UploadTask {
            provider: "p".into(),
            id: "t".into(),
            state,
            native_status: state.as_str().into(),
            native_label: None,
            terminal: state.is_terminal(),
            progress: None,
            created_at: None,
            started_at: None,
            updated_at: None,
            completed_at: None,
            files: Vec::new(),
            errors: Vec::new(),
            extra: IndexMap::new(),
            warnings: Vec::new(),
            next: None,
            raw: serde_json::Value::Null,
        };
        let (running, succeeded) = (task(State::Running), task(State::Succeeded));
        // t0 and t1 answer running, t2 succeeded; t3 has not answered yet.
        let answer = |claim: &Claim| match claim.target.task_id.as_str() {
            "t0" | "t1" => Some(&running),
            "t2" => Some(&succeeded),
            _ => None,
        };
        let batch: Vec<Settlement<'_>> = claims
            .iter()
            .filter_map(|claim| Some((claim, answer(claim)?)))
            .map(|(claim, task)| Settlement {
                claim,
                course: &claim.course,
                task: Some(task),
                error: None,
                ending: task.terminal.then_some("succeeded"),
                next_poll: (!task.terminal).then_some(Duration::from_secs(60)),
                changed: true,
            })
            .collect();
        assert_eq!(store.settle(&batch).await.expect("settled"), [true; 3]);
        store.untrack("p", "t0").await.expect("removed");
        store.untrack("p", "t3").await.expect("removed");
        store
            .track(&NewTask {
                provider: "p".into(),
                task_id: "t3".into(),
                ..NewTask::default()
            })
            .await
            .expect("tracked again");
        let pending = store
            .claim_deliveries("w", 2, Duration::from_secs(60))
            .await
            .expect("deliveries");
        assert_eq!(pending.len(), 2);
        for delivery in &pending {
            store
                .settle_delivery("w", delivery.event.id, &Attempt::Delivered)
                .await
                .expect("delivered");
        }

        /// The counts `sql` reads (columns `a`, `b`, `n`), sorted.
        async fn counted(store: &Store, sql: &'static str) -> Vec<(String, String, u64)> {
            let mut counts: Vec<(String, String, u64)> = sqlx::query(sql)
                .fetch_all(&store.pool)
                .await
                .expect("count")
                .iter()
                .map(|row| {
                    let n: i64 = row.get("n");
                    (row.get("a"), row.get("b"), n as u64)
                })
                .collect();
            counts.sort();
            counts
        }
        let nonzero = |mut tally: Vec<(String, String, u64)>| {
            tally.retain(|(.., n)| *n > 0);
            tally.sort();
            tally
        };
        let tasks = counted(
            &store,
            "SELECT COALESCE(state, '') AS a, COALESCE(ending, '') AS b, COUNT(*) AS n \
             FROM tracked GROUP BY 1, 2",
        )
        .await;
        let row = |a: &str, b: &str, n| (a.to_owned(), b.to_owned(), n);
        // t3 (removed unanswered, tracked again), t1, t0 (removed), t2.
        let expected = [
            row("", "", 1),
            row("running", "", 1),
            row("running", "removed", 1),
            row("succeeded", "succeeded", 1),
        ];
        assert_eq!(tasks, expected);
        assert_eq!(nonzero(store.tally("tasks").await.expect("tally")), tasks);
        let deliveries = counted(
            &store,
            "SELECT status AS a, '' AS b, COUNT(*) AS n FROM deliveries GROUP BY 1, 2",
        )
        .await;
        assert_eq!(
            nonzero(store.tally("deliveries").await.expect("tally")),
            deliveries
        );
        // Six events with a callback: t0, t1 and t2 changed, t2 ended, t0 and t3 removed.
        assert_eq!(deliveries, [row("delivered", "", 2), row("pending", "", 4)]);
        assert_eq!(store.counts().await.expect("counts"), (2, 2));
    }
}
