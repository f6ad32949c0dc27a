//! A push parser for `text/event-stream`: bytes in, items out, no I/O.
//!
//! It follows the WHATWG HTML "server-sent events" interpretation rules
//! (<https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation>).
//!
//! Why our own parser rather than wrapping `eventsource-client`:
//! - Comments are a liveness signal. Seeds 001 and 003 keep idle connections warm with
//!   `: heartbeat` lines; the transport's idle timeout must count them, and a client that
//!   swallows comments cannot tell a quiet-but-alive stream from a dead one.
//! - Byte-exact control: the rules about a CR at the end of one read and an LF at the
//!   start of the next, a BOM split across reads, and the last event id *string* versus
//!   *buffer* on reconnect are easy to get subtly wrong, and we want each one pinned by
//!   our own tests rather than depend on another crate's interpretation.
//! - Bounded memory: a misbehaving server can send a line that never ends. The parser
//!   caps a line and an event at `max_event_size`, reports the overflow as an item, and
//!   keeps going, so a monitor never grows without limit and never panics on input.
//! - The transport (reconnect policy, two-step subscriptions, idle timeout) is ours
//!   anyway, so all we would have reused is this file.
//!
//! Decoding works line by line on raw bytes: CR and LF are ASCII and can never be part
//! of a multi-byte UTF-8 sequence, so splitting first and decoding each complete line
//! with replacement (`U+FFFD` per maximal invalid subpart) gives exactly what a
//! streaming UTF-8 decoder followed by line splitting would, and a sequence split across
//! reads is simply still in the line buffer when the next read arrives.

use std::borrow::Cow;

/// Default cap on one line and on one event's data: 16 MiB.
pub const DEFAULT_MAX_EVENT_SIZE: usize = 16 * 1024 * 1024;

/// The event type used when the stream names none.
pub const DEFAULT_EVENT_TYPE: &str = "message";

const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

/// A line may be this much longer than the event limit, for its field name, colon and
/// space, so that a `data:` line carrying exactly `max_event_size` bytes still fits.
pub const LINE_OVERHEAD: usize = 64;

/// One dispatched event, exactly as the WHATWG rules define it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SseEvent {
    /// The `event:` field, or `message` when the event named none.
    pub event_type: String,
    /// The `data:` lines joined with `\n` (without the trailing newline).
    pub data: String,
    /// The last event id string at dispatch time (persists across events; may be empty).
    pub last_event_id: String,
}

/// What the parser reports while reading a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParsedItem {
    Event(SseEvent),
    /// A valid `retry:` field: the new reconnection time in milliseconds.
    Retry(u64),
    /// A comment line (`:` first). Carries no data; the transport counts it as liveness.
    Comment,
    /// A line or an event exceeded `limit` bytes. The line is skipped and the event it
    /// belongs to is discarded (never dispatched with part of its data missing).
    TooLarge {
        limit: usize,
    },
}

/// Where the parser is with respect to the optional leading byte order mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BomState {
    /// At the start of a stream, `n` bytes of the BOM matched so far.
    Matching(usize),
    /// The BOM was stripped or cannot appear any more.
    Done,
}

/// The push parser. Feed it chunks as they arrive; call [`SseParser::finish`] when the
/// connection ends and before feeding the next connection's stream.
#[derive(Debug, Clone)]
pub struct SseParser {
    max_event_size: usize,
    bom: BomState,
    /// The current, not yet terminated line, as raw bytes.
    line: Vec<u8>,
    /// The previous chunk ended in CR: an LF at the start of the next is part of it.
    after_cr: bool,
    /// The current line overflowed; its bytes are dropped until the line ends.
    skipping_line: bool,
    data: String,
    event_type: String,
    /// The id buffer: set by `id:` lines, copied to `last_event_id` at dispatch.
    id_buffer: String,
    /// The last event id string: what `Last-Event-ID` carries on reconnect.
    last_event_id: String,
    /// Something in the current event overflowed: discard it at its blank line.
    event_poisoned: bool,
}

impl Default for SseParser {
    fn default() -> Self {
        Self::new()
    }
}

impl SseParser {
    pub fn new() -> Self {
        Self::with_max_event_size(DEFAULT_MAX_EVENT_SIZE)
    }

    /// A parser that never holds more than about `max_event_size` bytes per buffer (a
    /// line may have [`LINE_OVERHEAD`] more).
    /// A limit of 0 is raised to 1 so that the parser still makes progress.
    pub fn with_max_event_size(max_event_size: usize) -> Self {
        SseParser {
            max_event_size: max_event_size.max(1),
            bom: BomState::Matching(0),
            line: Vec::new(),
            after_cr: false,
            skipping_line: false,
            data: String::new(),
            event_type: String::new(),
            id_buffer: String::new(),
            last_event_id: String::new(),
            event_poisoned: false,
        }
    }

    /// Starts from a stored cursor, so the first request can send `Last-Event-ID` and
    /// events dispatched before any `id:` field carry it, as after a reconnect.
    pub fn with_last_event_id(mut self, id: impl Into<String>) -> Self {
        let id = id.into();
        if !id.contains('\0') {
            self.id_buffer = id.clone();
            self.last_event_id = id;
        }
        self
    }

    /// The last event id string: send it as `Last-Event-ID` when reconnecting (if not
    /// empty).
    pub fn last_event_id(&self) -> &str {
        &self.last_event_id
    }

    pub fn max_event_size(&self) -> usize {
        self.max_event_size
    }

    /// Feeds one chunk and returns what it completed, in stream order.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<ParsedItem> {
        let mut out = Vec::new();
        self.feed_into(chunk, &mut out);
        out
    }

    /// Like [`SseParser::feed`], appending to `out` (lets the caller reuse a buffer).
    pub fn feed_into(&mut self, mut chunk: &[u8], out: &mut Vec<ParsedItem>) {
        if let BomState::Matching(_) = self.bom {
            chunk = self.strip_bom(chunk, out);
        }
        if self.after_cr && !chunk.is_empty() {
            // CR at the end of the previous read, LF at the start of this one: one line end.
            if chunk[0] == b'\n' {
                chunk = &chunk[1..];
            }
            self.after_cr = false;
        }
        while !chunk.is_empty() {
            match chunk.iter().position(|&b| b == b'\r' || b == b'\n') {
                None => {
                    self.push_line_bytes(chunk, out);
                    break;
                }
                Some(end) => {
                    self.push_line_bytes(&chunk[..end], out);
                    let mut rest = &chunk[end + 1..];
                    if chunk[end] == b'\r' {
                        match rest.first() {
                            Some(b'\n') => rest = &rest[1..],
                            Some(_) => {}
                            None => self.after_cr = true,
                        }
                    }
                    self.end_line(out);
                    chunk = rest;
                }
            }
        }
    }

    /// The connection ended. Per the rules, pending data is discarded: a partial line
    /// and an event without its blank line are never dispatched. The parser is then
    /// ready for the next connection's stream (which may start with its own BOM); the
    /// last event id string is kept. Returns whether anything was discarded.
    pub fn finish(&mut self) -> bool {
        let discarded = !self.line.is_empty()
            || self.skipping_line
            || !self.data.is_empty()
            || !self.event_type.is_empty()
            || self.event_poisoned
            || self.id_buffer != self.last_event_id
            || matches!(self.bom, BomState::Matching(n) if n > 0);
        self.bom = BomState::Matching(0);
        self.line.clear();
        self.line.shrink_to(4096);
        self.after_cr = false;
        self.skipping_line = false;
        self.data = String::new();
        self.event_type.clear();
        // An `id:` seen in an event that never completed was never dispatched, so the
        // reconnect must not claim it.
        self.id_buffer.clone_from(&self.last_event_id);
        self.event_poisoned = false;
        discarded
    }

    /// Consumes a leading BOM, possibly split across chunks. Returns the rest of the
    /// chunk. If the bytes turn out not to be a BOM, the bytes held back so far are
    /// ordinary stream content and are fed first.
    fn strip_bom<'a>(&mut self, chunk: &'a [u8], out: &mut Vec<ParsedItem>) -> &'a [u8] {
        let BomState::Matching(mut matched) = self.bom else {
            return chunk;
        };
        let mut i = 0;
        while matched < BOM.len() {
            let Some(&b) = chunk.get(i) else {
                self.bom = BomState::Matching(matched);
                return &chunk[i..];
            };
            if b != BOM[matched] {
                self.bom = BomState::Done;
                // Only a prefix of the BOM (never CR or LF) was held back: replay it.
                let held = BOM[..matched].to_vec();
                self.push_line_bytes(&held, out);
                return &chunk[i..];
            }
            matched += 1;
            i += 1;
        }
        self.bom = BomState::Done;
        &chunk[i..]
    }

    fn push_line_bytes(&mut self, bytes: &[u8], out: &mut Vec<ParsedItem>) {
        if bytes.is_empty() || self.skipping_line {
            return;
        }
        if self.line.len() + bytes.len() > self.max_event_size.saturating_add(LINE_OVERHEAD) {
            // Drop what we hold now, not at the line end: memory stays bounded.
            self.line = Vec::new();
            self.skipping_line = true;
            self.poison_event(out);
            return;
        }
        self.line.extend_from_slice(bytes);
    }

    fn end_line(&mut self, out: &mut Vec<ParsedItem>) {
        if self.skipping_line {
            self.skipping_line = false;
            return;
        }
        let line = std::mem::take(&mut self.line);
        self.process_line(&line, out);
        // Keep the allocation for the next line unless it was unusually large.
        self.line = line;
        self.line.clear();
        self.line.shrink_to(4096);
    }

    fn poison_event(&mut self, out: &mut Vec<ParsedItem>) {
        if !self.event_poisoned {
            self.event_poisoned = true;
            out.push(ParsedItem::TooLarge {
                limit: self.max_event_size,
            });
        }
        self.data = String::new();
    }

    fn process_line(&mut self, line: &[u8], out: &mut Vec<ParsedItem>) {
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        if line[0] == b':' {
            out.push(ParsedItem::Comment);
            return;
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(colon) => {
                let value = &line[colon + 1..];
                let value = value.strip_prefix(b" ").unwrap_or(value);
                (&line[..colon], value)
            }
            None => (line, &[][..]),
        };
        // Field names are compared as decoded text: an invalid byte becomes U+FFFD and
        // the field is then unknown, exactly as with a streaming decoder.
        let field = String::from_utf8_lossy(field);
        let value: Cow<'_, str> = String::from_utf8_lossy(value);
        match field.as_ref() {
            "event" => self.event_type = value.into_owned(),
            "data" => {
                if self.event_poisoned {
                    return;
                }
                if self.data.len() + value.len() + 1 > self.max_event_size {
                    self.poison_event(out);
                    return;
                }
                self.data.push_str(&value);
                self.data.push('\n');
            }
            // An id containing NUL is ignored (the rules say so; it could not be sent
            // back as a header anyway).
            "id" if !value.contains('\0') => self.id_buffer = value.into_owned(),
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                // All digits but too long for u64: the server means "a very long
                // time"; saturate rather than ignore it.
                let ms = value.parse::<u64>().unwrap_or(u64::MAX);
                out.push(ParsedItem::Retry(ms));
            }
            _ => {}
        }
    }

    fn dispatch(&mut self, out: &mut Vec<ParsedItem>) {
        // Step 1 happens even when nothing is dispatched: an `id:`-only block moves the
        // cursor.
        self.last_event_id.clone_from(&self.id_buffer);
        let poisoned = std::mem::take(&mut self.event_poisoned);
        if self.data.is_empty() || poisoned {
            self.data = String::new();
            self.event_type.clear();
            return;
        }
        let mut data = std::mem::take(&mut self.data);
        if data.ends_with('\n') {
            data.pop();
        }
        let event_type = if self.event_type.is_empty() {
            DEFAULT_EVENT_TYPE.to_string()
        } else {
            std::mem::take(&mut self.event_type)
        };
        self.event_type.clear();
        out.push(ParsedItem::Event(SseEvent {
            event_type,
            data,
            last_event_id: self.last_event_id.clone(),
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ev(event_type: &str, data: &str, id: &str) -> ParsedItem {
        ParsedItem::Event(SseEvent {
            event_type: event_type.into(),
            data: data.into(),
            last_event_id: id.into(),
        })
    }

    /// Parses `input` in one piece, then split at every byte position (two chunks),
    /// and one byte at a time; all must agree. Returns the items and the final cursor.
    fn parse_all_ways(input: &[u8]) -> (Vec<ParsedItem>, String) {
        let mut whole = SseParser::new();
        let expected = whole.feed(input);
        let expected_id = whole.last_event_id().to_string();
        for split in 0..=input.len() {
            let mut p = SseParser::new();
            let mut got = p.feed(&input[..split]);
            got.extend(p.feed(&input[split..]));
            assert_eq!(got, expected, "split at byte {split} of {input:?}");
            assert_eq!(p.last_event_id(), expected_id, "cursor, split at {split}");
        }
        let mut p = SseParser::new();
        let got: Vec<_> = input.iter().flat_map(|b| p.feed(&[*b])).collect();
        assert_eq!(got, expected, "one byte at a time");
        (expected, expected_id)
    }

    fn events(input: &[u8]) -> Vec<ParsedItem> {
        parse_all_ways(input)
            .0
            .into_iter()
            .filter(|i| matches!(i, ParsedItem::Event(_)))
            .collect()
    }

    #[test]
    fn simple_event_defaults_to_message() {
        assert_eq!(events(b"data: hello\n\n"), vec![ev("message", "hello", "")]);
    }

    #[test]
    fn crlf_cr_and_lf_line_ends_are_equivalent() {
        let expect = vec![ev("a", "1", ""), ev("message", "2", "")];
        assert_eq!(events(b"event: a\ndata: 1\n\ndata: 2\n\n"), expect);
        assert_eq!(
            events(b"event: a\r\ndata: 1\r\n\r\ndata: 2\r\n\r\n"),
            expect
        );
        assert_eq!(events(b"event: a\rdata: 1\r\rdata: 2\r\r"), expect);
        assert_eq!(events(b"event: a\r\ndata: 1\r\rdata: 2\n\r\n"), expect);
    }

    #[test]
    fn cr_at_end_of_one_read_and_lf_at_start_of_next_is_one_line_end() {
        let mut p = SseParser::new();
        assert!(p.feed(b"data: x\r").is_empty());
        // If the LF were a second line end, this would dispatch an event.
        assert!(p.feed(b"\n").is_empty());
        assert_eq!(p.feed(b"\r\n"), vec![ev("message", "x", "")]);
        // CR then CR in the next read: two line ends.
        let mut p = SseParser::new();
        assert!(p.feed(b"data: y\r").is_empty());
        assert_eq!(p.feed(b"\r"), vec![ev("message", "y", "")]);
    }

    #[test]
    fn utf8_split_across_reads_and_invalid_bytes_become_replacement() {
        let text = "data: caf\u{e9} \u{20ac} \u{1F600}\n\n".as_bytes();
        assert_eq!(
            events(text),
            vec![ev("message", "caf\u{e9} \u{20ac} \u{1F600}", "")]
        );
        // A 4-byte sequence fed one byte per read.
        let mut p = SseParser::new();
        let mut got = Vec::new();
        for b in "data: \u{1F600}\n\n".as_bytes() {
            got.extend(p.feed(&[*b]));
        }
        assert_eq!(got, vec![ev("message", "\u{1F600}", "")]);
        // Invalid and truncated sequences: one U+FFFD per maximal subpart.
        assert_eq!(
            events(b"data: a\xFFb\xE2\x82\n\n"),
            vec![ev("message", "a\u{FFFD}b\u{FFFD}", "")]
        );
    }

    #[test]
    fn exactly_one_leading_bom_is_stripped() {
        assert_eq!(
            events(b"\xEF\xBB\xBFdata: a\n\n"),
            vec![ev("message", "a", "")]
        );
        // A second BOM is content: the field name becomes "\u{FEFF}data", unknown.
        assert_eq!(events(b"\xEF\xBB\xBF\xEF\xBB\xBFdata: a\n\n"), vec![]);
        // A BOM later in the stream is not stripped either.
        assert_eq!(
            events(b"data: a\n\n\xEF\xBB\xBFdata: b\n\n"),
            vec![ev("message", "a", "")]
        );
        // A BOM prefix that is not a BOM is replayed as content.
        assert_eq!(
            events(b"\xEF\xBBdata: a\n\ndata: b\n\n"),
            vec![ev("message", "b", "")]
        );
        // Each connection's stream may start with its own BOM.
        let mut p = SseParser::new();
        assert_eq!(p.feed(b"\xEF\xBB\xBFdata: a\n\n").len(), 1);
        p.finish();
        assert_eq!(
            p.feed(b"\xEF\xBB\xBFdata: b\n\n"),
            vec![ev("message", "b", "")]
        );
    }

    #[test]
    fn comments_are_reported_and_dispatch_nothing() {
        let (items, _) = parse_all_ways(b": heartbeat 123\n:\ndata: x\n: mid\n\n");
        assert_eq!(
            items,
            vec![
                ParsedItem::Comment,
                ParsedItem::Comment,
                ParsedItem::Comment,
                ev("message", "x", "")
            ]
        );
    }

    #[test]
    fn field_without_colon_has_empty_value() {
        // "data" alone appends an empty line; two of them give "\n".
        assert_eq!(events(b"data\ndata\n\n"), vec![ev("message", "\n", "")]);
        assert_eq!(events(b"data\n\n"), vec![ev("message", "", "")]);
        // "event" alone sets an empty type, which dispatches as "message".
        assert_eq!(
            events(b"event: x\nevent\ndata: 1\n\n"),
            vec![ev("message", "1", "")]
        );
    }

    #[test]
    fn exactly_one_leading_space_is_stripped() {
        assert_eq!(
            events(b"data:no space\n\ndata:  two\n\ndata:\ttab\n\n"),
            vec![
                ev("message", "no space", ""),
                ev("message", " two", ""),
                ev("message", "\ttab", "")
            ]
        );
        // The value may contain colons.
        assert_eq!(
            events(b"data: a: b:c\n\n"),
            vec![ev("message", "a: b:c", "")]
        );
    }

    #[test]
    fn multi_line_data_is_joined_with_newline() {
        assert_eq!(
            events(b"data: line1\ndata: line2\ndata:\ndata: line4\n\n"),
            vec![ev("message", "line1\nline2\n\nline4", "")]
        );
    }

    #[test]
    fn empty_data_buffer_is_not_dispatched() {
        assert_eq!(events(b"event: a\n\n\n\nid: 1\n\n"), vec![]);
        // ...and the event type set in that block does not leak into the next event.
        assert_eq!(
            events(b"event: a\n\ndata: x\n\n"),
            vec![ev("message", "x", "")]
        );
    }

    #[test]
    fn event_type_resets_after_each_dispatch() {
        assert_eq!(
            events(b"event: job_update\ndata: 1\n\ndata: 2\n\n"),
            vec![ev("job_update", "1", ""), ev("message", "2", "")]
        );
    }

    #[test]
    fn id_persists_across_events_and_nul_is_ignored() {
        let (items, id) = parse_all_ways(
            b"id: 1\ndata: a\n\ndata: b\n\nid: 2\0x\ndata: c\n\nid\ndata: d\n\nid: 9\n\n",
        );
        let evs: Vec<_> = items
            .into_iter()
            .filter(|i| matches!(i, ParsedItem::Event(_)))
            .collect();
        assert_eq!(
            evs,
            vec![
                ev("message", "a", "1"),
                ev("message", "b", "1"),
                // The id with NUL was ignored.
                ev("message", "c", "1"),
                // A bare `id` resets it to empty.
                ev("message", "d", "")
            ]
        );
        // An `id:`-only block moves the cursor without dispatching.
        assert_eq!(id, "9");
    }

    #[test]
    fn retry_only_when_all_ascii_digits() {
        let (items, _) = parse_all_ways(
            b"retry: 1500\nretry: 15x\nretry: -1\nretry:  2\nretry:\nretry: 1.5\nretry:0\n\n",
        );
        assert_eq!(items, vec![ParsedItem::Retry(1500), ParsedItem::Retry(0)]);
        let huge = b"retry: 99999999999999999999999999\n";
        assert_eq!(
            SseParser::new().feed(huge),
            vec![ParsedItem::Retry(u64::MAX)]
        );
    }

    #[test]
    fn unknown_fields_are_ignored() {
        assert_eq!(
            events(b"foo: bar\nData: no\nDATA\n data: x\ndata: y\n\n"),
            vec![ev("message", "y", "")]
        );
    }

    #[test]
    fn unterminated_last_event_is_never_dispatched() {
        let mut p = SseParser::new();
        assert_eq!(
            p.feed(b"data: a\n\nid: 7\ndata: b\n"),
            vec![ev("message", "a", "")]
        );
        assert!(p.finish());
        // The id of the incomplete event was never dispatched: the cursor stays empty.
        assert_eq!(p.last_event_id(), "");
        // Nothing of the discarded event leaks into the next connection's stream.
        assert_eq!(p.feed(b"data: c\n\n"), vec![ev("message", "c", "")]);
        // A partial line with no line end at all is discarded too.
        let mut p = SseParser::new();
        assert!(p.feed(b"data: partial").is_empty());
        assert!(p.finish());
        assert!(p.feed(b"\n").is_empty());
        assert!(!p.finish());
    }

    #[test]
    fn stored_cursor_is_the_initial_last_event_id() {
        let mut p = SseParser::new().with_last_event_id("42");
        assert_eq!(p.last_event_id(), "42");
        assert_eq!(p.feed(b"data: a\n\n"), vec![ev("message", "a", "42")]);
        assert_eq!(
            SseParser::new().with_last_event_id("a\0b").last_event_id(),
            ""
        );
    }

    #[test]
    fn oversized_line_is_discarded_with_an_error_and_parsing_continues() {
        let mut p = SseParser::with_max_event_size(16);
        let mut input = b"data: ".to_vec();
        input.extend(std::iter::repeat_n(b'x', 100));
        input.extend(b"\n\ndata: ok\n\n");
        let mut got = Vec::new();
        for chunk in input.chunks(7) {
            got.extend(p.feed(chunk));
            // Memory is bounded while the huge line streams in.
            assert!(p.line.capacity() <= 4096 && p.line.len() <= 16 + LINE_OVERHEAD);
        }
        assert_eq!(
            got,
            vec![ParsedItem::TooLarge { limit: 16 }, ev("message", "ok", "")]
        );
    }

    #[test]
    fn oversized_event_is_discarded_whole_not_dispatched_partially() {
        let mut p = SseParser::with_max_event_size(16);
        let got =
            p.feed(b"event: big\ndata: 0123456789\ndata: 0123456789\ndata: z\n\ndata: ok\n\n");
        assert_eq!(
            got,
            vec![ParsedItem::TooLarge { limit: 16 }, ev("message", "ok", "")]
        );
        // Exactly at the limit is fine: "0123456789abcde" + "\n" is 16 bytes.
        let mut p = SseParser::with_max_event_size(16);
        assert_eq!(
            p.feed(b"data: 0123456789abcde\n\n"),
            vec![ev("message", "0123456789abcde", "")]
        );
    }

    #[test]
    fn a_fixed_stream_split_at_every_byte_position_gives_the_same_items() {
        let stream = "\u{FEFF}: hi\r\nretry: 2500\rid: 7\nevent: job_update\ndata: {\"p\": 1}\r\n\
                      data: caf\u{e9} \u{1F600}\n\nid: 8\0\ndata\n\r\nevent: done\ndata:  x\r\r\
                      foo: bar\nid\ndata: tail\n\ndata: unterminated";
        let (items, id) = parse_all_ways(stream.as_bytes());
        assert_eq!(
            items,
            vec![
                ParsedItem::Comment,
                ParsedItem::Retry(2500),
                ev("job_update", "{\"p\": 1}\ncaf\u{e9} \u{1F600}", "7"),
                ev("message", "", "7"),
                ev("done", " x", "7"),
                ev("message", "tail", ""),
            ]
        );
        assert_eq!(id, "");
    }

    /// Pieces that exercise every rule, so random streams are SSE-shaped rather than noise.
    fn token() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            Just(b"\n".to_vec()),
            Just(b"\r".to_vec()),
            Just(b"\r\n".to_vec()),
            Just(b"data".to_vec()),
            Just(b"data: ".to_vec()),
            Just(b"data:".to_vec()),
            Just(b"event: ".to_vec()),
            Just(b"id: ".to_vec()),
            Just(b"retry: ".to_vec()),
            Just(b":".to_vec()),
            Just(b" ".to_vec()),
            Just(b"\0".to_vec()),
            Just(vec![0xEF, 0xBB, 0xBF]),
            Just("\u{e9}\u{20ac}\u{1F600}".as_bytes().to_vec()),
            Just(vec![0xFF, 0xE2, 0x82]),
            "[a-z0-9]{1,6}".prop_map(|s| s.into_bytes()),
            // Long enough to cross small limits, so overflow handling is split too.
            "[a-z]{40,120}".prop_map(|s| s.into_bytes()),
            proptest::collection::vec(any::<u8>(), 1..4),
        ]
    }

    proptest! {
        #[test]
        fn any_split_of_the_stream_gives_the_same_items(
            parts in proptest::collection::vec(token(), 0..60),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..12),
            limit in prop_oneof![Just(DEFAULT_MAX_EVENT_SIZE), 4usize..64],
        ) {
            let input: Vec<u8> = parts.concat();
            let mut whole = SseParser::with_max_event_size(limit);
            let expected = whole.feed(&input);

            let mut points: Vec<usize> = cuts.iter().map(|i| i.index(input.len() + 1)).collect();
            points.sort_unstable();
            let mut p = SseParser::with_max_event_size(limit);
            let mut got = Vec::new();
            let mut start = 0;
            for point in points.into_iter().chain(std::iter::once(input.len())) {
                got.extend(p.feed(&input[start..point]));
                start = point;
            }
            prop_assert_eq!(&got, &expected);
            prop_assert_eq!(p.last_event_id(), whole.last_event_id());
            prop_assert_eq!(p.finish(), whole.finish());
        }
    }
}
