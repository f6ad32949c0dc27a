//! Loader tests: real files in temporary directories, a fake environment.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;
use crate::model::Status;
use crate::source::url::SourceUrl;

struct Fixture {
    dir: tempfile::TempDir,
    paths: DefaultPaths,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let paths = DefaultPaths {
            config_dir: Some(dir.path().join("config")),
            data_dir: Some(dir.path().join("data")),
        };
        Fixture { dir, paths }
    }

    /// Writes `text` at the default config location.
    fn write_default(&self, text: &str) -> PathBuf {
        let path = self.paths.config_file().unwrap();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn load(
        &self,
        explicit: Option<&Path>,
        env: &[(&str, &str)],
    ) -> Result<LoadedConfig, ConfigError> {
        let vars: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::load_with(explicit, &self.paths, &move |name| vars.get(name).cloned())
    }
}

/// Parses `text` as telltale.toml and returns its problems as (line, rendered).
fn problems_of(text: &str) -> Vec<(usize, String)> {
    let paths = DefaultPaths {
        config_dir: None,
        data_dir: Some(PathBuf::from("/data")),
    };
    match Config::from_toml(text, Path::new("telltale.toml"), &paths) {
        Ok((_, warnings)) => warnings
            .iter()
            .map(|p| (p.line().unwrap(), p.to_string()))
            .collect(),
        Err(e) => e
            .problems()
            .iter()
            .map(|p| (p.line().unwrap(), p.to_string()))
            .collect(),
    }
}

const FULL: &str = r#"
[store]
db = "history/telltale.db"
retention = { max_age = "7d", max_size = "500MB" }

[relay]
listen = "127.0.0.1:0"
token = "${RELAY_TOKEN}"

[[sources]]
name = "api"
url = "https://api.example.com/events?tenant=acme"
bearer = "${API_TOKEN}"
headers = { "X-Tenant" = "acme", "X-Api-Key" = "${API_KEY}" }
idle_timeout = "45s"
follow = false
subscribe = ["/api/v1/sse/{connectionId}/subscribe/queue/emails"]

[sources.overrides]
entity = "/data/jobId"
status = "/data/state"
parent = "@channel/1"
kind = "@channel"

[[sources]]
name = "redis"
url = "redis://:${REDIS_PASSWORD}@localhost:6379/0?channel=batch-progress&pattern=test:*:status"
enabled = false

[[sources]]
name = "queues"
url = "bullmq://localhost:6379/0?queue=emails"
poll_interval = "2s"

[[sources]]
name = "one-job"
url = "http://localhost:3000/jobs/42/stream"
follow = false
idle_timeout = "off"

[notifications]
enabled = true
statuses = ["failed", "stalled"]
sources = ["api", "queues"]
queues = ["emails"]
coalesce = "30s"
snooze = "2h"
"#;

#[test]
fn full_file_loads_every_field() {
    let fx = Fixture::new();
    let path = fx.write_default(FULL);
    let loaded = fx.load(None, &[]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(loaded.path.as_deref(), Some(path.as_path()));
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let c = loaded.config;

    // Relative paths are anchored at the config file's directory.
    assert_eq!(
        c.store.db,
        path.parent().unwrap().join("history/telltale.db")
    );
    assert_eq!(
        c.store.retention.max_age,
        Some(Duration::from_secs(7 * 86_400))
    );
    assert_eq!(c.store.retention.max_size, Some(500_000_000));
    assert_eq!(c.relay.listen.to_string(), "127.0.0.1:0");
    assert_eq!(c.relay.token, Some(Secret::new("${RELAY_TOKEN}")));

    assert_eq!(c.sources.len(), 4);
    let one = c.source("one-job").unwrap();
    assert!(!one.follow);
    assert_eq!(one.idle_timeout, Duration::ZERO);
    let api = c.source("api").unwrap();
    assert!(matches!(api.url, SourceUrl::Sse { .. }));
    assert!(api.enabled);
    assert_eq!(api.bearer.as_ref().unwrap().variables(), ["API_TOKEN"]);
    assert_eq!(api.headers.len(), 2);
    assert!(api.headers["X-Tenant"].is_literal());
    assert_eq!(api.idle_timeout, Duration::from_secs(45));
    assert!(!api.follow);
    assert_eq!(
        api.subscribe,
        ["/api/v1/sse/{connectionId}/subscribe/queue/emails"]
    );
    assert_eq!(api.overrides.entity.as_deref(), Some("/data/jobId"));
    assert_eq!(api.overrides.status.as_deref(), Some("/data/state"));
    assert_eq!(api.overrides.parent.as_deref(), Some("@channel/1"));
    assert_eq!(api.overrides.kind.as_deref(), Some("@channel"));
    assert_eq!(api.overrides.message, None);

    let redis = c.source("redis").unwrap();
    assert!(!redis.enabled);
    let SourceUrl::RedisPubSub {
        conn,
        channels,
        patterns,
    } = &redis.url
    else {
        panic!("{:?}", redis.url)
    };
    assert_eq!(channels, &["batch-progress"]);
    assert_eq!(patterns, &["test:*:status"]);
    assert_eq!(
        conn.connection_url_with(|_| Ok(Some("pw".into()))).unwrap(),
        "redis://:pw@localhost:6379/0"
    );

    let queues = c.source("queues").unwrap();
    assert_eq!(queues.poll_interval, Duration::from_secs(2));
    assert_eq!(queues.idle_timeout, DEFAULT_IDLE_TIMEOUT);

    let n = &c.notifications;
    assert!(n.enabled);
    assert_eq!(n.statuses, [Status::Failed, Status::Stalled]);
    assert_eq!(n.sources, ["api", "queues"]);
    assert_eq!(n.queues, ["emails"]);
    assert_eq!(n.coalesce, Duration::from_secs(30));
    assert_eq!(n.snooze, Duration::from_secs(7_200));
}

#[test]
fn missing_default_file_means_defaults() {
    let fx = Fixture::new();
    let loaded = fx.load(None, &[]).unwrap();
    assert_eq!(loaded.path, None);
    assert!(loaded.warnings.is_empty());
    let c = loaded.config;
    assert_eq!(c, Config::defaults(&fx.paths));
    assert_eq!(c.store.db, fx.dir.path().join("data").join("telltale.db"));
    assert_eq!(c.relay.listen, DEFAULT_LISTEN);
    assert_eq!(c.store.retention.max_age, Some(DEFAULT_MAX_AGE));
    assert_eq!(c.store.retention.max_size, Some(2 * 1024 * 1024 * 1024));
    assert!(c.sources.is_empty());
    assert_eq!(c.notifications.statuses, [Status::Failed]);
}

#[test]
fn missing_explicit_file_is_an_error() {
    let fx = Fixture::new();
    let missing = fx.dir.path().join("nope.toml");
    let err = fx.load(Some(&missing), &[]).unwrap_err();
    assert!(
        matches!(&err, ConfigError::NotFound { path } if *path == missing),
        "{err}"
    );
    assert!(err.to_string().contains("nope.toml does not exist"));

    // TELLTALE_CONFIG is an explicit choice too.
    let err = fx
        .load(None, &[("TELLTALE_CONFIG", missing.to_str().unwrap())])
        .unwrap_err();
    assert!(matches!(err, ConfigError::NotFound { .. }), "{err}");
}

#[test]
fn explicit_path_wins_over_env_and_default() {
    let fx = Fixture::new();
    fx.write_default("[relay]\nlisten = \"127.0.0.1:1\"\n");
    let from_env = fx.write("env.toml", "[relay]\nlisten = \"127.0.0.1:2\"\n");
    let explicit = fx.write("explicit.toml", "[relay]\nlisten = \"127.0.0.1:3\"\n");
    let env = [("TELLTALE_CONFIG", from_env.to_str().unwrap())];

    let c = fx.load(Some(&explicit), &env).unwrap();
    assert_eq!(c.config.relay.listen.port(), 3);
    assert_eq!(c.path.as_deref(), Some(explicit.as_path()));
    let c = fx.load(None, &env).unwrap();
    assert_eq!(c.config.relay.listen.port(), 2);
    let c = fx.load(None, &[]).unwrap();
    assert_eq!(c.config.relay.listen.port(), 1);
    // An empty TELLTALE_CONFIG counts as unset.
    let c = fx.load(None, &[("TELLTALE_CONFIG", "")]).unwrap();
    assert_eq!(c.config.relay.listen.port(), 1);
}

#[test]
fn environment_overrides_the_file() {
    let fx = Fixture::new();
    fx.write_default(
        "[store]\ndb = \"/file.db\"\nretention = { max_age = \"90d\" }\n\
         [relay]\nlisten = \"127.0.0.1:1\"\n[notifications]\nenabled = true\n",
    );
    let c = fx
        .load(
            None,
            &[
                ("TELLTALE_DB", "/env.db"),
                ("TELLTALE_LISTEN", "127.0.0.1:9"),
                ("TELLTALE_TOKEN", "from-env"),
                ("TELLTALE_RETENTION_DAYS", "3"),
                ("TELLTALE_RETENTION_MAX_SIZE", "off"),
                ("TELLTALE_NOTIFICATIONS", "off"),
            ],
        )
        .unwrap()
        .config;
    assert_eq!(c.store.db, PathBuf::from("/env.db"));
    assert_eq!(c.relay.listen.port(), 9);
    // The token stays a reference to the variable, not a copy of its value.
    assert_eq!(c.relay.token, Some(Secret::from_env_var("TELLTALE_TOKEN")));
    assert!(!format!("{c:?}").contains("from-env"));
    assert_eq!(
        c.store.retention.max_age,
        Some(Duration::from_secs(3 * 86_400))
    );
    assert_eq!(c.store.retention.max_size, None);
    assert!(!c.notifications.enabled);

    // Without the environment, the file's values stand.
    let c = fx.load(None, &[]).unwrap().config;
    assert_eq!(c.store.db, PathBuf::from("/file.db"));
    assert_eq!(
        c.store.retention.max_age,
        Some(Duration::from_secs(90 * 86_400))
    );
    assert_eq!(c.relay.listen.port(), 1);
}

#[test]
fn environment_applies_without_a_file() {
    let fx = Fixture::new();
    let c = fx
        .load(None, &[("TELLTALE_LISTEN", "localhost:0")])
        .unwrap();
    assert_eq!(c.path, None);
    assert_eq!(c.config.relay.listen.to_string(), "127.0.0.1:0");
}

#[test]
fn bad_environment_values_are_all_reported() {
    let fx = Fixture::new();
    fx.write_default("[relay]\nlisten = 5\n");
    let err = fx
        .load(
            None,
            &[
                ("TELLTALE_LISTEN", "nowhere"),
                ("TELLTALE_RETENTION_DAYS", "0"),
                ("TELLTALE_RETENTION_MAX_SIZE", "big"),
                ("TELLTALE_NOTIFICATIONS", "maybe"),
            ],
        )
        .unwrap_err();
    let rendered: Vec<String> = err.problems().iter().map(|p| p.to_string()).collect();
    assert_eq!(rendered.len(), 5, "{rendered:#?}");
    // File problems come first, in file order.
    assert!(rendered[0].ends_with(":2:10: relay.listen: expected a string, found an integer"));
    for var in [
        "TELLTALE_LISTEN",
        "TELLTALE_RETENTION_DAYS",
        "TELLTALE_RETENTION_MAX_SIZE",
        "TELLTALE_NOTIFICATIONS",
    ] {
        assert!(
            rendered
                .iter()
                .any(|r| r.starts_with(&format!("environment variable {var}: "))),
            "{var} missing in {rendered:#?}"
        );
    }
}

#[test]
fn every_problem_is_reported_with_its_line() {
    let text = r#"[store]
db = ""
retention = { max_age = "forever", max_size = "lots" }

[relay]
listen = "nowhere:port"
colour = "blue"

[[sources]]
name = "api"
url = "https://api.example.com/events"
enabeld = true
idle_timeout = "0s"

[[sources]]
name = "old"
url = "ftp://files.example.com/x"

[[sources]]
name = "api"
url = "redis://localhost:6379/0"
bearer = "${X}"

[[sources]]
url = "bullmq://localhost"
subscribe = ["no-slash"]
overrides = { entity = "data/id", colour = "/x", parent = "@channel/x" }

[notifications]
statuses = ["failed", "faild"]
coalesce = 10
sources = ["apl"]
"#;
    let got = problems_of(text);
    let expected: &[(usize, &str)] = &[
        (2, "telltale.toml:2:6: store.db: must not be empty"),
        (3, "telltale.toml:3:25: store.retention.max_age: invalid duration \"forever\""),
        (3, "telltale.toml:3:47: store.retention.max_size: invalid size \"lots\""),
        (6, "telltale.toml:6:10: relay.listen: invalid address \"nowhere:port\""),
        (7, "telltale.toml:7:1: relay.colour: unknown key"),
        (12, "telltale.toml:12:1: sources[0].enabeld: unknown key (did you mean \"enabled\"?)"),
        (13, "telltale.toml:13:16: sources[0].idle_timeout: must be longer than zero"),
        (17, "telltale.toml:17:7: sources[1].url: unsupported scheme \"ftp\" (use http, https, redis, rediss, bullmq or bullmqs)"),
        (20, "telltale.toml:20:8: sources[2].name: duplicate source name \"api\" (first used on line 10)"),
        (21, "telltale.toml:21:7: sources[2].url: nothing to subscribe to"),
        (24, "telltale.toml:24:1: sources[3]: missing key \"name\" (e.g. name = \"localhost:6379/bull:*\")"),
        (26, "telltale.toml:26:1: sources[3].subscribe: only applies to http(s):// (SSE) sources, not to a bullmq:// source"),
        (26, "telltale.toml:26:14: sources[3].subscribe[0]: \"no-slash\" must be a path starting with '/'"),
        (27, "telltale.toml:27:24: sources[3].overrides.entity: \"data/id\" is not a JSON pointer"),
        (27, "telltale.toml:27:35: sources[3].overrides.colour: unknown key"),
        (27, "telltale.toml:27:59: sources[3].overrides.parent: \"@channel/x\": write @channel"),
        (30, "telltale.toml:30:23: notifications.statuses[1]: unknown status \"faild\" (did you mean \"failed\"?)"),
        (31, "telltale.toml:31:12: notifications.coalesce: expected a string, found an integer"),
        (32, "telltale.toml:32:12: notifications.sources[0]: no source is named \"apl\" (did you mean \"api\"?)"),
    ];
    for (line, want) in expected {
        assert!(
            got.iter().any(|(l, r)| l == line && r.starts_with(want)),
            "missing {want:?}\ngot:\n{}",
            got.iter()
                .map(|(_, r)| r.as_str())
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    // bearer on line 22 is an SSE-only key on a redis source: reported too.
    assert!(got
        .iter()
        .any(|(l, r)| *l == 22 && r.contains("sources[2].bearer: only applies to http(s)")));
    assert!(got.windows(2).all(|w| w[0].0 <= w[1].0), "sorted by line");
    assert_eq!(got.len(), expected.len() + 1, "{got:#?}");
}

#[test]
fn syntax_errors_are_reported_with_the_other_problems() {
    let text = "[relay]\nlisten = \n\n[store]\nbd = \"x\"\nretention = { max_age = \"1d\" \n";
    let got = problems_of(text);
    let lines: Vec<usize> = got.iter().map(|(l, _)| *l).collect();
    assert!(lines.contains(&2), "{got:#?}");
    assert!(
        got.iter()
            .any(|(l, r)| *l == 2 && r.contains("TOML syntax")),
        "{got:#?}"
    );
    assert!(
        got.iter()
            .any(|(l, r)| *l == 5 && r.contains("store.bd: unknown key (did you mean \"db\"?)")),
        "{got:#?}"
    );
    assert!(
        got.iter()
            .any(|(l, r)| *l == 6 && r.contains("TOML syntax")),
        "{got:#?}"
    );
}

#[test]
fn unknown_top_level_key_suggests_the_right_one() {
    let got = problems_of("[[source]]\nname = \"a\"\nurl = \"http://h/e\"\n");
    assert_eq!(got.len(), 1, "{got:#?}");
    assert!(got[0]
        .1
        .starts_with("telltale.toml:1:3: source: unknown key (did you mean \"sources\"?)"));
}

#[test]
fn wrong_shapes_are_reported_not_panicked_on() {
    for text in [
        "store = 5",
        "sources = 5",
        "sources = [5]",
        "sources = { name = \"a\" }",
        "[[sources]]\nname = 5\nurl = 6\nheaders = 7\noverrides = []\nsubscribe = \"x\"\n",
        "[notifications]\nstatuses = \"failed\"\nsources = [1]\n",
        "[store.retention]\nmax_size = -1\n",
        "[store.retention]\nmax_size = 99999999999999999999\n",
    ] {
        let got = problems_of(text);
        assert!(!got.is_empty(), "{text}");
    }
    let got = problems_of(
        "[[sources]]\nname = 5\nurl = 6\nheaders = 7\noverrides = []\nsubscribe = \"x\"\n",
    );
    assert_eq!(got.len(), 5, "{got:#?}");
}

#[test]
fn kind_specific_keys_and_conflicts() {
    let got = problems_of(
        r#"[[sources]]
name = "r"
url = "redis://h?channel=c"
poll_interval = "1s"
token = "${T}"

[[sources]]
name = "s"
subscribe = ["/a/{connectionID}/b", "/a/{connectionId", "/a/}", "/ok/{connectionId}/x"]
url = "https://h/e?token=${T}"
token = "${T}"
bearer = "${B}"
headers = { Authorization = "Bearer ${B}", Accept = "x", "Bad Name" = "y" }
poll_interval = "1s"
"#,
    );
    let find = |line: usize, needle: &str| {
        assert!(
            got.iter().any(|(l, r)| *l == line && r.contains(needle)),
            "line {line}: {needle}\n{got:#?}"
        )
    };
    find(
        4,
        "sources[0].poll_interval: only applies to bullmq:// sources",
    );
    find(5, "sources[0].token: only applies to http(s):// (SSE) sources, not to a redis:// source; a Redis password goes in the URL");
    find(9, "sources[1].subscribe[0]: \"/a/{connectionID}/b\": unknown placeholder {connectionID} (did you mean \"connectionId\"?)");
    find(
        9,
        "sources[1].subscribe[1]: \"/a/{connectionId\": unclosed '{' placeholder",
    );
    find(9, "sources[1].subscribe[2]: \"/a/}\": '}' without '{'");
    find(11, "sources[1].token: the url already has ?token=");
    find(
        12,
        "sources[1].bearer: both bearer and an Authorization header are set",
    );
    find(13, "sources[1].headers.Accept: set by Telltale itself");
    find(
        13,
        "sources[1].headers.\"Bad Name\": not a valid HTTP header name",
    );
    find(
        14,
        "sources[1].poll_interval: only applies to bullmq:// sources",
    );
    assert_eq!(got.len(), 10, "{got:#?}");
}

#[test]
fn literal_secrets_load_with_warnings() {
    let fx = Fixture::new();
    let path = fx.write(
        "secrets.toml",
        r#"[relay]
token = "relay-literal-1"

[[sources]]
name = "api"
url = "https://user:url-pass-2@api.example.com/events?token=url-token-3"
bearer = "bearer-literal-4"
headers = { "X-Api-Key" = "header-literal-5", "X-Tenant" = "acme" }

[[sources]]
name = "redis"
url = "redis://:redis-pass-6@localhost:6379/0?channel=c"
"#,
    );
    let loaded = fx.load(Some(&path), &[]).unwrap_or_else(|e| panic!("{e}"));
    let w: Vec<String> = loaded.warnings.iter().map(|p| p.to_string()).collect();
    let lines: Vec<usize> = loaded.warnings.iter().filter_map(Problem::line).collect();
    // One warning per literal secret; the tenant header is not a credential.
    assert_eq!(lines, [2, 6, 6, 7, 8, 12], "{w:#?}");
    assert!(
        w.iter()
            .all(|m| m.contains("warning: ") && m.contains("${API_TOKEN}")),
        "{w:#?}"
    );
    assert!(w[1].contains("sources[0].url: password written in the file"));
    assert!(w[2].contains("sources[0].url: query parameter \"token\" written in the file"));

    // None of the values shows up in anything printable.
    let printed = format!(
        "{:?}\n{:#?}\n{}\n{}",
        loaded,
        loaded.config,
        w.join("\n"),
        loaded
            .config
            .sources
            .iter()
            .map(|s| s.url.to_string())
            .collect::<Vec<_>>()
            .join("\n"),
    );
    for secret in [
        "relay-literal-1",
        "url-pass-2",
        "url-token-3",
        "bearer-literal-4",
        "header-literal-5",
        "redis-pass-6",
    ] {
        assert!(!printed.contains(secret), "{secret} leaked:\n{printed}");
    }
    // But they are kept, for use.
    let api = loaded.config.source("api").unwrap();
    assert_eq!(
        api.bearer.as_ref().unwrap().resolve().unwrap(),
        "bearer-literal-4"
    );
}

#[test]
fn secrets_stay_hidden_in_errors() {
    let fx = Fixture::new();
    let path = fx.write(
        "bad.toml",
        "[[sources]]\nname = \"a\"\nurl = \"redis://:hunter2@h/x?channel=c\"\nbearer = \"hunter3\"\n",
    );
    let err = fx.load(Some(&path), &[]).unwrap_err();
    let printed = format!("{err}\n{err:?}");
    assert!(printed.contains("not \"/x\""), "{printed}");
    assert!(
        !printed.contains("hunter2") && !printed.contains("hunter3"),
        "{printed}"
    );
}

#[test]
fn error_message_lists_every_problem() {
    let fx = Fixture::new();
    let path = fx.write("two.toml", "[relay]\nlisten = \"x\"\n[store]\nfoo = 1\n");
    let err = fx.load(Some(&path), &[]).unwrap_err().to_string();
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 3, "{err}");
    assert!(lines[0].starts_with("invalid configuration in ") && lines[0].ends_with("(2 errors):"));
    assert!(lines[1].contains("two.toml:2:10: relay.listen: invalid address"));
    assert!(lines[2].contains("two.toml:4:1: store.foo: unknown key"));
}

#[test]
fn retention_limits_can_be_turned_off() {
    let (c, w) = Config::from_toml(
        "[store.retention]\nmax_age = \"off\"\nmax_size = 1048576\n",
        Path::new("t.toml"),
        &DefaultPaths {
            config_dir: None,
            data_dir: None,
        },
    )
    .unwrap();
    assert!(w.is_empty());
    assert_eq!(c.store.retention.max_age, None);
    assert_eq!(c.store.retention.max_size, Some(1_048_576));
    assert_eq!(c.store.db, PathBuf::from("telltale.db"));
}

#[test]
fn non_loopback_listen_is_a_warning() {
    let got = problems_of("[relay]\nlisten = \"0.0.0.0:7412\"\n");
    assert_eq!(got.len(), 1);
    assert!(got[0]
        .1
        .contains("2:10: warning: relay.listen: 0.0.0.0 is not a loopback address"));
}

#[test]
fn default_file_is_valid_and_means_defaults() {
    let fx = Fixture::new();
    let text = default_config_text(&fx.paths);
    let path = fx.paths.config_file().unwrap();
    let (c, warnings) =
        Config::from_toml(&text, &path, &fx.paths).unwrap_or_else(|e| panic!("{e}"));
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(c, Config::defaults(&fx.paths));

    // Every commented-out setting, uncommented, is valid too (sources blocks aside,
    // which are alternatives of one another).
    let uncommented: String = text
        .lines()
        .map(|l| match l.strip_prefix("# ") {
            Some(rest)
                if !rest.starts_with('[') && rest.contains(" = ") && !text_is_source_line(rest) =>
            {
                rest.split(" #").next().unwrap().to_string()
            }
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    let (c2, _) = Config::from_toml(&uncommented, &path, &fx.paths)
        .unwrap_or_else(|e| panic!("{e}\n{uncommented}"));
    assert_eq!(c2.store, c.store);
    assert_eq!(c2.notifications, c.notifications);
    assert_eq!(c2.relay.listen, c.relay.listen);
}

fn text_is_source_line(line: &str) -> bool {
    [
        "name",
        "url",
        "enabled",
        "bearer",
        "token = \"${API",
        "headers",
        "idle_timeout",
        "follow",
        "subscribe",
        "entity",
        "status",
        "poll_interval",
    ]
    .iter()
    .any(|k| line.starts_with(k))
}

#[test]
fn write_default_never_overwrites() {
    let fx = Fixture::new();
    let path = fx.dir.path().join("new/dir/telltale.toml");
    write_default_file(&path, &fx.paths).unwrap();
    let first = std::fs::read_to_string(&path).unwrap();
    assert!(first.contains("[store]"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    std::fs::write(&path, "# edited\n").unwrap();
    let err = write_default_file(&path, &fx.paths).unwrap_err();
    assert!(matches!(err, ConfigError::AlreadyExists { .. }), "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "# edited\n");
    // And the written default loads.
    std::fs::write(&path, &first).unwrap();
    let loaded = fx.load(Some(&path), &[]).unwrap();
    assert_eq!(loaded.config, Config::defaults(&fx.paths));
}

#[test]
fn ad_hoc_source_is_named_after_its_url() {
    let url = SourceUrl::parse("redis://:pw@localhost:6379/0?channel=batch-progress").unwrap();
    let s = SourceConfig::ad_hoc(url);
    assert_eq!(s.name, "localhost:6379/batch-progress");
    assert!(s.enabled && s.follow);
    assert_eq!(s.poll_interval, DEFAULT_POLL_INTERVAL);
    assert!(!format!("{s:?}").contains(":pw@"));
}

proptest::proptest! {
    /// Whatever the file holds, loading reports problems; it never panics.
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let _ = problems_of(&text);
    }

    /// Damage to a valid file (a byte range replaced) still yields located problems.
    #[test]
    fn damaged_valid_file_never_panics(at in 0usize..FULL.len(), len in 0usize..20, junk in "[\\[\\]{}=\"'#\\n a-z0-9.,${}:/]{0,12}") {
        let mut text = FULL.to_string();
        let start = (0..=at).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
        let end = (start + len).min(text.len());
        let end = (end..=text.len()).find(|i| text.is_char_boundary(*i)).unwrap_or(text.len());
        text.replace_range(start..end, &junk);
        for (line, _) in problems_of(&text) {
            proptest::prop_assert!(line >= 1 && line <= text.lines().count() + 1);
        }
    }
}

#[test]
fn a_huge_file_is_refused_before_parsing_and_syntax_errors_are_capped() {
    let paths = DefaultPaths {
        config_dir: None,
        data_dir: None,
    };
    let huge = "# padding\n".repeat(30_000);
    let err = Config::from_toml(&huge, Path::new("big.toml"), &paths).unwrap_err();
    let problems = err.problems();
    assert_eq!(problems.len(), 1);
    assert!(
        problems[0].message.contains("few KB"),
        "{}",
        problems[0].message
    );

    let broken = format!(
        "[[sources]]\nsubscribe = [\"/x }}\n{}",
        "subscrib }\n".repeat(500)
    );
    let err = Config::from_toml(&broken, Path::new("broken.toml"), &paths).unwrap_err();
    let n = err.problems().len();
    assert!(n <= 25, "{n} problems for one broken array");
    assert!(err.to_string().contains("fix the ones above first") || n < 21);
}
