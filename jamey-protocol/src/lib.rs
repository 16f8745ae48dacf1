//! Jamey's wire format: every type that crosses a process boundary (HTTP bodies, CLI `--json`
//! output, export files). Each `Serialize` here is a compatibility promise; this crate does no I/O.
//! Beside the types, the names every process agrees on: the layout of `JAMEY_HOME`, the default
//! listen address and the environment variables the runtime reads (`home`, `settings`).

pub mod chat;
pub mod error;
pub mod home;
pub mod host;
pub mod memory;
pub mod settings;
pub mod tools;

pub use chat::{
    ChatEvent, ChatMessage, ChatReply, ChatRequest, MessagePage, MessageStatus, Role,
    SessionMessage, SessionPage, SessionSummary, TokenUsage, ToolCall, ToolCallRecord,
    ToolDescription, ToolResult,
};
pub use error::{ErrorBody, ErrorCode, ErrorDetail};
pub use host::{
    CpuInfo, KilledProcess, MemoryUsage, OsInfo, ProcessInfo, ProcessList, RuntimeInfo, SystemInfo,
};
pub use memory::{
    Memory, MemoryFilter, MemoryId, MemoryPage, MemoryPatch, NewMemory, NewMemoryBatch,
    NewMemoryIds, ScoredMemory, SearchMode, SearchRequest, SearchResponse,
};
pub use tools::{
    Approval, ApprovalList, ApprovalResolved, CallDecision, Decision, DecisionRequest,
    InvokeRequest, InvokeResponse, Permission, Remember, ToolCallEntry, ToolCallPage, ToolList,
};
