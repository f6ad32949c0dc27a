//! The programs the desktop test drives, each with the package that provides it. A
//! missing one fails the test and names the package: never a silent skip.

use std::path::PathBuf;

pub struct Tool {
    pub name: &'static str,
    pub install: &'static str,
}

pub const XVFB: Tool = Tool {
    name: "Xvfb",
    install: "apt-get install xvfb",
};
pub const DBUS_DAEMON: Tool = Tool {
    name: "dbus-daemon",
    install: "apt-get install dbus-daemon (or dbus)",
};
pub const DBUS_MONITOR: Tool = Tool {
    name: "dbus-monitor",
    install: "apt-get install dbus-bin (or dbus)",
};
pub const DUNST: Tool = Tool {
    name: "dunst",
    install: "apt-get install dunst",
};
pub const DUNSTCTL: Tool = Tool {
    name: "dunstctl",
    install: "apt-get install dunst",
};
pub const TRAYER: Tool = Tool {
    name: "trayer",
    install: "apt-get install trayer",
};
pub const IMPORT: Tool = Tool {
    name: "import",
    install: "apt-get install imagemagick",
};
pub const CONVERT: Tool = Tool {
    name: "convert",
    install: "apt-get install imagemagick",
};
pub const XDOTOOL: Tool = Tool {
    name: "xdotool",
    install: "apt-get install xdotool",
};
pub const WEBKIT_DRIVER: Tool = Tool {
    name: "WebKitWebDriver",
    install: "apt-get install webkit2gtk-driver",
};
pub const TAURI_DRIVER: Tool = Tool {
    name: "tauri-driver",
    install: "cargo install tauri-driver --locked",
};

impl Tool {
    /// The program's path from PATH (and ~/.cargo/bin, where `cargo install` puts
    /// tauri-driver), or a panic that says how to install it.
    pub fn require(&self) -> PathBuf {
        let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).collect())
            .unwrap_or_default();
        if let Some(home) = std::env::var_os("HOME") {
            dirs.push(PathBuf::from(home).join(".cargo/bin"));
        }
        dirs.into_iter()
            .map(|d| d.join(self.name))
            .find(|p| p.is_file())
            .unwrap_or_else(|| {
                panic!(
                    "the desktop test needs `{}`, which is not installed: {} (scripts/install-deps.sh test does it)",
                    self.name, self.install
                )
            })
    }
}
