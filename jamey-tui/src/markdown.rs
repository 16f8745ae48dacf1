//! Markdown (CommonMark with tables, strikethrough and task lists) rendered to styled terminal
//! lines: headings, emphasis, inline code, links, lists, quotes, rules, tables, and fenced code
//! blocks highlighted by `highlight`. A half-streamed answer renders too: an unclosed fence is
//! simply a code block that is still growing.

use crate::highlight::Highlighter;
use pulldown_cmark::{CodeBlockKind, Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};

/// A rendered Markdown text: its lines (not yet wrapped) and the code of each code block, in
/// order, for copying.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Rendered {
    pub(crate) lines: Vec<Line<'static>>,
    pub(crate) code_blocks: Vec<String>,
}

/// Renders `text` as Markdown.
pub(crate) fn render(text: &str, highlighter: &Highlighter) -> Rendered {
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let mut renderer = Renderer::new(highlighter);
    for event in Parser::new_ext(text, options) {
        renderer.event(event);
    }
    renderer.finish()
}

const CODE_FRAME: Style = Style::new().fg(Color::DarkGray);
const INLINE_CODE: Style = Style::new().fg(Color::Yellow);
const QUOTE: Style = Style::new().fg(Color::DarkGray);
const LINK: Style = Style::new()
    .fg(Color::Blue)
    .add_modifier(Modifier::UNDERLINED);

/// One level of list nesting.
#[derive(Debug)]
struct ListLevel {
    /// The next number of an ordered list; `None` for bullets.
    next: Option<u64>,
    /// The width of this level's markers, the indentation of its continuation lines.
    indent: usize,
}

#[derive(Debug)]
struct Renderer<'h> {
    highlighter: &'h Highlighter,
    lines: Vec<Line<'static>>,
    spans: Vec<Span<'static>>,
    styles: Vec<Style>,
    lists: Vec<ListLevel>,
    /// The marker of an item whose first line has not been written yet.
    item_marker: Option<String>,
    quote_depth: usize,
    /// Inside a code block: its language and the code so far.
    code: Option<(String, String)>,
    code_blocks: Vec<String>,
    /// Each open link's target and where its text starts in `spans`.
    links: Vec<(String, usize)>,
    table_cell: usize,
}

impl<'h> Renderer<'h> {
    fn new(highlighter: &'h Highlighter) -> Self {
        Self {
            highlighter,
            lines: Vec::new(),
            spans: Vec::new(),
            styles: Vec::new(),
            lists: Vec::new(),
            item_marker: None,
            quote_depth: 0,
            code: None,
            code_blocks: Vec::new(),
            links: Vec::new(),
            table_cell: 0,
        }
    }

    fn finish(mut self) -> Rendered {
        if let Some((language, code)) = self.code.take() {
            self.code_block(&language, code);
        }
        self.flush();
        while self.lines.last().is_some_and(|l| l.spans.is_empty()) {
            self.lines.pop();
        }
        Rendered {
            lines: self.lines,
            code_blocks: self.code_blocks,
        }
    }

    fn style(&self) -> Style {
        self.styles.last().copied().unwrap_or_default()
    }

    fn push_style(&mut self, patch: Style) {
        self.styles.push(self.style().patch(patch));
    }

    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(text) => self.text(&text),
            Event::Code(code) => {
                let style = self.style().patch(INLINE_CODE);
                self.spans.push(Span::styled(code.into_string(), style));
            }
            Event::Html(html) | Event::InlineHtml(html) => self.text(&html),
            Event::SoftBreak => self.text(" "),
            Event::HardBreak => self.flush(),
            Event::Rule => {
                self.flush();
                self.gap();
                self.lines
                    .push(Line::from(Span::styled("─".repeat(40), CODE_FRAME)));
            }
            Event::TaskListMarker(done) => {
                let marker = if done { "[x] " } else { "[ ] " };
                self.spans.push(Span::raw(marker));
            }
            Event::InlineMath(math) | Event::DisplayMath(math) => self.text(&math),
            Event::FootnoteReference(name) => self.text(&format!("[^{name}]")),
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Paragraph if self.lists.is_empty() => self.gap(),
            Tag::Heading { level, .. } => {
                self.flush();
                self.gap();
                let colour = match level {
                    HeadingLevel::H1 => Color::Magenta,
                    HeadingLevel::H2 => Color::Cyan,
                    _ => Color::Green,
                };
                self.push_style(Style::new().fg(colour).add_modifier(Modifier::BOLD));
                let hashes = "#".repeat(level as usize);
                self.spans
                    .push(Span::styled(format!("{hashes} "), self.style()));
            }
            Tag::BlockQuote(_) => {
                self.flush();
                self.gap();
                self.quote_depth += 1;
            }
            Tag::CodeBlock(kind) => {
                self.flush();
                if self.lists.is_empty() {
                    self.gap();
                }
                let language = match kind {
                    CodeBlockKind::Fenced(info) => info.into_string(),
                    CodeBlockKind::Indented => String::new(),
                };
                self.code = Some((language, String::new()));
            }
            Tag::List(start) => {
                self.flush();
                if self.lists.is_empty() {
                    self.gap();
                }
                let indent = match start {
                    Some(n) => format!("{n}. ").len() + 1,
                    None => 2,
                };
                self.lists.push(ListLevel {
                    next: start,
                    indent,
                });
            }
            Tag::Item => {
                self.flush();
                if let Some(level) = self.lists.last_mut() {
                    let marker = match &mut level.next {
                        Some(n) => {
                            let marker = format!("{n}. ");
                            *n += 1;
                            marker
                        }
                        None => "• ".to_string(),
                    };
                    self.item_marker = Some(format!("{marker:<width$}", width = level.indent));
                }
            }
            Tag::Emphasis => self.push_style(Style::new().add_modifier(Modifier::ITALIC)),
            Tag::Strong => self.push_style(Style::new().add_modifier(Modifier::BOLD)),
            Tag::Strikethrough => {
                self.push_style(Style::new().add_modifier(Modifier::CROSSED_OUT));
            }
            Tag::Link { dest_url, .. } => {
                self.push_style(LINK);
                self.links.push((dest_url.into_string(), self.spans.len()));
            }
            Tag::Image { dest_url, .. } => {
                self.push_style(LINK);
                self.links.push((dest_url.into_string(), self.spans.len()));
                self.spans.push(Span::styled("image: ", self.style()));
            }
            Tag::Table(_) => {
                self.flush();
                self.gap();
            }
            Tag::TableHead => {
                self.table_cell = 0;
                self.push_style(Style::new().add_modifier(Modifier::BOLD));
            }
            Tag::TableRow => self.table_cell = 0,
            Tag::TableCell => {
                if self.table_cell > 0 {
                    self.spans.push(Span::styled(" │ ", CODE_FRAME));
                }
                self.table_cell += 1;
            }
            _ => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph => self.flush(),
            TagEnd::Heading(_) => {
                self.flush();
                self.styles.pop();
            }
            TagEnd::BlockQuote(_) => {
                self.flush();
                self.quote_depth = self.quote_depth.saturating_sub(1);
            }
            TagEnd::CodeBlock => {
                if let Some((language, code)) = self.code.take() {
                    self.code_block(&language, code);
                }
            }
            TagEnd::List(_) => {
                self.flush();
                self.lists.pop();
            }
            TagEnd::Item => self.flush(),
            TagEnd::Emphasis | TagEnd::Strong | TagEnd::Strikethrough => {
                self.styles.pop();
            }
            TagEnd::Link | TagEnd::Image => {
                self.styles.pop();
                if let Some((url, start)) = self.links.pop() {
                    let text: String = self.spans[start.min(self.spans.len())..]
                        .iter()
                        .map(|s| s.content.as_ref())
                        .collect();
                    if !url.is_empty() && text.trim() != url {
                        self.spans
                            .push(Span::styled(format!(" ({url})"), CODE_FRAME));
                    }
                }
            }
            TagEnd::TableHead => {
                self.flush();
                self.styles.pop();
                self.lines
                    .push(Line::from(Span::styled("─".repeat(24), CODE_FRAME)));
            }
            TagEnd::TableRow => self.flush(),
            _ => {}
        }
    }

    fn text(&mut self, text: &str) {
        if let Some((_, code)) = &mut self.code {
            code.push_str(text);
            return;
        }
        for (i, part) in text.split('\n').enumerate() {
            if i > 0 {
                self.flush();
            }
            if !part.is_empty() {
                self.spans
                    .push(Span::styled(part.to_string(), self.style()));
            }
        }
    }

    fn code_block(&mut self, language: &str, code: String) {
        let label = if language.is_empty() {
            "┌─".to_string()
        } else {
            format!("┌─ {language}")
        };
        self.push_line(vec![Span::styled(label, CODE_FRAME)]);
        for line in self.highlighter.highlight(&code, language) {
            let mut spans = vec![Span::styled("│ ", CODE_FRAME)];
            spans.extend(line.spans);
            self.push_line(spans);
        }
        self.push_line(vec![Span::styled("└─", CODE_FRAME)]);
        self.code_blocks.push(code);
    }

    /// Ends the line being built, if it has anything in it.
    fn flush(&mut self) {
        if self.spans.is_empty() && self.item_marker.is_none() {
            return;
        }
        let spans = std::mem::take(&mut self.spans);
        self.push_line(spans);
    }

    /// A line with the quote bars and list indentation in front of `spans`.
    fn push_line(&mut self, spans: Vec<Span<'static>>) {
        let mut line = Vec::with_capacity(spans.len() + 2);
        for _ in 0..self.quote_depth {
            line.push(Span::styled("▌ ", QUOTE));
        }
        if !self.lists.is_empty() {
            let outer: usize = self.lists[..self.lists.len() - 1]
                .iter()
                .map(|l| l.indent)
                .sum();
            let own = self.lists.last().map_or(0, |l| l.indent);
            let indent = match self.item_marker.take() {
                Some(marker) => format!("{}{marker}", " ".repeat(outer)),
                None => " ".repeat(outer + own),
            };
            line.push(Span::raw(indent));
        }
        let style = if self.quote_depth > 0 {
            Style::new().add_modifier(Modifier::ITALIC)
        } else {
            Style::new()
        };
        line.extend(spans.into_iter().map(|s| {
            let patched = style.patch(s.style);
            s.style(patched)
        }));
        self.lines.push(Line::from(line));
    }

    /// A blank line between blocks, never two and never first.
    fn gap(&mut self) {
        if self.lines.last().is_some_and(|l| !l.spans.is_empty()) {
            self.lines.push(Line::default());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(rendered: &Rendered) -> Vec<String> {
        rendered
            .lines
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect()
    }

    fn span_style(rendered: &Rendered, text: &str) -> Style {
        rendered
            .lines
            .iter()
            .flat_map(|l| l.spans.iter())
            .find(|s| s.content.contains(text))
            .map(|s| s.style)
            .unwrap_or_else(|| panic!("no span with {text:?} in {:?}", plain(rendered)))
    }

    #[test]
    fn paragraphs_headings_and_emphasis() {
        let highlighter = Highlighter::default();
        let rendered = render(
            "# Title\n\nSome **bold** and *italic*\ntext with `code`.\n\nNext.",
            &highlighter,
        );
        assert_eq!(
            plain(&rendered),
            vec![
                "# Title",
                "",
                "Some bold and italic text with code.",
                "",
                "Next."
            ]
        );
        assert!(span_style(&rendered, "Title")
            .add_modifier
            .contains(Modifier::BOLD));
        assert!(span_style(&rendered, "bold")
            .add_modifier
            .contains(Modifier::BOLD));
        assert!(span_style(&rendered, "italic")
            .add_modifier
            .contains(Modifier::ITALIC));
        assert_eq!(span_style(&rendered, "code").fg, Some(Color::Yellow));
    }

    #[test]
    fn code_blocks_are_framed_highlighted_and_kept_for_copying() {
        let highlighter = Highlighter::default();
        let rendered = render(
            "Try:\n\n```rust\nfn main() {}\n```\n\nand\n\n```\nplain\n```",
            &highlighter,
        );
        assert_eq!(
            plain(&rendered),
            vec![
                "Try:",
                "",
                "┌─ rust",
                "│ fn main() {}",
                "└─",
                "",
                "and",
                "",
                "┌─",
                "│ plain",
                "└─"
            ]
        );
        assert_eq!(rendered.code_blocks, vec!["fn main() {}\n", "plain\n"]);
        let keyword = span_style(&rendered, "fn");
        assert!(matches!(keyword.fg, Some(Color::Rgb(..))), "{keyword:?}");
    }

    #[test]
    fn an_unclosed_fence_while_streaming_is_a_growing_code_block() {
        let highlighter = Highlighter::default();
        let rendered = render("```python\nprint(1)\nprint(", &highlighter);
        assert_eq!(
            plain(&rendered),
            vec!["┌─ python", "│ print(1)", "│ print(", "└─"]
        );
        assert_eq!(rendered.code_blocks, vec!["print(1)\nprint("]);
    }

    #[test]
    fn lists_nest_and_number() {
        let highlighter = Highlighter::default();
        let rendered = render(
            "- one\n- two\n  - inner\n\n1. first\n2. second\n\n- [x] done",
            &highlighter,
        );
        assert_eq!(
            plain(&rendered),
            vec![
                "• one",
                "• two",
                "  • inner",
                "",
                "1.  first",
                "2.  second",
                "",
                "• [x] done"
            ]
        );
    }

    #[test]
    fn quotes_links_rules_and_tables() {
        let highlighter = Highlighter::default();
        let rendered = render(
            "> quoted\n\nsee [docs](https://x.dev) or <https://y.dev>\n\n---\n\n| a | b |\n|---|---|\n| 1 | 2 |",
            &highlighter,
        );
        let lines = plain(&rendered);
        assert_eq!(lines[0], "▌ quoted");
        assert_eq!(lines[2], "see docs (https://x.dev) or https://y.dev");
        assert_eq!(lines[4], "─".repeat(40));
        assert_eq!(&lines[6..], ["a │ b", &"─".repeat(24), "1 │ 2"]);
        assert!(span_style(&rendered, "docs")
            .add_modifier
            .contains(Modifier::UNDERLINED));
    }
}
