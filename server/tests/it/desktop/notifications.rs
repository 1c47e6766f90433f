//! A real notification daemon drawing the app's notifications over a
//! dashboard with history, as the README pictures it.

use super::*;

#[tokio::test]
async fn desktop_app_with_history_and_a_real_notification_daemon_as_the_readme_shows_it() {
    let app = TestApp::spawn_with(|config| config.limits.alerts.tick = Duration::from_millis(100)).await;
    let history = paypulse_server::seed::SeedArgs {
        database: paypulse_server::config::DatabaseConfig::new(crate::common::mongodb_uri(), "unused"),
        tenants: vec!["acme".into()],
        days: 8,
        rate: 60.0,
        demo_keys: true,
        random_seed: 11,
    };
    paypulse_server::seed::seed(&app.store, &history)
        .await
        .expect("seeding acme");
    let rule = json!({
        "id": "failures", "name": "Half the payments failing", "kind": "failure_rate",
        "windowMinutes": 10, "threshold": 50, "minAttempts": 10,
        "pendingMinutes": 0, "keepFiringMinutes": 0, "enabled": true
    });
    app.replace_rules("acme", json!([rule])).await;

    let bus = SessionBus::start();
    let desktop = Desktop::start(&bus);
    // A real notification daemon on the app's display and bus: it draws the
    // app's notifications where a screenshot sees them.
    let _daemon = Companion::start(&desktop, "dunst");
    let window = desktop.driver.session(desktop.capabilities()).await;
    let (count, from, to) = drive(
        &window,
        "desktop-history",
        "the dashboard shows acme's history",
        async {
            sign_in(&window, "acme", "pk_demo_acme_viewer", &app.url("")).await?;
            shows(&window, "[data-testid=connection-status][data-state=live]").await?;
            shows(&window, "[data-testid=metrics-grid][data-state=ready]").await?;
            shows(&window, "[data-testid=trend-chart][data-fresh=true]").await?;
            // The count with the range it is of, read in one turn of the
            // page (the grid may be drawn again between two reads): the
            // last 24 hours slide while the test runs, so the server is
            // asked for that same range.
            let shown = window
                .execute(
                    "const grid = document.querySelector('[data-testid=metrics-grid]');
                     const count = document.querySelector('[data-testid=metric-count]');
                     return [count.dataset.value, grid.dataset.from, grid.dataset.to];",
                    vec![],
                )
                .await?;
            let [count, from, to] = [0, 1, 2].map(|at| shown[at].as_str().unwrap_or_default().to_owned());
            Step::Ok((count, from, to))
        },
    )
    .await;
    crate::webdriver::save_screenshot(&window, "desktop-dashboard").await;
    let api = app
        .json("acme", &format!("/api/analytics/metrics?from={from}&to={to}"))
        .await;
    assert_eq!(
        count.parse::<f64>().ok(),
        api["count"].as_f64(),
        "the count of [{from}, {to})"
    );

    // A failure spike: the daemon draws the app's notification.
    for index in 0..30 {
        let body = json!({"externalId": format!("spike_{index}"), "amount": 3.0, "currency": "USD",
            "method": "card", "status": "failed", "failureReason": "card_declined"});
        app.create("acme", body).await;
    }
    let drawn = || {
        !desktop
            .xdotool(&["search", "--onlyvisible", "--class", "Dunst"])
            .is_empty()
    };
    desktop.until("the daemon draws a notification", drawn).await;
    desktop.picture("desktop-notification");
    let dunstctl = |args: &[&str]| {
        let output = std::process::Command::new("dunstctl")
            .args(args)
            .envs(desktop.environment.iter().map(|(name, value)| (*name, value.as_str())))
            .output()
            .expect("running dunstctl");
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    // Closed, the notification goes to the daemon's history, which says
    // what it was.
    dunstctl(&["close-all"]);
    let kept = dunstctl(&["history"]);
    window.close().await.ok();
    assert!(
        kept.contains("Firing: Half the payments failing"),
        "the daemon showed the firing alert: {kept}"
    );
}
