//! Jamey's wire format: every type that crosses a process boundary (HTTP bodies, CLI `--json`
//! output, export files). Each `Serialize` here is a compatibility promise; this crate does no I/O.

pub mod chat;
pub mod error;
pub mod host;
pub mod memory;

pub use chat::{ChatMessage, Role, SessionSummary, TokenUsage, ToolCall, ToolResult};
pub use error::{ErrorBody, ErrorCode, ErrorDetail};
pub use host::{
    CpuInfo, KilledProcess, MemoryUsage, OsInfo, ProcessInfo, ProcessList, RuntimeInfo, SystemInfo,
};
pub use memory::{
    Memory, MemoryFilter, MemoryId, MemoryPage, MemoryPatch, NewMemory, NewMemoryBatch,
    NewMemoryIds, ScoredMemory, SearchMode, SearchRequest, SearchResponse,
};
