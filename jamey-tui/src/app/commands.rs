//! The slash commands, parsed by `jamey_client::slash` (the grammar `jamey chat` shares), and
//! what each does here: most change the state at once, `/model` and `/memory` ask the runtime
//! and show its answer as a notice when it comes.

use super::{Action, App, Overlay};
use jamey_client::slash::{self, CopyTarget, Recalled, SessionCommand, SlashCommand};

/// Characters of a memory shown in a `/memory` notice.
const MEMORY_WIDTH: usize = 120;

impl App {
    pub(super) fn command(&mut self, command: SlashCommand) -> Vec<Action> {
        match command {
            SlashCommand::Help => self.overlay = Overlay::Help,
            SlashCommand::Quit => return vec![Action::Quit],
            SlashCommand::Model(choose) => return vec![Action::LoadModels { choose }],
            SlashCommand::Memory(query) => return vec![Action::Recall(query)],
            SlashCommand::Copy(CopyTarget::Answer) => return self.copy_answer(),
            SlashCommand::Copy(CopyTarget::Code) => return self.copy_code_block(),
            SlashCommand::Session(SessionCommand::Show) => {
                let shown = match &self.status.session_id {
                    Some(id) => format!("session {id}"),
                    None => "new session: it gets an id with the first answer".to_string(),
                };
                self.notice(false, &shown);
            }
            SlashCommand::Session(SessionCommand::New) => self.new_session(),
            SlashCommand::Session(SessionCommand::List) => return self.open_session_list(),
            SlashCommand::Session(SessionCommand::Open(id)) => {
                self.notice(false, &format!("loading session {id}…"));
                return vec![Action::OpenSession(id)];
            }
        }
        Vec::new()
    }

    /// `/model` got the runtime's models: list them, or switch to `choose`.
    pub(super) fn models_loaded(&mut self, choose: Option<&str>, models: &[String]) {
        let Some(name) = choose else {
            let list = slash::model_list(models, self.requested_model.as_deref());
            self.notice(false, &format!("models (* answers now):\n{list}"));
            return;
        };
        match slash::choose_model(models, name) {
            Ok(model) => {
                self.status.model.clone_from(&model);
                self.requested_model = model;
                self.notice(false, &format!("answering with {name}"));
            }
            Err(error) => self.notice(true, &error.to_string()),
        }
    }

    /// `/memory` got its answer: one line a memory.
    pub(super) fn recalled(&mut self, query: Option<&str>, recalled: &Recalled) {
        let lines: Vec<String> = match recalled {
            Recalled::Newest(page) => page
                .items
                .iter()
                .map(|memory| format!("• {}", one_line(&memory.content)))
                .collect(),
            Recalled::Found(found) => found
                .results
                .iter()
                .map(|hit| format!("{:.3}  {}", hit.score, one_line(&hit.memory.content)))
                .collect(),
        };
        let heading = match (query, lines.is_empty()) {
            (None, true) => "no memories yet".to_string(),
            (None, false) => "the newest memories:".to_string(),
            (Some(query), true) => format!("no memory matches {query:?}"),
            (Some(query), false) => format!("memories for {query:?}:"),
        };
        let mut text = heading;
        for line in lines {
            text.push('\n');
            text.push_str(&line);
        }
        self.notice(false, &text);
    }
}

/// A memory on one line, cut to `MEMORY_WIDTH` characters.
fn one_line(text: &str) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.char_indices().nth(MEMORY_WIDTH) {
        Some((cut, _)) => format!("{}…", &flat[..cut]),
        None => flat,
    }
}

#[cfg(test)]
mod tests {
    use crate::app::tests::{key, last_notice, type_text};
    use crate::app::{Action, App, AppEvent, Failure, Overlay};
    use crossterm::event::KeyCode;
    use jamey_client::slash::Recalled;
    use jamey_protocol::{Memory, MemoryPage, ScoredMemory, SearchResponse};

    fn enter(app: &mut App, line: &str) -> Vec<Action> {
        type_text(app, line);
        app.handle(key(KeyCode::Enter))
    }

    fn memory(content: &str) -> Memory {
        Memory {
            id: uuid::Uuid::nil(),
            content: content.into(),
            kind: "note".into(),
            tags: vec![],
            metadata: serde_json::json!({}),
            session_id: None,
            importance: 0.5,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn model_lists_and_switches_through_the_runtimes_models() {
        let mut app = App::new(None, None);
        let models = || Ok(vec!["jamey".to_string(), "other/model".to_string()]);
        assert_eq!(
            enter(&mut app, "/model"),
            vec![Action::LoadModels { choose: None }]
        );
        app.handle(AppEvent::Models {
            choose: None,
            result: models(),
        });
        assert_eq!(
            last_notice(&app),
            "models (* answers now):\n* jamey\n  other/model"
        );
        assert_eq!(
            enter(&mut app, "/model no/such"),
            vec![Action::LoadModels {
                choose: Some("no/such".into())
            }]
        );
        app.handle(AppEvent::Models {
            choose: Some("no/such".into()),
            result: models(),
        });
        assert!(last_notice(&app).starts_with("unknown model \"no/such\""));
        assert_eq!(app.status.model, None);
        app.handle(AppEvent::Models {
            choose: None,
            result: Err(Failure {
                message: "runtime not running".into(),
                offline: true,
            }),
        });
        assert_eq!(last_notice(&app), "runtime not running");
    }

    #[test]
    fn memory_shows_the_newest_or_the_matches() {
        let mut app = App::new(None, None);
        assert_eq!(enter(&mut app, "/memory"), vec![Action::Recall(None)]);
        app.handle(AppEvent::Recalled {
            query: None,
            result: Ok(Recalled::Newest(MemoryPage {
                items: vec![memory("The spare key\nis under the blue pot")],
                next_cursor: None,
            })),
        });
        assert_eq!(
            last_notice(&app),
            "the newest memories:\n• The spare key is under the blue pot"
        );
        assert_eq!(
            enter(&mut app, "/memory spare key"),
            vec![Action::Recall(Some("spare key".into()))]
        );
        app.handle(AppEvent::Recalled {
            query: Some("spare key".into()),
            result: Ok(Recalled::Found(SearchResponse {
                results: vec![ScoredMemory {
                    memory: memory(&"long ".repeat(40)),
                    score: 0.5329,
                }],
            })),
        });
        let notice = last_notice(&app);
        assert!(notice.starts_with("memories for \"spare key\":\n0.533  long long"));
        assert!(notice.ends_with('…'), "{notice}");
        app.handle(AppEvent::Recalled {
            query: Some("tulips".into()),
            result: Ok(Recalled::Found(SearchResponse { results: vec![] })),
        });
        assert_eq!(last_notice(&app), "no memory matches \"tulips\"");
    }

    #[test]
    fn session_help_copy_and_bad_commands() {
        let mut app = App::new(None, None);
        assert!(enter(&mut app, "/session").is_empty());
        assert_eq!(
            last_notice(&app),
            "new session: it gets an id with the first answer"
        );
        assert_eq!(enter(&mut app, "/session list"), vec![Action::LoadSessions]);
        app.handle(key(KeyCode::Esc));
        assert_eq!(
            enter(&mut app, "/session 0193-abc"),
            vec![Action::OpenSession("0193-abc".into())]
        );
        assert!(enter(&mut app, "/help").is_empty());
        assert_eq!(app.overlay, Overlay::Help);
        app.handle(key(KeyCode::Esc));
        assert!(enter(&mut app, "/copy").is_empty());
        assert_eq!(last_notice(&app), "no answer to copy yet");
        assert!(enter(&mut app, "/copy code").is_empty());
        assert_eq!(last_notice(&app), "the last answer has no code block");
        assert!(enter(&mut app, "/copy all").is_empty());
        assert_eq!(
            last_notice(&app),
            "/copy does not take \"all\": /copy [code]"
        );
        assert!(enter(&mut app, "/sessions").is_empty());
        assert!(last_notice(&app).starts_with("unknown command /sessions"));
        assert_eq!(enter(&mut app, "/exit"), vec![Action::Quit]);
    }
}
