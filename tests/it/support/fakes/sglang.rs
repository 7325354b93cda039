//! FAKE SGLang (its OpenAI-compatible server): `/health`, `/get_model_info`, `/v1/models` with `max_model_len`,
//! chat completions with tool calls.

use serde_json::json;

use super::{Answer, FakeServer, Seen};

#[derive(Debug, Clone)]
pub struct Sglang {
    pub model: &'static str,
    pub context_length: u32,
}

impl Default for Sglang {
    fn default() -> Self {
        Sglang { model: "Qwen/Qwen3-8B", context_length: 32768 }
    }
}

impl Sglang {
    pub fn start(self) -> FakeServer {
        FakeServer::start(move |req| self.answer(req))
    }

    fn answer(&self, req: &Seen) -> Answer {
        match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/health") => Answer { status: 200, content_type: "text/plain", body: String::new() },
            ("GET", "/get_model_info") => Answer::json(
                200,
                json!({"model_path": self.model, "tokenizer_path": self.model, "is_generation": true}),
            ),
            ("GET", "/v1/models") => {
                super::openai_models(&[self.model], json!({"max_model_len": self.context_length, "root": self.model}))
            }
            ("POST", "/v1/chat/completions") => super::openai_chat(req, self.model, true),
            _ => Answer::not_found(),
        }
    }
}
