//! `http_fetch` (GET or HEAD, read-only, `allow`) and `http_request` (any method with a body,
//! `ask`): one guarded request each, answered with the status, the headers worth knowing and
//! the body as text.

use super::render::render_response;
use super::{request_headers, tool_error};
use crate::net::{GuardedClient, WebRequest};
use crate::{CallContext, Permission, Tool, ToolError};
use async_trait::async_trait;
use reqwest::Method;
use schemars::JsonSchema;
use serde::Deserialize;
use std::collections::BTreeMap;

/// Fetches a URL with GET or HEAD.
#[derive(Debug, Clone)]
pub struct HttpFetch {
    client: GuardedClient,
}

impl HttpFetch {
    pub fn new(client: GuardedClient) -> Self {
        Self { client }
    }
}

/// The methods `http_fetch` may use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum FetchMethod {
    #[default]
    #[serde(rename = "GET")]
    Get,
    #[serde(rename = "HEAD")]
    Head,
}

/// Arguments of `http_fetch`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpFetchArgs {
    /// The http or https URL to fetch.
    pub url: String,
    /// `GET` (default) or `HEAD`.
    #[serde(default)]
    pub method: Option<FetchMethod>,
    /// Request headers, name to value.
    #[serde(default)]
    pub headers: Option<BTreeMap<String, String>>,
}

#[async_trait]
impl Tool for HttpFetch {
    type Args = HttpFetchArgs;

    fn name(&self) -> &'static str {
        "http_fetch"
    }

    fn description(&self) -> &'static str {
        "Fetch an http(s) URL with GET or HEAD. Returns the status, the main headers and the \
         body as text (binary bodies are described, not shown); a long body is cut and marked \
         as cut. Private and local addresses are refused unless the owner allowed them."
    }

    fn default_permission(&self) -> Permission {
        Permission::Allow
    }

    async fn call(&self, args: HttpFetchArgs, context: &CallContext) -> Result<String, ToolError> {
        let method = match args.method.unwrap_or_default() {
            FetchMethod::Get => Method::GET,
            FetchMethod::Head => Method::HEAD,
        };
        let request = WebRequest {
            headers: request_headers(self.name(), args.headers.as_ref())?,
            method: method.clone(),
            url: args.url,
            body: None,
        };
        let response = self
            .client
            .send(request, &context.cancel, context.deadline)
            .await
            .map_err(|e| tool_error(self.name(), e))?;
        Ok(render_response(&response, method != Method::HEAD))
    }
}

/// Sends an HTTP request with any method and an optional body.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    client: GuardedClient,
}

impl HttpRequest {
    pub fn new(client: GuardedClient) -> Self {
        Self { client }
    }
}

/// Arguments of `http_request`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpRequestArgs {
    /// The http or https URL.
    pub url: String,
    /// The method: GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS or another token.
    pub method: String,
    /// Request headers, name to value (set content-type for a body).
    #[serde(default)]
    pub headers: Option<BTreeMap<String, String>>,
    /// The request body, as text.
    #[serde(default)]
    pub body: Option<String>,
}

#[async_trait]
impl Tool for HttpRequest {
    type Args = HttpRequestArgs;

    fn name(&self) -> &'static str {
        "http_request"
    }

    fn description(&self) -> &'static str {
        "Send an HTTP request with any method (POST, PUT, PATCH, DELETE...) and an optional \
         text body to an http(s) URL. Returns the status, the main headers and the body as \
         text, cut when long. Private and local addresses are refused unless the owner allowed \
         them."
    }

    async fn call(
        &self,
        args: HttpRequestArgs,
        context: &CallContext,
    ) -> Result<String, ToolError> {
        let method = Method::from_bytes(args.method.trim().to_ascii_uppercase().as_bytes())
            .map_err(|_| ToolError::InvalidArguments {
                tool: self.name().into(),
                field: Some("method".into()),
                reason: format!("{:?} is not an HTTP method", args.method),
            })?;
        let request = WebRequest {
            headers: request_headers(self.name(), args.headers.as_ref())?,
            method: method.clone(),
            url: args.url,
            body: args.body.map(String::into_bytes),
        };
        let response = self
            .client
            .send(request, &context.cancel, context.deadline)
            .await
            .map_err(|e| tool_error(self.name(), e))?;
        Ok(render_response(&response, method != Method::HEAD))
    }
}
