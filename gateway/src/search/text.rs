//! Text clean-up shared by both rankers: real API documents write descriptions in HTML (Stripe)
//! or Markdown, and often open with one summary sentence followed by paragraphs about edge cases.
//! The markup is noise for both rankers, and the paragraphs after the first sentence are mostly
//! noise too (measured on the real-API evaluation set, `bench/search.sh`).

/// `text` without HTML tags, with the common entities decoded, Markdown link targets and
/// emphasis marks dropped, and runs of whitespace collapsed to one space.
pub fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '<' => {
                // A tag is `<` followed by a letter, `/` or `!`; anything else is a literal `<`.
                if chars
                    .peek()
                    .is_some_and(|n| n.is_ascii_alphabetic() || *n == '/' || *n == '!')
                {
                    for n in chars.by_ref() {
                        if n == '>' {
                            break;
                        }
                    }
                    out.push(' ');
                } else {
                    out.push(c);
                }
            }
            '&' => {
                let mut entity = String::new();
                while let Some(&n) = chars.peek() {
                    if n.is_ascii_alphanumeric() || n == '#' {
                        entity.push(n);
                        chars.next();
                        if entity.len() > 8 {
                            break;
                        }
                    } else {
                        break;
                    }
                }
                let semicolon = chars.peek() == Some(&';');
                let decoded = match entity.as_str() {
                    "amp" => Some('&'),
                    "lt" => Some('<'),
                    "gt" => Some('>'),
                    "quot" => Some('"'),
                    "apos" | "#39" => Some('\''),
                    "nbsp" => Some(' '),
                    _ => None,
                };
                match decoded.filter(|_| semicolon) {
                    Some(d) => {
                        chars.next();
                        out.push(d);
                    }
                    None => {
                        out.push('&');
                        out.push_str(&entity);
                    }
                }
            }
            // Markdown: `[text](url)` keeps the text; `*`, `_` runs and backticks are marks.
            ']' if chars.peek() == Some(&'(') => {
                for n in chars.by_ref() {
                    if n == ')' {
                        break;
                    }
                }
                out.push(' ');
            }
            '[' | '`' | '*' | '#' => out.push(' '),
            _ => out.push(c),
        }
    }
    let mut collapsed = String::with_capacity(out.len());
    for word in out.split_whitespace() {
        if !collapsed.is_empty() {
            collapsed.push(' ');
        }
        collapsed.push_str(word);
    }
    collapsed
}

/// The first sentence of plain text (up to and including the first `.`, `!` or `?` that ends a
/// word and is followed by a space or the end), at most `max_chars` characters (cut at a word).
pub fn first_sentence(text: &str, max_chars: usize) -> &str {
    let mut end = text.len();
    let bytes = text.as_bytes();
    for (i, c) in text.char_indices() {
        if matches!(c, '.' | '!' | '?')
            && i > 0
            && bytes.get(i + 1).is_none_or(|b| b.is_ascii_whitespace())
            && bytes[i - 1].is_ascii_alphanumeric()
            // "e.g." and "i.e." do not end a sentence.
            && !text[..i].ends_with("e.g")
            && !text[..i].ends_with("i.e")
        {
            end = i + 1;
            break;
        }
    }
    cut(&text[..end], max_chars)
}

/// At most `max_chars` characters of `text`, cut after a whole word where possible.
pub fn cut(text: &str, max_chars: usize) -> &str {
    match text.char_indices().nth(max_chars) {
        None => text,
        Some((byte, next)) => {
            let head = &text[..byte];
            if next.is_whitespace() {
                return head;
            }
            match head.rfind(' ') {
                Some(space) if space > 0 => &head[..space],
                _ => head,
            }
        }
    }
}

/// `text` up to its first `max` words (whitespace-separated), without trailing whitespace: a cut
/// by words where [`cut`] cuts by characters.
pub fn first_words(text: &str, max: usize) -> &str {
    let mut words = 0;
    let mut in_word = false;
    for (i, c) in text.char_indices() {
        if c.is_whitespace() {
            in_word = false;
        } else if !in_word {
            if words == max {
                return text[..i].trim_end();
            }
            words += 1;
            in_word = true;
        }
    }
    text
}

/// Whether plain `text` says that what it describes is deprecated: one of its sentences begins
/// with "Deprecated" (Kubernetes: "deprecated: use the 'watch' parameter with a list operation
/// instead."; Jira: "Deprecated, use Get projects paginated.") or with "This operation (endpoint,
/// method) is deprecated". A sentence that only mentions something deprecated ("Note that these
/// keys are deprecated") does not count.
pub fn says_deprecated(text: &str) -> bool {
    const OPENINGS: [&str; 4] = [
        "deprecated",
        "this operation is deprecated",
        "this endpoint is deprecated",
        "this method is deprecated",
    ];
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        let sentence = first_sentence(rest, usize::MAX);
        if sentence.is_empty() {
            break;
        }
        let head = sentence.get(..40).unwrap_or(sentence).to_ascii_lowercase();
        if OPENINGS.iter().any(|o| head.starts_with(o)) {
            return true;
        }
        rest = rest[sentence.len()..].trim_start();
    }
    false
}

/// What is left after [`first_sentence`] (trimmed).
pub fn after_first_sentence(text: &str) -> &str {
    let first = first_sentence(text, usize::MAX);
    text[first.len()..].trim_start()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_words_cuts_after_the_last_whole_word_kept() {
        assert_eq!(first_words("  a  b c ", 2), "  a  b");
        assert_eq!(first_words("a b", 5), "a b");
        assert_eq!(first_words("a b", 0), "");
    }

    #[test]
    fn html_and_markdown_become_plain_words() {
        assert_eq!(
            plain(
                "<p>Returns a list of accounts connected via <a href=\"/docs/connect\">Connect</a>.</p>"
            ),
            "Returns a list of accounts connected via Connect ."
        );
        assert_eq!(plain("a &amp; b &lt;tag&gt; &nbsp;x"), "a & b <tag> x");
        assert_eq!(plain("R&D and 3 < 4"), "R&D and 3 < 4");
        assert_eq!(
            plain("See [the docs](https://x.y/z) and **bold** `code`"),
            "See the docs and bold code"
        );
        assert_eq!(plain(""), "");
        assert_eq!(plain("&amp"), "&amp");
    }

    #[test]
    fn deprecation_is_read_from_a_sentence_that_opens_with_it() {
        for yes in [
            "watch individual changes to a list of Pod. deprecated: use the 'watch' parameter with a list operation instead.",
            "Returns all projects visible to the user. Deprecated, use Get projects paginated.",
            "This operation is deprecated, use group/member. Returns all users in a group.",
            "Deprecated and non-functional.",
        ] {
            assert!(says_deprecated(yes), "{yes}");
        }
        for no in [
            "Returns the value of a preference. Note that these keys are deprecated: locale.",
            "Creates a user. As soon as a better alternative exists this resource will be deprecated.",
            "",
            "Lists deprecations of the API",
        ] {
            assert!(!says_deprecated(no), "{no}");
        }
    }

    #[test]
    fn first_sentence_stops_at_the_first_full_stop() {
        let t = "Creates a refund. Refunds go back to the card, e.g. within days.";
        assert_eq!(first_sentence(t, 200), "Creates a refund.");
        assert_eq!(
            after_first_sentence(t),
            "Refunds go back to the card, e.g. within days."
        );
        assert_eq!(
            first_sentence("Use e.g. this one. Then", 200),
            "Use e.g. this one."
        );
        assert_eq!(
            first_sentence("Version 1.2 is out", 200),
            "Version 1.2 is out"
        );
        assert_eq!(first_sentence("no stop at all", 7), "no stop");
        assert_eq!(cut("abcdef", 3), "abc");
        assert_eq!(cut("ab", 3), "ab");
        assert_eq!(first_sentence("", 5), "");
    }
}
