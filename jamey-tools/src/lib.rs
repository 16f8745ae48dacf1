//! Tools the twin can use while answering: the `Tool` trait, a `ToolRegistry` that validates
//! arguments against each tool's JSON Schema (generated with schemars), applies a permission
//! policy per tool, and runs calls concurrently with a timeout and an output limit each.
//! Built-in tools: `memory_search` and `memory_save`. `host` holds the host operations (system
//! information, processes and killing them under the host rules) that the runtime's host routes
//! call. `Caller` says who asked.

mod caller;
mod error;
pub mod host;
mod memory;
mod registry;

pub use caller::Caller;
pub use error::ToolError;
pub use host::HostError;
pub use memory::{MemorySave, MemorySearch};
pub use registry::{Permission, ToolCallOutcome, ToolLimits, ToolRegistry};

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;

/// A tool with typed arguments. Its JSON Schema comes from `Args`, and the registry hands it
/// arguments that already parsed into `Args`.
#[async_trait]
pub trait Tool: Send + Sync + std::fmt::Debug + 'static {
    /// Arguments, deserialized strictly (unknown fields are errors the model sees).
    type Args: DeserializeOwned + JsonSchema + Send;

    /// The name the model calls it by: `[a-z_]+`.
    fn name(&self) -> &'static str;

    /// What it does, for the model.
    fn description(&self) -> &'static str;

    /// Runs the tool; the text returned goes back to the model.
    async fn call(&self, args: Self::Args) -> Result<String, ToolError>;
}
