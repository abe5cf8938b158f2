//! The floor for normalization: for each seed provider, a hand-written serde reader that builds the
//! same `UploadTask` as the runtime, field for field (a test holds it to that). It parses the
//! body once into a JSON value (the task keeps it as `raw`) and reads typed structs from it.
//!
//! Shared by `benches/normalize.rs` and the integration tests (`tests/it/floor.rs`).

pub mod church_tech;
pub mod hubspot;
pub mod shoplazza;
pub mod tencent_smh;

use unitask::UploadTask;

/// The hand-written reader of `provider`, if there is one.
pub fn reader(provider: &str) -> Option<fn(&str, &[u8]) -> UploadTask> {
    Some(match provider {
        "church-tech" => church_tech::normalize,
        "hubspot" => hubspot::normalize,
        "shoplazza" => shoplazza::normalize,
        "tencent-smh" => tencent_smh::normalize,
        _ => return None,
    })
}
