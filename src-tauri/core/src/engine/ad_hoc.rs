//! Sources given on the command line (`telltale serve --source URL -H 'Name: value'`),
//! as opposed to the config file's `[[sources]]`.
//!
//! PLACEHOLDER for the lead: the engine's source glue (SSE, Redis, BullMQ tasks) is
//! being written elsewhere; until it lands, every URL is refused with a clear error so
//! `telltale serve` fails loudly instead of silently monitoring nothing. Replace the
//! body; the signature is what `cli/serve.rs` calls.

use super::Engine;

impl Engine {
    /// Adds one source per URL (the `telltale tail` URL syntax); `headers` apply to
    /// every SSE source among them.
    pub fn add_source_urls(
        &self,
        urls: &[String],
        headers: &[(String, String)],
    ) -> anyhow::Result<()> {
        let _ = headers;
        match urls.first() {
            None => Ok(()),
            Some(url) => {
                let kind = crate::source::url::SourceUrl::parse(url)
                    .map(|u| u.kind())
                    .unwrap_or("unrecognised");
                anyhow::bail!("source kind not yet supported: {kind} (the engine cannot run command-line sources yet)")
            }
        }
    }
}
