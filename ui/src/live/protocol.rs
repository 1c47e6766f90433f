//! What `/ws/payments` sends (docs/ARCHITECTURE.md, "Live feed") to a
//! client that asks for control frames, as the dashboard does: a `hello`
//! naming the feed's epoch and latest `seq`, payment events with their
//! `seq`, alerts, `resync_required` when missed events can no longer be
//! replayed and a `heartbeat` every so often; and how the socket's address
//! is built, with `since` and `epoch` when resuming.

pub use paypulse_shared::live::FeedPosition as Position;
use paypulse_shared::live::LiveFrame;
use paypulse_shared::query::{LiveQuery, to_query};
use serde::Deserialize;

use crate::session::Credentials;

/// A frame's `type`, the rest of it skipped.
#[derive(Deserialize)]
struct Kind {
    #[serde(rename = "type")]
    kind: String,
}

/// Reads one text frame; `None` for text that is not a frame at all
/// (logged by the caller, never fatal).
///
/// The same frames as `LiveFrame`'s own `Deserialize`, read in two passes
/// over the text (its `type`, then the frame's type) instead of through a
/// `serde_json::Value`: the dashboard then holds one deserializer per wire
/// type (the one REST answers use too), not two, which the first-load
/// budget notices.
pub fn parse(text: &str) -> Option<LiveFrame> {
    let kind = serde_json::from_str::<Kind>(text).ok()?.kind;
    Some(match kind.as_str() {
        "hello" => LiveFrame::Hello(serde_json::from_str(text).ok()?),
        "resync_required" => LiveFrame::ResyncRequired(serde_json::from_str(text).ok()?),
        "alert" => LiveFrame::Alert(Box::new(serde_json::from_str(text).ok()?)),
        "heartbeat" => LiveFrame::Heartbeat(serde_json::from_str(text).ok()?),
        "payment_received" | "payment_failed" | "payment_refunded" => {
            LiveFrame::Event(Box::new(serde_json::from_str(text).ok()?))
        }
        _ => LiveFrame::Unknown(kind),
    })
}

/// The WebSocket address for `credentials` with `ticket` (from
/// `POST /api/tickets`: browsers cannot set headers on a WebSocket, and a
/// key never goes into a URL), resuming after `resume` when given. `origin`
/// is the page's own origin, used when the credentials name no server.
pub fn socket_url(credentials: &Credentials, origin: &str, ticket: &str, resume: Option<&Position>) -> String {
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
    let query = LiveQuery {
        ticket: Some(ticket.to_owned()),
        since: resume.map(|position| position.seq),
        epoch: resume.map(|position| position.epoch.clone()),
        // The dashboard reads hello, heartbeat and alert frames.
        control: true,
        ..LiveQuery::default()
    };
    format!("{base}/ws/payments?{}", to_query(&query))
}

#[cfg(test)]
mod tests {
    use super::*;
    use paypulse_shared::payment::EventType;

    #[test]
    fn reads_control_frames_and_events() {
        assert_eq!(
            parse(r#"{"type":"hello","epoch":"e1","seq":41}"#),
            Some(LiveFrame::Hello(Position {
                epoch: "e1".into(),
                seq: 41
            }))
        );
        assert_eq!(
            parse(r#"{"type":"resync_required","epoch":"e2","seq":7}"#),
            Some(LiveFrame::ResyncRequired(Position {
                epoch: "e2".into(),
                seq: 7
            }))
        );
        let event = r#"{"type":"payment_received","seq":42,"timestamp":"2026-11-24T10:15:00Z",
            "payment":{"id":"p1","tenantId":"acme","externalId":"x1","amount":12.34,"currency":"USD",
            "method":"card","status":"succeeded","createdAt":"2026-11-24T10:15:00Z","updatedAt":"2026-11-24T10:15:00Z"}}"#;
        let Some(LiveFrame::Event(event)) = parse(event) else {
            panic!("an event frame");
        };
        assert_eq!(event.event_type, EventType::PaymentReceived);
        assert_eq!(event.seq, Some(42));
        assert_eq!(event.payment.amount.to_minor_units(2), Ok(1_234));
        assert_eq!(
            parse(r#"{"type":"something_new","epoch":"e","seq":1}"#),
            Some(LiveFrame::Unknown("something_new".into()))
        );
        assert_eq!(parse("not json"), None);
        assert_eq!(parse(r#"{"no":"type"}"#), None);
    }

    #[test]
    fn reads_alert_frames_as_the_shared_protocol_does() {
        let frame = r#"{"type":"alert","seq":12,"alert":{"id":"a1","ruleId":"failure-rate",
            "ruleName":"Failure rate above 15%","kind":"failure_rate","state":"firing",
            "startedAt":"2026-11-24T10:00:00Z","firedAt":"2026-11-24T10:02:00Z","value":22.4,
            "threshold":15.0,"message":"Failure rate above 15% — 22.4% over 10 min",
            "windowFrom":"2026-11-24T09:50:00Z"}}"#;
        let Some(LiveFrame::Alert(alert)) = parse(frame) else {
            panic!("an alert frame");
        };
        assert_eq!(alert.seq, Some(12));
        assert_eq!(alert.alert.state, paypulse_shared::alerts::AlertState::Firing);
        assert!(alert.alert.notifies());
        let texts = [
            frame,
            r#"{"type":"hello","epoch":"e1","seq":41}"#,
            r#"{"type":"payment_failed","seq":42,"timestamp":"2026-11-24T10:15:00Z",
            "payment":{"id":"p1","tenantId":"acme","externalId":"x1","amount":12.34,"currency":"USD",
            "method":"card","status":"failed","createdAt":"2026-11-24T10:15:00Z","updatedAt":"2026-11-24T10:15:00Z"}}"#,
            r#"{"type":"later","seq":1}"#,
        ];
        for text in texts {
            assert_eq!(parse(text), serde_json::from_str::<LiveFrame>(text).ok(), "{text}");
        }
    }

    #[test]
    fn builds_socket_addresses() {
        let local = Credentials::new("acme", "pk demo", "").unwrap();
        assert_eq!(
            socket_url(&local, "http://127.0.0.1:8080", "t1", None),
            "ws://127.0.0.1:8080/ws/payments?ticket=t1&control=true",
            "the ticket stands for tenant and key"
        );
        let remote = Credentials::new("acme", "k", "https://pay.example").unwrap();
        let resume = Position {
            epoch: "a+b".into(),
            seq: 9,
        };
        assert_eq!(
            socket_url(&remote, "http://ignored", "t+2", Some(&resume)),
            "wss://pay.example/ws/payments?ticket=t%2B2&since=9&epoch=a%2Bb&control=true"
        );
    }
}
