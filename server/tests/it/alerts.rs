//! Alerting end to end (SPEC §3 "Alerts"): rules read by any viewer and
//! changed only by an admin, each wrong field named; episodes driven by real
//! ingest through Grafana's lifecycle, once per episode whatever the number
//! of instances, pushed over the live feed and kept in the history.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use mongodb::bson::doc;
use mongodb::bson::oid::ObjectId;
use paypulse_server::clock::Clock;
use paypulse_server::store::alerts::AlertDoc;
use paypulse_server::store::documents::to_bson;
use paypulse_shared::alerts::lifecycle::Phase;
use paypulse_shared::alerts::{Alert, AlertRule, AlertState, RuleKind};
use serde_json::{Value, json};

use crate::common::{Socket, TestApp, assert_error, card_payment, eventually, next_json, open_socket};
use crate::process::ServerProcess;

/// A failure-rate rule: half the payments of the last 5 minutes failing, at
/// least 10 of them.
fn failure_rule(pending: u32, keep_firing: u32) -> Value {
    json!({
        "id": "failures", "name": "Half the payments failing", "kind": "failure_rate",
        "windowMinutes": 5, "threshold": 50, "minAttempts": 10,
        "pendingMinutes": pending, "keepFiringMinutes": keep_firing, "enabled": true
    })
}

fn put_rules(app: &TestApp, base: &str, key: &str, rules: &Value) -> reqwest::RequestBuilder {
    app.http
        .put(format!("http://{base}/api/alerts/rules"))
        .header("X-Tenant-Id", "acme")
        .bearer_auth(key)
        .json(rules)
}

async fn set_rules(app: &TestApp, rules: Value) {
    let response = put_rules(
        app,
        &app.address.to_string(),
        "pk_demo_acme_admin",
        &json!({ "rules": rules }),
    )
    .send()
    .await
    .unwrap();
    let status = response.status();
    assert_eq!(status, 200, "{}", response.text().await.unwrap());
}

fn failed_payment(external_id: &str) -> Value {
    json!({"externalId": external_id, "amount": 5.0, "currency": "USD", "method": "card",
        "status": "failed", "failureReason": "card_declined"})
}

/// Ingests `failed` failed and `succeeded` succeeded payments through `base`.
async fn ingest(app: &TestApp, base: &str, prefix: &str, failed: usize, succeeded: usize) {
    for index in 0..failed + succeeded {
        let external_id = format!("{prefix}_{index}");
        let body = if index < failed {
            failed_payment(&external_id)
        } else {
            card_payment(&external_id, 5.0)
        };
        let response = app
            .http
            .post(format!("http://{base}/api/payments"))
            .header("X-Tenant-Id", "acme")
            .bearer_auth("pk_demo_acme_ingest")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
    }
}

async fn history(app: &TestApp, query: &str) -> Vec<Alert> {
    let page = app.json("acme", &format!("/api/alerts{query}")).await;
    serde_json::from_value(page["items"].clone()).expect("alerts")
}

/// The phase of `acme`'s rule `rule`, as stored.
async fn phase(app: &TestApp, rule: &str) -> Phase {
    app.store
        .alert_states()
        .find_one(doc! { "_id": format!("acme|{rule}") })
        .await
        .unwrap()
        .map_or(Phase::Normal, |state| state.phase)
}

/// A live-feed client that gets alerts only (no payment event is refunded
/// in these tests, and alerts pass every filter).
async fn alert_watcher(url: &str) -> Socket {
    let mut socket = open_socket(&format!("{url}&types=payment_refunded")).await;
    assert_eq!(next_json(&mut socket).await["type"], "hello");
    socket
}

async fn next_alert(socket: &mut Socket) -> Alert {
    let frame = next_json(socket).await;
    assert_eq!(frame["type"], "alert", "{frame}");
    assert!(frame["seq"].as_u64().is_some(), "alert frames are numbered: {frame}");
    serde_json::from_value(frame["alert"].clone()).expect("an Alert")
}

#[tokio::test]
async fn rules_start_with_defaults_and_only_an_admin_changes_them() {
    let app = TestApp::spawn().await;
    let as_viewer = app.json("acme", "/api/alerts/rules").await;
    assert_eq!(as_viewer["editable"], false);
    let kinds: Vec<&str> = as_viewer["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|rule| rule["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["failure_rate", "volume_anomaly"]);
    let as_admin = app.json_as("acme", "pk_demo_acme_admin", "/api/alerts/rules").await;
    assert_eq!(as_admin["editable"], true);

    let base = app.address.to_string();
    let body = json!({ "rules": [failure_rule(1, 2)] });
    for key in ["pk_demo_acme_viewer", "pk_demo_acme_ingest"] {
        let response = put_rules(&app, &base, key, &body).send().await.unwrap();
        assert_error(response, 403, "insufficient_role", "admin").await;
    }
    let response = put_rules(&app, &base, "pk_demo_globex_admin", &body)
        .send()
        .await
        .unwrap();
    assert_error(response, 403, "tenant_mismatch", "").await;

    set_rules(&app, json!([failure_rule(1, 2)])).await;
    let stored = app.json("acme", "/api/alerts/rules").await;
    let rules = |value: Value| serde_json::from_value::<Vec<AlertRule>>(value).unwrap();
    assert_eq!(rules(stored["rules"].clone()), rules(json!([failure_rule(1, 2)])));
    let other = app.json("globex", "/api/alerts/rules").await;
    assert_eq!(
        other["rules"].as_array().unwrap().len(),
        2,
        "another tenant keeps its defaults"
    );
}

#[tokio::test]
async fn each_wrong_field_gets_a_400_that_names_it() {
    let app = TestApp::spawn().await;
    let base = app.address.to_string();
    let with = |change: fn(&mut Value)| {
        let mut second = failure_rule(1, 2);
        second["id"] = json!("second");
        change(&mut second);
        json!({ "rules": [failure_rule(1, 2), second] })
    };
    let cases: [(Value, &str); 9] = [
        (with(|rule| rule["windowMinutes"] = json!(0)), "rules[1].windowMinutes"),
        (with(|rule| rule["windowMinutes"] = json!(-5)), "rules[1].windowMinutes"),
        (
            with(|rule| rule["pendingMinutes"] = json!(100_000)),
            "rules[1].pendingMinutes",
        ),
        (with(|rule| rule["threshold"] = json!(null)), "rules[1].threshold"),
        (with(|rule| rule["threshold"] = json!(150)), "rules[1].threshold"),
        (with(|rule| rule["kind"] = json!("volume_wobble")), "rules[1].kind"),
        (with(|rule| rule["id"] = json!("failures")), "rules[1].id"),
        (
            with(|rule| {
                rule["kind"] = json!("volume_above");
                rule["threshold"] = json!(10.005);
                rule["minAttempts"] = json!(null);
            }),
            "rules[1].threshold",
        ),
        (with(|rule| rule["name"] = json!("")), "rules[1].name"),
    ];
    for (body, field) in cases {
        let response = put_rules(&app, &base, "pk_demo_acme_admin", &body)
            .send()
            .await
            .unwrap();
        assert_error(response, 400, "invalid_rule", field).await;
    }
    let defaults = app.json("acme", "/api/alerts/rules").await;
    assert_eq!(defaults["rules"].as_array().unwrap().len(), 2, "nothing was replaced");
    let response = app.viewer_get("acme", "/api/alerts?state=open").send().await.unwrap();
    assert_error(response, 400, "invalid_parameter", "state").await;
}

/// Real ingest drives one episode: pending, firing after the pending
/// period, firing still through a short dip, resolved once the condition
/// stayed false for the keep-firing period. The live feed carries exactly
/// the firing and the resolution, as the history records them.
#[tokio::test]
async fn a_failure_spike_fires_once_keeps_firing_through_a_dip_and_resolves_once() {
    let offset: &'static AtomicI64 = Box::leak(Box::new(AtomicI64::new(0)));
    let app = TestApp::spawn_with(|config| {
        config.clock = Clock::Shifted(offset);
        config.limits.alerts.tick = Duration::from_millis(100);
    })
    .await;
    set_rules(&app, json!([failure_rule(1, 2)])).await;
    let mut watcher = alert_watcher(&app.watch_url("acme", "")).await;
    // A client that asks for no control frames (SPEC §3's one
    // `PaymentEvent` per frame) gets no alert frame.
    let mut strict = open_socket(&app.spec_watch_url("acme", "&types=payment_refunded")).await;
    let base = app.address.to_string();
    let limit = Duration::from_secs(10);

    ingest(&app, &base, "spike", 10, 2).await;
    eventually("the episode is pending", limit, || async {
        history(&app, "?state=pending").await.len() == 1
    })
    .await;
    let pending = history(&app, "").await.remove(0);
    assert_eq!(pending.state, AlertState::Pending);
    assert!(pending.fired_at.is_none());

    offset.fetch_add(61_000, Ordering::SeqCst);
    let firing = next_alert(&mut watcher).await;
    assert_eq!(firing.state, AlertState::Firing);
    assert_eq!(firing.id, pending.id, "the pending episode fired");
    assert!(firing.value > 80.0 && firing.threshold == 50.0, "{firing:?}");
    assert!(firing.notifies());

    // A dip: enough successes to bring the rate under half, then failures again.
    ingest(&app, &base, "dip", 0, 20).await;
    eventually("the rule recovers", limit, || async {
        matches!(phase(&app, "failures").await, Phase::Recovering { .. })
    })
    .await;
    ingest(&app, &base, "again", 30, 0).await;
    eventually("the rule fires again in the same episode", limit, || async {
        matches!(phase(&app, "failures").await, Phase::Firing { .. })
    })
    .await;

    // Everything leaves the window; two minutes later the episode resolves.
    offset.fetch_add(6 * 60_000, Ordering::SeqCst);
    eventually("the rule recovers", limit, || async {
        matches!(phase(&app, "failures").await, Phase::Recovering { .. })
    })
    .await;
    offset.fetch_add(121_000, Ordering::SeqCst);
    let resolved = next_alert(&mut watcher).await;
    assert_eq!(
        resolved.state,
        AlertState::Resolved,
        "no second firing frame: {resolved:?}"
    );
    assert_eq!(resolved.id, firing.id);
    assert_eq!(resolved.fired_at, firing.fired_at);
    assert!(resolved.resolved_at.is_some() && resolved.notifies());

    // The feed is in order: the refund is the strict client's first frame.
    let paid = app.create("acme", card_payment("after", 1.0)).await;
    let refunded = app.refund("acme", paid["id"].as_str().unwrap()).await;
    assert_eq!(refunded.status(), 200);
    let first = next_json(&mut strict).await;
    assert_eq!(first["type"], "payment_refunded", "{first}");

    let all = history(&app, "").await;
    assert_eq!(all.len(), 1, "one episode: {all:?}");
    assert_eq!(all[0], resolved, "the history holds what the feed said");
    assert!(history(&app, "?state=firing").await.is_empty());
    assert_eq!(history(&app, "?ruleId=failures&state=resolved").await.len(), 1);
}

#[tokio::test]
async fn a_silenced_rule_records_its_episode_but_notifies_nobody() {
    let app = TestApp::spawn_with(|config| config.limits.alerts.tick = Duration::from_millis(100)).await;
    let mut rule = failure_rule(0, 0);
    rule["silencedUntil"] = json!("2999-01-01T00:00:00Z");
    set_rules(&app, json!([rule])).await;
    let mut watcher = alert_watcher(&app.watch_url("acme", "")).await;
    ingest(&app, &app.address.to_string(), "muted", 10, 0).await;
    let alert = next_alert(&mut watcher).await;
    assert_eq!(alert.state, AlertState::Firing);
    assert!(alert.silenced, "{alert:?}");
    assert!(!alert.notifies(), "a silenced alert notifies nobody");
    let recorded = history(&app, "").await;
    assert_eq!(recorded.len(), 1);
    assert!(recorded[0].silenced, "the history says it was silenced");
}

/// A dashboard that was away when an alert fired gets it when it resumes.
#[tokio::test]
async fn a_client_that_resumes_learns_of_the_alert_it_missed() {
    let app = TestApp::spawn_with(|config| config.limits.alerts.tick = Duration::from_millis(100)).await;
    set_rules(&app, json!([failure_rule(0, 0)])).await;
    let mut away = open_socket(&app.watch_url("acme", "&types=payment_refunded")).await;
    let hello = next_json(&mut away).await;
    let since = hello["seq"].as_u64().unwrap();
    drop(away);

    ingest(&app, &app.address.to_string(), "missed", 10, 0).await;
    eventually("the alert fires", Duration::from_secs(10), || async {
        history(&app, "?state=firing").await.len() == 1
    })
    .await;
    let url = app.watch_url("acme", &format!("&types=payment_refunded&since={since}"));
    let mut back = open_socket(&url).await;
    assert_eq!(next_json(&mut back).await["type"], "hello");
    let alert = next_alert(&mut back).await;
    assert_eq!(alert.state, AlertState::Firing);
    assert_eq!(alert.id, history(&app, "").await[0].id);
}

/// Two processes of the real binary evaluate the same rules: each client
/// gets one firing frame and one resolution frame of one episode, and when
/// one process is killed mid-episode the other resolves it.
#[tokio::test]
async fn two_processes_make_one_episode_and_the_survivor_carries_it_on() {
    // The test's own instance only creates the database: two evaluators.
    let app = TestApp::spawn_with(|config| config.limits.alerts.enabled = false).await;
    set_rules(&app, json!([failure_rule(0, 0)])).await;
    let one = ServerProcess::start(&app).await;
    let two = ServerProcess::start(&app).await;
    let mut on_one = alert_watcher(&one.watch_url()).await;
    let mut on_two = alert_watcher(&two.watch_url()).await;

    ingest(&app, &one.base, "both", 10, 0).await;
    let (fired_one, fired_two) = (next_alert(&mut on_one).await, next_alert(&mut on_two).await);
    assert_eq!(fired_one, fired_two, "one firing, the same on both");
    assert_eq!(fired_one.state, AlertState::Firing);

    drop(one);
    drop(on_one);
    ingest(&app, &two.base, "after", 0, 20).await;
    let resolved = next_alert(&mut on_two).await;
    assert_eq!(resolved.state, AlertState::Resolved, "no second firing: {resolved:?}");
    assert_eq!(resolved.id, fired_two.id, "the same episode");

    let episodes = app
        .store
        .alerts()
        .count_documents(doc! { "tenantId": "acme" })
        .await
        .unwrap();
    assert_eq!(episodes, 1);
    assert_eq!(history(&app, "").await, vec![resolved]);
}

/// The history as a client following SPEC §3 pages through it: `cursor`
/// alone (no page size, which the SPEC does not name), newest first, each
/// episode once, none of another tenant's.
#[tokio::test]
async fn the_history_pages_newest_first_by_cursor() {
    let app = TestApp::spawn_with(|config| config.limits.alerts.enabled = false).await;
    let started = chrono::Utc::now() - chrono::TimeDelta::hours(2);
    let episode = |tenant: &str, index: i64| AlertDoc {
        id: ObjectId::new(),
        tenant_id: tenant.to_owned(),
        rule_id: "failures".into(),
        rule_name: "Failures".into(),
        kind: RuleKind::FailureRate,
        state: AlertState::Resolved,
        started_at: to_bson(started + chrono::TimeDelta::minutes(index)),
        fired_at: Some(to_bson(started + chrono::TimeDelta::minutes(index))),
        resolved_at: Some(to_bson(started + chrono::TimeDelta::minutes(index + 1))),
        value: 20.0,
        threshold: 15.0,
        message: format!("episode {index}"),
        silenced: false,
        window_from: to_bson(started + chrono::TimeDelta::minutes(index - 10)),
        window_to: Some(to_bson(started + chrono::TimeDelta::minutes(index + 1))),
    };
    // Oldest first, so ids (and starts) grow with the index.
    let mut written = Vec::new();
    for index in 0..60 {
        let acme = episode("acme", index);
        written.push(acme.id.to_hex());
        app.store.alerts().insert_one(&acme).await.unwrap();
        if index % 30 == 0 {
            app.store.alerts().insert_one(episode("globex", index)).await.unwrap();
        }
    }
    written.reverse();

    let mut seen = Vec::new();
    let mut path = "/api/alerts".to_owned();
    let mut pages = 0;
    loop {
        let page = app.json("acme", &path).await;
        pages += 1;
        for item in page["items"].as_array().unwrap() {
            seen.push(item["id"].as_str().unwrap().to_owned());
        }
        match page["nextCursor"].as_str() {
            Some(cursor) => path = format!("/api/alerts?cursor={cursor}"),
            None => break,
        }
        assert!(pages < 10, "the cursor ends");
    }
    assert_eq!(pages, 2, "the default page holds 50");
    assert_eq!(seen, written, "newest first, each once, only acme's");
}
