//! FAKE `mlx_lm.server` (Apple's MLX, its OpenAI-compatible server): `/v1/models` and chat completions; it
//! reports no context (it serves the model's own).

use serde_json::json;

use super::{Answer, FakeServer, Seen};

#[derive(Debug, Clone)]
pub struct Mlx {
    pub model: &'static str,
}

impl Default for Mlx {
    fn default() -> Self {
        Mlx { model: "mlx-community/Qwen3-8B-4bit" }
    }
}

impl Mlx {
    pub fn start(self) -> FakeServer {
        FakeServer::start(move |req| self.answer(req))
    }

    fn answer(&self, req: &Seen) -> Answer {
        match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/v1/models") => super::openai_models(&[self.model], json!({})),
            ("GET", "/health") => Answer::json(200, json!({"status": "ok"})),
            ("POST", "/v1/chat/completions") => super::openai_chat(req, self.model, true),
            _ => Answer::not_found(),
        }
    }
}
