//! What the dialplan reads besides the phones: the AstDB (`DBPut`/`DBGet`/`DBDel`,
//! the `DND/<ext>`, `CF/<ext>`, `CFB/<ext>`, `CFNA/<ext>` keys of the
//! call-control convention) and custom device states (`Custom:NAME`). Both are
//! bounded: a write beyond the limit is refused, as a full database would be.

use std::collections::BTreeMap;

/// Entries the AstDB holds at most.
pub(crate) const MAX_DB_ENTRIES: usize = 10_000;
/// Custom device states held at most.
pub(crate) const MAX_CUSTOM_STATES: usize = 10_000;
/// Longest family, key or value accepted (bytes).
const MAX_LEN: usize = 256;

/// The AstDB: `family/key = value`.
#[derive(Debug, Default)]
pub(crate) struct AstDb {
    entries: BTreeMap<(String, String), String>,
}

impl AstDb {
    /// Stores a value; `false` if the database is full or a part is too long.
    pub(crate) fn put(&mut self, family: &str, key: &str, val: &str) -> bool {
        if family.len() > MAX_LEN || key.len() > MAX_LEN || val.len() > MAX_LEN {
            return false;
        }
        let k = (family.to_owned(), key.to_owned());
        if !self.entries.contains_key(&k) && self.entries.len() >= MAX_DB_ENTRIES {
            return false;
        }
        self.entries.insert(k, val.to_owned());
        true
    }

    pub(crate) fn get(&self, family: &str, key: &str) -> Option<&str> {
        self.entries.get(&(family.to_owned(), key.to_owned())).map(String::as_str)
    }

    /// Removes one entry; `false` if there was none.
    pub(crate) fn del(&mut self, family: &str, key: &str) -> bool {
        self.entries.remove(&(family.to_owned(), key.to_owned())).is_some()
    }

    /// Removes a family, or only its keys under `key/` and `key` itself; the
    /// number of entries removed.
    pub(crate) fn del_tree(&mut self, family: &str, key: Option<&str>) -> usize {
        let before = self.entries.len();
        self.entries.retain(|(f, k), _| {
            if f != family {
                return true;
            }
            match key {
                None => false,
                Some(p) => !(k == p || k.strip_prefix(p).is_some_and(|rest| rest.starts_with('/'))),
            }
        });
        before - self.entries.len()
    }

    /// The entries of one family, by key.
    pub(crate) fn family(&self, family: &str) -> Vec<(String, String)> {
        self.entries
            .iter()
            .filter(|((f, _), _)| f == family)
            .map(|((_, k), v)| (k.clone(), v.clone()))
            .collect()
    }
}

/// The device states Asterisk's `DEVICE_STATE()` accepts; anything else is `UNKNOWN`
/// (`ast_devstate_val`).
pub(crate) fn device_state_value(v: &str) -> &'static str {
    const STATES: [&str; 9] =
        ["UNKNOWN", "NOT_INUSE", "INUSE", "BUSY", "INVALID", "UNAVAILABLE", "RINGING", "RINGINUSE", "ONHOLD"];
    STATES.iter().find(|s| s.eq_ignore_ascii_case(v.trim())).copied().unwrap_or("UNKNOWN")
}

/// Custom device states (`Custom:DND100` = `BUSY`), in name order.
#[derive(Debug, Default)]
pub(crate) struct CustomStates {
    states: BTreeMap<String, &'static str>,
}

impl CustomStates {
    /// Sets `Custom:NAME`; `false` when the table is full.
    pub(crate) fn set(&mut self, name: &str, state: &'static str) -> bool {
        if name.len() > MAX_LEN || (!self.states.contains_key(name) && self.states.len() >= MAX_CUSTOM_STATES)
        {
            return false;
        }
        self.states.insert(name.to_owned(), state);
        true
    }

    /// `(Custom:NAME, STATE)` pairs.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (String, &'static str)> + '_ {
        self.states.iter().map(|(k, v)| (format!("Custom:{k}"), *v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_get_del() {
        let mut db = AstDb::default();
        assert!(db.put("DND", "100", "YES"));
        assert_eq!(db.get("DND", "100"), Some("YES"));
        assert_eq!(db.get("DND", "101"), None);
        assert!(db.del("DND", "100"));
        assert!(!db.del("DND", "100"));
        assert!(!db.put("DND", &"x".repeat(MAX_LEN + 1), "YES"));
    }

    #[test]
    fn del_tree_removes_family_or_subtree() {
        let mut db = AstDb::default();
        db.put("CF", "100", "200");
        db.put("CF", "100/x", "1");
        db.put("CF", "1000", "2");
        db.put("CFB", "100", "3");
        assert_eq!(db.del_tree("CF", Some("100")), 2);
        assert_eq!(db.family("CF"), [("1000".to_owned(), "2".to_owned())]);
        assert_eq!(db.del_tree("CF", None), 1);
        assert_eq!(db.del_tree("CF", None), 0);
        assert_eq!(db.get("CFB", "100"), Some("3"));
    }

    #[test]
    fn database_is_bounded() {
        let mut db = AstDb::default();
        for i in 0..MAX_DB_ENTRIES {
            assert!(db.put("F", &i.to_string(), "v"));
        }
        assert!(!db.put("F", "new", "v"));
        assert!(db.put("F", "0", "updated"), "updating an existing key is allowed");
    }

    #[test]
    fn device_state_values() {
        assert_eq!(device_state_value("busy"), "BUSY");
        assert_eq!(device_state_value("NOT_INUSE"), "NOT_INUSE");
        assert_eq!(device_state_value("bogus"), "UNKNOWN");
        let mut c = CustomStates::default();
        assert!(c.set("DND100", "BUSY"));
        assert_eq!(c.iter().collect::<Vec<_>>(), [("Custom:DND100".to_owned(), "BUSY")]);
    }
}
