//! CSV exports as an outside client reads them (SPEC §3): parsed with a CSV
//! reader, every row and field of `export.csv` equals the list endpoint's
//! payment for the same filters and order, with timestamps at the offset of
//! `tz` (the tenant's zone by default) and amounts exact; the trend export
//! equals the trend endpoint.

use chrono::{DateTime, FixedOffset, Utc};
use serde_json::{Value, json};

use crate::common::{TestApp, assert_error};

fn body(external_id: &str, amount: f64, method: &str, status: &str, reason: Option<&str>) -> Value {
    let mut body = json!({"externalId": external_id, "amount": amount, "currency": "USD",
        "method": method, "status": status});
    if let Some(reason) = reason {
        body["failureReason"] = json!(reason);
    }
    body
}

/// Payments of globex (New York) that exercise the format: cents that do
/// not add up in floating point, a failure reason with a comma and a quote,
/// a refund, a round amount.
async fn seed(app: &TestApp) -> Vec<Value> {
    let created = vec![
        app.create("globex", body("csv_1", 0.10, "card", "succeeded", None))
            .await,
        app.create("globex", body("csv_2", 0.20, "paypal", "succeeded", None))
            .await,
        app.create(
            "globex",
            body("csv_3", 12.30, "card", "failed", Some("declined, \"do not honor\"")),
        )
        .await,
        app.create("globex", body("csv_4", 1500.0, "bank_transfer", "succeeded", None))
            .await,
    ];
    let refunded = app.refund("globex", created[3]["id"].as_str().unwrap()).await;
    assert_eq!(refunded.status(), 200);
    created
}

async fn export(app: &TestApp, query: &str) -> (reqwest::header::HeaderMap, String) {
    let response = app
        .viewer_get("globex", &format!("/api/payments/export.csv?{query}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{query}");
    let headers = response.headers().clone();
    (headers, response.text().await.unwrap())
}

fn rows(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader.headers().unwrap().iter().map(str::to_owned).collect();
    let rows = reader
        .records()
        .map(|record| record.unwrap().iter().map(str::to_owned).collect())
        .collect();
    (header, rows)
}

/// An ISO 8601 timestamp of the export, which must carry `offset` (e.g.
/// `-05:00`), read as an instant.
fn instant(text: &str, offset: &str) -> DateTime<Utc> {
    assert!(text.ends_with(offset), "{text} has the offset {offset}");
    DateTime::<FixedOffset>::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn same_instant(exported: &str, api: &Value, offset: &str) {
    let api: DateTime<Utc> = api.as_str().unwrap().parse().unwrap();
    assert_eq!(instant(exported, offset), api, "{exported}");
}

#[tokio::test]
async fn export_rows_equal_the_list_for_the_same_filters_and_order() {
    let app = TestApp::spawn().await;
    seed(&app).await;
    for (query, offset) in [
        ("", "-05:00"),
        ("tz=UTC", "+00:00"),
        ("tz=Asia/Kolkata&sort=-amount", "+05:30"),
        ("status=succeeded,refunded&sort=amount", "-05:00"),
        ("method=card&minAmount=0.10&maxAmount=12.30", "-05:00"),
    ] {
        let (headers, text) = export(&app, query).await;
        assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
        assert!(
            headers["content-disposition"]
                .to_str()
                .unwrap()
                .starts_with("attachment;"),
            "a download"
        );
        assert!(text.starts_with(
            "id,externalId,createdAt,amount,currency,method,status,failureReason,refundedAt,updatedAt\r\n"
        ));
        let (header, rows) = rows(&text);
        let list_query = query
            .split('&')
            .filter(|pair| !pair.starts_with("tz="))
            .collect::<Vec<_>>()
            .join("&");
        let listed = app
            .json("globex", &format!("/api/payments?limit=500&{list_query}"))
            .await;
        let listed = listed["items"].as_array().unwrap();
        assert!(!listed.is_empty(), "{query}");
        assert_eq!(rows.len(), listed.len(), "{query}: one row per payment");
        for (row, payment) in rows.iter().zip(listed) {
            let field = |name: &str| &row[header.iter().position(|column| column == name).unwrap()];
            assert_eq!(field("id"), payment["id"].as_str().unwrap());
            assert_eq!(field("externalId"), payment["externalId"].as_str().unwrap());
            same_instant(field("createdAt"), &payment["createdAt"], offset);
            same_instant(field("updatedAt"), &payment["updatedAt"], offset);
            // Exact, with the currency's two digits, whatever the float says.
            let cents = (payment["amount"].as_f64().unwrap() * 100.0).round() as i64;
            assert_eq!(field("amount"), &format!("{}.{:02}", cents / 100, cents % 100));
            assert_eq!(field("currency"), "USD");
            assert_eq!(field("method"), payment["method"].as_str().unwrap());
            assert_eq!(field("status"), payment["status"].as_str().unwrap());
            assert_eq!(field("failureReason"), payment["failureReason"].as_str().unwrap_or(""));
            match payment.get("refundedAt") {
                Some(refunded) => same_instant(field("refundedAt"), refunded, offset),
                None => assert_eq!(field("refundedAt"), ""),
            }
        }
    }
    // The exact amounts and the quoting, as a spreadsheet would read them.
    let (_, text) = export(&app, "sort=amount").await;
    assert!(text.contains(",0.10,USD,card,"), "{text}");
    assert!(text.contains(",0.20,USD,paypal,"), "{text}");
    assert!(text.contains(",1500.00,USD,bank_transfer,refunded,,"), "{text}");
    assert!(text.contains(",\"declined, \"\"do not honor\"\"\","), "{text}");
}

/// A sender's text that a spreadsheet would run as a formula is exported with
/// a leading `'`, which spreadsheets show as text; the JSON API keeps it exact.
#[tokio::test]
async fn a_senders_formula_is_exported_as_text() {
    let app = TestApp::spawn().await;
    let formula = "=HYPERLINK(\"http://evil.example\",\"Refund\")";
    let created = app
        .create("globex", body(formula, 5.0, "card", "failed", Some("@SUM(1+1)")))
        .await;
    assert_eq!(created["externalId"], formula, "stored as sent");
    let (_, text) = export(&app, "").await;
    let (header, rows) = rows(&text);
    assert_eq!(rows.len(), 1);
    let field = |name: &str| &rows[0][header.iter().position(|column| column == name).unwrap()];
    assert_eq!(field("externalId"), &format!("'{formula}"));
    assert_eq!(field("failureReason"), "'@SUM(1+1)");
}

#[tokio::test]
async fn an_export_refuses_what_the_list_refuses_and_bad_zones() {
    let app = TestApp::spawn().await;
    for (query, hint) in [
        ("tz=Mars/Olympus", "tz"),
        ("status=pending", "status"),
        ("cursor=x", "cursor"),
    ] {
        let response = app
            .viewer_get("globex", &format!("/api/payments/export.csv?{query}"))
            .send()
            .await
            .unwrap();
        assert_error(response, 400, "invalid_parameter", hint).await;
    }
    let anonymous = app.http.get(app.url("/api/payments/export.csv")).send().await.unwrap();
    assert_error(anonymous, 401, "missing_credentials", "ticket").await;
    let ingest = app
        .get_as("globex", "pk_demo_globex_ingest", "/api/payments/export.csv")
        .send()
        .await
        .unwrap();
    assert_error(ingest, 403, "insufficient_role", "viewer").await;
}

#[tokio::test]
async fn the_trend_export_equals_the_trend() {
    let app = TestApp::spawn().await;
    seed(&app).await;
    // Absolute ends: both requests must mean the same buckets.
    let now = Utc::now();
    let query = format!(
        "from={}&to={}&bucket=5m",
        paypulse_shared::time::format_utc(&(now - chrono::TimeDelta::hours(2))),
        paypulse_shared::time::format_utc(&(now + chrono::TimeDelta::minutes(1)))
    );
    let trend = app.json("globex", &format!("/api/analytics/trends?{query}")).await;
    let response = app
        .viewer_get("globex", &format!("/api/analytics/trends.csv?{query}&tz=UTC"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let (header, rows) = rows(&response.text().await.unwrap());
    assert_eq!(header, ["timestamp", "amount", "count", "successRate", "anomaly"]);
    let points = trend.as_array().unwrap();
    assert_eq!(rows.len(), points.len());
    for (row, point) in rows.iter().zip(points) {
        same_instant(&row[0], &point["timestamp"], "+00:00");
        assert_eq!(row[1].parse::<f64>().unwrap(), point["amount"].as_f64().unwrap());
        assert_eq!(row[2], point["count"].to_string());
        assert_eq!(row[3].parse::<f64>().unwrap(), point["successRate"].as_f64().unwrap());
        assert_eq!(row[4], point["anomaly"].to_string());
    }
    let counted: u64 = rows.iter().map(|row| row[2].parse::<u64>().unwrap()).sum();
    assert_eq!(counted, 4);
}

/// Exports in time order read the range window by window (sized from what
/// the previous window held); whatever the spread of the payments (a burst
/// of thousands in a minute, long empty stretches, one dated ahead of the
/// clock, one on the range's start), every payment comes once, in order.
#[tokio::test]
async fn time_ordered_exports_miss_nothing_however_payments_are_spread() {
    use chrono::TimeDelta;
    use paypulse_server::store::documents::{PaymentDoc, to_chrono};
    use paypulse_shared::payment::PaymentStatus;
    use paypulse_shared::time::format_utc;

    let app = TestApp::spawn().await;
    let now = Utc::now();
    let burst = now - TimeDelta::days(3);
    let mut documents: Vec<PaymentDoc> = (0..4_500)
        .map(|index| {
            let at = burst + TimeDelta::milliseconds(index * 13);
            crate::common::payment("acme", at, 100 + index, "card", PaymentStatus::Succeeded)
        })
        .collect();
    for days in [1, 2, 9, 40, 61] {
        let at = now - TimeDelta::days(days) - TimeDelta::minutes(days * 7);
        documents.push(crate::common::payment(
            "acme",
            at,
            5_000,
            "paypal",
            PaymentStatus::Failed,
        ));
    }
    let ahead = now + TimeDelta::seconds(30);
    documents.push(crate::common::payment(
        "acme",
        ahead,
        777,
        "card",
        PaymentStatus::Succeeded,
    ));
    let start = now - TimeDelta::days(40) - TimeDelta::minutes(40 * 7);
    app.insert(&documents).await;
    let stored = app.stored_payments("acme").await;
    let exported_ids = |text: String| -> Vec<String> {
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        reader.records().map(|record| record.unwrap()[0].to_owned()).collect()
    };
    for (query, from, to, newest_first) in [
        (String::new(), None, None, true),
        ("sort=createdAt".to_owned(), None, None, false),
        (format!("from={}", format_utc(&start)), Some(start), None, true),
        (
            format!(
                "from={}&to={}&sort=createdAt",
                format_utc(&start),
                format_utc(&(now - TimeDelta::days(2)))
            ),
            Some(start),
            Some(now - TimeDelta::days(2)),
            false,
        ),
    ] {
        let response = app
            .viewer_get("acme", &format!("/api/payments/export.csv?{query}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let served = exported_ids(response.text().await.unwrap());
        let mut expected: Vec<&PaymentDoc> = stored
            .iter()
            .filter(|document| {
                let at = to_chrono(document.created_at);
                from.is_none_or(|from| at >= from) && to.is_none_or(|to| at < to)
            })
            .collect();
        expected.sort_by_key(|document| (document.created_at, document.id));
        if newest_first {
            expected.reverse();
        }
        let expected: Vec<String> = expected.iter().map(|document| document.id.to_hex()).collect();
        assert!(expected.len() > 4_000, "{query}");
        let missing: Vec<&String> = expected.iter().filter(|id| !served.contains(id)).collect();
        let extra: Vec<&String> = served.iter().filter(|id| !expected.contains(id)).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{query}: {} served, {} expected; missing {missing:?}, extra {extra:?}",
            served.len(),
            expected.len()
        );
        let first_difference = served
            .iter()
            .zip(&expected)
            .position(|(served, expected)| served != expected);
        assert_eq!(first_difference, None, "{query}: the order differs");
    }
}
