//! FAKE LiteLLM proxy: `/health/liveliness` and `/health/readiness` (which need no key), `/v1/models` listing the
//! model names it routes, and chat completions.

use serde_json::json;

use super::{Answer, FakeServer, Seen};

#[derive(Debug, Clone)]
pub struct Litellm {
    pub model: &'static str,
}

impl Default for Litellm {
    fn default() -> Self {
        Litellm { model: "local-qwen3" }
    }
}

impl Litellm {
    pub fn start(self) -> FakeServer {
        FakeServer::start(move |req| self.answer(req))
    }

    fn answer(&self, req: &Seen) -> Answer {
        match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/health/liveliness") => Answer::json(200, json!("I'm alive!")),
            ("GET", "/health/readiness") => Answer::json(200, json!({"status": "connected", "db": "Not connected"})),
            ("GET", "/v1/models") => super::openai_models(&[self.model], json!({})),
            ("POST", "/v1/chat/completions") => super::openai_chat(req, self.model, true),
            _ => Answer::not_found(),
        }
    }
}
