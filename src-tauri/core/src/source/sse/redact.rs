//! URLs as they may appear in logs and error messages: no userinfo, no token values.
//!
//! Errors reach the UI and logs outlive sessions, so a URL is redacted before it is
//! ever formatted; the raw URL only goes to the HTTP client.

use url::Url;

/// Query parameters whose values are credentials. `token` is what we send for
/// `query_token`; the others are common spellings of the same idea.
const SECRET_PARAMS: [&str; 5] = ["token", "access_token", "api_key", "apikey", "auth"];

/// The URL without username, password, or the values of credential query parameters.
pub fn redact_url(url: &Url) -> String {
    let mut clean = url.clone();
    // Both fail only for URLs that cannot have userinfo, which then have none.
    let _ = clean.set_username("");
    let _ = clean.set_password(None);
    if clean.query().is_some() {
        let pairs: Vec<(String, String)> = clean
            .query_pairs()
            .map(|(k, v)| {
                let secret = SECRET_PARAMS.iter().any(|s| k.eq_ignore_ascii_case(s));
                let v = if secret {
                    "REDACTED".to_string()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        clean.query_pairs_mut().clear().extend_pairs(pairs);
    }
    clean.to_string()
}

/// Same for a URL still held as text; text that does not parse is not echoed at all,
/// since we cannot tell which part of it is a secret.
pub fn redact_url_str(url: &str) -> String {
    match Url::parse(url) {
        Ok(u) => redact_url(&u),
        Err(_) => "<unparsable url>".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_userinfo_and_token_values() {
        let u = Url::parse("https://bob:pw@example.com:8443/a/b?x=1&token=s3cret&Access_Token=t")
            .unwrap();
        let r = redact_url(&u);
        assert_eq!(
            r,
            "https://example.com:8443/a/b?x=1&token=REDACTED&Access_Token=REDACTED"
        );
        assert!(!r.contains("s3cret") && !r.contains("pw"));
    }

    #[test]
    fn unparsable_text_is_not_echoed() {
        assert_eq!(redact_url_str("not a url token=abc"), "<unparsable url>");
        assert_eq!(redact_url_str("http://h/p"), "http://h/p");
    }
}
