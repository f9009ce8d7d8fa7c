//! `@documentation` (HTML, as AWS writes it) → plain text for tool and parameter descriptions:
//! tags removed (block tags become line breaks), the common entities decoded, whitespace
//! collapsed, trimmed, and capped so one operation cannot carry megabytes of prose.

/// Longest description kept, in characters (AgentCore's override limit is 4096).
pub const MAX_DESCRIPTION: usize = 4000;
/// Longest parameter description kept, in characters.
pub const MAX_PARAM_DESCRIPTION: usize = 1000;

/// Plain text of an HTML fragment, at most `max` characters (`…` marks a cut); `None` when
/// nothing is left.
pub fn plain_text(html: &str, max: usize) -> Option<String> {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    // Source line breaks are wrapping, not structure: only block tags break lines.
    let push_text = |out: &mut String, text: &str| {
        out.extend(
            text.chars()
                .map(|c| if c.is_whitespace() { ' ' } else { c }),
        );
    };
    while let Some(start) = rest.find('<') {
        push_text(&mut out, &rest[..start]);
        let after = &rest[start..];
        match after.find('>') {
            Some(end) => {
                let tag = after[1..end]
                    .trim_start_matches('/')
                    .split(|c: char| c.is_whitespace() || c == '/')
                    .next()
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                if matches!(
                    tag.as_str(),
                    "p" | "br"
                        | "li"
                        | "ul"
                        | "ol"
                        | "note"
                        | "important"
                        | "dd"
                        | "dt"
                        | "div"
                        | "h1"
                        | "h2"
                        | "h3"
                        | "h4"
                        | "pre"
                ) {
                    out.push('\n');
                } else if matches!(tag.as_str(), "td" | "th") {
                    out.push(' ');
                }
                rest = &after[end + 1..];
            }
            None => {
                // A lone '<' is text.
                out.push('<');
                rest = &after[1..];
            }
        }
    }
    push_text(&mut out, rest);
    let decoded = decode_entities(&out);

    let lines: Vec<String> = decoded
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|line| !line.is_empty())
        .collect();
    let text = lines.join("\n");
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if text.chars().count() <= max {
        return Some(text.to_owned());
    }
    let cut: String = text.chars().take(max.saturating_sub(1)).collect();
    Some(format!("{}…", cut.trim_end()))
}

fn decode_entities(text: &str) -> String {
    if !text.contains('&') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('&') {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        let entity_end = after.find(';').filter(|&e| e <= 10);
        let decoded = entity_end.and_then(|end| {
            let name = &after[1..end];
            let c = match name {
                "lt" => Some('<'),
                "gt" => Some('>'),
                "amp" => Some('&'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some(' '),
                _ => name
                    .strip_prefix("#x")
                    .or_else(|| name.strip_prefix("#X"))
                    .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                    .or_else(|| name.strip_prefix('#').and_then(|d| d.parse().ok()))
                    .and_then(char::from_u32),
            };
            c.map(|c| (c, end))
        });
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &after[end + 1..];
            }
            None => {
                out.push('&');
                rest = &after[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_stripped_decoded_and_trimmed() {
        let html = "<p>Returns a list of <code>Functions</code>\n      per call.</p>\n <note><p>Use &lt;b&gt; &amp; &#x41;&#66;.</p></note>  ";
        assert_eq!(
            plain_text(html, 100).as_deref(),
            Some("Returns a list of Functions per call.\nUse <b> & AB.")
        );
        assert_eq!(plain_text("  <p> </p> ", 100), None);
        assert_eq!(plain_text("a < b && c", 100).as_deref(), Some("a < b && c"));
        assert_eq!(plain_text("<p>abcdef</p>", 4).as_deref(), Some("abc…"));
        assert_eq!(
            plain_text("x <unclosed", 100).as_deref(),
            Some("x <unclosed")
        );
    }
}
