//! The window: where it was left, one instance, the menu's shortcuts.

use super::*;

#[tokio::test]
async fn desktop_app_opens_where_it_was_left_and_runs_only_once() {
    let bus = SessionBus::start();
    let desktop = Desktop::start(&bus);
    let window = desktop.driver.session(desktop.capabilities()).await;
    drive(
        &window,
        "desktop-window",
        "the first start asks for the sign-in",
        shows(&window, "[data-testid=settings]"),
    )
    .await;

    // Moved and resized, then quit with the menu's shortcut.
    let main = desktop.windows().pop().expect("the app's window");
    desktop.xdotool(&["windowsize", "--sync", &main, "1100", "700"]);
    desktop.xdotool(&["windowmove", "--sync", &main, "60", "40"]);
    let left = desktop.geometry(&main);
    assert_eq!(left, [60, 40, 1100, 700], "the window was moved and resized");
    desktop.press("ctrl+q");
    desktop
        .until("Ctrl+Q quits the app", || desktop.windows().is_empty())
        .await;
    window.close().await.ok();

    // Started again: where and as large as it was left.
    let window = desktop.driver.session(desktop.capabilities()).await;
    drive(
        &window,
        "desktop-window",
        "the second start shows the app",
        shows(&window, "[data-testid=settings]"),
    )
    .await;
    let main = desktop.windows().pop().expect("the app's window");
    assert_eq!(desktop.geometry(&main), left, "the window opens where it was left");

    // Another launch while it runs: no second window; the first comes
    // forward (the keyboard's focus, taken away first, returns to it).
    let root = desktop.xdotool(&["search", "--maxdepth", "0", "--name", ""]);
    desktop.xdotool(&["windowfocus", "--sync", &root]);
    let focused = || desktop.xdotool(&["getwindowfocus", "-f"]);
    assert_ne!(focused(), main, "the focus is elsewhere before the second launch");
    let status = desktop.launch_again().await;
    desktop
        .until("the first window takes the focus", || focused() == main)
        .await;
    let windows = desktop.windows();
    window.close().await.ok();
    assert!(status.success(), "the second launch exits cleanly: {status}");
    assert_eq!(windows, [main], "one window, the first one's");
}

/// Starts a window manager (Openbox) on the app's display and waits until
/// it runs: full screen is the window manager's to grant.
fn window_manager(desktop: &Desktop) -> Companion {
    let manager = Companion::start(desktop, "openbox");
    // Running once it names itself on the root window (EWMH).
    let deadline = std::time::Instant::now() + SCREEN_TIMEOUT;
    loop {
        let root = std::process::Command::new("xprop")
            .args(["-root", "_NET_SUPPORTING_WM_CHECK"])
            .env("DISPLAY", &desktop.display.display)
            .output()
            .expect("running xprop (`cargo xtask test` installs it)");
        if String::from_utf8_lossy(&root.stdout).contains("window id") {
            return manager;
        }
        assert!(std::time::Instant::now() < deadline, "openbox never took the display");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// View ▸ Full Screen (F11) fills the display and, pressed again, gives the
/// window back its size and place.
#[tokio::test]
async fn desktop_full_screen_fills_the_display_and_f11_leaves_it() {
    let bus = SessionBus::start();
    let desktop = Desktop::start(&bus);
    let _manager = window_manager(&desktop);
    let window = desktop.driver.session(desktop.capabilities()).await;
    drive(
        &window,
        "desktop-window",
        "the app shows its sign-in",
        shows(&window, "[data-testid=settings]"),
    )
    .await;
    let main = desktop.windows().pop().expect("the app's window");
    let before = desktop.geometry(&main);
    assert_ne!(before[2..], [1280, 1024], "the window starts smaller than the display");

    desktop.press("F11");
    desktop
        .until("F11 makes the window fill the display", || {
            desktop.geometry(&main) == [0, 0, 1280, 1024]
        })
        .await;
    desktop.press("F11");
    desktop
        .until("F11 again gives the window back its place", || {
            desktop.geometry(&main) == before
        })
        .await;
    window.close().await.ok();
}
