//! The input editor: a small multi-line text buffer with a cursor, edited by key presses
//! (Enter sends, Alt+Enter inserts a line break) and taken whole when the message is sent.

/// A multi-line text being typed, with the cursor as (line, char column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InputEditor {
    lines: Vec<String>,
    row: usize,
    /// In characters, not bytes.
    col: usize,
}

impl Default for InputEditor {
    fn default() -> Self {
        Self {
            lines: vec![String::new()],
            row: 0,
            col: 0,
        }
    }
}

impl InputEditor {
    /// The text as typed, lines joined with `\n`.
    pub(crate) fn text(&self) -> String {
        self.lines.join("\n")
    }

    pub(crate) fn lines(&self) -> &[String] {
        &self.lines
    }

    /// The cursor as (line, column in characters).
    pub(crate) fn cursor(&self) -> (usize, usize) {
        (self.row, self.col)
    }

    pub(crate) fn is_blank(&self) -> bool {
        self.lines.iter().all(|line| line.trim().is_empty())
    }

    /// Empties the editor and returns what was in it.
    pub(crate) fn take(&mut self) -> String {
        let text = self.text();
        *self = Self::default();
        text
    }

    pub(crate) fn clear(&mut self) {
        *self = Self::default();
    }

    /// Inserts typed or pasted text at the cursor; `\n` (and `\r\n`) start new lines.
    pub(crate) fn insert_str(&mut self, text: &str) {
        let text = text.replace("\r\n", "\n").replace('\r', "\n");
        for (i, part) in text.split('\n').enumerate() {
            if i > 0 {
                self.newline();
            }
            for c in part.chars() {
                self.insert_char(c);
            }
        }
    }

    pub(crate) fn insert_char(&mut self, c: char) {
        if c == '\n' {
            self.newline();
            return;
        }
        if c.is_control() && c != '\t' {
            return;
        }
        let at = self.byte_index();
        self.lines[self.row].insert(at, c);
        self.col += 1;
    }

    /// Splits the line at the cursor.
    pub(crate) fn newline(&mut self) {
        let at = self.byte_index();
        let rest = self.lines[self.row].split_off(at);
        self.row += 1;
        self.lines.insert(self.row, rest);
        self.col = 0;
    }

    /// Deletes the character before the cursor, joining lines at a line start.
    pub(crate) fn backspace(&mut self) {
        if self.col > 0 {
            self.col -= 1;
            let at = self.byte_index();
            self.lines[self.row].remove(at);
        } else if self.row > 0 {
            let line = self.lines.remove(self.row);
            self.row -= 1;
            self.col = self.line_len(self.row);
            self.lines[self.row].push_str(&line);
        }
    }

    /// Deletes the character under the cursor, joining the next line at a line end.
    pub(crate) fn delete(&mut self) {
        if self.col < self.line_len(self.row) {
            let at = self.byte_index();
            self.lines[self.row].remove(at);
        } else if self.row + 1 < self.lines.len() {
            let next = self.lines.remove(self.row + 1);
            self.lines[self.row].push_str(&next);
        }
    }

    pub(crate) fn left(&mut self) {
        if self.col > 0 {
            self.col -= 1;
        } else if self.row > 0 {
            self.row -= 1;
            self.col = self.line_len(self.row);
        }
    }

    pub(crate) fn right(&mut self) {
        if self.col < self.line_len(self.row) {
            self.col += 1;
        } else if self.row + 1 < self.lines.len() {
            self.row += 1;
            self.col = 0;
        }
    }

    /// Moves up a line; false when already on the first (so the caller may scroll instead).
    pub(crate) fn up(&mut self) -> bool {
        if self.row == 0 {
            return false;
        }
        self.row -= 1;
        self.col = self.col.min(self.line_len(self.row));
        true
    }

    /// Moves down a line; false when already on the last.
    pub(crate) fn down(&mut self) -> bool {
        if self.row + 1 >= self.lines.len() {
            return false;
        }
        self.row += 1;
        self.col = self.col.min(self.line_len(self.row));
        true
    }

    pub(crate) fn home(&mut self) {
        self.col = 0;
    }

    pub(crate) fn end(&mut self) {
        self.col = self.line_len(self.row);
    }

    /// Deletes the word before the cursor (Ctrl-W).
    pub(crate) fn delete_word(&mut self) {
        if self.col == 0 {
            self.backspace();
            return;
        }
        let chars: Vec<char> = self.lines[self.row].chars().collect();
        let mut start = self.col;
        while start > 0 && chars[start - 1].is_whitespace() {
            start -= 1;
        }
        while start > 0 && !chars[start - 1].is_whitespace() {
            start -= 1;
        }
        let kept: String = chars[..start].iter().chain(&chars[self.col..]).collect();
        self.lines[self.row] = kept;
        self.col = start;
    }

    fn line_len(&self, row: usize) -> usize {
        self.lines[row].chars().count()
    }

    fn byte_index(&self) -> usize {
        let line = &self.lines[self.row];
        line.char_indices()
            .nth(self.col)
            .map_or(line.len(), |(i, _)| i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(text: &str) -> InputEditor {
        let mut editor = InputEditor::default();
        editor.insert_str(text);
        editor
    }

    #[test]
    fn typing_and_line_breaks_build_a_multi_line_message() {
        let mut editor = typed("hello");
        editor.newline();
        editor.insert_str("wörld");
        assert_eq!(editor.text(), "hello\nwörld");
        assert_eq!(editor.cursor(), (1, 5));
        assert_eq!(editor.lines().len(), 2);
        assert_eq!(editor.take(), "hello\nwörld");
        assert_eq!(editor, InputEditor::default());
        assert!(editor.is_blank());
    }

    #[test]
    fn newline_in_the_middle_splits_the_line() {
        let mut editor = typed("abcd");
        editor.left();
        editor.left();
        editor.newline();
        assert_eq!(editor.text(), "ab\ncd");
        assert_eq!(editor.cursor(), (1, 0));
    }

    #[test]
    fn backspace_and_delete_join_lines_at_their_edges() {
        let mut editor = typed("ab\ncd");
        editor.home();
        editor.backspace();
        assert_eq!(editor.text(), "abcd");
        assert_eq!(editor.cursor(), (0, 2));
        editor.newline();
        editor.up();
        editor.end();
        editor.delete();
        assert_eq!(editor.text(), "abcd");
        editor.backspace();
        assert_eq!(editor.text(), "acd");
        editor.delete();
        assert_eq!(editor.text(), "ad");
        assert_eq!(editor.cursor(), (0, 1));
    }

    #[test]
    fn multibyte_characters_are_edited_whole() {
        let mut editor = typed("héllo 👋");
        editor.backspace();
        editor.left();
        editor.left();
        editor.left();
        editor.left();
        editor.backspace();
        assert_eq!(editor.text(), "hllo ");
        editor.insert_char('é');
        assert_eq!(editor.text(), "héllo ");
    }

    #[test]
    fn cursor_movement_wraps_across_lines_and_clamps_columns() {
        let mut editor = typed("long line\nab");
        assert!(editor.up());
        assert_eq!(editor.cursor(), (0, 2));
        editor.end();
        assert!(editor.down());
        assert_eq!(editor.cursor(), (1, 2));
        assert!(!editor.down());
        editor.right();
        assert_eq!(editor.cursor(), (1, 2));
        editor.home();
        editor.left();
        assert_eq!(editor.cursor(), (0, 9));
        editor.right();
        assert_eq!(editor.cursor(), (1, 0));
        assert!(editor.up());
        assert!(!editor.up());
    }

    #[test]
    fn pasted_text_keeps_its_lines_and_drops_control_characters() {
        let editor = typed("one\r\ntwo\u{7}\nthree");
        assert_eq!(editor.text(), "one\ntwo\nthree");
        assert_eq!(editor.cursor(), (2, 5));
    }

    #[test]
    fn delete_word_removes_the_word_before_the_cursor() {
        let mut editor = typed("send the  answer  ");
        editor.delete_word();
        assert_eq!(editor.text(), "send the  ");
        editor.delete_word();
        assert_eq!(editor.text(), "send ");
    }
}
