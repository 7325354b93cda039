//! FAKE LM Studio (0.4's REST API v1 and its OpenAI-compatible `/v1`): `/api/v1/models` with each model's
//! `loaded_instances` and their `config.context_length`, and chat completions that fail with LM Studio's
//! "No models loaded" error while nothing is loaded (the trap).

use serde_json::json;

use super::{Answer, FakeServer, Seen};

#[derive(Debug, Clone)]
pub struct LmStudio {
    pub model: &'static str,
    /// The loaded instance's context; `None`: the model is downloaded but not loaded.
    pub loaded_context: Option<u32>,
}

impl Default for LmStudio {
    fn default() -> Self {
        LmStudio { model: "qwen/qwen3-8b", loaded_context: Some(32768) }
    }
}

impl LmStudio {
    pub fn start(self) -> FakeServer {
        FakeServer::start(move |req| self.answer(req))
    }

    fn answer(&self, req: &Seen) -> Answer {
        match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/api/v1/models") => {
                let instances: Vec<_> = self
                    .loaded_context
                    .map(|c| json!({"id": self.model, "config": {"context_length": c, "flash_attention": true}}))
                    .into_iter()
                    .collect();
                Answer::json(
                    200,
                    json!({"models": [{"type": "llm", "publisher": "qwen", "key": self.model,
                    "display_name": "Qwen3 8B", "architecture": "qwen3", "format": "gguf", "max_context_length": 40960,
                    "loaded_instances": instances, "capabilities": {"vision": false, "trained_for_tool_use": true}}]}),
                )
            }
            ("GET", "/v1/models") => super::openai_models(&[self.model], json!({})),
            ("POST", "/v1/chat/completions") if self.loaded_context.is_none() => Answer::json(
                400,
                json!({"error": {"message": "No models loaded. Please load a model in the developer page or use the `lms load` command.", "type": "invalid_request_error"}}),
            ),
            ("POST", "/v1/chat/completions") => super::openai_chat(req, self.model, true),
            _ => Answer::not_found(),
        }
    }
}
