//! Tool calls waiting for the user: an `approval_required` event puts a prompt over the input
//! (the oldest first when several wait), `y` / `n` / `s` answer it (allow, deny, allow this
//! same call for the rest of the session), and `approval_resolved`, whoever decided, updates
//! the call's line in the transcript and takes its prompt away.

use super::{Action, App};
use crate::transcript::{self, Entry, EntryKind, ToolApproval};
use jamey_client::approval;
use jamey_client::ToolActivity;
use jamey_protocol::{Approval, ApprovalResolved};

impl App {
    /// The call `approval` is about waits; its prompt joins the queue.
    pub(super) fn approval_required(&mut self, call: ToolActivity, approval: Approval) {
        if !transcript::set_tool_approval(&mut self.entries, &call.id, ToolApproval::Waiting) {
            // A call the stream never announced: shown now, so the decision has a line.
            let at = self
                .entries
                .iter()
                .rposition(Entry::is_streaming)
                .unwrap_or(self.entries.len());
            self.entries.insert(
                at,
                Entry::new(
                    EntryKind::Tool {
                        id: call.id,
                        name: call.name,
                        output: None,
                        is_error: false,
                        approval: Some(ToolApproval::Waiting),
                    },
                    call.arguments,
                ),
            );
        }
        if !self.prompts.iter().any(|p| p.id == approval.id) {
            self.prompts.push(approval);
        }
    }

    /// The decision on a call of the running turn, made here or by any other client.
    pub(super) fn approval_resolved(&mut self, call: &ToolActivity, resolved: &ApprovalResolved) {
        transcript::set_tool_approval(
            &mut self.entries,
            &call.id,
            ToolApproval::from_decision(&resolved.decision),
        );
        self.prompts.retain(|p| p.id != resolved.id);
    }

    /// `y`, `n` or `s` while a prompt is shown: the decision to post. Any other character is
    /// swallowed, so that typing a message cannot answer by accident.
    pub(super) fn approval_key(&mut self, c: char) -> Vec<Action> {
        let typed = match c {
            'y' | 'Y' => "y",
            's' | 'S' => "s",
            'n' | 'N' => "n",
            _ => {
                self.notice(
                    true,
                    "a tool call waits: y allows it, n denies it, s allows it for this session",
                );
                return Vec::new();
            }
        };
        if self.prompts.is_empty() {
            return Vec::new();
        }
        let approval = self.prompts.remove(0);
        vec![Action::Decide {
            approval_id: approval.id,
            request: approval::answer(typed),
        }]
    }

    /// The runtime's answer to a decision posted from here; the transcript changes with the
    /// stream's `approval_resolved`, so only a refusal (already decided, expired) is shown.
    pub(super) fn decided(&mut self, result: Result<ApprovalResolved, super::Failure>) {
        if let Err(failure) = result {
            self.failed(&failure);
        }
    }
}
