//! `unitask watch --store`: the same watch, its tasks kept in a store (a SQLite file or
//! PostgreSQL) by a tracker, so that a watch stopped or killed resumes where it was when run
//! again: the tasks given are tracked in the store, and every task the store still tracks is
//! watched until it ends.

use std::collections::HashMap;
use std::str::FromStr as _;
use std::time::Duration;

use unitask::http::request::Credentials;
use unitask::runtime::{Error, ErrorKind};
use unitask::track::{Filter, NewTask, Stopped, Store, TrackOptions, Tracked, Tracker};
use unitask::watch::{Ending, Event, Finished, Report, Target};
use unitask::{Engine, State, Transport};

use super::live::{Live, Mode, summary, summary_json};
use super::watch::{Args, Urls, check_targets, ctrl_c, endpoints, exit_code};
use super::{EXIT_USAGE, logging};

pub fn run(
    args: &Args,
    engine: &Engine,
    url: &str,
    given: Vec<Target>,
    transport: &Transport,
) -> u8 {
    let runtime = match super::runtime(false) {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    runtime.block_on(watch(args, engine, url, given, transport))
}

async fn watch(
    args: &Args,
    engine: &Engine,
    url: &str,
    given: Vec<Target>,
    transport: &Transport,
) -> u8 {
    let urls = Urls {
        base: args.polling.base_url.as_deref(),
        auth: args.polling.auth_url.as_deref(),
    };
    let store = match Store::open(url).await {
        Ok(store) => store,
        Err(error) => {
            eprintln!("error: {error}");
            return EXIT_USAGE;
        }
    };
    // The tasks given are checked as a plain watch checks them, then tracked.
    if !given.is_empty() {
        let checked = endpoints(
            engine,
            &given,
            urls,
            args.polling.engine,
            Credentials::from_env,
            transport,
        )
        .and_then(|(endpoints, _)| check_targets(&endpoints, &given));
        if let Err(message) = checked {
            eprintln!("error: {message}");
            return EXIT_USAGE;
        }
        for target in &given {
            if let Err(error) = store.track(&NewTask::from(target)).await {
                eprintln!("error: {error}");
                return EXIT_USAGE;
            }
        }
    }
    let watched = match still_tracked(&store).await {
        Ok(watched) => watched,
        Err(error) => {
            eprintln!("error: {error}");
            return EXIT_USAGE;
        }
    };
    // Tasks given that had ended before this run: shown, not polled.
    let mut ended_before = Vec::new();
    for target in &given {
        match store.get(&target.provider, &target.task_id).await {
            Ok(Some(record)) if record.ending.is_some() => ended_before.push(record),
            Ok(_) => {}
            Err(error) => {
                eprintln!("error: {error}");
                return EXIT_USAGE;
            }
        }
    }
    if !ended_before.is_empty() {
        eprintln!(
            "{} task(s) given had ended before this run and are not polled again",
            ended_before.len()
        );
    }
    let targets: Vec<Target> = watched.iter().map(|(_, r)| r.target()).collect();
    let (endpoints, redactor) = if targets.is_empty() {
        (Vec::new(), unitask::http::redact::Redactor::default())
    } else {
        match endpoints(
            engine,
            &targets,
            urls,
            args.polling.engine,
            Credentials::from_env,
            transport,
        ) {
            Ok(found) => found,
            Err(message) => {
                eprintln!("error: {message}");
                return EXIT_USAGE;
            }
        }
    };
    logging::init(redactor.clone());
    let mode = super::watch::mode(args);
    let mut tracker = Tracker::new(
        store.clone(),
        TrackOptions {
            watch: super::watch::options(args),
            lease: lease(args),
            // A watch killed and run again takes its tasks back after five seconds.
            heartbeat: Duration::from_secs(1),
            until_idle: true,
            ..TrackOptions::default()
        },
    );
    for endpoint in endpoints {
        tracker.add(endpoint);
    }
    let index: HashMap<u64, usize> = watched
        .iter()
        .enumerate()
        .map(|(i, (id, _))| (*id as u64, i))
        .collect();
    let mut finished: Vec<Option<Finished>> = vec![None; watched.len()];
    let mut live = Live::new(mode, &targets, &redactor);
    let run = if targets.is_empty() {
        None
    } else {
        let run = tracker
            .run(ctrl_c(), |event| {
                let Some(&i) = index.get(&event.key().get()) else {
                    return;
                };
                live.on_event_at(i, event);
                if let Event::Finished { finished: f, .. } = event {
                    finished[i] = Some(Finished {
                        task: None,
                        ..f.clone()
                    });
                }
            })
            .await;
        match run {
            Ok(report) => Some(report),
            Err(error) => {
                live.close();
                eprintln!("error: {error}");
                return EXIT_USAGE;
            }
        }
    };
    live.close();
    let stopped = run.as_ref().map_or(Stopped::Idle, |r| r.stopped);
    // Tasks without an end in this run: ended elsewhere (another worker), or still tracked.
    let mut still = 0;
    for (slot, (_, record)) in finished.iter_mut().zip(&watched) {
        if slot.is_some() {
            continue;
        }
        let now = store
            .get(&record.provider, &record.task_id)
            .await
            .ok()
            .flatten()
            .unwrap_or_else(|| record.clone());
        *slot = Some(match now.ending {
            Some(_) => from_record(&now),
            None => {
                still += 1;
                let ending = match stopped {
                    Stopped::TimedOut => Ending::TimedOut,
                    _ => Ending::Interrupted,
                };
                Finished {
                    ending,
                    ..from_record(&now)
                }
            }
        });
    }
    let mut all_targets: Vec<Target> = ended_before.iter().map(Tracked::target).collect();
    all_targets.extend(targets);
    let mut tasks: Vec<Finished> = ended_before.iter().map(from_record).collect();
    tasks.extend(finished.into_iter().flatten());
    let report = Report {
        tasks,
        requests: run.as_ref().map_or(0, |r| r.requests),
        elapsed: run.as_ref().map_or(Duration::ZERO, |r| r.elapsed),
    };
    let code = exit_code(&report);
    let table = summary(&all_targets, &report, None);
    if mode == Mode::JsonLines {
        live.line(&summary_json(&report, code));
        live.close();
        eprint!("{}", redactor.redact(&table));
    } else {
        print!("{}", redactor.redact(&table));
    }
    if still > 0 {
        eprintln!(
            "{still} task(s) are still tracked in the store: run `unitask watch --store` with it again to resume"
        );
    }
    code
}

/// Every task the store still tracks, with its row id, oldest first.
async fn still_tracked(store: &Store) -> Result<Vec<(i64, Tracked)>, unitask::track::StoreError> {
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .list(&Filter {
                ended: Some(false),
                after,
                limit: 1000,
                ..Filter::default()
            })
            .await?;
        let Some((last, _)) = page.last() else {
            return Ok(all);
        };
        after = Some(*last);
        all.extend(page);
    }
}

/// How long a claim holds a task: longer than a poll with every retry can take.
fn lease(args: &Args) -> Duration {
    args.polling
        .request_timeout
        .saturating_mul(args.polling.max_attempts)
        .saturating_add(Duration::from_secs(60))
}

/// A task's end as the store recorded it.
fn from_record(record: &Tracked) -> Finished {
    let ending = match record.ending.as_deref() {
        Some("removed") => Ending::Removed,
        Some("error") => Ending::Failed(record.error.clone().unwrap_or_else(|| {
            Error::local(
                ErrorKind::Definition,
                "ended with an error the store did not keep",
            )
        })),
        Some(name) => match State::from_str(name) {
            Ok(state) => Ending::Terminal(state),
            Err(_) => Ending::Failed(Error::local(
                ErrorKind::Definition,
                format!("the store says it ended {name:?}, which this version does not know"),
            )),
        },
        None => Ending::Interrupted,
    };
    let task = record.task.as_ref();
    Finished {
        ending,
        task: None,
        state: task.map(|t| t.state),
        native_status: task.map(|t| t.native_status.clone()),
        progress: task.and_then(|t| t.progress.clone()),
        polls: record.polls,
        elapsed: Duration::ZERO,
    }
}
