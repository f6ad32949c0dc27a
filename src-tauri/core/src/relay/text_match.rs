//! Full-text matching for `GET /api/export?q=`: the history search's rule applied to
//! events as they stream past, so an export of a search holds what the search finds,
//! without the search's row limit and without holding the result in memory.
//!
//! The rule is the search index's (SQLite FTS5, `unicode61` tokenizer, each query word
//! as a prefix, see `store::Reader::search`): the query is split into words the way
//! the search splits it; an event matches when every word is, case-insensitively, the
//! start of some token of its entity, message, error or raw payload, tokens being runs
//! of letters and digits.

use crate::model::Event;

#[derive(Debug, Clone)]
pub(crate) struct TextQuery {
    words: Vec<String>,
}

impl TextQuery {
    /// `None` when the text holds no word (then every event matches, as in search).
    pub fn parse(text: &str) -> Option<TextQuery> {
        let words: Vec<String> = text
            .split(|c: char| !c.is_alphanumeric() && c != '_' && c != '-' && c != '.' && c != ':')
            .flat_map(|w| w.split(|c: char| !c.is_alphanumeric()))
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect();
        (!words.is_empty()).then_some(TextQuery { words })
    }

    pub fn matches(&self, e: &Event) -> bool {
        let fields = [
            Some(e.entity.as_str()),
            e.message.as_deref(),
            e.error.as_deref(),
            Some(e.raw.as_str()),
        ];
        self.words.iter().all(|w| {
            fields
                .iter()
                .flatten()
                .any(|text| tokens(text).any(|t| t.to_lowercase().starts_with(w.as_str())))
        })
    }
}

fn tokens(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EntityKind, Status};

    #[test]
    fn every_word_must_start_a_token() {
        let mut e = Event::new("s", EntityKind::Job, "job-42", Status::Failed);
        e.message = Some("Payment declined by bank".into());
        e.raw = r#"{"jobId":"job-42"}"#.into();
        let q = |t: &str| TextQuery::parse(t).unwrap().matches(&e);
        assert!(q("payment"));
        assert!(q("PAY decl"));
        assert!(q("job-42"));
        assert!(q("jobid"));
        assert!(!q("ayment"));
        assert!(!q("payment refund"));
        assert!(TextQuery::parse("  ,; ").is_none());
    }
}
