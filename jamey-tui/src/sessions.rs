//! The session list: past conversations from `GET /v1/sessions`, most recent first, one of
//! which can be reopened; its state and how it is drawn as a popup.

use jamey_protocol::SessionSummary;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, List, ListItem, ListState, Paragraph};
use ratatui::Frame;

/// The list's state: loading, failed, or loaded with a selection.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct SessionList {
    pub(crate) items: Vec<SessionSummary>,
    pub(crate) selected: usize,
    pub(crate) loading: bool,
    pub(crate) error: Option<String>,
}

impl SessionList {
    pub(crate) fn loading() -> Self {
        Self {
            loading: true,
            ..Self::default()
        }
    }

    pub(crate) fn loaded(&mut self, result: Result<Vec<SessionSummary>, String>) {
        self.loading = false;
        match result {
            Ok(items) => {
                self.items = items;
                self.selected = 0;
                self.error = None;
            }
            Err(error) => self.error = Some(error),
        }
    }

    pub(crate) fn up(&mut self) {
        self.selected = self.selected.saturating_sub(1);
    }

    pub(crate) fn down(&mut self) {
        if self.selected + 1 < self.items.len() {
            self.selected += 1;
        }
    }

    pub(crate) fn first(&mut self) {
        self.selected = 0;
    }

    pub(crate) fn last(&mut self) {
        self.selected = self.items.len().saturating_sub(1);
    }

    pub(crate) fn selected_id(&self) -> Option<&str> {
        self.items.get(self.selected).map(|s| s.id.as_str())
    }

    /// Draws the list as a popup over `area`.
    pub(crate) fn draw(&self, frame: &mut Frame<'_>, area: Rect) {
        frame.render_widget(Clear, area);
        let block = Block::default()
            .borders(Borders::ALL)
            .title(" Sessions · ↑↓ choose · Enter open · Esc close ");
        if self.loading || self.error.is_some() || self.items.is_empty() {
            let text = match (&self.error, self.loading) {
                (Some(error), _) => Line::from(Span::styled(
                    format!("cannot list sessions: {error}"),
                    Style::new().fg(Color::Red),
                )),
                (None, true) => Line::from("loading…"),
                (None, false) => Line::from("no sessions yet: send a message to start one"),
            };
            frame.render_widget(Paragraph::new(text).block(block), area);
            return;
        }
        let items: Vec<ListItem<'_>> = self.items.iter().map(item).collect();
        let list = List::new(items)
            .block(block)
            .highlight_style(Style::new().add_modifier(Modifier::REVERSED))
            .highlight_symbol("› ");
        let mut state = ListState::default().with_selected(Some(self.selected));
        frame.render_stateful_widget(list, area, &mut state);
    }
}

fn item(session: &SessionSummary) -> ListItem<'static> {
    let title = session
        .title
        .as_deref()
        .filter(|t| !t.trim().is_empty())
        .unwrap_or(&session.id);
    let title: String = title.split_whitespace().collect::<Vec<_>>().join(" ");
    ListItem::new(Line::from(vec![
        Span::raw(title),
        Span::styled(
            format!(
                "  {} messages · {}",
                session.message_count,
                session.updated_at.format("%Y-%m-%d %H:%M")
            ),
            Style::new().fg(Color::DarkGray),
        ),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn summary(id: &str, title: Option<&str>) -> SessionSummary {
        let at = chrono::DateTime::parse_from_rfc3339("2026-11-30T10:00:00Z")
            .unwrap()
            .to_utc();
        SessionSummary {
            id: id.into(),
            title: title.map(str::to_string),
            message_count: 4,
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn selection_stays_within_the_list() {
        let mut list = SessionList::loading();
        assert_eq!(list.selected_id(), None);
        list.loaded(Ok(vec![summary("a", None), summary("b", None)]));
        assert!(!list.loading);
        list.up();
        assert_eq!(list.selected_id(), Some("a"));
        list.down();
        list.down();
        assert_eq!(list.selected_id(), Some("b"));
        list.first();
        assert_eq!(list.selected_id(), Some("a"));
        list.last();
        assert_eq!(list.selected_id(), Some("b"));
        list.loaded(Err("runtime not running".into()));
        assert_eq!(list.error.as_deref(), Some("runtime not running"));
    }
}
