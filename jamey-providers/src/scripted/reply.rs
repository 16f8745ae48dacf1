//! Scripted replies and the builders that write them in OpenRouter's wire format: completion
//! bodies, SSE chunks (`data: {...}\n\n`, `: OPENROUTER PROCESSING` comments, tool-call deltas
//! with index/id/name/argument fragments, the usage chunk with `cost`, the mid-stream `error`
//! object, `data: [DONE]`), OpenRouter's error bodies and the HTML pages a proxy answers with.

use std::time::Duration;

use serde_json::{json, Value};

/// What the server does with one request.
#[derive(Debug, Clone)]
pub enum ScriptedReply {
    /// A JSON body with this status and extra headers.
    Json {
        status: u16,
        headers: Vec<(String, String)>,
        body: Value,
    },
    /// A body that is not JSON (an HTML error page, a proxy's plain text) with this status.
    Text {
        status: u16,
        headers: Vec<(String, String)>,
        content_type: String,
        body: String,
    },
    /// `200 text/event-stream` with these frames, written in order.
    Stream {
        headers: Vec<(String, String)>,
        frames: Vec<SseFrame>,
    },
    /// Never answers; the server counts a disconnect when the client gives up.
    Hang,
}

/// One step of a scripted stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SseFrame {
    /// Bytes written as they are (one or more SSE lines).
    Bytes(String),
    /// Wait before writing the next frame.
    Pause(Duration),
}

/// Token counts (and OpenRouter's cost) of a scripted answer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScriptedUsage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost: Option<f64>,
}

impl ScriptedUsage {
    fn to_json(self) -> Value {
        let mut usage = json!({
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0},
        });
        if let (Some(cost), Some(object)) = (self.cost, usage.as_object_mut()) {
            object.insert("cost".into(), json!(cost));
            object.insert("is_byok".into(), json!(false));
            object.insert(
                "cost_details".into(),
                json!({"upstream_inference_cost": null}),
            );
        }
        usage
    }
}

const CREATED: u64 = 1_764_460_800;

impl ScriptedReply {
    /// A 200 chat completion answering `content`.
    pub fn completion(model: &str, content: &str, usage: Option<ScriptedUsage>) -> Self {
        Self::completion_message(
            model,
            json!({"role": "assistant", "content": content, "refusal": null, "reasoning": null}),
            "stop",
            usage,
        )
    }

    /// A 200 chat completion calling tools: `(id, name, arguments JSON)` each.
    pub fn completion_with_tool_calls(
        model: &str,
        calls: &[(&str, &str, &str)],
        usage: Option<ScriptedUsage>,
    ) -> Self {
        let tool_calls: Vec<Value> = calls
            .iter()
            .enumerate()
            .map(|(index, (id, name, arguments))| {
                json!({"index": index, "id": id, "type": "function", "function": {"name": name, "arguments": arguments}})
            })
            .collect();
        Self::completion_message(
            model,
            json!({"role": "assistant", "content": "", "refusal": null, "reasoning": null, "tool_calls": tool_calls}),
            "tool_calls",
            usage,
        )
    }

    fn completion_message(
        model: &str,
        message: Value,
        finish_reason: &str,
        usage: Option<ScriptedUsage>,
    ) -> Self {
        let mut body = json!({
            "id": format!("gen-{CREATED}-scripted"),
            "provider": "Scripted",
            "model": model,
            "object": "chat.completion",
            "created": CREATED,
            "choices": [{
                "logprobs": null,
                "finish_reason": finish_reason,
                "native_finish_reason": finish_reason,
                "index": 0,
                "message": message,
            }],
        });
        if let (Some(usage), Some(object)) = (usage, body.as_object_mut()) {
            object.insert("usage".into(), usage.to_json());
        }
        Self::Json {
            status: 200,
            headers: Vec::new(),
            body,
        }
    }

    /// An error in OpenRouter's shape: `{"error": {"code": status, "message": ...}}`.
    pub fn error(status: u16, message: &str) -> Self {
        Self::Json {
            status,
            headers: Vec::new(),
            body: json!({"error": {"code": status, "message": message}}),
        }
    }

    /// An HTML page with this status, as a proxy or a crashed server in front of the API sends.
    pub fn html(status: u16, page: &str) -> Self {
        Self::Text {
            status,
            headers: Vec::new(),
            content_type: "text/html; charset=utf-8".to_owned(),
            body: page.to_owned(),
        }
    }

    /// 429 with `Retry-After: retry_after` (seconds or an HTTP date).
    pub fn rate_limited(retry_after: &str) -> Self {
        Self::Json {
            status: 429,
            headers: vec![("retry-after".to_owned(), retry_after.to_owned())],
            body: json!({"error": {"code": 429, "message": "Rate limit exceeded: free-models-per-min"}}),
        }
    }

    /// Adds a response header.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        match &mut self {
            Self::Json { headers, .. }
            | Self::Text { headers, .. }
            | Self::Stream { headers, .. } => {
                headers.push((name.to_owned(), value.to_owned()));
            }
            Self::Hang => {}
        }
        self
    }
}

/// Builds an SSE stream in OpenRouter's framing, one frame per call.
#[derive(Debug, Clone)]
pub struct StreamScript {
    model: String,
    id: String,
    eol: &'static str,
    frames: Vec<SseFrame>,
    role_sent: bool,
}

impl StreamScript {
    pub fn new(model: &str) -> Self {
        Self {
            model: model.to_owned(),
            id: format!("gen-{CREATED}-scripted"),
            eol: "\n",
            frames: Vec::new(),
            role_sent: false,
        }
    }

    /// A whole streamed answer: a processing comment, `pieces` as text deltas, `stop`, the
    /// usage chunk and `[DONE]`.
    pub fn answer(model: &str, pieces: &[&str], usage: ScriptedUsage) -> Self {
        let mut script = Self::new(model).processing_comment();
        for piece in pieces {
            script = script.text(piece);
        }
        script.finish("stop").usage(usage).done()
    }

    /// Write the following frames with CRLF line ends.
    pub fn crlf(mut self) -> Self {
        self.eol = "\r\n";
        self
    }

    /// `: OPENROUTER PROCESSING`, OpenRouter's keep-alive comment.
    pub fn processing_comment(self) -> Self {
        let line = format!(": OPENROUTER PROCESSING{eol}{eol}", eol = self.eol);
        self.raw(&line)
    }

    /// A text delta.
    pub fn text(mut self, content: &str) -> Self {
        let delta = if self.role_sent {
            json!({"content": content})
        } else {
            self.role_sent = true;
            json!({"role": "assistant", "content": content})
        };
        self.chunk(delta, Value::Null, None)
    }

    /// The first fragment of tool call `index`: its id and name, empty arguments.
    pub fn tool_call_start(self, index: usize, id: &str, name: &str) -> Self {
        self.chunk(
            json!({"role": "assistant", "content": null, "tool_calls": [
                {"index": index, "id": id, "type": "function", "function": {"name": name, "arguments": ""}}
            ]}),
            Value::Null,
            None,
        )
    }

    /// A fragment of tool call `index`'s arguments JSON.
    pub fn tool_call_arguments(self, index: usize, fragment: &str) -> Self {
        self.chunk(
            json!({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]}),
            Value::Null,
            None,
        )
    }

    /// The chunk carrying `finish_reason`.
    pub fn finish(self, reason: &str) -> Self {
        self.chunk(
            json!({"role": "assistant", "content": ""}),
            json!(reason),
            None,
        )
    }

    /// The usage chunk that follows the finish reason.
    pub fn usage(self, usage: ScriptedUsage) -> Self {
        self.chunk(
            json!({"role": "assistant", "content": ""}),
            Value::Null,
            Some(usage.to_json()),
        )
    }

    /// OpenRouter's mid-stream error: an `error` object and `finish_reason: "error"`.
    pub fn error(self, code: Value, message: &str) -> Self {
        let body = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": self.model,
            "provider": "Scripted",
            "error": {"code": code, "message": message},
            "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "error", "native_finish_reason": "error"}],
        });
        self.data(&body.to_string())
    }

    /// `data: [DONE]`.
    pub fn done(self) -> Self {
        self.data("[DONE]")
    }

    /// One `data:` event with this payload.
    pub fn data(self, payload: &str) -> Self {
        let frame = format!("data: {payload}{eol}{eol}", eol = self.eol);
        self.raw(&frame)
    }

    /// Bytes exactly as given.
    pub fn raw(mut self, text: &str) -> Self {
        self.frames.push(SseFrame::Bytes(text.to_owned()));
        self
    }

    /// Waits before the next frame.
    pub fn pause(mut self, pause: Duration) -> Self {
        self.frames.push(SseFrame::Pause(pause));
        self
    }

    pub fn into_reply(self) -> ScriptedReply {
        ScriptedReply::Stream {
            headers: vec![("x-generation-id".to_owned(), self.id)],
            frames: self.frames,
        }
    }

    fn chunk(self, delta: Value, finish_reason: Value, usage: Option<Value>) -> Self {
        let mut body = json!({
            "id": self.id,
            "provider": "Scripted",
            "model": self.model,
            "object": "chat.completion.chunk",
            "created": CREATED,
            "choices": [{
                "index": 0,
                "delta": delta,
                "finish_reason": finish_reason,
                "native_finish_reason": finish_reason,
                "logprobs": null,
            }],
        });
        if let (Some(usage), Some(object)) = (usage, body.as_object_mut()) {
            object.insert("usage".into(), usage);
        }
        self.data(&body.to_string())
    }
}
