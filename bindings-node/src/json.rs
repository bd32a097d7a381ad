//! The core's values as JSON text with camelCase keys, for `JSON.parse` in `index.js`.
//!
//! The core defines one JSON form of its events (serde, snake_case, the `event` tag) for
//! every language. JavaScript wants camelCase property names, so the keys are renamed here;
//! values (event kinds, states, reasons) stay the core's words. The text is built on a
//! tokio thread and parsed in one `JSON.parse` per batch: V8 builds the objects far faster
//! that way than one N-API call per property would, and the work stays off the JS thread.

use serde::Serialize;
use serde_json::{Map, Value};

use ctilink::Event;

/// `value` as JSON with camelCase keys.
pub(crate) fn to_string<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(v) => camel_value(v).to_string(),
        // The core's types serialize infallibly (no maps with non-string keys, no
        // custom serializers that fail); `null` keeps JavaScript going if that changes.
        Err(_) => "null".to_owned(),
    }
}

/// Events as one JSON array, in order.
pub(crate) fn events(batch: &[Event]) -> String {
    let items = batch.iter().map(|e| serde_json::to_value(e).map(camel_value).unwrap_or(Value::Null));
    Value::Array(items.collect()).to_string()
}

/// One event as a JSON value with camelCase keys.
pub(crate) fn event_value(ev: &Event) -> Value {
    serde_json::to_value(ev).map(camel_value).unwrap_or(Value::Null)
}

fn camel_value(v: Value) -> Value {
    match v {
        Value::Object(map) => {
            let mut out = Map::with_capacity(map.len());
            for (k, v) in map {
                out.insert(camel(&k), camel_value(v));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(camel_value).collect()),
        other => other,
    }
}

/// `calling_device` to `callingDevice`.
fn camel(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut upper = false;
    for c in key.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}
