//! FAKE Ollama (its documented API, docs/api.md): `/api/version`, `/api/tags`, `/api/show` (model_info with the
//! trained context, the Modelfile's parameters, capabilities), `/api/ps`, and `/api/chat` answering NDJSON
//! (a tool call when tools are offered). Its OpenAI-compatible `/v1/chat/completions` returns a tool call as
//! plain text: the trap of an Ollama provider configured through `/v1`.

use serde_json::json;

use super::{Answer, FakeServer, Seen};

#[derive(Debug, Clone)]
pub struct Ollama {
    pub model: &'static str,
    /// `<arch>.context_length` in `/api/show`.
    pub trained: u32,
    /// The Modelfile's `num_ctx`, when it sets one.
    pub num_ctx: Option<u32>,
}

impl Default for Ollama {
    fn default() -> Self {
        Ollama { model: "qwen3:8b", trained: 40960, num_ctx: None }
    }
}

impl Ollama {
    pub fn start(self) -> FakeServer {
        FakeServer::start(move |req| self.answer(req))
    }

    fn answer(&self, req: &Seen) -> Answer {
        match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/api/version") => Answer::json(200, json!({"version": "0.12.6"})),
            ("GET", "/api/tags") => Answer::json(
                200,
                json!({"models": [{"name": self.model, "model": self.model,
                "size": 5_200_000_000u64, "details": {"family": "qwen3", "parameter_size": "8.2B", "quantization_level": "Q4_K_M"}}]}),
            ),
            ("POST", "/api/show") if req.body["model"] == self.model => {
                let parameters = self.num_ctx.map(|n| format!("num_ctx {n}\nstop \"<|im_end|>\"")).unwrap_or_default();
                Answer::json(
                    200,
                    json!({"parameters": parameters,
                    "model_info": {"general.architecture": "qwen3", "qwen3.context_length": self.trained},
                    "capabilities": ["completion", "tools"]}),
                )
            }
            ("POST", "/api/show") => Answer::json(
                404,
                json!({"error": format!("model '{}' not found", req.body["model"].as_str().unwrap_or(""))}),
            ),
            ("GET", "/api/ps") => Answer::json(200, json!({"models": []})),
            ("POST", "/api/chat") => self.chat(req),
            ("GET", "/v1/models") => super::openai_models(&[self.model], json!({})),
            // Through /v1 the tool call arrives as text in `content`, not as `tool_calls`.
            ("POST", "/v1/chat/completions") => {
                let mut fake = req.clone();
                fake.body["tools"] = json!(null);
                let mut a = super::openai_chat(&fake, self.model, false);
                if req.body["tools"].is_array() {
                    a.body = a
                        .body
                        .replace("Hello from the fake.", "<tool_call>{\\\"name\\\": \\\"get_weather\\\"}</tool_call>");
                }
                a
            }
            _ => Answer::not_found(),
        }
    }

    fn chat(&self, req: &Seen) -> Answer {
        if req.body["model"] != self.model {
            return Answer::json(
                404,
                json!({"error": format!("model \"{}\" not found, try pulling it first", req.body["model"].as_str().unwrap_or(""))}),
            );
        }
        let tool = req.body["tools"].as_array().and_then(|t| t.first()).and_then(|t| t["function"]["name"].as_str());
        let message = match tool {
            Some(name) => {
                json!({"role": "assistant", "content": "", "tool_calls": [{"function": {"name": name, "arguments": {"city": "Paris"}}}]})
            }
            None => json!({"role": "assistant", "content": "Hello from the fake."}),
        };
        let done = json!({"model": self.model, "created_at": "2026-12-02T00:00:00Z", "message": {"role": "assistant", "content": ""},
            "done": true, "done_reason": "stop", "prompt_eval_count": 12, "eval_count": 5});
        let first =
            json!({"model": self.model, "created_at": "2026-12-02T00:00:00Z", "message": message, "done": false});
        if req.body["stream"] == false {
            let mut whole = done.clone();
            whole["message"] = message;
            return Answer::json(200, whole);
        }
        Answer { status: 200, content_type: "application/x-ndjson", body: format!("{first}\n{done}\n") }
    }
}
