//! What the simulators' consent screens share: escaping for their HTML,
//! and adding a query to the address a client is sent back to.

/// Text made safe for HTML (content and attribute values).
pub(crate) fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `uri` with `params` added to its query, percent-encoded.
pub(crate) fn with_query(uri: &str, params: &[(String, String)]) -> String {
    let query = params
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}={}",
                v.bytes()
                    .map(|b| match b {
                        b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                            (b as char).to_string()
                        }
                        _ => format!("%{b:02X}"),
                    })
                    .collect::<String>()
            )
        })
        .collect::<Vec<_>>()
        .join("&");
    let sep = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{sep}{query}")
}
