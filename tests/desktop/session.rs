//! A throwaway desktop session: a virtual X display (Xvfb), a private D-Bus session
//! bus, a notification server (dunst), a tray host (trayer), and a recorder of every
//! call to org.freedesktop.Notifications on that bus (dbus-monitor). Everything is
//! killed when the session is dropped.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::tools;

const START_DEADLINE: Duration = Duration::from_secs(15);

pub struct Session {
    pub display: String,
    pub bus: String,
    /// Notification calls seen on the bus, one string per message (its lines joined).
    notify_log: Arc<Mutex<Vec<String>>>,
    children: Vec<(String, Child)>,
}

impl Session {
    pub fn start(logs: &Path) -> Session {
        let mut s = Session {
            display: String::new(),
            bus: String::new(),
            notify_log: Arc::default(),
            children: Vec::new(),
        };
        s.start_display(logs);
        s.start_bus();
        s.start_monitor();
        let dunst = Command::new(tools::DUNST.require())
            .envs(s.env())
            .stdout(log_file(logs, "dunst.log"))
            .stderr(log_file(logs, "dunst.log"))
            .spawn()
            .expect("start dunst");
        s.children.push(("dunst".into(), dunst));
        // A tray host, so the tray icon really exists (and shows in the screenshot,
        // below the window: without a window manager the window sits at the top left).
        let trayer = Command::new(tools::TRAYER.require())
            .args([
                "--edge",
                "bottom",
                "--align",
                "right",
                "--widthtype",
                "request",
                "--height",
                "28",
            ])
            .args([
                "--transparent",
                "true",
                "--alpha",
                "0",
                "--tint",
                "0x202020",
            ])
            .envs(s.env())
            .stdout(log_file(logs, "trayer.log"))
            .stderr(log_file(logs, "trayer.log"))
            .spawn()
            .expect("start trayer");
        s.children.push(("trayer".into(), trayer));
        s
    }

    /// DISPLAY and DBUS_SESSION_BUS_ADDRESS for programs joining this session.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("DISPLAY", self.display.clone()),
            ("DBUS_SESSION_BUS_ADDRESS", self.bus.clone()),
        ]
    }

    /// Waits until a `Notify` call whose text contains `needle` was made on the bus.
    pub async fn wait_for_notification(&self, needle: &str, deadline: Duration) -> Option<String> {
        let give_up = Instant::now() + deadline;
        loop {
            let found = self
                .notify_log
                .lock()
                .unwrap()
                .iter()
                .find(|m| m.contains("member=Notify") && m.contains(needle))
                .cloned();
            if found.is_some() || Instant::now() >= give_up {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// What a click on the newest notification does: its default action, which the
    /// server reports to the app as `ActionInvoked(id, "default")`.
    pub fn click_notification(&self) {
        let status = Command::new(tools::DUNSTCTL.require())
            .args(["action", "0"])
            .envs(self.env())
            .status()
            .expect("run dunstctl");
        assert!(status.success(), "dunstctl action failed");
    }

    pub fn notify_calls(&self) -> Vec<String> {
        self.notify_log.lock().unwrap().clone()
    }

    /// The whole screen (window, tray host) as a PNG.
    pub fn screenshot(&self, to: &Path) {
        self.capture("root", to);
    }

    /// Writes X window `window` (an id, or `root` for the screen) as a PNG.
    fn capture(&self, window: &str, to: &Path) {
        let status = Command::new(tools::IMPORT.require())
            .args(["-display", &self.display, "-window", window])
            .arg(to)
            .status()
            .expect("run import");
        assert!(
            status.success(),
            "import (ImageMagick) could not capture window {window}"
        );
    }

    /// The visible top-level window titled exactly `title`, as a PNG: its pixels as the
    /// X server has them, what the user sees (not WebDriver's screenshot: see
    /// webdriver.rs). Without a window manager the window has no frame, so this is the
    /// webview itself; what another window covers (a notification) comes out black.
    pub fn window_screenshot(&self, title: &str, to: &Path) {
        let out = Command::new(tools::XDOTOOL.require())
            // Top-level windows only: the tray icon, titled after the app too, is
            // embedded in the tray host's window.
            .args(["search", "--maxdepth", "1", "--onlyvisible", "--name"])
            .arg(format!("^{title}$"))
            .envs(self.env())
            .output()
            .expect("run xdotool");
        let found = String::from_utf8_lossy(&out.stdout);
        let ids: Vec<&str> = found.split_whitespace().collect();
        let [id] = ids[..] else {
            panic!("expected one visible window titled {title:?}, xdotool found {ids:?}");
        };
        self.capture(id, to);
    }

    /// Whether the tray host's strip (the bottom of the screen) shows `colour`, the
    /// lamp of one of the tray icons (icons/make-icons.sh).
    pub fn tray_shows(&self, colour: &str, scratch: &Path) -> bool {
        self.screenshot(scratch);
        let out = Command::new(tools::CONVERT.require())
            .arg(scratch)
            .args(["-crop", "1280x40+0+860", "+repage", "-fuzz", "15%"])
            .args([
                "-fill", "black", "+opaque", colour, "-fill", "white", "-opaque", colour,
            ])
            .args(["-format", "%[fx:mean]", "info:"])
            .output()
            .expect("run convert");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse::<f64>()
            .unwrap_or(0.0)
            > 0.0
    }

    /// The first free display number from a pid-derived start, so parallel runs on one
    /// machine do not collide. Xvfb's lock files say which are taken.
    fn start_display(&mut self, logs: &Path) {
        let xvfb = tools::XVFB.require();
        let base = 100 + (std::process::id() % 400);
        for n in base..base + 50 {
            if Path::new(&format!("/tmp/.X{n}-lock")).exists() {
                continue;
            }
            let child = Command::new(&xvfb)
                .arg(format!(":{n}"))
                .args(["-screen", "0", "1280x900x24", "-nolisten", "tcp"])
                .stdout(log_file(logs, "xvfb.log"))
                .stderr(log_file(logs, "xvfb.log"))
                .spawn()
                .expect("start Xvfb");
            self.children.push(("Xvfb".into(), child));
            let socket = PathBuf::from(format!("/tmp/.X11-unix/X{n}"));
            let give_up = Instant::now() + START_DEADLINE;
            while !socket.exists() {
                if let Some((_, c)) = self.children.last_mut() {
                    if let Ok(Some(_)) = c.try_wait() {
                        break; // lost a race for this display number: try the next
                    }
                }
                assert!(Instant::now() < give_up, "Xvfb :{n} did not start");
                std::thread::sleep(Duration::from_millis(50));
            }
            if socket.exists() {
                self.display = format!(":{n}");
                return;
            }
            self.children.pop();
        }
        panic!("no free X display number from :{base}");
    }

    /// A private session bus: the test's notifications and the single-instance name
    /// must not reach (or collide with) a real desktop's.
    fn start_bus(&mut self) {
        let mut child = Command::new(tools::DBUS_DAEMON.require())
            .args(["--session", "--nofork", "--nopidfile", "--print-address=1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start dbus-daemon");
        let mut out = BufReader::new(child.stdout.take().expect("piped"));
        let mut line = String::new();
        out.read_line(&mut line).expect("read the bus address");
        self.bus = line.trim().to_string();
        assert!(!self.bus.is_empty(), "dbus-daemon printed no address");
        self.children.push(("dbus-daemon".into(), child));
    }

    fn start_monitor(&mut self) {
        let mut child = Command::new(tools::DBUS_MONITOR.require())
            .args(["--session", "interface='org.freedesktop.Notifications'"])
            .envs(self.env())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start dbus-monitor");
        let out = BufReader::new(child.stdout.take().expect("piped"));
        let log = self.notify_log.clone();
        // dbus-monitor prints a header line per message, then indented arguments.
        std::thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                let mut log = log.lock().unwrap();
                if line.starts_with(' ') || line.starts_with('\t') {
                    if let Some(last) = log.last_mut() {
                        last.push('\n');
                        last.push_str(&line);
                        continue;
                    }
                }
                log.push(line);
            }
        });
        self.children.push(("dbus-monitor".into(), child));
        // dbus-monitor needs a moment to install its match rule; a notification sent
        // before would go unseen. Its first output is the NameAcquired signal it gets.
        let give_up = Instant::now() + START_DEADLINE;
        while self.notify_log.lock().unwrap().is_empty() {
            assert!(Instant::now() < give_up, "dbus-monitor did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // Last started, first stopped: the display goes after its clients.
        for (_, child) in self.children.iter_mut().rev() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// How many distinct colours a picture has: 1 for a blank one.
pub fn colours(picture: &Path) -> u64 {
    let out = Command::new(tools::CONVERT.require())
        .arg(picture)
        .args(["-format", "%k", "info:"])
        .output()
        .expect("run convert");
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim()
        .parse()
        .unwrap_or_else(|_| panic!("convert -format %k {}: {text:?}", picture.display()))
}

pub fn log_file(dir: &Path, name: &str) -> std::fs::File {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(name))
        .expect("open a log file")
}
