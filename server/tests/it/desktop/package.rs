//! The `.deb` package: what it installs and depends on.

use super::*;

#[test]
fn desktop_package_installs_the_app_with_its_menu_entry_and_icon() {
    let package = required_path("DESKTOP_DEB");
    let installed = required_path("DESKTOP_INSTALLED");
    let field = |name: &str| {
        let output = std::process::Command::new("dpkg-deb")
            .arg("--field")
            .arg(&package)
            .arg(name)
            .output()
            .expect("running dpkg-deb");
        assert!(output.status.success(), "dpkg-deb --field {name}: {output:?}");
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    };
    assert_eq!(field("Package"), "paypulse");
    let depends = field("Depends");
    for library in ["libwebkit2gtk-4.1-0", "libgtk-3-0", "libdbus-1-3"] {
        assert!(depends.contains(library), "the package depends on {library}: {depends}");
    }
    let binary = installed.join("usr/bin/paypulse-desktop");
    assert_eq!(mode(&binary) & 0o111, 0o111, "the app is executable by everyone");
    assert_eq!(
        required_path("DESKTOP_BIN"),
        binary,
        "the desktop tests drive the app the package installs"
    );
    let entry = std::fs::read_to_string(installed.join("usr/share/applications/Paypulse.desktop"))
        .expect("the package's menu entry");
    for line in [
        "Name=Paypulse",
        "Exec=paypulse-desktop",
        "Icon=paypulse-desktop",
        "Type=Application",
    ] {
        assert!(entry.lines().any(|entry_line| entry_line == line), "{line} in {entry}");
    }
    let icons = installed.join("usr/share/icons/hicolor");
    let icon = std::fs::read_dir(&icons)
        .expect("the package's icons")
        .map(|size| size.unwrap().path().join("apps/paypulse-desktop.png"))
        .find(|icon| icon.is_file());
    assert!(
        icon.is_some(),
        "an icon named as the entry says under {}",
        icons.display()
    );
}
