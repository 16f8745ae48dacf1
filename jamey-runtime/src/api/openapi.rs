//! `/openapi.json`: the API description, generated from the handlers' annotations and the wire
//! types' schemas, so it cannot drift from the code that serves it.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi as OpenApiDocument;
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Jamey runtime API",
        description = "The digital twin's HTTP API. Every route except /health, /ready and \
                       /openapi.json needs a client certificate issued by the local CA \
                       (`jamey init`, `jamey cert issue NAME`) or a bearer token \
                       (`jamey token create NAME`)."
    ),
    paths(
        super::system::health,
        super::system::ready,
        super::system::metrics,
        super::system::get_config,
        super::system::patch_config,
        super::memories::create,
        super::memories::create_batch,
        super::memories::list,
        super::memories::get,
        super::memories::patch,
        super::memories::delete,
        super::memories::search,
        super::chat::chat,
        super::openai::completions,
        super::openai::models,
        super::sessions::list,
        super::sessions::messages,
        super::tools::list,
        super::tools::invoke,
        super::tools::calls,
        super::approvals::pending,
        super::approvals::decide,
        super::host::system_info,
        super::host::list_processes,
        super::host::kill_process,
        serve,
    ),
    components(schemas(jamey_protocol::ChatEvent)),
    modifiers(&Credentials),
    security(("client_certificate" = []), ("bearer_token" = [])),
    tags(
        (name = "memories", description = "What the twin remembers"),
        (name = "system", description = "Health, readiness, metrics and configuration"),
        (name = "chat", description = "Conversations with the twin, its sessions and tools"),
        (name = "openai", description = "OpenAI-compatible chat completions and models"),
        (name = "tools", description = "The twin's tools: direct calls, approvals and the audit trail"),
        (name = "host", description = "The machine the runtime runs on: system info and processes"),
    )
)]
pub(crate) struct ApiDoc;

/// The two ways to authenticate: mutual TLS and bearer tokens.
struct Credentials;

impl Modify for Credentials {
    fn modify(&self, openapi: &mut OpenApiDocument) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "client_certificate",
            SecurityScheme::MutualTls {
                description: Some("A client certificate issued by the runtime's local CA".into()),
                extensions: None,
            },
        );
        components.add_security_scheme(
            "bearer_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A token from `jamey token create NAME`"))
                    .build(),
            ),
        );
    }
}

/// The document, built once per process.
pub(crate) fn document() -> &'static OpenApiDocument {
    static DOCUMENT: std::sync::OnceLock<OpenApiDocument> = std::sync::OnceLock::new();
    DOCUMENT.get_or_init(ApiDoc::openapi)
}

/// Describes the API. Needs no credentials.
#[utoipa::path(get, path = "/openapi.json", tag = "system", security(()),
    responses((status = 200, description = "OpenAPI 3.1 document", body = Object)))]
pub(crate) async fn serve() -> Json<&'static OpenApiDocument> {
    Json(document())
}
