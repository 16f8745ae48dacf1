//! Whether the model can be called with the key the runtime has. `[llm] api_key_required`
//! decides; unset, it is true for OpenRouter (the default `base_url`), which answers 401 to every
//! request without a key, and false for any other OpenAI-compatible server (Ollama, llama.cpp,
//! vLLM, LM Studio, on this machine or another), which may need none and answers for itself.

/// What a turn and `/ready` say when the key is missing; fixed text, naming what to set.
pub const UNCONFIGURED_MESSAGE: &str = "no LLM API key is configured: set OPENROUTER_API_KEY, or run `jamey secret set llm_api_key`, then restart the runtime";

/// Whether chat can reach its model as configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LlmState {
    /// A key is there, or the server needs none.
    Configured,
    /// The server needs a key and there is none: no request would succeed, so none is sent.
    Unconfigured,
}

impl LlmState {
    pub fn of(key_required: bool, has_key: bool) -> Self {
        if has_key || !key_required {
            Self::Configured
        } else {
            Self::Unconfigured
        }
    }

    /// The name `/ready` reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Configured => "configured",
            Self::Unconfigured => "unconfigured",
        }
    }
}

/// The default of `[llm] api_key_required`: true for OpenRouter's hosts.
pub fn key_required(base_url: &str) -> bool {
    let host = host_of(base_url).to_ascii_lowercase();
    host == "openrouter.ai" || host.ends_with(".openrouter.ai")
}

/// The host of `scheme://[user@]host[:port]/path`, or the whole text when it has no scheme.
fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    if let Some(bracketed) = host.strip_prefix('[') {
        return bracketed.split(']').next().unwrap_or(bracketed);
    }
    host.split(':').next().unwrap_or(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_openrouter_requires_a_key() {
        for url in [
            "https://openrouter.ai/api/v1",
            "https://OpenRouter.ai:443/api/v1/",
            "https://eu.openrouter.ai/api/v1",
        ] {
            assert!(key_required(url), "{url}");
        }
        for url in [
            "http://127.0.0.1:11434/v1",
            "http://localhost:8080/v1",
            "http://[::1]:8000/v1",
            "http://gpu-box.lan:8000/v1",
            "https://openrouter.ai.example.com/v1",
            "http://user@notopenrouter.ai/v1",
        ] {
            assert!(!key_required(url), "{url}");
        }
        assert_eq!(LlmState::of(true, false), LlmState::Unconfigured);
        assert_eq!(LlmState::of(true, true), LlmState::Configured);
        assert_eq!(LlmState::of(false, false), LlmState::Configured);
    }
}
