//! Reaching the runtime from a command: the endpoint from the home, `--url`, `JAMEY_LISTEN`
//! and `JAMEY_TOKEN`, the client, and a small async runtime to drive it.

use std::future::Future;

use anyhow::Context;
use jamey_client::{ClientError, Endpoint, EndpointSettings, JameyClient};
use jamey_core::home::JameyHome;
use jamey_protocol::settings::{LISTEN_VARIABLE, TOKEN_VARIABLE};

/// Where a command looks for the runtime.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) home: JameyHome,
    /// `--url`.
    pub(crate) url: Option<String>,
}

impl Target {
    /// The runtime's endpoint as the runtime itself would resolve its listen address.
    pub(crate) fn endpoint(&self) -> Result<Endpoint, ClientError> {
        Endpoint::resolve(&EndpointSettings {
            home: self.home.root().to_owned(),
            url: self.url.clone(),
            listen: std::env::var(LISTEN_VARIABLE).ok(),
            token: std::env::var(TOKEN_VARIABLE).ok(),
        })
    }

    /// A client for the runtime; fails on an uninitialised home before any request.
    pub(crate) fn client(&self) -> Result<JameyClient, ClientError> {
        if !crate::is_initialised(&self.home) {
            return Err(ClientError::NotInitialised {
                home: self.home.root().to_owned(),
            });
        }
        JameyClient::new(&self.endpoint()?)
    }

    /// The client with a runtime to drive it.
    pub(crate) fn connect(&self) -> anyhow::Result<Remote> {
        let client = self.client()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        Ok(Remote { client, runtime })
    }
}

/// A client together with the single-threaded async runtime that drives it. Commands make few
/// requests, and starting no worker threads keeps `jamey` quick to start; one runtime per
/// command lets the client keep its connection alive from one request to the next.
#[derive(Debug)]
pub(crate) struct Remote {
    pub(crate) client: JameyClient,
    runtime: tokio::runtime::Runtime,
}

impl Remote {
    /// Runs one request (or several, in one future) to completion.
    pub(crate) fn call<T>(
        &self,
        request: impl Future<Output = Result<T, ClientError>>,
    ) -> Result<T, ClientError> {
        self.runtime.block_on(request)
    }

    /// Drives any future to completion, e.g. a streamed chat turn.
    pub(crate) fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }
}
