//! Tauri's build step: reads tauri.conf.json and capabilities/ at compile time.

fn main() {
    tauri_build::build();
}
