//! Text (JSON) messages of the WebSocket feed, both directions (PROTOCOL.md §1.2 and §1.9).
//!
//! Server → client: `{"type": "order"|"error"|"message", "data": …}`.
//! Client → server: `{"a": "subscribe"|"unsubscribe"|"mode", "v": …}`, parsed as real JSON (the
//! Python client sends spaces; the JS client may send tokens as strings).

use serde_json::{Map, Value, json};

use super::tick::Mode;

/// Why a text message could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// Not JSON at all.
    #[error("not valid JSON: {0}")]
    Json(String),
    /// JSON, but not an object with the expected keys.
    #[error("unexpected message shape: {0}")]
    Shape(String),
    /// An action the protocol does not have.
    #[error("unknown action `{0}`")]
    UnknownAction(String),
    /// A token that is not a non-negative integer that fits in 32 bits.
    #[error("bad instrument token {0}")]
    BadToken(String),
}

/// A text message from Kite to the client.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerText {
    /// An order postback, kept whole (every field of PROTOCOL.md §1.9).
    Order(Map<String, Value>),
    /// An error string from the server.
    Error(String),
    /// A broker message string.
    Message(String),
    /// Any other `type`, or a known type whose data has another shape: kept, not dropped.
    Other {
        /// The `type` field.
        kind: String,
        /// The `data` field (null when absent).
        data: Value,
    },
}

impl ServerText {
    /// Parses a server text message. Unknown types are [`ServerText::Other`], not errors.
    pub fn parse(text: &str) -> Result<ServerText, TextError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| TextError::Json(e.to_string()))?;
        let Value::Object(mut obj) = value else {
            return Err(TextError::Shape("expected a JSON object".into()));
        };
        let kind = match obj.remove("type") {
            Some(Value::String(kind)) => kind,
            Some(other) => return Err(TextError::Shape(format!("`type` is {other}"))),
            None => return Err(TextError::Shape("no `type` field".into())),
        };
        let data = obj.remove("data").unwrap_or(Value::Null);
        Ok(match (kind.as_str(), data) {
            ("order", Value::Object(order)) => ServerText::Order(order),
            ("error", Value::String(s)) => ServerText::Error(s),
            ("message", Value::String(s)) => ServerText::Message(s),
            (_, data) => ServerText::Other { kind, data },
        })
    }

    /// The `type` field.
    pub fn kind(&self) -> &str {
        match self {
            ServerText::Order(_) => "order",
            ServerText::Error(_) => "error",
            ServerText::Message(_) => "message",
            ServerText::Other { kind, .. } => kind,
        }
    }

    /// Serialises the message as Kite sends it.
    pub fn to_json(&self) -> String {
        let data = match self {
            ServerText::Order(order) => Value::Object(order.clone()),
            ServerText::Error(s) | ServerText::Message(s) => Value::String(s.clone()),
            ServerText::Other { data, .. } => data.clone(),
        };
        json!({ "type": self.kind(), "data": data }).to_string()
    }
}

/// A request from the client to Kite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientRequest {
    /// Start streaming these tokens.
    Subscribe(Vec<u32>),
    /// Stop streaming these tokens.
    Unsubscribe(Vec<u32>),
    /// Stream these tokens in this mode.
    Mode(Mode, Vec<u32>),
}

impl ClientRequest {
    /// Parses a request. Tokens may be numbers or numeric strings; anything else is an error.
    pub fn parse(text: &str) -> Result<ClientRequest, TextError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| TextError::Json(e.to_string()))?;
        let action = value
            .get("a")
            .and_then(Value::as_str)
            .ok_or_else(|| TextError::Shape("no string `a` field".into()))?;
        let v = value
            .get("v")
            .ok_or_else(|| TextError::Shape("no `v` field".into()))?;
        match action {
            "subscribe" => Ok(ClientRequest::Subscribe(tokens(v)?)),
            "unsubscribe" => Ok(ClientRequest::Unsubscribe(tokens(v)?)),
            "mode" => {
                let pair = v
                    .as_array()
                    .filter(|a| a.len() == 2)
                    .ok_or_else(|| TextError::Shape("`mode` wants [mode, [tokens]]".into()))?;
                let mode = pair[0]
                    .as_str()
                    .and_then(Mode::parse)
                    .ok_or_else(|| TextError::Shape(format!("unknown mode {}", pair[0])))?;
                Ok(ClientRequest::Mode(mode, tokens(&pair[1])?))
            }
            other => Err(TextError::UnknownAction(other.to_string())),
        }
    }

    /// Serialises the request as the official clients do.
    pub fn to_json(&self) -> String {
        match self {
            ClientRequest::Subscribe(t) => json!({"a": "subscribe", "v": t}),
            ClientRequest::Unsubscribe(t) => json!({"a": "unsubscribe", "v": t}),
            ClientRequest::Mode(m, t) => json!({"a": "mode", "v": [m.as_str(), t]}),
        }
        .to_string()
    }
}

fn tokens(v: &Value) -> Result<Vec<u32>, TextError> {
    let list = v
        .as_array()
        .ok_or_else(|| TextError::Shape("expected a list of tokens".into()))?;
    list.iter()
        .map(|t| {
            let n = match t {
                Value::Number(n) => n.as_u64(),
                Value::String(s) => s.trim().parse::<u64>().ok(),
                _ => None,
            };
            n.and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| TextError::BadToken(t.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn server_messages_parse_by_type() {
        assert_eq!(
            ServerText::parse(r#"{"type": "error", "data": "bad token"}"#),
            Ok(ServerText::Error("bad token".into()))
        );
        assert_eq!(
            ServerText::parse(r#"{"type":"message","data":"hello"}"#),
            Ok(ServerText::Message("hello".into()))
        );
        let order =
            ServerText::parse(r#"{"type":"order","data":{"order_id":"1","status":"COMPLETE"}}"#)
                .unwrap();
        let ServerText::Order(map) = &order else {
            panic!("not an order: {order:?}")
        };
        assert_eq!(map["status"], "COMPLETE");
        // A non-string error is kept, not a panic (the Go client panics on it).
        assert!(matches!(
            ServerText::parse(r#"{"type":"error","data":42}"#),
            Ok(ServerText::Other { .. })
        ));
        assert!(ServerText::parse("[1]").is_err());
        assert!(ServerText::parse("{").is_err());
    }

    #[test]
    fn server_messages_round_trip() {
        for m in [
            ServerText::Error("x".into()),
            ServerText::Message("y".into()),
            ServerText::Other {
                kind: "z".into(),
                data: json!([1, 2]),
            },
        ] {
            assert_eq!(ServerText::parse(&m.to_json()), Ok(m));
        }
    }

    #[test]
    fn client_requests_accept_python_spacing_and_string_tokens() {
        assert_eq!(
            ClientRequest::parse(r#"{"a": "subscribe", "v": [408065, "884737"]}"#),
            Ok(ClientRequest::Subscribe(vec![408065, 884737]))
        );
        assert_eq!(
            ClientRequest::parse(r#"{"a":"mode","v":["full",[408065]]}"#),
            Ok(ClientRequest::Mode(Mode::Full, vec![408065]))
        );
        assert!(matches!(
            ClientRequest::parse(r#"{"a":"subscribe","v":[-1]}"#),
            Err(TextError::BadToken(_))
        ));
        assert!(matches!(
            ClientRequest::parse(r#"{"a":"subscribe","v":[4294967296]}"#),
            Err(TextError::BadToken(_))
        ));
        assert!(matches!(
            ClientRequest::parse(r#"{"a":"mode","v":["deep",[1]]}"#),
            Err(TextError::Shape(_))
        ));
        assert!(matches!(
            ClientRequest::parse(r#"{"a":"quit","v":[]}"#),
            Err(TextError::UnknownAction(_))
        ));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(10_000))]

        #[test]
        fn client_requests_round_trip(tokens in prop::collection::vec(any::<u32>(), 0..20), which in 0..5u8) {
            let req = match which {
                0 => ClientRequest::Subscribe(tokens),
                1 => ClientRequest::Unsubscribe(tokens),
                2 => ClientRequest::Mode(Mode::Ltp, tokens),
                3 => ClientRequest::Mode(Mode::Quote, tokens),
                _ => ClientRequest::Mode(Mode::Full, tokens),
            };
            prop_assert_eq!(ClientRequest::parse(&req.to_json()), Ok(req));
        }

        #[test]
        fn arbitrary_text_never_panics(text in ".{0,200}") {
            let _ = ServerText::parse(&text);
            let _ = ClientRequest::parse(&text);
        }
    }
}
