//! Key bindings: what each key, mouse wheel step or paste does, by what covers the screen (an
//! approval prompt, the help, the session list, or nothing: the input editor).

use super::{Action, App, Overlay, Scroll, WHEEL_LINES};
use crossterm::event::{
    Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEvent, MouseEventKind,
};

impl App {
    pub(super) fn terminal(&mut self, event: Event) -> Vec<Action> {
        match event {
            Event::Key(key) if key.kind != KeyEventKind::Release => self.key(key),
            Event::Paste(text) => {
                if self.overlay == Overlay::None {
                    self.input.insert_str(&text);
                }
                Vec::new()
            }
            Event::Mouse(mouse) => {
                self.mouse(mouse);
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    fn mouse(&mut self, mouse: MouseEvent) {
        match mouse.kind {
            MouseEventKind::ScrollUp => self.scroll_up(WHEEL_LINES),
            MouseEventKind::ScrollDown => self.scroll_down(WHEEL_LINES),
            _ => {}
        }
    }

    fn key(&mut self, key: KeyEvent) -> Vec<Action> {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Char('q') if ctrl => return vec![Action::Quit],
            KeyCode::Char('c') if ctrl => {
                if self.is_streaming() {
                    return self.cancel();
                }
                if self.overlay != Overlay::None {
                    self.overlay = Overlay::None;
                } else if self.input.is_blank() {
                    return vec![Action::Quit];
                } else {
                    self.input.clear();
                }
                return Vec::new();
            }
            KeyCode::F(1) => {
                self.overlay = match self.overlay {
                    Overlay::Help => Overlay::None,
                    _ => Overlay::Help,
                };
                return Vec::new();
            }
            KeyCode::F(2) => return self.open_session_list(),
            KeyCode::Char('s') if ctrl => return self.open_session_list(),
            KeyCode::PageUp => {
                self.scroll_up(self.page());
                return Vec::new();
            }
            KeyCode::PageDown => {
                self.scroll_down(self.page());
                return Vec::new();
            }
            KeyCode::Char(c) if !ctrl && !self.prompts.is_empty() => return self.approval_key(c),
            _ => {}
        }
        match &mut self.overlay {
            Overlay::Help => {
                if matches!(key.code, KeyCode::Esc | KeyCode::Char('q') | KeyCode::Enter) {
                    self.overlay = Overlay::None;
                }
                Vec::new()
            }
            Overlay::Sessions(list) => match key.code {
                KeyCode::Esc => {
                    self.overlay = Overlay::None;
                    Vec::new()
                }
                KeyCode::Up | KeyCode::Char('k') => {
                    list.up();
                    Vec::new()
                }
                KeyCode::Down | KeyCode::Char('j') => {
                    list.down();
                    Vec::new()
                }
                KeyCode::Home => {
                    list.first();
                    Vec::new()
                }
                KeyCode::End => {
                    list.last();
                    Vec::new()
                }
                KeyCode::Enter => {
                    let Some(id) = list.selected_id().map(str::to_string) else {
                        return Vec::new();
                    };
                    self.overlay = Overlay::None;
                    if self.is_streaming() {
                        self.notice(true, "an answer is streaming: press Esc to cancel it first");
                        return Vec::new();
                    }
                    self.notice(false, &format!("loading session {id}…"));
                    vec![Action::OpenSession(id)]
                }
                _ => Vec::new(),
            },
            Overlay::None => self.editor_key(key),
        }
    }

    fn editor_key(&mut self, key: KeyEvent) -> Vec<Action> {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let alt = key.modifiers.contains(KeyModifiers::ALT);
        let shift = key.modifiers.contains(KeyModifiers::SHIFT);
        match key.code {
            KeyCode::Esc if self.is_streaming() => return self.cancel(),
            KeyCode::Enter if alt || shift => self.input.newline(),
            KeyCode::Char('j') if ctrl => self.input.newline(),
            KeyCode::Enter => return self.submit(),
            KeyCode::Char('y') if ctrl => return self.copy_answer(),
            KeyCode::Char('k') if ctrl => return self.copy_code_block(),
            KeyCode::Char('n') if ctrl => self.new_session(),
            KeyCode::Char('a') if ctrl => self.input.home(),
            KeyCode::Char('e') if ctrl => self.input.end(),
            KeyCode::Char('u') if ctrl => self.input.clear(),
            KeyCode::Char('w') if ctrl => self.input.delete_word(),
            KeyCode::Home if ctrl && self.view.max_top > 0 => self.scroll = Scroll::Top(0),
            KeyCode::End if ctrl => self.scroll = Scroll::Follow,
            KeyCode::Up if shift => self.scroll_up(1),
            KeyCode::Down if shift => self.scroll_down(1),
            KeyCode::Char(c) if !ctrl => self.input.insert_char(c),
            KeyCode::Tab => self.input.insert_str("    "),
            KeyCode::Backspace => self.input.backspace(),
            KeyCode::Delete => self.input.delete(),
            KeyCode::Left => self.input.left(),
            KeyCode::Right => self.input.right(),
            KeyCode::Up => {
                self.input.up();
            }
            KeyCode::Down => {
                self.input.down();
            }
            KeyCode::Home => self.input.home(),
            KeyCode::End => self.input.end(),
            _ => {}
        }
        Vec::new()
    }
}
