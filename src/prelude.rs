//! The names most programs use, in one import: `use unitask::prelude::*;`.

pub use crate::watch::{Ending, Event, Target, Watcher};
pub use crate::{
    Credentials, Engine, Error, ErrorKind, Inputs, ProviderClient, State, Transport, UploadTask,
};
