//! Typed constructors for the actions the SDK sends.

use super::encoder::MessageBuilder;

/// An action to send, and whether its result is an event list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Action {
    message: MessageBuilder,
    list: bool,
}

/// Parameters of an `Originate`: the channel to call first and where to connect it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Originate {
    /// The channel to call first, e.g. `PJSIP/100` (the user's own phone for click-to-dial).
    pub channel: String,
    /// Dialplan target once the channel answers.
    pub context: String,
    pub exten: String,
    pub priority: u32,
    /// `"Name" <number>` shown on the first phone.
    pub caller_id: Option<String>,
    /// Milliseconds to wait for the first channel to answer.
    pub timeout_ms: Option<u64>,
    /// Channel variables (`Variable: NAME=value`, repeated).
    pub variables: Vec<(String, String)>,
    pub account: Option<String>,
    /// Uniqueid to assign to the first channel (Asterisk 13+ `ChannelId`), so the
    /// call can be recognised before any event about it arrives.
    pub channel_id: Option<String>,
    pub other_channel_id: Option<String>,
}

impl Action {
    /// Any action by name; add fields with [`field`](Self::field).
    pub fn new(name: &str) -> Self {
        Self { message: MessageBuilder::action(name), list: false }
    }

    /// Any action whose result is an event list (`EventList: start` ... `Complete`).
    pub fn new_list(name: &str) -> Self {
        Self { message: MessageBuilder::action(name), list: true }
    }

    /// Adds a field.
    pub fn field(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.message.push(key, value);
        self
    }

    /// The action name.
    pub fn name(&self) -> &str {
        self.message.get("Action").unwrap_or_default()
    }

    /// Whether the result is collected as a list.
    pub fn is_list(&self) -> bool {
        self.list
    }

    /// The message to encode.
    pub fn message(&self) -> &MessageBuilder {
        &self.message
    }

    pub(crate) fn into_message(self) -> MessageBuilder {
        self.message
    }

    /// `Login` with a plain secret.
    pub fn login_plain(username: &str, secret: &str, events: &str) -> Self {
        Self::new("Login").field("Username", username).field("Secret", secret).field("Events", events)
    }

    /// `Challenge` for MD5 login.
    pub fn challenge() -> Self {
        Self::new("Challenge").field("AuthType", "MD5")
    }

    /// `Login` with an MD5 key computed from a challenge.
    pub fn login_md5(username: &str, key: &str, events: &str) -> Self {
        Self::new("Login")
            .field("AuthType", "MD5")
            .field("Username", username)
            .field("Key", key)
            .field("Events", events)
    }

    pub fn logoff() -> Self {
        Self::new("Logoff")
    }

    pub fn ping() -> Self {
        Self::new("Ping")
    }

    /// `Events` to change the event mask (`on`, `off`, `call,system`, ...).
    pub fn events(mask: &str) -> Self {
        Self::new("Events").field("EventMask", mask)
    }

    /// `Originate`, always asynchronous: the outcome comes as `OriginateResponse`.
    pub fn originate(o: &Originate) -> Self {
        let mut a = Self::new("Originate")
            .field("Channel", &o.channel)
            .field("Context", &o.context)
            .field("Exten", &o.exten)
            .field("Priority", o.priority.max(1).to_string())
            .field("Async", "true");
        if let Some(cid) = &o.caller_id {
            a = a.field("CallerID", cid);
        }
        if let Some(t) = o.timeout_ms {
            a = a.field("Timeout", t.to_string());
        }
        if let Some(acc) = &o.account {
            a = a.field("Account", acc);
        }
        if let Some(id) = &o.channel_id {
            a = a.field("ChannelId", id);
        }
        if let Some(id) = &o.other_channel_id {
            a = a.field("OtherChannelId", id);
        }
        for (k, v) in &o.variables {
            a = a.field("Variable", format!("{k}={v}"));
        }
        a
    }

    /// `Hangup` of a channel with a Q.850 cause.
    pub fn hangup(channel: &str, cause: Option<u16>) -> Self {
        let a = Self::new("Hangup").field("Channel", channel);
        match cause {
            Some(c) => a.field("Cause", c.to_string()),
            None => a,
        }
    }

    /// `Command` (CLI command); output comes as `Output:` lines or a Follows body.
    pub fn command(cli: &str) -> Self {
        Self::new("Command").field("Command", cli)
    }

    /// Every hint and its state (list).
    pub fn extension_state_list() -> Self {
        Self::new_list("ExtensionStateList")
    }

    /// Every device and its state (list).
    pub fn device_state_list() -> Self {
        Self::new_list("DeviceStateList")
    }

    /// Every active channel (list of `CoreShowChannel`).
    pub fn core_show_channels() -> Self {
        Self::new_list("CoreShowChannels")
    }

    /// The state of one hint.
    pub fn extension_state(exten: &str, context: &str) -> Self {
        Self::new("ExtensionState").field("Exten", exten).field("Context", context)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn originate_has_async_and_variables_in_order() {
        let o = Originate {
            channel: "PJSIP/100".into(),
            context: "internal".into(),
            exten: "200".into(),
            priority: 1,
            variables: vec![("A".into(), "1".into()), ("B".into(), "2".into())],
            ..Default::default()
        };
        let m = Action::originate(&o).message().to_message();
        assert_eq!(m.get("Async"), Some("true"));
        assert_eq!(m.get_all("Variable").collect::<Vec<_>>(), vec!["A=1", "B=2"]);
        assert!(!Action::originate(&o).is_list());
        assert!(Action::core_show_channels().is_list());
    }
}
