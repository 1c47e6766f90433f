//! The live feed's protocol (SPEC §3, docs/ARCHITECTURE.md "Live feed"):
//! the text frames of `/ws/payments` as one tagged enum, and the close codes
//! the server ends a connection with. The server writes frames with it and
//! the dashboard reads them with it.

use std::fmt;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::alerts::Alert;
use crate::payment::{EventType, PaymentEvent};

/// Where a feed stands: its epoch and the last `seq` in it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedPosition {
    pub epoch: String,
    pub seq: u64,
}

/// One text frame of the live feed, told apart by its `type`.
#[derive(Clone, Debug, PartialEq)]
pub enum LiveFrame {
    /// First frame of every connection.
    Hello(FeedPosition),
    /// The events after the client's `since` are gone: reload from REST and
    /// continue from this position. Sent only to clients that resumed.
    ResyncRequired(FeedPosition),
    /// A payment event (`payment_received`, `payment_failed`, `payment_refunded`).
    Event(Box<PaymentEvent>),
    /// An alert that fired or was resolved (`{"type":"alert","alert":…}`).
    Alert(Box<AlertFrame>),
    /// Sent every `everyMs` whatever the traffic (`{"type":"heartbeat",
    /// "everyMs":15000}`), beside the WebSocket pings a browser's script
    /// never sees: a client that hears nothing for two of them knows the
    /// connection is dead (a computer that slept, a network that changed)
    /// even when no close ever reaches it.
    Heartbeat(Heartbeat),
    /// A frame of a type this build does not know (a newer server); skipped.
    Unknown(String),
}

/// How often the server's heartbeats come.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Heartbeat {
    pub every_ms: u64,
}

#[derive(Serialize)]
struct HeartbeatText {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(flatten)]
    heartbeat: Heartbeat,
}

/// An alert transition in the feed: numbered and replayed like payment
/// events, so a dashboard that reconnects with `since` learns of it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertFrame {
    pub alert: Alert,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
}

/// What a feed numbers, keeps for resuming clients and sends: payment
/// events and alert transitions, in the order they were committed.
#[derive(Clone, Debug, PartialEq)]
pub enum FeedItem {
    Payment(PaymentEvent),
    Alert(AlertFrame),
}

impl FeedItem {
    /// Numbers the item.
    pub fn set_seq(&mut self, seq: u64) {
        match self {
            Self::Payment(event) => event.seq = Some(seq),
            Self::Alert(frame) => frame.seq = Some(seq),
        }
    }

    /// The text frame clients receive.
    pub fn text(&self) -> serde_json::Result<String> {
        match self {
            Self::Payment(event) => LiveFrame::event_text(event),
            Self::Alert(frame) => serde_json::to_string(&AlertText {
                kind: ALERT,
                alert: &frame.alert,
                seq: frame.seq,
            }),
        }
    }

    /// Reads back what [`FeedItem::text`] wrote.
    pub fn from_text(text: &str) -> serde_json::Result<Self> {
        match serde_json::from_str::<LiveFrame>(text)? {
            LiveFrame::Event(event) => Ok(Self::Payment(*event)),
            LiveFrame::Alert(frame) => Ok(Self::Alert(*frame)),
            _ => Err(serde_json::Error::custom("not a feed item")),
        }
    }
}

#[derive(Serialize)]
struct AlertText<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    alert: &'a Alert,
    #[serde(skip_serializing_if = "Option::is_none")]
    seq: Option<u64>,
}

#[derive(Serialize, Deserialize)]
struct Control<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(flatten)]
    position: FeedPosition,
}

impl LiveFrame {
    /// The text of an event frame without moving the event into a frame: an
    /// event frame is the event's own JSON (its `type` is the event type).
    pub fn event_text(event: &PaymentEvent) -> serde_json::Result<String> {
        serde_json::to_string(event)
    }
}

const HELLO: &str = "hello";
const RESYNC_REQUIRED: &str = "resync_required";
const ALERT: &str = "alert";
const HEARTBEAT: &str = "heartbeat";

impl Serialize for LiveFrame {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Hello(position) => Control {
                kind: HELLO,
                position: position.clone(),
            }
            .serialize(serializer),
            Self::ResyncRequired(position) => Control {
                kind: RESYNC_REQUIRED,
                position: position.clone(),
            }
            .serialize(serializer),
            Self::Event(event) => event.serialize(serializer),
            Self::Alert(frame) => AlertText {
                kind: ALERT,
                alert: &frame.alert,
                seq: frame.seq,
            }
            .serialize(serializer),
            Self::Heartbeat(heartbeat) => HeartbeatText {
                kind: HEARTBEAT,
                heartbeat: *heartbeat,
            }
            .serialize(serializer),
            Self::Unknown(kind) => Control {
                kind,
                position: FeedPosition {
                    epoch: String::new(),
                    seq: 0,
                },
            }
            .serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for LiveFrame {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        let kind = value
            .get("type")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| D::Error::missing_field("type"))?
            .to_owned();
        let position = || serde_json::from_value::<FeedPosition>(value.clone()).map_err(D::Error::custom);
        match kind.as_str() {
            HELLO => Ok(Self::Hello(position()?)),
            RESYNC_REQUIRED => Ok(Self::ResyncRequired(position()?)),
            ALERT => serde_json::from_value(value)
                .map(|frame| Self::Alert(Box::new(frame)))
                .map_err(D::Error::custom),
            HEARTBEAT => serde_json::from_value(value)
                .map(Self::Heartbeat)
                .map_err(D::Error::custom),
            _ if serde_json::from_value::<EventType>(serde_json::Value::String(kind.clone())).is_ok() => {
                serde_json::from_value(value)
                    .map(|event| Self::Event(Box::new(event)))
                    .map_err(D::Error::custom)
            }
            _ => Ok(Self::Unknown(kind)),
        }
    }
}

/// Why the server closed a connection: the WebSocket close codes it uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CloseCode {
    /// No pong arrived within a heartbeat interval (4001).
    HeartbeatTimeout,
    /// The client fell too far behind, or a frame waited too long (4008).
    SlowConsumer,
    /// The tenant's feed restarted under a new epoch: reconnect and resync (4010).
    FeedRestarted,
    /// This server instance is shutting down: reconnect at once, resuming
    /// with `since`, and another instance carries on (1012, the standard
    /// "service restart").
    ServerRestart,
}

impl CloseCode {
    pub const ALL: [Self; 4] = [
        Self::HeartbeatTimeout,
        Self::SlowConsumer,
        Self::FeedRestarted,
        Self::ServerRestart,
    ];

    pub const fn code(self) -> u16 {
        match self {
            Self::HeartbeatTimeout => 4001,
            Self::SlowConsumer => 4008,
            Self::FeedRestarted => 4010,
            Self::ServerRestart => 1012,
        }
    }

    pub fn from_code(code: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|close| close.code() == code)
    }

    /// What it means, in words for the connection status.
    pub const fn explanation(self) -> &'static str {
        match self {
            Self::HeartbeatTimeout => "the server heard nothing from this page for too long",
            Self::SlowConsumer => "this page fell too far behind the live feed",
            Self::FeedRestarted => "the live feed restarted",
            Self::ServerRestart => "the server is restarting",
        }
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_told_apart_by_type() {
        let hello: LiveFrame = serde_json::from_str(r#"{"type":"hello","epoch":"e1","seq":41}"#).unwrap();
        let position = FeedPosition {
            epoch: "e1".into(),
            seq: 41,
        };
        assert_eq!(hello, LiveFrame::Hello(position.clone()));
        assert_eq!(
            serde_json::to_value(&hello).unwrap(),
            serde_json::json!({"type": "hello", "epoch": "e1", "seq": 41})
        );
        let heartbeat = LiveFrame::Heartbeat(Heartbeat { every_ms: 15_000 });
        assert_eq!(
            serde_json::to_value(&heartbeat).unwrap(),
            serde_json::json!({"type": "heartbeat", "everyMs": 15000})
        );
        assert_eq!(
            serde_json::from_str::<LiveFrame>(r#"{"type":"heartbeat","everyMs":15000}"#).unwrap(),
            heartbeat
        );
        let resync = LiveFrame::ResyncRequired(position);
        let text = serde_json::to_string(&resync).unwrap();
        assert_eq!(serde_json::from_str::<LiveFrame>(&text).unwrap(), resync);
        let event = r#"{"type":"payment_refunded","seq":42,"timestamp":"2026-11-24T10:15:00Z",
            "payment":{"id":"p1","tenantId":"acme","externalId":"x1","amount":12.34,"currency":"USD",
            "method":"card","status":"refunded","createdAt":"2026-11-24T10:15:00Z","updatedAt":"2026-11-24T10:15:00Z"}}"#;
        let LiveFrame::Event(parsed) = serde_json::from_str(event).unwrap() else {
            panic!("an event frame");
        };
        assert_eq!((parsed.event_type, parsed.seq), (EventType::PaymentRefunded, Some(42)));
        let again = serde_json::to_string(&LiveFrame::Event(parsed.clone())).unwrap();
        assert_eq!(serde_json::from_str::<PaymentEvent>(&again).unwrap(), *parsed);
        assert_eq!(
            serde_json::from_str::<LiveFrame>(r#"{"type":"something_new","x":1}"#).unwrap(),
            LiveFrame::Unknown("something_new".into())
        );
        assert!(serde_json::from_str::<LiveFrame>(r#"{"no":"type"}"#).is_err());
    }

    #[test]
    fn close_codes_round_trip() {
        for close in CloseCode::ALL {
            assert_eq!(CloseCode::from_code(close.code()), Some(close));
        }
        assert_eq!(CloseCode::from_code(1000), None);
    }
}
