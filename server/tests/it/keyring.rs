//! A real OS keyring for the desktop test: GNOME Keyring's Secret Service
//! on the test's private session bus, its login keyring created in the
//! test's fresh home and unlocked with a known password (as a desktop
//! session's PAM login does), and `secret-tool`, an outside client, to
//! read what the app stored there.

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dbus::blocking::Connection;
use dbus::channel::Channel;

/// The Secret Service's well-known name on the session bus.
const SECRETS: &str = "org.freedesktop.secrets";

/// `gnome-keyring-daemon`, stopped on drop.
pub struct Keyring {
    daemon: Child,
    environment: Vec<(&'static str, String)>,
}

impl Keyring {
    /// Starts the daemon with `environment` (the app's: its bus and home)
    /// and returns once the Secret Service answers on the bus.
    pub fn start(environment: &[(&'static str, String)], home: &Path) -> Self {
        let runtime = home.join("runtime");
        std::fs::create_dir_all(&runtime).expect("creating the keyring's runtime folder");
        let private = <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o700);
        std::fs::set_permissions(&runtime, private).expect("making the runtime folder private");
        let mut environment = environment.to_vec();
        environment.push(("XDG_RUNTIME_DIR", runtime.display().to_string()));
        let mut daemon = Command::new("gnome-keyring-daemon")
            .args(["--foreground", "--unlock", "--components=secrets"])
            .envs(environment.iter().map(|(name, value)| (*name, value.as_str())))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting gnome-keyring-daemon (`cargo xtask test` installs it)");
        // `--unlock` reads the login keyring's password up to the end of
        // its input, creating the keyring when there is none.
        let mut input = daemon.stdin.take().expect("the daemon's input");
        input
            .write_all(b"paypulse-test")
            .expect("giving the keyring its password");
        drop(input);
        let keyring = Self { daemon, environment };
        let bus = environment_value(&keyring.environment, "DBUS_SESSION_BUS_ADDRESS");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !has_owner(&bus, SECRETS) {
            assert!(Instant::now() < deadline, "the Secret Service never came on the bus");
            std::thread::sleep(Duration::from_millis(50));
        }
        keyring
    }

    /// The secret stored under `attributes` (pairs), as `secret-tool`
    /// reads it; `None` when there is none.
    pub fn lookup(&self, attributes: &[(&str, &str)]) -> Option<String> {
        let output = Command::new("secret-tool")
            .arg("lookup")
            .args(attributes.iter().flat_map(|(name, value)| [*name, *value]))
            .envs(self.environment.iter().map(|(name, value)| (*name, value.as_str())))
            .output()
            .expect("running secret-tool (`cargo xtask test` installs it)");
        // secret-tool exits 1 for "nothing found" and for failures alike;
        // a failure says why on stderr.
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.trim().is_empty(), "secret-tool failed: {stderr}");
        output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
    }
}

impl Drop for Keyring {
    fn drop(&mut self) {
        self.daemon.kill().ok();
        self.daemon.wait().ok();
    }
}

fn environment_value(environment: &[(&'static str, String)], name: &str) -> String {
    environment
        .iter()
        .find(|(variable, _)| *variable == name)
        .map(|(_, value)| value.clone())
        .unwrap_or_else(|| panic!("{name} is not in the app's environment"))
}

/// Whether `name` has an owner on the bus at `address`.
fn has_owner(address: &str, name: &str) -> bool {
    let mut channel = Channel::open_private(address).expect("connecting to the private bus");
    channel.register().expect("registering on the private bus");
    let connection = Connection::from(channel);
    let proxy = connection.with_proxy("org.freedesktop.DBus", "/org/freedesktop/DBus", Duration::from_secs(5));
    let (owned,): (bool,) = proxy
        .method_call("org.freedesktop.DBus", "NameHasOwner", (name,))
        .expect("asking the bus who owns a name");
    owned
}
