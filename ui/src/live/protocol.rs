//! What `/ws/payments` sends (docs/ARCHITECTURE.md, "Live feed"): a `hello`
//! naming the feed's epoch and latest `seq`, payment events with their
//! `seq`, and `resync_required` when missed events can no longer be
//! replayed; and how the socket's address is built, with `since` and `epoch`
//! when resuming.

use paypulse_shared::payment::PaymentEvent;
use serde::Deserialize;

use crate::session::Credentials;

/// Where a feed stands: its epoch and the last `seq` in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Position {
    pub epoch: String,
    pub seq: u64,
}

/// One text frame from the server.
#[derive(Clone, Debug, PartialEq)]
pub enum Frame {
    /// First frame of every connection.
    Hello(Position),
    /// The events after our `since` are gone: reload from REST and continue
    /// from this position.
    ResyncRequired(Position),
    Event(Box<PaymentEvent>),
}

#[derive(Deserialize)]
struct Control {
    #[serde(rename = "type")]
    kind: String,
    epoch: String,
    seq: u64,
}

/// Reads one text frame; `None` for text that is neither (logged by the
/// caller, never fatal: a newer server may add frame types).
pub fn parse(text: &str) -> Option<Frame> {
    if let Ok(control) = serde_json::from_str::<Control>(text) {
        let position = Position {
            epoch: control.epoch,
            seq: control.seq,
        };
        return match control.kind.as_str() {
            "hello" => Some(Frame::Hello(position)),
            "resync_required" => Some(Frame::ResyncRequired(position)),
            _ => None,
        };
    }
    serde_json::from_str::<PaymentEvent>(text)
        .ok()
        .map(|event| Frame::Event(Box::new(event)))
}

/// The WebSocket address for `credentials`, resuming after `resume` when
/// given. Browsers cannot set headers on a WebSocket, so the key travels in
/// the query string (the server never logs query strings). `origin` is the
/// page's own origin, used when the credentials name no server.
pub fn socket_url(credentials: &Credentials, origin: &str, resume: Option<&Position>) -> String {
    let base = if credentials.server.is_empty() {
        origin
    } else {
        credentials.server.as_str()
    };
    let base = base
        .strip_prefix("https://")
        .map(|rest| format!("wss://{rest}"))
        .or_else(|| base.strip_prefix("http://").map(|rest| format!("ws://{rest}")))
        .unwrap_or_else(|| base.to_owned());
    let mut url = format!(
        "{base}/ws/payments?tenant={}&key={}",
        encode(&credentials.tenant),
        encode(&credentials.key)
    );
    if let Some(position) = resume {
        url.push_str(&format!("&since={}&epoch={}", position.seq, encode(&position.epoch)));
    }
    url
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (byte as char).to_string(),
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use paypulse_shared::payment::EventType;

    #[test]
    fn reads_control_frames_and_events() {
        assert_eq!(
            parse(r#"{"type":"hello","epoch":"e1","seq":41}"#),
            Some(Frame::Hello(Position {
                epoch: "e1".into(),
                seq: 41
            }))
        );
        assert_eq!(
            parse(r#"{"type":"resync_required","epoch":"e2","seq":7}"#),
            Some(Frame::ResyncRequired(Position {
                epoch: "e2".into(),
                seq: 7
            }))
        );
        let event = r#"{"type":"payment_received","seq":42,"timestamp":"2026-11-24T10:15:00Z",
            "payment":{"id":"p1","tenantId":"acme","externalId":"x1","amount":12.34,"currency":"USD",
            "method":"card","status":"succeeded","createdAt":"2026-11-24T10:15:00Z","updatedAt":"2026-11-24T10:15:00Z"}}"#;
        let Some(Frame::Event(event)) = parse(event) else {
            panic!("an event frame");
        };
        assert_eq!(event.event_type, EventType::PaymentReceived);
        assert_eq!(event.seq, Some(42));
        assert_eq!(event.payment.amount.to_minor_units(2), Ok(1_234));
        assert_eq!(parse(r#"{"type":"something_new","epoch":"e","seq":1}"#), None);
        assert_eq!(parse("not json"), None);
    }

    #[test]
    fn builds_socket_addresses() {
        let local = Credentials::new("acme", "pk demo", "").unwrap();
        assert_eq!(
            socket_url(&local, "http://127.0.0.1:8080", None),
            "ws://127.0.0.1:8080/ws/payments?tenant=acme&key=pk%20demo"
        );
        let remote = Credentials::new("acme", "k", "https://pay.example").unwrap();
        let resume = Position {
            epoch: "a+b".into(),
            seq: 9,
        };
        assert_eq!(
            socket_url(&remote, "http://ignored", Some(&resume)),
            "wss://pay.example/ws/payments?tenant=acme&key=k&since=9&epoch=a%2Bb"
        );
    }
}
