//! Syntax highlighting of code blocks with syntect's built-in syntaxes and themes (pure-Rust
//! regexes, nothing loaded at run time), turned into styled ratatui lines.

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use syntect::easy::HighlightLines;
use syntect::highlighting::{FontStyle, Theme, ThemeSet};
use syntect::parsing::{SyntaxReference, SyntaxSet};
use syntect::util::LinesWithEndings;

/// The theme code blocks use; one of syntect's built-in themes, readable on dark terminals.
const THEME: &str = "base16-ocean.dark";

/// Loaded syntax definitions and the theme; load once, it takes a few milliseconds.
#[derive(Debug)]
pub(crate) struct Highlighter {
    syntaxes: SyntaxSet,
    theme: Theme,
}

impl Default for Highlighter {
    fn default() -> Self {
        let mut themes = ThemeSet::load_defaults();
        let theme = themes
            .themes
            .remove(THEME)
            .unwrap_or_else(|| themes.themes.into_values().next().unwrap_or_default());
        Self {
            syntaxes: SyntaxSet::load_defaults_newlines(),
            theme,
        }
    }
}

impl Highlighter {
    /// `code` as styled lines, highlighted as `language` (a fence's info string such as `rust`,
    /// `py` or `sh`); unknown languages and highlighting failures come out plain.
    pub(crate) fn highlight(&self, code: &str, language: &str) -> Vec<Line<'static>> {
        let plain = || {
            code.lines()
                .map(|line| Line::from(line.to_string()))
                .collect::<Vec<_>>()
        };
        let Some(syntax) = self.syntax(language) else {
            return plain();
        };
        let mut highlighter = HighlightLines::new(syntax, &self.theme);
        let mut lines = Vec::new();
        for line in LinesWithEndings::from(code) {
            let Ok(regions) = highlighter.highlight_line(line, &self.syntaxes) else {
                return plain();
            };
            let spans: Vec<Span<'static>> = regions
                .into_iter()
                .filter_map(|(style, text)| {
                    let text = text.trim_end_matches(['\n', '\r']);
                    (!text.is_empty()).then(|| Span::styled(text.to_string(), convert(style)))
                })
                .collect();
            lines.push(Line::from(spans));
        }
        lines
    }

    fn syntax(&self, language: &str) -> Option<&SyntaxReference> {
        let token = language.split([',', ' ']).next().unwrap_or_default().trim();
        if token.is_empty() {
            return None;
        }
        self.syntaxes.find_syntax_by_token(token)
    }
}

fn convert(style: syntect::highlighting::Style) -> Style {
    let fg = style.foreground;
    let mut out = Style::default().fg(Color::Rgb(fg.r, fg.g, fg.b));
    if style.font_style.contains(FontStyle::BOLD) {
        out = out.add_modifier(Modifier::BOLD);
    }
    if style.font_style.contains(FontStyle::ITALIC) {
        out = out.add_modifier(Modifier::ITALIC);
    }
    if style.font_style.contains(FontStyle::UNDERLINE) {
        out = out.add_modifier(Modifier::UNDERLINED);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(line: &Line<'_>) -> String {
        line.spans.iter().map(|s| s.content.as_ref()).collect()
    }

    #[test]
    fn known_languages_get_several_colours_and_keep_their_text() {
        let highlighter = Highlighter::default();
        let lines = highlighter.highlight("fn main() {\n    let x = \"hi\";\n}\n", "rust");
        assert_eq!(lines.len(), 3);
        assert_eq!(text(&lines[1]), "    let x = \"hi\";");
        let colours: std::collections::HashSet<_> = lines
            .iter()
            .flat_map(|l| l.spans.iter().filter_map(|s| s.style.fg))
            .collect();
        assert!(colours.len() >= 3, "{colours:?}");
    }

    #[test]
    fn aliases_and_info_strings_find_the_syntax() {
        let highlighter = Highlighter::default();
        for language in ["py", "python", "sh", "rust,ignore", "js"] {
            let lines = highlighter.highlight("x = 1\n", language);
            assert!(
                lines[0].spans.iter().any(|s| s.style.fg.is_some()),
                "{language}"
            );
        }
    }

    #[test]
    fn unknown_languages_come_out_plain() {
        let highlighter = Highlighter::default();
        let lines = highlighter.highlight("a\nb", "no-such-language");
        assert_eq!(lines.len(), 2);
        assert!(lines
            .iter()
            .all(|l| l.spans.iter().all(|s| s.style.fg.is_none())));
        assert_eq!(text(&lines[1]), "b");
    }
}
