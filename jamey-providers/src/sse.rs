//! A Server-Sent Events decoder (the WHATWG framing): bytes in, events out. Handles LF, CRLF
//! and CR line ends split across chunks, comment lines (OpenRouter's `: OPENROUTER
//! PROCESSING`), multi-line `data:` fields and a leading byte-order mark.

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SseEvent {
    /// The `event:` field, if any (OpenAI-style streams send none).
    pub(crate) event: Option<String>,
    /// The `data:` lines joined with `\n`.
    pub(crate) data: String,
}

/// Why the bytes are not an event stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SseError {
    InvalidUtf8,
    LineTooLong(usize),
}

impl std::fmt::Display for SseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::InvalidUtf8 => f.write_str("an SSE line is not valid UTF-8"),
            Self::LineTooLong(limit) => write!(f, "an SSE line is longer than {limit} bytes"),
        }
    }
}

/// Incremental decoder; feed it chunks as they arrive.
#[derive(Debug)]
pub(crate) struct SseDecoder {
    line: Vec<u8>,
    /// The previous chunk ended in `\r`, so a leading `\n` in the next one ends nothing.
    after_cr: bool,
    at_stream_start: bool,
    event: Option<String>,
    data: Option<String>,
    max_line: usize,
}

impl SseDecoder {
    pub(crate) fn new(max_line: usize) -> Self {
        Self {
            line: Vec::new(),
            after_cr: false,
            at_stream_start: true,
            event: None,
            data: None,
            max_line,
        }
    }

    /// Decodes `chunk`, appending every event it completes to `out`.
    pub(crate) fn feed(&mut self, chunk: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        for &byte in chunk {
            match byte {
                b'\n' if self.after_cr => self.after_cr = false,
                b'\n' | b'\r' => {
                    self.after_cr = byte == b'\r';
                    let line = std::mem::take(&mut self.line);
                    self.process_line(&line, out)?;
                }
                _ => {
                    self.after_cr = false;
                    if self.line.len() >= self.max_line {
                        return Err(SseError::LineTooLong(self.max_line));
                    }
                    self.line.push(byte);
                }
            }
        }
        Ok(())
    }

    /// The stream ended: a last event without its blank line is still delivered (servers that
    /// close right after `data: [DONE]` are common).
    pub(crate) fn finish(&mut self, out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        if !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            self.process_line(&line, out)?;
        }
        self.dispatch(out);
        Ok(())
    }

    fn process_line(&mut self, raw: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        let mut line = std::str::from_utf8(raw).map_err(|_| SseError::InvalidUtf8)?;
        if self.at_stream_start {
            self.at_stream_start = false;
            line = line.strip_prefix('\u{feff}').unwrap_or(line);
        }
        if line.is_empty() {
            self.dispatch(out);
            return Ok(());
        }
        if line.starts_with(':') {
            return Ok(());
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "data" => match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_owned()),
            },
            "event" => self.event = Some(value.to_owned()),
            // `id` and `retry` matter to reconnecting browsers, not to a one-shot request.
            _ => {}
        }
        Ok(())
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        let event = self.event.take();
        if let Some(data) = self.data.take() {
            out.push(SseEvent { event, data });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode_in_pieces(input: &[u8], cuts: &[usize]) -> Vec<SseEvent> {
        let mut decoder = SseDecoder::new(1 << 20);
        let mut out = Vec::new();
        let mut start = 0;
        for &cut in cuts {
            let cut = cut.clamp(start, input.len());
            decoder.feed(&input[start..cut], &mut out).unwrap();
            start = cut;
        }
        decoder.feed(&input[start..], &mut out).unwrap();
        decoder.finish(&mut out).unwrap();
        out
    }

    fn data(text: &str) -> SseEvent {
        SseEvent {
            event: None,
            data: text.to_owned(),
        }
    }

    #[test]
    fn comments_crlf_and_multi_line_data() {
        let input = b"\xEF\xBB\xBF: OPENROUTER PROCESSING\r\n\r\ndata: {\"a\":1}\r\n\r\ndata:line one\ndata: line two\n\nevent: error\ndata: x\n\ndata: [DONE]\n\n";
        let events = decode_in_pieces(input, &[]);
        assert_eq!(
            events,
            vec![
                data("{\"a\":1}"),
                data("line one\nline two"),
                SseEvent {
                    event: Some("error".into()),
                    data: "x".into()
                },
                data("[DONE]"),
            ]
        );
    }

    #[test]
    fn a_last_event_without_blank_line_is_delivered() {
        assert_eq!(decode_in_pieces(b"data: [DONE]", &[]), vec![data("[DONE]")]);
    }

    #[test]
    fn overlong_lines_and_bad_utf8_are_errors() {
        let mut decoder = SseDecoder::new(8);
        assert_eq!(
            decoder.feed(b"data: 0123456789", &mut Vec::new()),
            Err(SseError::LineTooLong(8))
        );
        let mut decoder = SseDecoder::new(64);
        assert_eq!(
            decoder.feed(b"data: \xff\n", &mut Vec::new()),
            Err(SseError::InvalidUtf8)
        );
    }

    proptest! {
        #[test]
        fn chunk_boundaries_do_not_matter(cuts in proptest::collection::vec(0usize..120, 0..12), crlf in any::<bool>()) {
            let eol = if crlf { "\r\n" } else { "\n" };
            let text = format!(": OPENROUTER PROCESSING{eol}{eol}data: {{\"x\": \"é\"}}{eol}{eol}data: a{eol}data: b{eol}{eol}data: [DONE]{eol}{eol}");
            let mut cuts = cuts;
            cuts.sort_unstable();
            let events = decode_in_pieces(text.as_bytes(), &cuts);
            prop_assert_eq!(events, vec![data("{\"x\": \"é\"}"), data("a\nb"), data("[DONE]")]);
        }
    }
}
