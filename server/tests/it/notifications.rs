//! A private D-Bus session bus and a small `org.freedesktop.Notifications`
//! server on it, for the desktop test: the app is started with this bus as
//! its session bus, so every OS notification it shows arrives here (and
//! nowhere else), and a click on one can be played back to it as the
//! `ActionInvoked` signal a desktop's notification daemon sends.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use dbus::Message;
use dbus::blocking::LocalConnection;
use dbus::channel::{Channel, MatchingReceiver};
use dbus::message::{MatchRule, MessageType};

use crate::webdriver::TempDir;

const NAME: &str = "org.freedesktop.Notifications";
const PATH: &str = "/org/freedesktop/Notifications";

/// The session bus's configuration without the system's service folders:
/// nothing on the bus starts by activation (a notification daemon, a
/// keyring), only what a test starts itself.
const BUS_CONFIG: &str = r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:tmpdir=/tmp</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#;

/// A `dbus-daemon` of our own, stopped on drop.
pub struct SessionBus {
    daemon: Child,
    pub address: String,
    _config: TempDir,
}

impl SessionBus {
    pub fn start() -> Self {
        let config = TempDir::new("paypulse-bus");
        let file = config.0.join("session.conf");
        std::fs::write(&file, BUS_CONFIG).expect("writing the bus configuration");
        let mut daemon = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", file.display()))
            .args(["--nofork", "--print-address=1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting dbus-daemon (`cargo xtask test` installs it)");
        let mut address = String::new();
        BufReader::new(daemon.stdout.take().expect("dbus-daemon's output"))
            .read_line(&mut address)
            .expect("reading the bus address");
        let address = address.trim().to_owned();
        assert!(!address.is_empty(), "dbus-daemon printed no address");
        Self {
            daemon,
            address,
            _config: config,
        }
    }
}

impl Drop for SessionBus {
    fn drop(&mut self) {
        self.daemon.kill().ok();
        self.daemon.wait().ok();
    }
}

/// One notification as the app sent it.
#[derive(Clone, Debug)]
pub struct Shown {
    pub id: u32,
    pub app_name: String,
    pub summary: String,
    pub body: String,
    pub actions: Vec<String>,
}

/// The notification server: owns the well-known name on `bus` until
/// dropped.
pub struct NotificationServer {
    shown: Arc<Mutex<Vec<Shown>>>,
    clicks: mpsc::Sender<u32>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl NotificationServer {
    /// Serves on `bus`; returns once the name is ours.
    pub fn start(bus: &SessionBus) -> Self {
        let shown = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (clicks, click_requests) = mpsc::channel::<u32>();
        let (ready, serving) = mpsc::channel();
        let address = bus.address.clone();
        let (record, stopped) = (Arc::clone(&shown), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            let mut channel = Channel::open_private(&address).expect("connecting to the private bus");
            channel.register().expect("registering on the private bus");
            let connection = LocalConnection::from(channel);
            connection
                .request_name(NAME, false, true, true)
                .expect("owning org.freedesktop.Notifications");
            let next_id = std::cell::Cell::new(0_u32);
            connection.start_receive(
                MatchRule::new_method_call(),
                Box::new(move |call: Message, connection: &LocalConnection| {
                    let reply = answer(&call, &record, &next_id);
                    connection.channel().send(reply).ok();
                    true
                }),
            );
            ready.send(()).ok();
            while !stopped.load(Ordering::SeqCst) {
                connection.process(Duration::from_millis(50)).ok();
                while let Ok(id) = click_requests.try_recv() {
                    let signal = Message::new_signal(PATH, NAME, "ActionInvoked")
                        .expect("a signal")
                        .append2(id, "default");
                    connection.channel().send(signal).ok();
                }
            }
        });
        serving
            .recv_timeout(Duration::from_secs(10))
            .expect("the notification server starts");
        Self {
            shown,
            clicks,
            stop,
            thread: Some(thread),
        }
    }

    /// Every notification shown so far, in order.
    pub fn shown(&self) -> Vec<Shown> {
        self.shown.lock().unwrap().clone()
    }

    /// Plays a click on notification `id` (its default action).
    pub fn click(&self, id: u32) {
        self.clicks.send(id).expect("the notification server runs");
    }
}

impl Drop for NotificationServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            thread.join().ok();
        }
    }
}

/// The reply to one method call of the Notifications interface (version
/// 1.2 of the desktop notifications specification).
fn answer(call: &Message, shown: &Mutex<Vec<Shown>>, next_id: &std::cell::Cell<u32>) -> Message {
    assert_eq!(call.msg_type(), MessageType::MethodCall);
    match call.member().as_deref() {
        Some("Notify") => {
            let mut args = call.iter_init();
            let app_name: String = args.read().unwrap_or_default();
            let _replaces: u32 = args.read().unwrap_or_default();
            let _icon: String = args.read().unwrap_or_default();
            let summary: String = args.read().unwrap_or_default();
            let body: String = args.read().unwrap_or_default();
            let actions: Vec<String> = args.read().unwrap_or_default();
            next_id.set(next_id.get() + 1);
            let id = next_id.get();
            shown.lock().unwrap().push(Shown {
                id,
                app_name,
                summary,
                body,
                actions,
            });
            call.method_return().append1(id)
        }
        Some("GetCapabilities") => call
            .method_return()
            .append1(vec!["actions".to_owned(), "body".to_owned()]),
        Some("GetServerInformation") => call
            .method_return()
            .append2("paypulse-test", "paypulse")
            .append2("1", "1.2"),
        _ => call.method_return(),
    }
}
