//! Real WebDriver sessions for UI tests: a driver process (chromedriver, or
//! tauri-driver for the desktop app) on a free port, a fantoccini client, and
//! a private Xvfb display for apps that need one. Everything is stopped on
//! drop.

use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};

/// How long a driver may take to accept its first session.
const SESSION_TIMEOUT: Duration = Duration::from_secs(60);

pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A WebDriver server process.
pub struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    /// Starts `program` with `args`; `{port}` in an argument is replaced by
    /// the port chosen for it and `{port2}` by a second free port (for a
    /// driver that starts another driver). The driver runs in a process group
    /// of its own, so everything it starts is stopped with it.
    pub fn start(program: &Path, args: &[&str], env: &[(&str, String)]) -> Self {
        assert!(
            program.exists(),
            "{} is missing: `cargo xtask test` installs it",
            program.display()
        );
        let (port, second_port) = (free_port(), free_port());
        let child = Command::new(program)
            .args(args.iter().map(|arg| {
                arg.replace("{port}", &port.to_string())
                    .replace("{port2}", &second_port.to_string())
            }))
            .envs(env.iter().map(|(name, value)| (*name, value.as_str())))
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("starting {}: {error}", program.display()));
        Self { child, port }
    }

    /// The port the driver listens on (for commands fantoccini has no
    /// method for, such as reading the browser's own logs).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The driver's process id, which is also its process group's.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until the driver accepts connections, so that what is timed
    /// after it is the session's start, not the driver's.
    pub async fn ready(&self) {
        let deadline = Instant::now() + SESSION_TIMEOUT;
        while tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, self.port))
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "the driver never listened on {}", self.port);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops the driver and everything it started (the app or browser
    /// included), as a computer going to sleep stops every process.
    pub fn freeze(&self) {
        self.signal_group("-STOP");
    }

    /// Lets them run again, as a computer waking up.
    pub fn thaw(&self) {
        self.signal_group("-CONT");
    }

    fn signal_group(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, "--", &format!("-{}", self.pid())])
            .status()
            .expect("running kill");
        assert!(status.success(), "kill {signal} reached the driver's processes");
    }

    /// A session with `capabilities`, retried while the driver starts up.
    pub async fn session(&self, capabilities: serde_json::Value) -> Client {
        let capabilities = capabilities.as_object().expect("capabilities are an object").clone();
        self.ready().await;
        let deadline = Instant::now() + SESSION_TIMEOUT;
        loop {
            let mut builder = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new());
            builder.capabilities(capabilities.clone());
            // One attempt may never be answered: WebKitWebDriver waits for
            // good for an app that went away before it connected (seen
            // now and then on a loaded machine). Such an attempt is
            // abandoned and made again, within the same deadline.
            let attempt = tokio::time::timeout(
                SESSION_TIMEOUT / 3,
                builder.connect(&format!("http://127.0.0.1:{}", self.port)),
            )
            .await;
            match attempt {
                Ok(Ok(client)) => return client,
                // Refused or dropped while the driver starts, or while it
                // ends its previous session, or not answered: ask again.
                Ok(Err(
                    fantoccini::error::NewSessionError::Failed(_) | fantoccini::error::NewSessionError::FailedC(_),
                ))
                | Err(_)
                    if Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Ok(Err(error)) => panic!("no WebDriver session on port {}: {error}", self.port),
                Err(_) => panic!("no WebDriver session on port {} within {SESSION_TIMEOUT:?}", self.port),
            }
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The whole group: the driver, the native driver it started, and the
        // browser or app they launched (woken first if frozen, so it dies).
        for signal in ["-KILL", "-CONT"] {
            Command::new("kill")
                .args([signal, "--", &format!("-{}", self.child.id())])
                .status()
                .ok();
        }
        self.child.wait().ok();
    }
}

/// tauri-driver's arguments, with WebKitWebDriver as its native driver.
pub const TAURI_DRIVER_ARGS: [&str; 6] = [
    "--port",
    "{port}",
    "--native-port",
    "{port2}",
    "--native-driver",
    "/usr/bin/WebKitWebDriver",
];

/// What the desktop app runs with: `display`, the session bus at `bus`, and
/// `home` as its home with its XDG folders inside (a fresh home: the app
/// starts as on first use).
pub fn desktop_environment(display: &str, bus: &str, home: &Path) -> Vec<(&'static str, String)> {
    let xdg = |folder: &str| home.join(folder).display().to_string();
    vec![
        ("DISPLAY", display.to_owned()),
        ("DBUS_SESSION_BUS_ADDRESS", bus.to_owned()),
        ("HOME", home.display().to_string()),
        ("XDG_DATA_HOME", xdg("data")),
        ("XDG_CONFIG_HOME", xdg("config")),
        ("XDG_CACHE_HOME", xdg("cache")),
    ]
}

/// Headless Chromium capabilities with a fresh profile in `profile`.
pub fn chromium_capabilities(profile: &Path) -> serde_json::Value {
    serde_json::json!({
        "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1280,900", format!("--user-data-dir={}", profile.display()),
            ],
        }
    })
}

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> Self {
        let path = std::env::temp_dir().join(format!("{prefix}-{}", free_port()));
        std::fs::create_dir_all(&path).expect("creating a temporary directory");
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

/// A private X display for desktop apps.
pub struct Xvfb {
    child: Child,
    pub display: String,
}

impl Xvfb {
    pub fn start() -> Self {
        // A display number nobody uses: its socket does not exist.
        let number = (90..200)
            .find(|number| !Path::new(&format!("/tmp/.X11-unix/X{number}")).exists())
            .expect("a free X display number");
        let display = format!(":{number}");
        let child = Command::new("Xvfb")
            .args([display.as_str(), "-screen", "0", "1280x1024x24", "-nolisten", "tcp"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting Xvfb (`cargo xtask test` installs it)");
        let socket = PathBuf::from(format!("/tmp/.X11-unix/X{number}"));
        let deadline = Instant::now() + Duration::from_secs(20);
        while !socket.exists() {
            assert!(Instant::now() < deadline, "Xvfb did not open display {display}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child, display }
    }
}

impl Xvfb {
    /// Saves the display's `[x, y, width, height]` (native dialogs and
    /// notifications included, which WebDriver cannot see) as
    /// target/screenshots/`name`.png.
    pub fn save_screenshot(&self, name: &str, [x, y, width, height]: [i64; 4]) {
        let path = screenshots_folder().join(format!("{name}.png"));
        let status = Command::new("import")
            .args(["-display", &self.display, "-window", "root", "-crop"])
            .arg(format!("{width}x{height}+{x}+{y}"))
            .arg("+repage")
            .arg(&path)
            .stdout(Stdio::null())
            .status()
            .expect("running ImageMagick's import (`cargo xtask test` installs it)");
        assert!(status.success(), "import could not capture display {}", self.display);
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// Where the end-to-end tests leave their pictures of the running product
/// (target/screenshots/); `cargo xtask screenshots` copies the latest into
/// docs/screenshots/, where the README shows them.
pub fn screenshots_folder() -> PathBuf {
    let folder = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots");
    std::fs::create_dir_all(&folder).expect("creating target/screenshots");
    folder
}

/// Saves what the page shows as target/screenshots/`name`.png.
pub async fn save_screenshot(client: &Client, name: &str) {
    let png = client.screenshot().await.expect("a screenshot of the page");
    std::fs::write(screenshots_folder().join(format!("{name}.png")), png).expect("saving the screenshot");
}

/// Saves a screenshot and the page source of a failing UI test under
/// target/test-evidence/, and says where, so a red CI run can be read.
pub async fn save_evidence(client: &Client, name: &str) {
    let folder = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/test-evidence");
    std::fs::create_dir_all(&folder).ok();
    if let Ok(png) = client.screenshot().await {
        std::fs::write(folder.join(format!("{name}.png")), png).ok();
    }
    if let Ok(source) = client.source().await {
        std::fs::write(folder.join(format!("{name}.html")), source).ok();
    }
    eprintln!("UI evidence saved in {}/{name}.{{png,html}}", folder.display());
}

/// Whether the page's Content Security Policy holds, on a dashboard showing
/// its metrics: it adds an inline style sheet and reads whether it applies
/// (`sheetApplied`, which must not), and whether a method's share bar got
/// the width its `style` attribute gives it (`attributeApplied`, which must).
pub const STYLE_PROBE: &str = "
    const grid = document.querySelector('[data-testid=metrics-grid]');
    const sheet = document.createElement('style');
    sheet.textContent = '[data-testid=metrics-grid] { outline: 7px solid rgb(1, 2, 3); }';
    document.head.appendChild(sheet);
    const sheetApplied = getComputedStyle(grid).outlineWidth === '7px';
    sheet.remove();
    // A blocked `style` attribute stays in the markup but is not parsed.
    const bar = document.querySelector('.method-share .bar');
    const attributeApplied = bar.getAttribute('style').startsWith('width') && bar.style.width !== '';
    return { sheetApplied, attributeApplied };
";
