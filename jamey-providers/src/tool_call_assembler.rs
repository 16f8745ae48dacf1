//! Reassembles streamed tool calls: each call arrives as fragments (id and name first, then the
//! arguments JSON in pieces), and parallel calls interleave, told apart by `index`.

use std::collections::BTreeMap;

use jamey_protocol::ToolCall;

use crate::wire::WireToolCallDelta;

/// The calls of one streamed answer, as far as they have arrived.
#[derive(Debug, Default)]
pub(crate) struct ToolCallAssembler {
    calls: BTreeMap<usize, PartialCall>,
}

#[derive(Debug, Default)]
struct PartialCall {
    id: Option<String>,
    name: String,
    arguments: String,
}

impl ToolCallAssembler {
    /// Adds one delta's fragments. A fragment without `index` extends the call at index 0
    /// (servers that never stream parallel calls omit it).
    pub(crate) fn push(&mut self, delta: WireToolCallDelta) {
        let call = self.calls.entry(delta.index.unwrap_or(0)).or_default();
        if let Some(id) = delta.id.filter(|id| !id.is_empty()) {
            call.id = Some(id);
        }
        if let Some(function) = delta.function {
            if let Some(name) = function.name {
                // Names arrive whole on OpenAI and OpenRouter; concatenating also handles the
                // few servers that split them.
                call.name.push_str(&name);
            }
            if let Some(arguments) = function.arguments {
                call.arguments.push_str(&arguments);
            }
        }
    }

    /// Whether any call has started.
    pub(crate) fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    /// The complete calls in index order. A call without an id gets `call_<index>`; empty
    /// arguments become `{}` (a call of a function without parameters).
    pub(crate) fn finish(&mut self) -> Vec<ToolCall> {
        std::mem::take(&mut self.calls)
            .into_iter()
            .map(|(index, call)| ToolCall {
                id: call.id.unwrap_or_else(|| format!("call_{index}")),
                name: call.name,
                arguments: if call.arguments.trim().is_empty() {
                    "{}".to_owned()
                } else {
                    call.arguments
                },
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::WireFunctionIn;

    fn delta(index: usize, id: Option<&str>, name: Option<&str>, args: &str) -> WireToolCallDelta {
        WireToolCallDelta {
            index: Some(index),
            id: id.map(str::to_owned),
            function: Some(WireFunctionIn {
                name: name.map(str::to_owned),
                arguments: Some(args.to_owned()),
            }),
        }
    }

    #[test]
    fn interleaved_parallel_calls_come_out_whole_and_in_order() {
        let mut assembler = ToolCallAssembler::default();
        assembler.push(delta(1, Some("call_b"), Some("memory_save"), ""));
        assembler.push(delta(0, Some("call_a"), Some("memory_search"), "{\"qu"));
        assembler.push(delta(1, None, None, "{\"content\":"));
        assembler.push(delta(0, None, None, "ery\":\"tea\"}"));
        assembler.push(delta(1, None, None, "\"x\"}"));
        let calls = assembler.finish();
        assert_eq!(calls.len(), 2);
        assert_eq!(
            (
                calls[0].id.as_str(),
                calls[0].name.as_str(),
                calls[0].arguments.as_str()
            ),
            ("call_a", "memory_search", "{\"query\":\"tea\"}")
        );
        assert_eq!(
            (calls[1].id.as_str(), calls[1].arguments.as_str()),
            ("call_b", "{\"content\":\"x\"}")
        );
        assert!(assembler.is_empty());
    }
}
