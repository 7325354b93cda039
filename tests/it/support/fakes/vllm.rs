//! FAKE vLLM (its OpenAI-compatible server): `/health`, `/version`, `/v1/models` with `max_model_len`, chat
//! completions; started without `--enable-auto-tool-choice` it answers `tool_choice: "auto"` with vLLM's 400
//! (the trap).

use serde_json::json;

use super::{Answer, FakeServer, Seen};

#[derive(Debug, Clone)]
pub struct Vllm {
    pub model: &'static str,
    pub max_model_len: u32,
    /// `--enable-auto-tool-choice --tool-call-parser hermes`.
    pub auto_tool_choice: bool,
}

impl Default for Vllm {
    fn default() -> Self {
        Vllm { model: "Qwen/Qwen3-8B", max_model_len: 32768, auto_tool_choice: true }
    }
}

impl Vllm {
    pub fn start(self) -> FakeServer {
        FakeServer::start(move |req| self.answer(req))
    }

    fn answer(&self, req: &Seen) -> Answer {
        match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/health") => Answer::json(200, json!({})),
            ("GET", "/version") => Answer::json(200, json!({"version": "0.11.2"})),
            ("GET", "/v1/models") => {
                super::openai_models(&[self.model], json!({"max_model_len": self.max_model_len, "root": self.model}))
            }
            ("POST", "/v1/chat/completions") if !self.auto_tool_choice && req.body["tool_choice"] == "auto" => {
                Answer::json(
                    400,
                    json!({"object": "error", "message": "\"auto\" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set", "type": "BadRequestError", "param": null, "code": 400}),
                )
            }
            ("POST", "/v1/chat/completions") => super::openai_chat(req, self.model, self.auto_tool_choice),
            _ => Answer::not_found(),
        }
    }
}
