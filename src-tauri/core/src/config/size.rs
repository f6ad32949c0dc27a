//! Sizes written for people: `"2GiB"`, `"500 MB"`, `"1048576"`.

const UNITS: [(&str, u64); 9] = [
    ("b", 1),
    ("kb", 1_000),
    ("mb", 1_000_000),
    ("gb", 1_000_000_000),
    ("tb", 1_000_000_000_000),
    ("kib", 1 << 10),
    ("mib", 1 << 20),
    ("gib", 1 << 30),
    ("tib", 1 << 40),
];

/// Parses a byte size. Units are case-insensitive; `KB`/`MB`/`GB`/`TB` are powers of
/// 1000 and `KiB`/`MiB`/`GiB`/`TiB` powers of 1024, as on disk labels and in `ls -h`.
/// A bare number is bytes. Fractions are allowed (`"1.5GiB"`).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let number = number.replace('_', "");
    let unit = unit.trim().to_ascii_lowercase();
    let invalid =
        || format!("invalid size \"{text}\" (write e.g. \"500MB\", \"2GiB\" or a number of bytes)");
    let factor = if unit.is_empty() {
        1
    } else {
        UNITS
            .iter()
            .find(|(u, _)| *u == unit)
            .map(|(_, f)| *f)
            .ok_or_else(invalid)?
    };
    let value: f64 = number.parse().map_err(|_| invalid())?;
    let bytes = value * factor as f64;
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err(format!("size \"{text}\" is too large"));
    }
    if bytes < 1.0 {
        return Err("must be larger than zero".to_string());
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert_eq!(parse_size("2 gib"), Ok(2 << 30));
        assert_eq!(parse_size("500MB"), Ok(500_000_000));
        assert_eq!(parse_size("1.5KiB"), Ok(1536));
        assert_eq!(parse_size("1_000"), Ok(1000));
        assert_eq!(parse_size("42"), Ok(42));
        assert!(parse_size("2GB!").is_err());
        assert!(parse_size("lots").is_err());
        assert!(parse_size("").is_err());
        assert!(parse_size("0MB").unwrap_err().contains("larger than zero"));
        assert!(parse_size("99999999999TiB")
            .unwrap_err()
            .contains("too large"));
    }
}
