//! A streaming turn's approval events: the tool runner tells `CallEvents`, this sends them to
//! the client as `approval_required` and `approval_resolved`.

use async_trait::async_trait;
use jamey_protocol::{Approval, ApprovalResolved, ChatEvent};
use tokio::sync::mpsc;

/// The turn's event channel, as the tool runner sees it.
#[derive(Debug)]
pub(crate) struct TurnEvents {
    events: mpsc::Sender<ChatEvent>,
}

impl TurnEvents {
    pub(crate) fn new(events: mpsc::Sender<ChatEvent>) -> Self {
        Self { events }
    }
}

#[async_trait]
impl jamey_tools::CallEvents for TurnEvents {
    async fn approval_required(&self, approval: &Approval) {
        // A client that left cancels the call; nothing to tell it.
        let _ = self
            .events
            .send(ChatEvent::ApprovalRequired(approval.clone()))
            .await;
    }

    async fn approval_resolved(&self, resolved: &ApprovalResolved) {
        let _ = self
            .events
            .send(ChatEvent::ApprovalResolved(resolved.clone()))
            .await;
    }
}
