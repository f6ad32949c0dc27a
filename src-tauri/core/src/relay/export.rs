//! `/api/export?format=csv|json&from=&until=&q=`: a time window of history as a file.
//!
//! Streamed page by page from the store in seq order, so exporting millions of events
//! holds one page in memory. The window is fixed when the request starts (everything
//! up to the newest seq at that moment), so an export always ends. `q` keeps the
//! events the history search would find for that text ([`TextQuery`]), so exporting a
//! search's result gives that result, without the search's row limit.

use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use futures_util::stream;

use crate::model::Event;
use crate::store::{EventFilter, Reader, StoreError};

use super::error::ApiError;
use super::params::Params;
use super::state::AppState;
use super::text_match::TextQuery;

const PAGE: usize = 2_000;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Csv,
    Json,
}

const CSV_HEADER: [&str; 16] = [
    "seq",
    "received_at",
    "occurred_at",
    "source",
    "kind",
    "entity",
    "parent",
    "status",
    "progress",
    "stage",
    "message",
    "error",
    "counts",
    "channel",
    "remote_id",
    "raw",
];

struct Export {
    reader: Option<Reader>,
    filter: EventFilter,
    text: Option<TextQuery>,
    format: Format,
    after: u64,
    upto: u64,
    started: bool,
    finished: bool,
}

pub(crate) async fn export(
    State(s): State<AppState>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = Params::parse(q.as_deref());
    let format = match p.text("format").unwrap_or("json") {
        "csv" => Format::Csv,
        "json" => Format::Json,
        other => {
            return Err(ApiError::bad_param(
                "format",
                format!("expected csv or json, got {other:?}"),
            ))
        }
    };
    let filter = p.event_filter()?;
    let text = p.text("q").and_then(TextQuery::parse);
    let db = s.hub.db_path().to_path_buf();
    // Open and fix the window before answering, so a broken store is a JSON error and
    // not a truncated file.
    let (reader, upto) = tokio::task::spawn_blocking(move || {
        let r = Reader::open(&db)?;
        let upto = r.max_seq()?;
        Ok::<_, StoreError>((r, upto))
    })
    .await??;
    let state = Export {
        reader: Some(reader),
        filter,
        text,
        format,
        after: 0,
        upto,
        started: false,
        finished: false,
    };
    let body = Body::from_stream(stream::unfold(state, |mut st| async move {
        st.next_chunk().await.map(|chunk| (chunk, st))
    }));
    let (mime, ext) = match format {
        Format::Csv => ("text/csv; charset=utf-8", "csv"),
        Format::Json => ("application/json", "json"),
    };
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"telltale-export.{ext}\""))
    {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

impl Export {
    async fn next_chunk(&mut self) -> Option<Result<Bytes, std::io::Error>> {
        if self.finished {
            return None;
        }
        let reader = self.reader.take()?;
        let (after, upto, filter) = (self.after, self.upto, self.filter.clone());
        let joined = tokio::task::spawn_blocking(move || {
            let page = reader.between(after, upto, &filter, PAGE);
            (reader, page)
        })
        .await;
        let page = match joined {
            Ok((reader, Ok(page))) => {
                self.reader = Some(reader);
                page
            }
            // Headers are sent: the only honest signal left is to break the body, so
            // the client sees an incomplete transfer rather than a short "complete" file.
            Ok((_, Err(e))) => {
                tracing::warn!(error = %e, "export aborted");
                self.finished = true;
                return Some(Err(std::io::Error::other(e.to_string())));
            }
            Err(e) => {
                self.finished = true;
                return Some(Err(std::io::Error::other(e.to_string())));
            }
        };
        let last = page.len() < PAGE;
        if let Some(e) = page.last() {
            self.after = e.seq;
        }
        let mut page = page;
        if let Some(q) = &self.text {
            page.retain(|e| q.matches(e));
        }
        let mut out = Vec::with_capacity(page.len() * 256 + 64);
        let first = !self.started;
        self.started = true;
        match self.format {
            Format::Csv => {
                if let Err(e) = write_csv(&mut out, &page, first) {
                    self.finished = true;
                    return Some(Err(std::io::Error::other(e.to_string())));
                }
            }
            Format::Json => write_json(&mut out, &page, first, last),
        }
        if last {
            self.finished = true;
        }
        Some(Ok(Bytes::from(out)))
    }
}

fn write_json(out: &mut Vec<u8>, page: &[Event], first: bool, last: bool) {
    if first {
        out.extend_from_slice(b"[");
    }
    for (i, e) in page.iter().enumerate() {
        if !(first && i == 0) {
            out.extend_from_slice(b",");
        }
        out.extend_from_slice(b"\n");
        if serde_json::to_writer(&mut *out, e).is_err() {
            out.extend_from_slice(b"null");
        }
    }
    if last {
        out.extend_from_slice(b"\n]\n");
    }
}

fn write_csv(out: &mut Vec<u8>, page: &[Event], header: bool) -> Result<(), csv::Error> {
    let mut w = csv::Writer::from_writer(out);
    if header {
        w.write_record(CSV_HEADER)?;
    }
    let time = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
            .unwrap_or_else(|| ms.to_string())
    };
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    for e in page {
        w.write_record([
            e.seq.to_string(),
            time(e.received_at),
            e.occurred_at.map(time).unwrap_or_default(),
            e.source.clone(),
            e.kind.to_string(),
            e.entity.clone(),
            opt(&e.parent),
            e.status.to_string(),
            e.progress.map(|p| p.to_string()).unwrap_or_default(),
            opt(&e.stage),
            opt(&e.message),
            opt(&e.error),
            e.counts
                .as_ref()
                .and_then(|c| serde_json::to_string(c).ok())
                .unwrap_or_default(),
            opt(&e.channel),
            opt(&e.remote_id),
            e.raw.clone(),
        ])?;
    }
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EntityKind, Status};

    fn ev(seq: u64) -> Event {
        let mut e = Event::new("s", EntityKind::Job, format!("j{seq}"), Status::Failed);
        e.seq = seq;
        e.error = Some("bad, \"quoted\"\nline".into());
        e
    }

    #[test]
    fn json_pages_join_into_one_array() {
        let mut out = Vec::new();
        write_json(&mut out, &[ev(1), ev(2)], true, false);
        write_json(&mut out, &[ev(3)], false, true);
        let v: Vec<serde_json::Value> = serde_json::from_slice(&out).unwrap();
        assert_eq!(v.len(), 3);
        let mut empty = Vec::new();
        write_json(&mut empty, &[], true, true);
        let v: Vec<serde_json::Value> = serde_json::from_slice(&empty).unwrap();
        assert!(v.is_empty());
    }

    #[test]
    fn csv_has_one_header_and_quotes_fields() {
        let mut out = Vec::new();
        write_csv(&mut out, &[ev(1)], true).unwrap();
        write_csv(&mut out, &[ev(2)], false).unwrap();
        let mut r = csv::Reader::from_reader(out.as_slice());
        let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 2);
        assert_eq!(&rows[1][11], "bad, \"quoted\"\nline");
    }
}
