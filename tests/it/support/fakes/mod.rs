//! FAKE model servers, one module each, speaking the documented protocol of a backend no real server for runs
//! here (Ollama, LM Studio, vLLM, SGLang, MLX, LiteLLM): the routes clawlocal and OpenClaw use, their fields and
//! error bodies, and the known traps as switches. Kept small: a fixed model, a fixed answer, a tool call when
//! the request offers tools. The shared part is this HTTP core.

pub mod litellm;
pub mod lmstudio;
pub mod mlx;
pub mod ollama;
pub mod sglang;
pub mod vllm;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub body: Value,
}

/// What a handler answers: status, content type, body.
pub struct Answer {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

impl Answer {
    pub fn json(status: u16, body: Value) -> Answer {
        Answer { status, content_type: "application/json", body: body.to_string() }
    }
    pub fn not_found() -> Answer {
        Answer::json(404, json!({"error": "not found"}))
    }
}

type Handler = Arc<dyn Fn(&Seen) -> Answer + Send + Sync>;

/// A fake listening on 127.0.0.1 (a free port), answering through `handler`; it logs every request.
pub struct FakeServer {
    pub url: String,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    handler: Arc<Mutex<Handler>>,
}

impl FakeServer {
    pub fn start(handler: impl Fn(&Seen) -> Answer + Send + Sync + 'static) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let handler: Arc<Mutex<Handler>> = Arc::new(Mutex::new(Arc::new(handler)));
        let current = handler.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (log, handler) = (log.clone(), current.lock().unwrap().clone());
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let mut words = line.split_whitespace();
                    let method = words.next().unwrap_or("GET").to_string();
                    let path = words.next().unwrap_or("/").to_string();
                    let headers = crate::support::http::read_headers(&mut reader).unwrap_or_default();
                    let len: usize = crate::support::http::find_header(&headers, "content-length")
                        .and_then(|l| l.parse().ok())
                        .unwrap_or(0);
                    let mut body = vec![0u8; len];
                    let _ = reader.read_exact(&mut body);
                    let request = Seen { method, path, body: serde_json::from_slice(&body).unwrap_or(Value::Null) };
                    log.lock().unwrap().push(request.clone());
                    let answer = handler(&request);
                    let mut out = stream;
                    let _ = write!(
                        out,
                        "HTTP/1.1 {} X\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
                        answer.status,
                        answer.content_type,
                        answer.body.len(),
                        answer.body
                    );
                });
            }
        });
        FakeServer { url: format!("http://127.0.0.1:{port}"), seen, handler }
    }

    /// From now on, answer as `other` does (the server restarted with other settings, on the same address).
    pub fn become_(&self, other: FakeServer) {
        let next = other.handler.lock().unwrap().clone();
        *self.handler.lock().unwrap() = next;
    }

    pub fn paths(&self) -> Vec<String> {
        self.seen.lock().unwrap().iter().map(|s| s.path.clone()).collect()
    }
}

/// OpenAI's chat completion for `model`: a tool call when the request offers tools (and `tools` is on), else
/// a short answer; streamed as server-sent events when the request asks.
pub fn openai_chat(req: &Seen, model: &str, tools: bool) -> Answer {
    let offered = req.body["tools"].as_array().and_then(|t| t.first()).and_then(|t| t["function"]["name"].as_str());
    let message = match offered.filter(|_| tools) {
        Some(name) => json!({"role": "assistant", "content": null, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": name, "arguments": "{\"city\": \"Paris\"}"}}]}),
        None => json!({"role": "assistant", "content": "Hello from the fake."}),
    };
    let finish = if message["tool_calls"].is_array() { "tool_calls" } else { "stop" };
    let usage = json!({"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17});
    if req.body["stream"] == true {
        let mut delta = message.clone();
        if let Some(calls) = delta["tool_calls"].as_array_mut() {
            calls[0]["index"] = json!(0);
        }
        let chunk = |d: Value, f: Value| {
            json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": model,
                   "choices": [{"index": 0, "delta": d, "finish_reason": f}]})
        };
        let mut events = vec![chunk(delta, Value::Null), chunk(json!({}), json!(finish))];
        events.push(json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": model, "choices": [], "usage": usage}));
        let mut body: String = events.iter().map(|e| format!("data: {e}\n\n")).collect();
        body.push_str("data: [DONE]\n\n");
        return Answer { status: 200, content_type: "text/event-stream", body };
    }
    Answer::json(
        200,
        json!({"id": "c1", "object": "chat.completion", "created": 1, "model": model,
               "choices": [{"index": 0, "message": message, "finish_reason": finish}], "usage": usage}),
    )
}

/// OpenAI's `/v1/models` listing `ids`, each with `extra` fields.
pub fn openai_models(ids: &[&str], extra: Value) -> Answer {
    let data: Vec<Value> = ids
        .iter()
        .map(|id| {
            let mut m = json!({"id": id, "object": "model", "created": 1, "owned_by": "fake"});
            if let (Some(m), Some(e)) = (m.as_object_mut(), extra.as_object()) {
                m.extend(e.clone());
            }
            m
        })
        .collect();
    Answer::json(200, json!({"object": "list", "data": data}))
}
