//! The sign-in: checked against the server, remembered across restarts
//! outside the webview's storage, forgotten on sign-out; and the alerts
//! it brings, each notified once.

use super::*;
use crate::keyring::Keyring;

#[tokio::test]
async fn desktop_app_checks_and_remembers_its_sign_in_and_notifies_each_alert_once() {
    let app = TestApp::spawn_with(|config| config.limits.alerts.tick = Duration::from_millis(100)).await;
    let now = Utc::now();
    app.insert(&[
        payment(
            "globex",
            now - TimeDelta::hours(1),
            420_000,
            "card",
            PaymentStatus::Succeeded,
        ),
        payment(
            "globex",
            now - TimeDelta::hours(2),
            99,
            "paypal",
            PaymentStatus::Succeeded,
        ),
    ])
    .await;
    let rule = json!({
        "id": "failures", "name": "Half the payments failing", "kind": "failure_rate",
        "windowMinutes": 10, "threshold": 50, "minAttempts": 10,
        "pendingMinutes": 0, "keepFiringMinutes": 0, "enabled": true
    });
    app.replace_rules("globex", json!([rule])).await;
    let api = app.json("globex", "/api/analytics/metrics").await;

    let bus = SessionBus::start();
    let notification_server = NotificationServer::start(&bus);
    let desktop = Desktop::start(&bus);
    let (driver, capabilities, home) = (&desktop.driver, desktop.capabilities(), &desktop.home);
    let desktop = &desktop;
    let settings_folder = home.0.join("config").join(APP_ID);

    // First start: a wrong key is refused with the reason, the right one is
    // saved and shows the dashboard.
    let window = driver.session(capabilities.clone()).await;
    let (refusal, (value, text), stored, styles) = drive(&window, "desktop", "driving the desktop app", async {
        sign_in(&window, "globex", "pk_not_a_key", &app.url("")).await?;
        let refusal = shows(&window, "[data-testid=settings-error]").await?.text().await?;
        sign_in(&window, "globex", "pk_demo_globex_viewer", &app.url("")).await?;
        shows(&window, "[data-testid=metrics-grid][data-state=ready]").await?;
        let total = window.find(Locator::Css("[data-testid=metric-total-volume]")).await?;
        let total = (total.attr("data-value").await?, total.text().await?);
        let stored = window
            .execute("return JSON.stringify(Object.assign({}, window.localStorage));", vec![])
            .await?;
        shows(&window, "[data-testid=connection-status][data-state=live]").await?;
        let styles = window.execute(crate::webdriver::STYLE_PROBE, vec![]).await?;
        Step::Ok((refusal, total, stored, styles))
    })
    .await;
    // The policy holds in WebKitGTK: no inline style sheet applies, while
    // the `style` attributes the dashboard sets (`style-src-attr`) do.
    assert_eq!(
        styles,
        json!({"sheetApplied": false, "attributeApplied": true}),
        "inline styles under the desktop's CSP"
    );
    assert!(refusal.contains("does not know this API key"), "{refusal}");
    let shown: f64 = value.as_deref().expect("data-value").parse().unwrap();
    assert_eq!(Some(shown), api["totalVolume"].as_f64());
    assert_eq!(text, "$4,200.99");
    let stored = stored.as_str().unwrap_or_default().to_owned();
    assert!(
        !stored.contains("pk_demo_globex_viewer"),
        "the key is in the webview's storage: {stored}"
    );
    let settings = std::fs::read_to_string(settings_folder.join("settings.json")).expect("the saved settings");
    assert!(
        !settings.contains("pk_demo"),
        "the key is not among the settings: {settings}"
    );
    assert_eq!(
        std::fs::read_to_string(settings_folder.join("api-key")).unwrap(),
        "pk_demo_globex_viewer"
    );
    assert_eq!(mode(&settings_folder.join("api-key")), 0o600, "the key file is private");

    // A failure spike: one notification when it fires, with the alert's
    // text; calm payments: one when it resolves.
    for index in 0..10 {
        let body = json!({"externalId": format!("spike_{index}"), "amount": 3.0, "currency": "USD",
            "method": "card", "status": "failed", "failureReason": "card_declined"});
        app.create("globex", body).await;
    }
    let fired = notifications(&notification_server, 1, "after the firing").await;
    let alerts = app.json("globex", "/api/alerts?state=firing").await;
    let alert = &alerts["items"][0];
    assert_eq!(fired[0].app_name, "Paypulse");
    assert_eq!(fired[0].summary, "Firing: Half the payments failing");
    assert_eq!(fired[0].body, alert["message"].as_str().unwrap());
    assert_eq!(fired[0].actions, ["default", "Show alert"], "a click opens the alert");
    for index in 0..20 {
        let body = json!({"externalId": format!("calm_{index}"), "amount": 3.0, "currency": "USD",
            "method": "card", "status": "succeeded"});
        app.create("globex", body).await;
    }
    let resolved = notifications(&notification_server, 2, "after the resolution").await;
    assert_eq!(resolved[1].summary, "Resolved: Half the payments failing");
    let history = app.json("globex", "/api/alerts?ruleId=failures").await;
    assert_eq!(history["items"][0]["state"], "resolved");
    assert_eq!(resolved[1].body, history["items"][0]["message"].as_str().unwrap());

    // A click on the firing notification brings the alerts forward, that
    // alert marked.
    notification_server.click(fired[0].id);
    let entry = format!(
        "[data-testid=alert-entry][data-alert-id='{}'][data-opened=true]",
        alert["id"].as_str().unwrap()
    );
    drive(&window, "desktop-click", "the click shows the alerts", async {
        shows(&window, &entry).await.map(drop)
    })
    .await;
    crate::webdriver::save_screenshot(&window, "desktop-alert-opened").await;
    window.close().await.ok();

    // Second start, same home: signed in at once, from the saved settings,
    // and nothing notified twice.
    let window = driver.session(capabilities).await;
    let (tenant, prefilled) = drive(
        &window,
        "desktop-restart",
        "the restarted app shows the dashboard",
        async {
            shows(&window, "[data-testid=metrics-grid][data-state=ready]").await?;
            shows(&window, "[data-testid=connection-status][data-state=live]").await?;
            let tenant = window
                .find(Locator::Css("[data-testid=current-tenant]"))
                .await?
                .text()
                .await?;
            // Settings… (Ctrl+,) opens the settings over the sign-in, which
            // holds until another is checked; cancelling returns to it.
            desktop.press("ctrl+comma");
            let prefilled = shows(&window, "[data-testid=settings] input[name=tenant]")
                .await?
                .prop("value")
                .await?;
            shows(&window, "[data-testid=settings-cancel]").await?.click().await?;
            shows(&window, "[data-testid=metrics-grid][data-state=ready]").await?;
            // Sign out forgets the sign-in and shows the settings again.
            window
                .find(Locator::Css("[data-testid=sign-out]"))
                .await?
                .click()
                .await?;
            shows(&window, "[data-testid=settings]").await?;
            Step::Ok((tenant, prefilled))
        },
    )
    .await;
    window.close().await.ok();
    assert_eq!(
        prefilled.as_deref(),
        Some("globex"),
        "the settings start from the current sign-in"
    );
    assert_eq!(tenant, "globex");
    for file in ["settings.json", "api-key"] {
        assert!(!settings_folder.join(file).exists(), "signing out removed {file}");
    }
    assert_eq!(
        notification_server.shown().len(),
        2,
        "one notification on firing, one on resolution: {:?}",
        notification_server.shown()
    );
}

/// Every file under `folder` whose bytes contain `needle`.
fn files_holding(folder: &Path, needle: &[u8]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut folders = vec![folder.to_owned()];
    while let Some(folder) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let (path, Ok(kind)) = (entry.path(), entry.file_type()) else {
                continue;
            };
            // Sockets and pipes (the keyring's) are not read.
            if kind.is_dir() {
                folders.push(path);
            } else if kind.is_file()
                && std::fs::read(&path).is_ok_and(|bytes| bytes.windows(needle.len()).any(|part| part == needle))
            {
                found.push(path);
            }
        }
    }
    found
}

/// Where there is an OS keyring (GNOME Keyring's Secret Service on the
/// app's session bus), the key goes there and nowhere else on disk: an
/// outside client (`secret-tool`) finds it under the app's name, it signs
/// the app in after a restart, and signing out takes it out again.
#[tokio::test]
async fn desktop_app_keeps_its_key_in_the_os_keyring_where_there_is_one() {
    let app = TestApp::spawn().await;
    let bus = SessionBus::start();
    let desktop = Desktop::start(&bus);
    let keyring = Keyring::start(&desktop.environment, &desktop.home.0);
    let entry = [("service", APP_ID), ("username", "api-key")];
    let settings_folder = desktop.home.0.join("config").join(APP_ID);
    let key = "pk_demo_globex_viewer";

    let window = desktop.driver.session(desktop.capabilities()).await;
    drive(&window, "desktop-keyring", "signing in with the keyring there", async {
        sign_in(&window, "globex", key, &app.url("")).await?;
        shows(&window, "[data-testid=metrics-grid][data-state=ready]")
            .await
            .map(drop)
    })
    .await;
    window.close().await.ok();
    assert_eq!(
        keyring.lookup(&entry).as_deref(),
        Some(key),
        "the key is in the keyring"
    );
    let settings = std::fs::read_to_string(settings_folder.join("settings.json")).expect("the saved settings");
    assert!(settings.contains(r#""keyIn": "keyring""#), "{settings}");
    assert!(
        !settings_folder.join("api-key").exists(),
        "no key file beside the keyring"
    );
    assert_eq!(
        files_holding(&desktop.home.0, key.as_bytes()),
        Vec::<PathBuf>::new(),
        "the key is in no file in plain text (the keyring's own is encrypted)"
    );

    // Restarted: signed in with the key from the keyring; then signed out.
    let window = desktop.driver.session(desktop.capabilities()).await;
    drive(
        &window,
        "desktop-keyring-restart",
        "the restarted app signs in from the keyring, then out",
        async {
            shows(&window, "[data-testid=metrics-grid][data-state=ready]").await?;
            shows(&window, "[data-testid=sign-out]").await?.click().await?;
            shows(&window, "[data-testid=settings]").await.map(drop)
        },
    )
    .await;
    window.close().await.ok();
    assert_eq!(
        keyring.lookup(&entry),
        None,
        "signing out removed the key from the keyring"
    );
    assert!(!settings_folder.join("settings.json").exists());
}
