//! The live feed through sleep and a network change.

use super::*;

/// Waits until the feed's `attribute` reads `expected`.
async fn feed_reads(window: &Client, attribute: &str, expected: &str) -> Step<()> {
    let css = format!("[data-testid=events-feed][{attribute}='{expected}']");
    shows(window, &css).await.map(drop)
}

#[tokio::test]
async fn desktop_app_resumes_its_live_feed_after_sleeping_through_a_network_change() {
    // Short heartbeats: the server gives up on the sleeping app in seconds,
    // and the app notices the silence as soon as it wakes.
    let app = TestApp::spawn_with(|config| config.limits.live.heartbeat = Duration::from_secs(1)).await;
    let network = crate::stall_proxy::StallProxy::start(app.address).await;
    let server = format!("http://{}", network.address);
    let bus = SessionBus::start();
    let desktop = Desktop::start(&bus);
    let window = desktop.driver.session(desktop.capabilities()).await;
    drive(&window, "desktop-sleep", "live events reach the app", async {
        sign_in(&window, "acme", "pk_demo_acme_viewer", &server).await?;
        shows(&window, "[data-testid=connection-status][data-state=live]").await?;
        for index in 0..2 {
            app.create("acme", crate::common::card_payment(&format!("before_{index}"), 1.0))
                .await;
        }
        feed_reads(&window, "data-rows", "2").await
    })
    .await;

    // The computer sleeps; it wakes on another network, where its socket
    // is silent for good and no close ever reaches it.
    desktop.driver.freeze();
    network.sever();
    for index in 0..3 {
        app.create("acme", crate::common::card_payment(&format!("asleep_{index}"), 1.0))
            .await;
    }
    let hub = &app.state.live.hub;
    crate::common::eventually("the server gives up on the sleeping app", SCREEN_TIMEOUT, || async {
        hub.disconnects(paypulse_server::live::hub::Disconnect::HeartbeatTimeout) == 1
    })
    .await;
    desktop.driver.thaw();

    let (gaps, resyncs) = drive(
        &window,
        "desktop-wake",
        "the woken app resumes its feed with what it missed",
        async {
            feed_reads(&window, "data-rows", "5").await?;
            shows(&window, "[data-testid=connection-status][data-state=live]").await?;
            let gaps = shows(&window, "[data-testid=events-feed]")
                .await?
                .attr("data-gaps")
                .await?;
            let resyncs = shows(&window, "[data-testid=connection-status]")
                .await?
                .attr("data-resyncs")
                .await?;
            Step::Ok((gaps, resyncs))
        },
    )
    .await;
    window.close().await.ok();
    assert_eq!(gaps.as_deref(), Some("0"), "every event once, in order");
    assert_eq!(resyncs.as_deref(), Some("0"), "resumed, not reloaded");
}
