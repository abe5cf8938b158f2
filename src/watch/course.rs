//! A watched task's course from one poll to the next: whether an answer is news, whether the
//! task ended or hands over to a follow-up, and how long to wait before polling it again. The
//! watch keeps a course per task in memory; the tracker keeps it in its store between polls.
//! Both decide with [`Course::answered`], so a task is watched the same way whoever holds it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::{Ending, Endpoint, Options, Target, is_transient};
use crate::model::Provider;
use crate::runtime::{Error, ErrorKind};
use crate::task::{Progress, State, UploadTask};

/// Follow-ups one watched task may take (a definition that hands over to itself stops here).
pub const MAX_HOPS: u8 = 4;

/// The longest wait between two polls of a task, whatever a provider asks.
pub const MAX_WAIT: Duration = Duration::from_secs(3600);

/// What a task was when last polled: what a change is measured against.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Seen {
    pub(crate) state: State,
    pub(crate) native_status: String,
    pub(crate) progress: Option<Progress>,
}

impl Seen {
    pub(crate) fn of(task: &UploadTask) -> Seen {
        Seen {
            state: task.state,
            native_status: task.native_status.clone(),
            progress: task.progress.clone(),
        }
    }
}

/// What decides a task's next poll: its counters, its current wait, and what it last was.
#[derive(Debug, Clone)]
pub(crate) struct Course {
    /// The follow-up being watched instead of the target, once the target handed over.
    pub(crate) following: Option<Arc<Target>>,
    /// Follow-ups taken so far.
    pub(crate) hops: u8,
    /// Polls answered (an answer or an error), follow-ups included.
    pub(crate) polls: u32,
    pub(crate) errors_in_row: u32,
    /// The wait before the last jitter: grows while the task stays unchanged.
    pub(crate) delay: Duration,
    /// What the last task a poll returned was (the task itself went out as news).
    pub(crate) last: Option<Box<Seen>>,
    /// Whether the last answer handed over to a follow-up not polled yet.
    pub(crate) handed_over: bool,
}

/// What an answer tells whoever follows the task.
#[derive(Debug)]
// Made once per answer and moved straight out: boxing would cost an allocation per poll.
#[allow(clippy::large_enum_variant)]
pub(crate) enum News {
    /// The task as the poll returned it, different from the last.
    Changed(UploadTask),
    /// The poll failed; `gives_up` when the task ends with it.
    Failed { error: Error, gives_up: bool },
}

/// What becomes of the task after an answer.
#[derive(Debug)]
// Made once per answer and moved straight out: boxing would cost an allocation per poll.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Next {
    /// Poll it again after this long (zero: a follow-up, polled at once).
    After(Duration),
    /// It ended: how, and the task that ended it if one did.
    End(Ending, Option<UploadTask>),
}

/// One answer's consequences.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub(crate) news: Option<News>,
    pub(crate) next: Next,
    /// The provider answered `429`: none of its tasks is polled for this long.
    pub(crate) pause: Option<Duration>,
}

impl Course {
    /// A task not polled yet, of `provider`.
    pub(crate) fn new(provider: &Provider, options: &Options) -> Course {
        Course {
            following: None,
            hops: 0,
            polls: 0,
            errors_in_row: 0,
            delay: first_interval(provider, options),
            last: None,
            handed_over: false,
        }
    }

    /// What is polled for `target`: the target, or the follow-up it handed over to.
    pub(crate) fn polled<'a>(&'a self, target: &'a Arc<Target>) -> &'a Arc<Target> {
        self.following.as_ref().unwrap_or(target)
    }

    /// Takes in a poll's answer; `endpoint` (an index into `endpoints`, whose ids `index` maps)
    /// moves to the follow-up's when the task hands over.
    pub(crate) fn answered(
        &mut self,
        endpoint: &mut usize,
        endpoints: &[Endpoint],
        index: &HashMap<String, usize>,
        options: &Options,
        result: Result<UploadTask, Error>,
    ) -> Outcome {
        self.polls += 1;
        let provider = &endpoints[*endpoint].provider;
        let task = match result {
            Ok(task) => task,
            Err(error) => return self.failed(provider, options, error),
        };
        self.errors_in_row = 0;
        let seen = Seen::of(&task);
        let changed = self.handed_over || self.last.as_deref() != Some(&seen);
        self.handed_over = false;
        self.last = Some(Box::new(seen));
        let next = task
            .next
            .as_ref()
            .filter(|_| task.terminal && self.hops < MAX_HOPS);
        if let Some(next) = next {
            let Some(&e) = index.get(&next.provider) else {
                // The task goes on elsewhere, where this watch cannot follow: not an end.
                let error = Error::local(
                    ErrorKind::Definition,
                    format!(
                        "{} hands over to `{}` (task {}), which this watch has no endpoint for: add one",
                        task.provider, next.provider, next.task_id
                    ),
                );
                return Outcome {
                    news: Some(News::Changed(task)),
                    next: Next::End(Ending::Failed(error), None),
                    pause: None,
                };
            };
            self.hops += 1;
            *endpoint = e;
            self.following = Some(Arc::new(Target {
                provider: next.provider.clone(),
                task_id: next.task_id.clone(),
                inputs: next
                    .inputs
                    .iter()
                    .map(|(n, v)| (n.as_str(), v.as_str()))
                    .collect(),
            }));
            // The follow-up's first answer counts as a change.
            self.handed_over = true;
            self.delay = first_interval(&endpoints[e].provider, options);
            return Outcome {
                news: changed.then_some(News::Changed(task)),
                next: Next::After(Duration::ZERO),
                pause: None,
            };
        }
        if task.terminal {
            let ending = Ending::Terminal(task.state);
            // The task goes out twice only when it both changed and ended.
            let news = changed.then(|| News::Changed(task.clone()));
            return Outcome {
                news,
                next: Next::End(ending, Some(task)),
                pause: None,
            };
        }
        let wait = self.next_wait(provider, options, changed, None);
        Outcome {
            news: changed.then_some(News::Changed(task)),
            next: Next::After(wait),
            pause: None,
        }
    }

    fn failed(&mut self, provider: &Provider, options: &Options, error: Error) -> Outcome {
        let pause = (error.kind == ErrorKind::RateLimited)
            .then(|| error.retry_after.unwrap_or(Duration::from_secs(1)));
        self.errors_in_row += 1;
        let forgiven =
            is_transient(error.kind, error.retryable) && self.errors_in_row <= options.max_errors;
        if forgiven {
            let wait = self.next_wait(provider, options, false, error.retry_after);
            Outcome {
                news: Some(News::Failed {
                    error,
                    gives_up: false,
                }),
                next: Next::After(wait),
                pause,
            }
        } else {
            Outcome {
                news: Some(News::Failed {
                    error: error.clone(),
                    gives_up: true,
                }),
                next: Next::End(Ending::Failed(error), None),
                pause,
            }
        }
    }

    /// The wait before the next poll: back to the first interval when the task changed, else
    /// grown by the definition's factor up to the longest wait; never shorter than what the
    /// provider asked; jittered by ±20% so many tasks do not poll in lockstep.
    fn next_wait(
        &mut self,
        provider: &Provider,
        options: &Options,
        changed: bool,
        asked: Option<Duration>,
    ) -> Duration {
        let first = first_interval(provider, options).min(MAX_WAIT);
        let longest = options
            .max_interval
            .unwrap_or(provider.polling.max_interval)
            .clamp(first, MAX_WAIT);
        self.delay = if changed || self.polls <= 1 {
            first
        } else {
            scale(self.delay, provider.polling.backoff).min(longest)
        };
        let jittered = scale(self.delay, 0.8 + 0.4 * fastrand::f64());
        jittered.max(asked.unwrap_or_default()).min(MAX_WAIT)
    }
}

fn first_interval(provider: &Provider, options: &Options) -> Duration {
    options.interval.unwrap_or(provider.polling.interval)
}

/// `duration × factor`, saturating instead of panicking.
fn scale(duration: Duration, factor: f64) -> Duration {
    Duration::try_from_secs_f64(duration.as_secs_f64() * factor).unwrap_or(MAX_WAIT)
}
