//! `AuditTrail`: the audit rows of tool calls, written by one background task so a call does
//! not wait for the store's commit. Rows are written in the order calls finished; `flush`
//! waits until every row queued before it is written, and a page read on this instance flushes
//! first, so a client always sees the calls it made. At shutdown the runtime flushes.

use jamey_core::audit::{AuditError, ToolCallLog, ToolCallQuery};
use jamey_protocol::{ToolCallEntry, ToolCallPage};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Rows that may wait for the writer; beyond this a finished call waits for room.
const QUEUE: usize = 4096;

enum Message {
    Record(Box<ToolCallEntry>),
    Flush(oneshot::Sender<()>),
}

/// The queue in front of a `ToolCallLog`.
#[derive(Debug, Clone)]
pub struct AuditTrail {
    queue: mpsc::Sender<Message>,
    log: Arc<dyn ToolCallLog>,
}

impl AuditTrail {
    /// Starts the writer on the current tokio runtime.
    pub fn spawn(log: Arc<dyn ToolCallLog>) -> Self {
        let (queue, mut rows) = mpsc::channel::<Message>(QUEUE);
        let writer = log.clone();
        tokio::spawn(async move {
            while let Some(message) = rows.recv().await {
                match message {
                    Message::Record(entry) => {
                        if let Err(error) = writer.record(&entry).await {
                            tracing::error!(%error, call_id = %entry.id, tool = %entry.tool, "cannot record the tool call in the audit trail");
                        }
                    }
                    Message::Flush(done) => {
                        let _ = done.send(());
                    }
                }
            }
        });
        Self { queue, log }
    }

    /// Queues a row; waits only when the queue is full.
    pub async fn record(&self, entry: ToolCallEntry) {
        if self
            .queue
            .send(Message::Record(Box::new(entry)))
            .await
            .is_err()
        {
            tracing::error!("the audit writer has stopped; a tool call row is lost");
        }
    }

    /// Returns once every row queued before this call is written.
    pub async fn flush(&self) {
        let (done, written) = oneshot::channel();
        if self.queue.send(Message::Flush(done)).await.is_ok() {
            let _ = written.await;
        }
    }

    /// A page of the trail, including every call this instance finished before.
    pub async fn page(&self, query: &ToolCallQuery) -> Result<ToolCallPage, AuditError> {
        self.flush().await;
        self.log.page(query).await
    }
}
