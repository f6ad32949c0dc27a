//! BullMQ's Redis key names and connection names, as BullMQ itself builds them.

/// The keys of one queue: `<prefix>:<queue>:<suffix>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueueKeys {
    pub prefix: String,
    pub queue: String,
}

impl QueueKeys {
    pub fn new(prefix: &str, queue: &str) -> Self {
        QueueKeys {
            prefix: prefix.to_string(),
            queue: queue.to_string(),
        }
    }

    pub fn key(&self, suffix: &str) -> String {
        format!("{}:{}:{}", self.prefix, self.queue, suffix)
    }

    pub fn events(&self) -> String {
        self.key("events")
    }

    /// A job's hash: `<prefix>:<queue>:<jobId>`.
    pub fn job(&self, job_id: &str) -> String {
        self.key(job_id)
    }

    /// How BullMQ names a worker's blocking connection (`CLIENT SETNAME`):
    /// `<prefix>:<base64(queue)>`, plus `:w:<worker name>` for named workers.
    pub fn worker_client_name(&self) -> String {
        format!("{}:{}", self.prefix, base64(self.queue.as_bytes()))
    }

    /// The worker's name if `client_name` is one of this queue's workers: `Some("")`
    /// for an unnamed worker.
    pub fn worker_name<'a>(&self, client_name: &'a str) -> Option<&'a str> {
        let base = self.worker_client_name();
        let rest = client_name.strip_prefix(base.as_str())?;
        if rest.is_empty() {
            Some("")
        } else {
            rest.strip_prefix(":w:")
        }
    }
}

/// The SCAN patterns that find queues under a prefix. `meta` exists once a queue has
/// been used; `id` once a job was added.
pub fn discovery_patterns(prefix: &str) -> [String; 2] {
    [
        format!("{}:*:meta", glob_escape(prefix)),
        format!("{}:*:id", glob_escape(prefix)),
    ]
}

/// The queue name in a key found by [`discovery_patterns`].
pub fn queue_of_key(prefix: &str, key: &str) -> Option<String> {
    let rest = key.strip_prefix(prefix)?.strip_prefix(':')?;
    let queue = rest
        .strip_suffix(":meta")
        .or_else(|| rest.strip_suffix(":id"))?;
    (!queue.is_empty()).then(|| queue.to_string())
}

fn glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Standard base64 with padding, as Node's `Buffer.toString('base64')`.
fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_bullmq() {
        let k = QueueKeys::new("bull", "resume-analysis");
        assert_eq!(k.events(), "bull:resume-analysis:events");
        assert_eq!(k.job("42"), "bull:resume-analysis:42");
        // Buffer.from('resume-analysis').toString('base64')
        assert_eq!(k.worker_client_name(), "bull:cmVzdW1lLWFuYWx5c2lz");
        assert_eq!(k.worker_name("bull:cmVzdW1lLWFuYWx5c2lz"), Some(""));
        assert_eq!(
            k.worker_name("bull:cmVzdW1lLWFuYWx5c2lz:w:box-1"),
            Some("box-1")
        );
        assert_eq!(k.worker_name("bull:cmVzdW1lLWFuYWx5c2lz:qe"), None);
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"abc"), "YWJj");
    }

    #[test]
    fn discovery() {
        assert_eq!(discovery_patterns("bull")[0], "bull:*:meta");
        assert_eq!(
            queue_of_key("bull", "bull:emails:meta").as_deref(),
            Some("emails")
        );
        assert_eq!(queue_of_key("bull", "bull:a:b:id").as_deref(), Some("a:b"));
        assert_eq!(queue_of_key("bull", "other:x:meta"), None);
        assert_eq!(discovery_patterns("my*app")[1], "my\\*app:*:id");
    }
}
