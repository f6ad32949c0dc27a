//! What the simulated company runs: its queues, their stages, workers and the ways
//! their jobs fail. Modelled on the seeds (seed 004's resume analysis above all), so
//! the demo board looks like a real one.

pub(crate) struct Failure {
    pub error: &'static str,
    /// Worth retrying (a timeout, a 429), as opposed to bad input that fails again.
    pub transient: bool,
}

pub(crate) struct QueueSpec {
    pub name: &'static str,
    /// Job ids are `<prefix>-<n>`.
    pub prefix: &'static str,
    /// (stage, what the job says while in it)
    pub stages: &'static [(&'static str, &'static str)],
    pub done_message: &'static str,
    /// Mean time between arrivals, simulated ms.
    pub arrival_ms: u64,
    /// Time spent in one stage, simulated ms.
    pub stage_ms: (u64, u64),
    /// Chance that one attempt fails.
    pub failure_rate: f64,
    pub failures: &'static [Failure],
    pub max_attempts: u32,
    /// (worker id, concurrency)
    pub workers: &'static [(&'static str, usize)],
}

pub(crate) static QUEUES: [QueueSpec; 4] = [
    QueueSpec {
        name: "resume-analysis",
        prefix: "resume",
        stages: &[
            ("initializing", "Preparing analysis"),
            ("fetching", "Downloading resume from storage"),
            ("parsing", "Parsing resume content"),
            ("extracting", "Extracting skills and experience"),
            ("analyzing", "Scoring candidate against the role"),
            ("storing", "Saving analysis results"),
        ],
        done_message: "Resume analysis complete",
        arrival_ms: 9_000,
        stage_ms: (700, 2_600),
        failure_rate: 0.14,
        failures: &[
            Failure {
                error: "OpenAI API error 429: Rate limit reached for gpt-4o-mini in organization org-demo on tokens per min",
                transient: true,
            },
            Failure {
                error: "PDFParseError: unexpected end of stream at offset 48213 (resume.pdf)",
                transient: false,
            },
            Failure {
                error: "TimeoutError: analysis exceeded 120000 ms",
                transient: true,
            },
            Failure {
                error: "S3 GetObject failed: NoSuchKey: resumes/candidate-5521/resume.pdf",
                transient: false,
            },
        ],
        max_attempts: 3,
        workers: &[("resume-worker-1", 2), ("resume-worker-2", 1)],
    },
    QueueSpec {
        name: "emails",
        prefix: "email",
        stages: &[
            ("rendering", "Rendering template"),
            ("sending", "Handing message to SMTP relay"),
        ],
        done_message: "Delivered to SMTP relay (250 2.0.0 OK)",
        arrival_ms: 3_500,
        stage_ms: (300, 1_200),
        failure_rate: 0.08,
        failures: &[
            Failure {
                error: "SMTP 451 4.7.1 Temporary failure, please try again later",
                transient: true,
            },
            Failure {
                error: "SMTP 550 5.1.1 <j.doe@example.org>: Recipient address rejected: User unknown in virtual mailbox table",
                transient: false,
            },
            Failure {
                error: "ECONNRESET: socket hang up (smtp.example.net:587)",
                transient: true,
            },
        ],
        max_attempts: 5,
        workers: &[("mailer-1", 3)],
    },
    QueueSpec {
        name: "thumbnails",
        prefix: "thumb",
        stages: &[
            ("downloading", "Fetching original image"),
            ("resizing", "Resizing to 64, 256 and 1024 px"),
            ("uploading", "Uploading renditions"),
        ],
        done_message: "3 renditions uploaded",
        arrival_ms: 6_000,
        stage_ms: (400, 2_000),
        failure_rate: 0.07,
        failures: &[
            Failure {
                error: "ImageMagick: improper image header `/tmp/upload_8812.heic'",
                transient: false,
            },
            Failure {
                error: "S3 PutObject failed: SlowDown: Please reduce your request rate (503)",
                transient: true,
            },
            Failure {
                error: "ENOSPC: no space left on device, write '/tmp/render-1024.webp'",
                transient: true,
            },
        ],
        max_attempts: 3,
        workers: &[("thumbs-1", 2)],
    },
    QueueSpec {
        name: "payments",
        prefix: "pay",
        stages: &[
            ("validating", "Validating order and amount"),
            ("authorizing", "Authorizing card"),
            ("capturing", "Capturing funds"),
            ("recording", "Recording ledger entries"),
        ],
        done_message: "Payment captured and recorded",
        arrival_ms: 12_000,
        stage_ms: (400, 1_500),
        failure_rate: 0.1,
        failures: &[
            Failure {
                error: "card_declined: Your card has insufficient funds (decline_code: insufficient_funds)",
                transient: false,
            },
            Failure {
                error: "ETIMEDOUT: connect ETIMEDOUT 203.0.113.40:443 (api.payments.example)",
                transient: true,
            },
            Failure {
                error: "idempotency_error: Keys for idempotent requests can only be used with the same parameters",
                transient: false,
            },
        ],
        max_attempts: 4,
        workers: &[("payments-1", 1)],
    },
];

/// Seconds before retry `attempt` (1-based): BullMQ's exponential backoff, base 2 s.
pub(crate) fn backoff_ms(attempt: u32) -> u64 {
    2_000u64 << attempt.saturating_sub(1).min(6)
}
