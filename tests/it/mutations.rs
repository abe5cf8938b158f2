//! Property tests over mutated responses: every seed example's body, damaged at random (fields
//! removed, wrong types, unknown status values, extra fields, nulls, deep nesting, truncation),
//! must normalize without a panic, the same way through the generated module's plan and the
//! interpreter's (loaded from the file at run time).

use proptest::prelude::*;
use serde_json::Value;
use unitask::Engine;
use unitask::model::Provider;
use unitask::runtime::{self, normalize::Response};

/// One damage to apply at a chosen place in a JSON document.
#[derive(Debug, Clone)]
pub(crate) enum Damage {
    Remove,
    Replace(Value),
    AddField(String, Value),
    Nest(usize),
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "[a-zA-Z0-9 _=+-]{0,12}".prop_map(Value::String),
        Just(Value::Array(vec![])),
        Just(serde_json::json!({})),
    ]
}

pub(crate) fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        Just(Damage::Remove),
        leaf().prop_map(Damage::Replace),
        ("[a-z]{1,8}", leaf()).prop_map(|(k, v)| Damage::AddField(k, v)),
        (1usize..200).prop_map(Damage::Nest),
    ]
}

/// Applies `damage` to the `index`-th node (in document order, modulo the node count).
pub(crate) fn apply(value: &mut Value, index: usize, damage: &Damage) {
    fn count(value: &Value) -> usize {
        1 + match value {
            Value::Array(items) => items.iter().map(count).sum(),
            Value::Object(map) => map.values().map(count).sum(),
            _ => 0,
        }
    }
    fn visit(value: &mut Value, target: &mut usize, damage: &Damage) -> bool {
        if *target == 0 {
            match damage {
                Damage::Remove | Damage::Replace(_) => {}
                Damage::AddField(key, new) => {
                    if let Value::Object(map) = value {
                        map.insert(key.clone(), new.clone());
                    }
                }
                Damage::Nest(depth) => {
                    let mut nested = value.take();
                    for _ in 0..*depth {
                        nested = serde_json::json!({ "n": nested });
                    }
                    *value = nested;
                }
            }
            return true;
        }
        *target -= 1;
        // A removal deletes the key (or the array item) itself, not just its value.
        match value {
            Value::Object(map) => {
                let keys: Vec<String> = map.keys().cloned().collect();
                for key in keys {
                    if *target == 0 {
                        match damage {
                            Damage::Remove => {
                                map.remove(&key);
                            }
                            Damage::Replace(new) => {
                                map.insert(key, new.clone());
                            }
                            _ => {
                                if let Some(child) = map.get_mut(&key) {
                                    return visit(child, target, damage);
                                }
                            }
                        }
                        return true;
                    }
                    if let Some(child) = map.get_mut(&key)
                        && visit(child, target, damage)
                    {
                        return true;
                    }
                }
                false
            }
            Value::Array(items) => {
                for i in 0..items.len() {
                    if *target == 0 {
                        match damage {
                            Damage::Remove => {
                                items.remove(i);
                            }
                            Damage::Replace(new) => items[i] = new.clone(),
                            _ => return visit(&mut items[i], target, damage),
                        }
                        return true;
                    }
                    if visit(&mut items[i], target, damage) {
                        return true;
                    }
                }
                false
            }
            _ => false,
        }
    }
    let total = count(value);
    let mut target = index % total;
    visit(value, &mut target, damage);
}

type Seed = (Provider, Provider, String, Vec<u8>);

/// (interpreter's plan, generated module's plan, example name, body), built once.
fn seeds() -> &'static [Seed] {
    static SEEDS: std::sync::OnceLock<Vec<Seed>> = std::sync::OnceLock::new();
    SEEDS.get_or_init(build_seeds)
}

/// The interpreter's definitions, read from their files at run time (the built-in engine holds
/// the generated modules' own plans, so it would compare them with themselves).
fn engine() -> &'static Engine {
    static ENGINE: std::sync::OnceLock<Engine> = std::sync::OnceLock::new();
    ENGINE.get_or_init(|| {
        let mut engine = Engine::empty();
        engine
            .load_paths(&[crate::at("providers")])
            .expect("the seed definitions load");
        engine
    })
}

fn build_seeds() -> Vec<Seed> {
    let engine = engine();
    let mut out = Vec::new();
    for loaded in engine.iter() {
        let generated = unitask::providers::definition(&loaded.provider.id)
            .expect("every built-in has a generated module")
            .expect("generated definition");
        for example in &loaded.provider.examples {
            if example.response.status == 200
                && serde_json::from_slice::<Value>(&example.response.body).is_ok()
            {
                out.push((
                    Provider::clone(&loaded.provider),
                    Provider::clone(generated),
                    example.name.clone(),
                    example.response.body.clone(),
                ));
            }
        }
    }
    out
}

proptest! {
    // 512 cases in the normal run; `PROPTEST_CASES=N` for a longer hunt.
    #![proptest_config(ProptestConfig { cases: std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(512), ..ProptestConfig::default() })]

    #[test]
    fn damaged_bodies_never_panic_and_both_plans_agree(
        which in any::<prop::sample::Index>(),
        damages in prop::collection::vec((any::<usize>(), damage()), 1..4),
        cut in prop::option::of(any::<prop::sample::Index>()),
    ) {
        let seeds = seeds();
        let (interpreted, generated, _, body) = &seeds[which.index(seeds.len())];
        let mut value: Value = serde_json::from_slice(body).expect("json");
        for (index, damage) in &damages {
            apply(&mut value, *index, damage);
        }
        let mut bytes = serde_json::to_vec(&value).expect("json");
        if let Some(cut) = cut {
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        let response = Response { status: 200, headers: &[], body: &bytes };
        let a = runtime::normalize(interpreted, "t-1", response);
        let b = runtime::normalize(generated, "t-1", response);
        prop_assert_eq!(&a, &b);
        if let Ok(task) = &a {
            prop_assert_eq!(task.terminal, task.state.is_terminal());
        }
    }
}
