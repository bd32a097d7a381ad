//! What an action gets back.

use super::message::Message;

/// A response to an action (`Response: Success|Follows|Goodbye`; errors are
/// turned into [`Error::PbxRefused`](crate::Error::PbxRefused) by the client).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    message: Message,
}

impl Response {
    pub fn new(message: Message) -> Self {
        Self { message }
    }

    /// The status: `Success`, `Error`, `Follows` or `Goodbye`.
    pub fn status(&self) -> &str {
        self.message.response().unwrap_or_default()
    }

    /// Whether the PBX accepted the action.
    pub fn is_success(&self) -> bool {
        !self.status().eq_ignore_ascii_case("Error")
    }

    /// The PBX's `Message:` text.
    pub fn text(&self) -> Option<&str> {
        self.message.get("Message")
    }

    /// A field of the response.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.message.get(key)
    }

    /// The whole message.
    pub fn message(&self) -> &Message {
        &self.message
    }
}

/// The result of a list action: the response, every item event in order, and the
/// closing `...Complete` event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListResponse {
    pub response: Response,
    pub items: Vec<Message>,
    pub complete: Option<Message>,
}

impl ListResponse {
    /// Item count the PBX announced in the closing event (`ListItems:`), if any.
    pub fn announced_items(&self) -> Option<usize> {
        self.complete.as_ref()?.get("ListItems")?.parse().ok()
    }
}
