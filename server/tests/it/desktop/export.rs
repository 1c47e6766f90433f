//! Export through the native save dialog: the API's CSV byte for byte in
//! the file picked, and nothing left that looks complete when the user
//! cancels, the server stalls or the disk fills.

use super::*;

#[tokio::test]
async fn desktop_export_streams_the_apis_csv_to_the_file_picked_in_the_save_dialog() {
    let app = TestApp::spawn().await;
    // Enough rows that the file is written in many chunks.
    failed_payments(&app, 3_000).await;
    let bus = SessionBus::start();
    let desktop = Desktop::start(&bus);
    let target = desktop.home.0.join("failed payments.csv");
    let window = desktop.driver.session(desktop.capabilities()).await;
    let (query, cancelled, saved) = drive(&window, "desktop-export", "driving the desktop app", async {
        sign_in(&window, "globex", "pk_demo_globex_viewer", &app.url("")).await?;
        shows(&window, "[data-testid=connection-status][data-state=live]").await?;
        shows(&window, "[data-testid=drill-failed]").await?.click().await?;
        shows(&window, "[data-testid=payment-list][data-state=ready]").await?;
        let query = shows(&window, "[data-testid=payment-list]")
            .await?
            .attr("data-query")
            .await?
            .unwrap_or_default();

        // Cancelled in the dialog: nothing is written, nothing is reported.
        shows(&window, "[data-testid=export-csv]").await?.click().await?;
        desktop.save_dialog().await;
        desktop.xdotool(&["key", "Escape"]);
        shows(&window, "[data-testid=export-csv][data-busy=false]").await?;
        let cancelled = window
            .find_all(Locator::Css("[data-testid=export-saved], [data-testid=export-error]"))
            .await?;

        // Saved, asked for with the menu's shortcut: the path typed into the
        // dialog's name field.
        desktop.press("ctrl+e");
        desktop.save_dialog().await;
        desktop.picture("desktop-save-dialog");
        desktop.save_as(&target).await;
        let saved = shows(&window, "[data-testid=export-saved]").await?.text().await?;
        Step::Ok((query, cancelled.len(), saved))
    })
    .await;
    window.close().await.ok();
    assert_eq!(cancelled, 0, "a cancelled dialog reports nothing");
    assert_eq!(saved, format!("Saved to {}", target.display()));
    let export_query: Vec<&str> = query.split('&').filter(|pair| !pair.starts_with("limit=")).collect();
    let api = app
        .text(
            "globex",
            &format!("/api/payments/export.csv?{}", export_query.join("&")),
        )
        .await;
    let file = std::fs::read_to_string(&target).expect("the exported file");
    assert_eq!(file.lines().count(), 3_001, "a header and every failed payment");
    assert!(file == api, "the file is the API's CSV for {query}");
    assert_eq!(
        files_named(&desktop.home.0, "failed payments"),
        ["failed payments.csv"],
        "only the finished file, no partial one"
    );
}

#[tokio::test]
async fn desktop_export_cancelled_while_the_server_stalls_stops_at_once_and_leaves_nothing() {
    let app = TestApp::spawn().await;
    let now = Utc::now();
    let payments: Vec<_> = (0..200)
        .map(|index| {
            payment(
                "globex",
                now - TimeDelta::minutes(index),
                1_000 + index,
                "card",
                PaymentStatus::Succeeded,
            )
        })
        .collect();
    app.insert(&payments).await;
    let network = crate::stall_proxy::StallProxy::start(app.address).await;
    let server = format!("http://{}", network.address);
    let bus = SessionBus::start();
    let desktop = Desktop::start(&bus);
    let target = desktop.home.0.join("stalled.csv");
    let window = desktop.driver.session(desktop.capabilities()).await;
    let (stopped, reported) = drive(&window, "desktop-export-stall", "driving the desktop app", async {
        sign_in(&window, "globex", "pk_demo_globex_viewer", &server).await?;
        shows(&window, "[data-testid=connection-status][data-state=live]").await?;
        shows(&window, "[data-testid=export-csv]").await?.click().await?;
        desktop.save_dialog().await;
        // The server stops answering before the export's first byte.
        network.pause();
        desktop.save_as(&target).await;
        // At once, not after the stall timeout (60 s).
        cancel_export(&window).await
    })
    .await;
    network.resume();
    window.close().await.ok();
    stopped.expect("Cancel stops a stalled export within seconds");
    assert_eq!(reported, 0, "a cancelled export reports nothing");
    assert_eq!(
        files_named(&desktop.home.0, "stalled"),
        Vec::<String>::new(),
        "nothing written"
    );
}

/// `count` failed payments of globex over the last ten hours: the list the
/// tests export.
async fn failed_payments(app: &TestApp, count: i64) {
    let now = Utc::now();
    let payments: Vec<_> = (0..count)
        .map(|index| {
            payment(
                "globex",
                now - TimeDelta::minutes(1 + index % 600),
                100 + index,
                "card",
                PaymentStatus::Failed,
            )
        })
        .collect();
    app.insert(&payments).await;
}

/// The names in `folder` that start with `prefix`.
fn files_named(folder: &Path, prefix: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(folder)
        .unwrap_or_else(|error| panic!("{}: {error}", folder.display()))
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(prefix))
        .collect();
    names.sort();
    names
}

/// Signs in, opens the failed payments and starts their export into
/// `target`, typed into the save dialog.
async fn export_failed_payments(desktop: &Desktop, window: &Client, server: &str, target: &Path) -> Step<()> {
    sign_in(window, "globex", "pk_demo_globex_viewer", server).await?;
    shows(window, "[data-testid=connection-status][data-state=live]").await?;
    shows(window, "[data-testid=drill-failed]").await?.click().await?;
    shows(window, "[data-testid=payment-list][data-state=ready]").await?;
    shows(window, "[data-testid=export-csv]").await?.click().await?;
    desktop.save_as(target).await;
    Ok(())
}

/// Presses the running export's Cancel; whether the button was free again
/// within 10 s, and how many outcomes (saved, failed) the page reported.
async fn cancel_export(window: &Client) -> Step<(Step<()>, usize)> {
    shows(window, "[data-testid=export-cancel]").await?.click().await?;
    let stopped = window
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("[data-testid=export-csv][data-busy=false]"))
        .await
        .map(drop);
    let reported = window
        .find_all(Locator::Css("[data-testid=export-saved], [data-testid=export-error]"))
        .await?
        .len();
    Ok((stopped, reported))
}

/// A filesystem of its own, tiny (tmpfs), mounted in the test's home and
/// unmounted on drop: a disk that fills up.
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(at: PathBuf, size: &str) -> Self {
        std::fs::create_dir_all(&at).expect("creating the mount point");
        let output = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "paypulse-small-disk"])
            .arg(&at)
            .output()
            .expect("running mount");
        assert!(
            output.status.success(),
            "mounting a {size} tmpfs at {} (this test needs root, as `cargo xtask test` has on CI): {}",
            at.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        Self(at)
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        std::process::Command::new("umount").arg(&self.0).status().ok();
    }
}

#[tokio::test]
async fn desktop_export_to_a_full_disk_says_so_and_leaves_nothing() {
    let app = TestApp::spawn().await;
    // About 300 KB of CSV for a 64 KiB disk.
    failed_payments(&app, 3_000).await;
    let bus = SessionBus::start();
    let desktop = Desktop::start(&bus);
    let disk = SmallDisk::mount(desktop.home.0.join("small disk"), "64k");
    let target = disk.0.join("failed.csv");
    let window = desktop.driver.session(desktop.capabilities()).await;
    let (error, saved) = drive(&window, "desktop-export-full", "driving the desktop app", async {
        export_failed_payments(&desktop, &window, &app.url(""), &target).await?;
        let error = shows(&window, "[data-testid=export-error]").await?.text().await?;
        shows(&window, "[data-testid=export-csv][data-busy=false]").await?;
        let saved = window.find_all(Locator::Css("[data-testid=export-saved]")).await?;
        Step::Ok((error, saved.len()))
    })
    .await;
    window.close().await.ok();
    assert_eq!(saved, 0, "nothing is reported saved");
    assert!(
        error.starts_with("Export failed: ") && error.ends_with("the disk is full"),
        "the failure says the disk is full: {error}"
    );
    assert_eq!(
        files_named(&disk.0, ""),
        Vec::<String>::new(),
        "nothing left on the full disk"
    );
}

#[tokio::test]
async fn desktop_export_cancelled_while_writing_removes_its_partial_file() {
    let app = TestApp::spawn().await;
    // Long enough to write (seconds) that the test sees it half done.
    failed_payments(&app, 12_000).await;
    let network = crate::stall_proxy::StallProxy::start(app.address).await;
    let bus = SessionBus::start();
    let desktop = Desktop::start(&bus);
    let target = desktop.home.0.join("halfway.csv");
    let part = desktop.home.0.join("halfway.csv.part");
    let window = desktop.driver.session(desktop.capabilities()).await;
    let (written, stopped, reported) = drive(&window, "desktop-export-halfway", "driving the desktop app", async {
        export_failed_payments(&desktop, &window, &format!("http://{}", network.address), &target).await?;
        // Some of it is on disk; the rest is held back, so the export is
        // caught in the middle whatever the machine's speed.
        desktop
            .until("the export writes its partial file", || {
                part.metadata().is_ok_and(|written| written.len() > 0)
            })
            .await;
        network.pause();
        let written = part.metadata().map(|written| written.len()).unwrap_or_default();
        let (stopped, reported) = cancel_export(&window).await?;
        Step::Ok((written, stopped, reported))
    })
    .await;
    network.resume();
    window.close().await.ok();
    assert!(written > 0, "cancelled after part of the file was written");
    stopped.expect("Cancel stops the export within seconds");
    assert_eq!(reported, 0, "a cancelled export reports nothing");
    assert_eq!(
        files_named(&desktop.home.0, "halfway"),
        Vec::<String>::new(),
        "no partial file left"
    );
}
