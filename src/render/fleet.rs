//! The same plan as `init`, rendered for fleets: a kustomize directory for Kubernetes and a cloud-init user-data
//! file. Pure: a function of `FleetSpec` (the selection's `ServerArgs`, the lock entry, the release archive of
//! clawlocal itself). The objects are built as JSON values and written as YAML by serde (no text templates), so
//! nothing a user passes can break the YAML; every file starts with the managed mark.
//!
//! The model's download is clawlocal's own `pull --locked` in both: in Kubernetes an init container fetches the
//! clawlocal release archive (its sha256 pinned here), then pulls into the Hugging Face cache on a
//! PersistentVolumeClaim, verified and resumable; the server mounts that volume read-only.

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::engine::args::{Placement, ServerArgs};
use crate::error::Result;
use crate::lockfile::LockedModel;
use crate::profile::{AcceleratorKind, Profile};

/// The object names, labels and paths the manifests share.
pub const APP: &str = "clawlocal";
/// The label that admits a pod through the NetworkPolicy: OpenClaw's gateway carries it.
pub const GATEWAY_LABEL: (&str, &str) = ("app.kubernetes.io/name", "openclaw-gateway");
/// The label of the chat + tool check Job's pod (admitted too).
const CHECK_LABEL: (&str, &str) = ("clawlocal.dev/check", "true");
/// The Secret holding the engine's API key (data key `api-key`), and the env variable the gateway reads it into.
pub const SECRET: &str = "clawlocal-api-key";
pub const KEY_ENV: &str = "CLAWLOCAL_API_KEY";
/// Where the Secret's file is generated in the rendered directory (kustomize's secretGenerator reads it).
pub const KEY_FILE: &str = "secrets/api-key";
const MODELS: &str = "/models";
const KEY_MOUNT: &str = "/run/secrets/clawlocal";
/// A non-root user and group every container runs as (and owns the volume through fsGroup).
const UID: u32 = 65532;

/// The clawlocal release archive the fleet installs (a `clawlocal-<target>.tar.gz` as `install.sh` takes).
#[derive(Debug, Clone)]
pub struct Release {
    pub url: String,
    pub sha256: String,
}

/// Everything the fleet files are made of, resolved once by `commands/render.rs`.
#[derive(Debug, Clone)]
pub struct FleetSpec<'a> {
    pub profile: &'a Profile,
    /// The profile's name as given (a bundled name, or the file's text for cloud-init to write).
    pub profile_arg: &'a str,
    pub profile_file: Option<&'a str>,
    pub server: &'a ServerArgs,
    /// The lock entry: repo, commit, files with size and sha256.
    pub locked: &'a LockedModel,
    /// The lock file's bytes holding just that entry (the init container's and the VM's `clawlocal.lock`).
    pub lock_text: &'a str,
    /// `pull`'s words for the model (`ID --quant Q`, or the `hf:` spec).
    pub pull_args: &'a [String],
    /// What init is asked for on a VM (`--model`, `--quant`, `--context`).
    pub init_args: &'a [String],
    pub port: u16,
    pub namespace: &'a str,
    pub image: &'a str,
    pub release: &'a Release,
    /// The memory the engine is estimated to take (bytes).
    pub estimate_bytes: u64,
    pub download_bytes: u64,
    pub context_window: u32,
    /// Vulkan: the groups owning the nodes' `/dev/dri` render nodes (as on this host), for the pod's user.
    pub render_gids: &'a [u32],
}

/// One file of the rendered directory: its path relative to `--out` and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetFile {
    pub path: PathBuf,
    pub text: String,
}

fn header(what: &str) -> String {
    format!(
        "# {} {} — {what}. Rendered by `clawlocal render`; edits are replaced.\n",
        super::MANAGED_MARK,
        env!("CARGO_PKG_VERSION")
    )
}

fn yaml(what: &str, docs: &[Value]) -> String {
    let mut out = header(what);
    for (i, d) in docs.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(&to_yaml(d));
    }
    out
}

/// `v` as block YAML whose every string is unambiguous to a YAML 1.1 reader too: Kubernetes' parser (and
/// PyYAML) read a plain `on`, `yes` or `off` as a boolean, which serde's YAML 1.2 writers leave unquoted (found
/// by kubernetes-validate on `--fit on`). So strings are written double-quoted (JSON's escapes are YAML's), or
/// as a literal block when they span lines (the scripts); keys plain when they are plain names.
pub fn to_yaml(v: &Value) -> String {
    let mut out = String::new();
    match v {
        Value::Object(_) | Value::Array(_) => block(v, 0, &mut out),
        scalar => {
            out.push_str(&inline(scalar, 0));
            out.push('\n');
        }
    }
    out
}

fn key(k: &str) -> String {
    let plain = !k.is_empty()
        && k.bytes().all(|b| b.is_ascii_alphanumeric() || b"._/-".contains(&b))
        && k.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
        && !["y", "n", "yes", "no", "on", "off", "true", "false", "null"].contains(&k.to_ascii_lowercase().as_str());
    if plain { k.to_string() } else { serde_json::to_string(k).expect("a string serialises") }
}

/// A scalar (or an empty or nested collection, in flow style) on one line; a multi-line string as a literal
/// block indented under `indent`.
fn inline(v: &Value, indent: usize) -> String {
    match v {
        Value::String(s) if s.contains('\n') => {
            let body = s.trim_end_matches('\n');
            let chomp = match s.len() - body.len() {
                0 => "-",
                1 => "",
                _ => "+",
            };
            let pad = " ".repeat(indent + 2);
            let lead = if body.starts_with(' ') { "2" } else { "" };
            let mut out = format!("|{lead}{chomp}");
            for line in s.strip_suffix('\n').unwrap_or(s).split('\n') {
                out.push('\n');
                if !line.is_empty() {
                    out.push_str(&pad);
                    out.push_str(line);
                }
            }
            out
        }
        other => serde_json::to_string(other).expect("a value serialises"),
    }
}

fn is_block(v: &Value) -> bool {
    match v {
        Value::Object(m) => !m.is_empty(),
        Value::Array(a) => !a.is_empty(),
        _ => false,
    }
}

fn block(v: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match v {
        Value::Object(map) => {
            for (k, item) in map {
                if is_block(item) {
                    out.push_str(&format!("{pad}{}:\n", key(k)));
                    // Lists sit at their key's indentation, as kubectl writes them.
                    block(item, if item.is_array() { indent } else { indent + 2 }, out);
                } else {
                    out.push_str(&format!("{pad}{}: {}\n", key(k), inline(item, indent)));
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::Object(_) if is_block(item) => {
                        let mut inner = String::new();
                        block(item, indent + 2, &mut inner);
                        out.push_str(&format!("{pad}- {}", &inner[indent + 2..]));
                    }
                    // A list in a list (cloud-init's runcmd): flow style.
                    _ => out.push_str(&format!("{pad}- {}\n", inline(item, indent + 2))),
                }
            }
        }
        scalar => out.push_str(&format!("{pad}{}\n", inline(scalar, indent))),
    }
}

fn labels() -> Value {
    json!({ "app.kubernetes.io/name": APP, "app.kubernetes.io/managed-by": "clawlocal" })
}

fn meta(name: &str, ns: &str) -> Value {
    json!({ "name": name, "namespace": ns, "labels": labels() })
}

/// Bytes as a Kubernetes quantity in whole MiB (`1234Mi`), rounded up.
fn mebibytes(bytes: u64) -> String {
    format!("{}Mi", bytes.div_ceil(1 << 20))
}

/// Bytes as whole GiB (`12Gi`), rounded up.
fn gibibytes(bytes: u64) -> String {
    format!("{}Gi", bytes.div_ceil(1 << 30))
}

/// The pod's memory: the estimate plus 10% and 256 MiB for what the estimate cannot see (the container's own
/// page cache accounting, the pull's buffers); request = limit, so the scheduler places it where it fits.
pub fn pod_memory_bytes(estimate: u64) -> u64 {
    estimate + estimate / 10 + (256 << 20)
}

/// The volume: the download plus 10% and 1 GiB (partial files, the next revision beside the current one).
pub fn volume_bytes(download: u64) -> u64 {
    download + download / 10 + (1 << 30)
}

/// The startup budget in probe periods of 10 s: the load of the file at a slow 50 MiB/s from network storage,
/// plus two minutes, at least 30 periods (5 minutes).
pub fn startup_periods(model_bytes: u64) -> u64 {
    let seconds = model_bytes / (50 << 20) + 120;
    seconds.div_ceil(10).max(30)
}

/// The model's path inside the pod: the Hub cache layout on the volume.
fn model_in_pod(locked: &LockedModel) -> String {
    let first = locked.files.first().map(|f| f.name.as_str()).unwrap_or_default();
    format!("{MODELS}/models--{}/snapshots/{}/{first}", locked.repo.replace('/', "--"), locked.commit)
}

/// The init container's script: fetch the clawlocal release archive and check its pinned sha256, then
/// `clawlocal pull --locked` into the volume. Every path comes from the environment the container sets, so the
/// same script runs on a workstation against a Hub mock (`CLAWLOCAL_WORK`, `HF_HUB_CACHE`, `HF_ENDPOINT`).
fn pull_script(pull_args: &[String]) -> String {
    let words: Vec<String> = pull_args.iter().map(|w| shell_quote(w)).collect();
    format!(
        r#"#!/bin/sh
# Fetch clawlocal (sha256 pinned), then pull the model the lock pins into the Hugging Face cache on the volume.
set -eu
work="${{CLAWLOCAL_WORK:?}}"
mkdir -p "$work/bin" "$work/state/clawlocal"
curl --fail --silent --show-error --location --retry 3 --output "$work/clawlocal.tar.gz" "$CLAWLOCAL_RELEASE_URL"
echo "$CLAWLOCAL_RELEASE_SHA256  $work/clawlocal.tar.gz" | sha256sum -c - >/dev/null || {{
    echo "error: $CLAWLOCAL_RELEASE_URL does not have sha256 $CLAWLOCAL_RELEASE_SHA256; nothing was pulled" >&2
    exit 1
}}
tar -xzf "$work/clawlocal.tar.gz" -C "$work/bin"
bin=$(find "$work/bin" -type f -name clawlocal | head -n 1)
cp "$CLAWLOCAL_LOCK" "$work/state/clawlocal/clawlocal.lock"
XDG_STATE_HOME="$work/state" HOME="$work" exec "$bin" --scope user --json pull --locked {}
"#,
        words.join(" ")
    )
}

/// The check Job's script: a chat answer, then a tool call with `tool_choice: "auto"`, as OpenClaw sends them.
/// The key goes to curl on its stdin (`-K -`), never in an argument.
fn check_script(alias: &str, port: u16) -> String {
    let alias = alias.replace('\\', "\\\\").replace('"', "\\\"");
    format!(
        r#"#!/bin/sh
# The chain OpenClaw relies on: a chat answer and a tool call from the engine, through its Service.
set -eu
url="http://{APP}:{port}/v1/chat/completions"
ask() {{
    printf 'header = "Authorization: Bearer %s"\nheader = "Content-Type: application/json"\n' "$(cat {KEY_MOUNT}/api-key)" |
        curl --fail --silent --show-error --max-time 300 -K - --data "$1" "$url"
}}
ask '{{"model":"{alias}","messages":[{{"role":"user","content":"Reply with: pong"}}],"max_tokens":16}}' | grep -q '"content"'
ask '{{"model":"{alias}","messages":[{{"role":"user","content":"What time is it? Use the tool."}}],"max_tokens":64,"tool_choice":"auto","tools":[{{"type":"function","function":{{"name":"get_time","description":"The current time","parameters":{{"type":"object","properties":{{}}}}}}}}]}}' | grep -q '"tool_calls"'
echo "clawlocal check: chat and tool call answered"
"#
    )
}

/// `word` quoted for sh when it needs it.
pub fn shell_quote(word: &str) -> String {
    if !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=@+,".contains(c)) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

fn restricted() -> Value {
    json!({
        "allowPrivilegeEscalation": false,
        "readOnlyRootFilesystem": true,
        "runAsNonRoot": true,
        "capabilities": { "drop": ["ALL"] },
        "seccompProfile": { "type": "RuntimeDefault" }
    })
}

fn pod_security() -> Value {
    json!({
        "runAsNonRoot": true,
        "runAsUser": UID,
        "runAsGroup": UID,
        "fsGroup": UID,
        "seccompProfile": { "type": "RuntimeDefault" }
    })
}

/// The kustomize directory. The Deployment runs one replica with the `Recreate` strategy rather than a
/// StatefulSet: the model volume is ReadWriteOnce and holds a cache, not an identity, so a stable pod name buys
/// nothing and a rolling update could never attach it twice.
pub fn kubernetes(spec: &FleetSpec<'_>) -> Result<Vec<FleetFile>> {
    let ns = spec.namespace;
    let accel = spec.profile.accelerator.as_ref().map(|a| a.kind);
    let cuda = accel == Some(AcceleratorKind::Cuda);
    let vulkan = accel == Some(AcceleratorKind::Vulkan);
    // No mlock in a pod without IPC_LOCK (every capability is dropped), and no prompt cache: the pod's limit is
    // the estimate plus a margin, and llama-server's cache would grow past it (8 GiB by default) until OOM; the
    // same for context checkpoints (32 per slot by default) where the model makes them.
    let checkpoints = spec.server.ctx_checkpoints.map(|_| 0);
    let server = ServerArgs { mlock: false, cache_ram_mib: 0, ctx_checkpoints: checkpoints, ..spec.server.clone() };
    let model = model_in_pod(spec.locked);
    let args = server.argv(Placement {
        model: &model,
        host: "$(POD_IP)",
        port: spec.port,
        api_key_file: Some(&format!("{KEY_MOUNT}/api-key")),
    });
    let memory = mebibytes(pod_memory_bytes(spec.estimate_bytes));
    let cores = spec.profile.cores.to_string();
    let mut limits = json!({ "memory": memory, "cpu": cores });
    if cuda {
        limits["nvidia.com/gpu"] = json!(1);
    }
    let model_bytes = spec.locked.files.iter().map(|f| f.size).sum::<u64>();
    let mut volumes = vec![
        json!({ "name": "models", "persistentVolumeClaim": { "claimName": format!("{APP}-models") } }),
        json!({ "name": "api-key", "secret": { "secretName": SECRET, "defaultMode": 0o440 } }),
        json!({ "name": "pull", "configMap": { "name": format!("{APP}-pull"), "defaultMode": 0o555 } }),
        json!({ "name": "work", "emptyDir": {} }),
        json!({ "name": "tmp", "emptyDir": {} }),
    ];
    let mut mounts = vec![
        json!({ "name": "models", "mountPath": MODELS, "readOnly": true }),
        json!({ "name": "api-key", "mountPath": KEY_MOUNT, "readOnly": true }),
        json!({ "name": "tmp", "mountPath": "/tmp" }),
    ];
    if cuda || vulkan {
        // The GPU runtimes keep their IPC in /dev/shm, which a read-only root would otherwise leave at 64 MiB.
        volumes.push(json!({ "name": "shm", "emptyDir": { "medium": "Memory", "sizeLimit": "1Gi" } }));
        mounts.push(json!({ "name": "shm", "mountPath": "/dev/shm" }));
    }
    if vulkan {
        // Vulkan reaches the GPU through the node's render nodes; without them the engine falls back to the CPU.
        volumes.push(json!({ "name": "dri", "hostPath": { "path": "/dev/dri", "type": "Directory" } }));
        mounts.push(json!({ "name": "dri", "mountPath": "/dev/dri" }));
    }
    let http = |path: &str| json!({ "path": path, "port": "http" });
    let ready = format!(
        "curl --fail --silent --max-time 2 --output /dev/null \"http://$POD_IP:{port}/health\" && \
         printf 'header = \"Authorization: Bearer %s\"\\n' \"$(cat {KEY_MOUNT}/api-key)\" | curl --fail --silent --max-time 4 -K - \"http://$POD_IP:{port}/v1/models\" | grep -q '\"id\":\"{alias}\"'",
        port = spec.port,
        alias = server.alias.replace('\'', "")
    );
    let env_pod_ip = json!({ "name": "POD_IP", "valueFrom": { "fieldRef": { "fieldPath": "status.podIP" } } });
    let engine = json!({
        "name": "llama-server",
        "image": spec.image,
        "args": args,
        "env": [env_pod_ip],
        "ports": [{ "name": "http", "containerPort": spec.port, "protocol": "TCP" }],
        "resources": { "requests": limits.clone(), "limits": limits },
        "startupProbe": { "httpGet": http("/health"), "periodSeconds": 10, "timeoutSeconds": 5,
                          "failureThreshold": startup_periods(model_bytes) },
        "readinessProbe": { "exec": { "command": ["sh", "-c", ready] }, "periodSeconds": 10, "timeoutSeconds": 5,
                            "failureThreshold": 3 },
        "livenessProbe": { "tcpSocket": { "port": "http" }, "periodSeconds": 20, "timeoutSeconds": 3,
                           "failureThreshold": 3 },
        "securityContext": restricted(),
        "volumeMounts": mounts,
    });
    let pull = json!({
        "name": "pull-model",
        "image": spec.image,
        "command": ["sh", "/etc/clawlocal/pull.sh"],
        "env": [
            { "name": "CLAWLOCAL_WORK", "value": "/work" },
            { "name": "CLAWLOCAL_LOCK", "value": "/etc/clawlocal/clawlocal.lock" },
            { "name": "CLAWLOCAL_RELEASE_URL", "value": spec.release.url },
            { "name": "CLAWLOCAL_RELEASE_SHA256", "value": spec.release.sha256 },
            { "name": "HF_HUB_CACHE", "value": MODELS },
        ],
        "resources": { "requests": { "memory": "256Mi", "cpu": "250m" }, "limits": { "memory": "512Mi", "cpu": "1" } },
        "securityContext": restricted(),
        "volumeMounts": [
            { "name": "models", "mountPath": MODELS },
            { "name": "pull", "mountPath": "/etc/clawlocal", "readOnly": true },
            { "name": "work", "mountPath": "/work" },
            { "name": "tmp", "mountPath": "/tmp" },
        ],
    });
    let mut engine_pod_security = pod_security();
    if vulkan && !spec.render_gids.is_empty() {
        // The render nodes belong to the node's `render` (or `video`) group: the non-root user needs it.
        engine_pod_security["supplementalGroups"] = json!(spec.render_gids);
    }
    let selector = json!({ "matchLabels": { "app.kubernetes.io/name": APP } });
    let deployment = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta(APP, ns),
        "spec": {
            "replicas": 1,
            "strategy": { "type": "Recreate" },
            "selector": selector,
            "template": {
                "metadata": { "labels": labels() },
                "spec": {
                    "automountServiceAccountToken": false,
                    "enableServiceLinks": false,
                    "securityContext": engine_pod_security,
                    "initContainers": [pull],
                    "containers": [engine],
                    "volumes": volumes,
                }
            }
        }
    });
    let pvc = json!({
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": meta(&format!("{APP}-models"), ns),
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": { "requests": { "storage": gibibytes(volume_bytes(spec.download_bytes)) } }
        }
    });
    let config = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta(&format!("{APP}-pull"), ns),
        "data": {
            "clawlocal.lock": spec.lock_text,
            "pull.sh": pull_script(spec.pull_args),
            "check.sh": check_script(&server.alias, spec.port),
        }
    });
    let service = json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta(APP, ns),
        "spec": {
            "type": "ClusterIP",
            "selector": { "app.kubernetes.io/name": APP },
            "ports": [{ "name": "http", "port": spec.port, "targetPort": "http", "protocol": "TCP" }]
        }
    });
    let from = |(k, v): (&str, &str)| json!({ "namespaceSelector": {}, "podSelector": { "matchLabels": { k: v } } });
    let policy = json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": meta(APP, ns),
        "spec": {
            "podSelector": selector,
            "policyTypes": ["Ingress"],
            "ingress": [{
                "from": [from(GATEWAY_LABEL), from(CHECK_LABEL)],
                "ports": [{ "protocol": "TCP", "port": spec.port }]
            }]
        }
    });
    // One replica on a ReadWriteOnce volume: a budget of 0 unavailable would block every node drain, so the
    // budget admits the one eviction and states it.
    let pdb = json!({
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": meta(APP, ns),
        "spec": { "maxUnavailable": 1, "selector": selector }
    });
    let mut check_labels = labels();
    check_labels[CHECK_LABEL.0] = json!(CHECK_LABEL.1);
    let check = json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta(&format!("{APP}-check"), ns),
        "spec": {
            "backoffLimit": 30,
            "ttlSecondsAfterFinished": 86400,
            "template": {
                "metadata": { "labels": check_labels },
                "spec": {
                    "restartPolicy": "OnFailure",
                    "automountServiceAccountToken": false,
                    "securityContext": pod_security(),
                    "containers": [{
                        "name": "check",
                        "image": spec.image,
                        "command": ["sh", "/etc/clawlocal/check.sh"],
                        "resources": { "requests": { "memory": "32Mi", "cpu": "50m" },
                                       "limits": { "memory": "64Mi", "cpu": "250m" } },
                        "securityContext": restricted(),
                        "volumeMounts": [
                            { "name": "pull", "mountPath": "/etc/clawlocal", "readOnly": true },
                            { "name": "api-key", "mountPath": KEY_MOUNT, "readOnly": true },
                        ],
                    }],
                    "volumes": [
                        { "name": "pull", "configMap": { "name": format!("{APP}-pull"), "defaultMode": 0o555 } },
                        { "name": "api-key", "secret": { "secretName": SECRET, "defaultMode": 0o440 } },
                    ],
                }
            }
        }
    });
    let namespace = json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": ns, "labels": labels() } });
    let (image_name, image_tag) = split_image(spec.image);
    let mut image = json!({ "name": image_name });
    match image_tag {
        Tag::Digest(d) => image["digest"] = json!(d),
        Tag::Tag(t) => image["newTag"] = json!(t),
    }
    let kustomization = json!({
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": ns,
        "resources": ["namespace.yaml", "configmap.yaml", "pvc.yaml", "deployment.yaml", "service.yaml",
                      "networkpolicy.yaml", "pdb.yaml", "check-job.yaml"],
        "secretGenerator": [{
            "name": SECRET,
            "files": [format!("api-key={KEY_FILE}")],
            "options": { "disableNameSuffixHash": true, "labels": labels() }
        }],
        "images": [image],
    });
    let files = [
        ("kustomization.yaml", yaml("kustomize: `kubectl apply -k .`", &[kustomization])),
        ("namespace.yaml", yaml("the namespace", &[namespace])),
        ("configmap.yaml", yaml("the lock, the pull and the check scripts", &[config])),
        ("pvc.yaml", yaml("the Hugging Face cache volume", &[pvc])),
        ("deployment.yaml", yaml("llama-server for OpenClaw", &[deployment])),
        ("service.yaml", yaml("the engine's ClusterIP Service", &[service])),
        ("networkpolicy.yaml", yaml("only OpenClaw's gateway (and the check) may connect", &[policy])),
        ("pdb.yaml", yaml("the disruption budget", &[pdb])),
        ("check-job.yaml", yaml("a chat answer and a tool call, once", &[check])),
    ];
    Ok(files.into_iter().map(|(p, text)| FleetFile { path: PathBuf::from(p), text }).collect())
}

enum Tag<'a> {
    Tag(&'a str),
    Digest(&'a str),
}

/// `name:tag` or `name@sha256:…` → (name, tag or digest).
fn split_image(image: &str) -> (&str, Tag<'_>) {
    if let Some((name, digest)) = image.split_once('@') {
        return (name, Tag::Digest(digest));
    }
    match image.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name, Tag::Tag(tag)),
        _ => (image, Tag::Tag("latest")),
    }
}

/// The engine's address from inside the cluster: the Service's DNS name.
pub fn service_url(namespace: &str, port: u16) -> String {
    format!("http://{APP}.{namespace}.svc.cluster.local:{port}/v1")
}

/// The cloud-init user-data: write the lock (and a profile file), then one script that installs clawlocal from
/// the release archive (sha256 pinned), runs `clawlocal init --locked --yes --json` and `clawlocal doctor --json`
/// as the gate, each logged under /var/log/clawlocal/. Every VM comes up with the same revision, sha256 and flags.
pub fn cloud_init(spec: &FleetSpec<'_>) -> Result<Vec<FleetFile>> {
    let profile = match spec.profile_file {
        Some(_) => "/etc/clawlocal/profile.json5".to_string(),
        None => spec.profile_arg.to_string(),
    };
    let mut init: Vec<String> = vec![
        "--scope".into(),
        "system".into(),
        "--json".into(),
        "init".into(),
        "--locked".into(),
        "--yes".into(),
        "--profile".into(),
        profile,
        "--port".into(),
        spec.port.to_string(),
    ];
    init.extend(spec.init_args.iter().cloned());
    let init_words: Vec<String> = init.iter().map(|w| shell_quote(w)).collect();
    let script = format!(
        r#"#!/bin/sh
# clawlocal on this VM: install (sha256 pinned), init from the lock, doctor as the gate.
set -eu
log=/var/log/clawlocal
mkdir -p "$log"
work=$(mktemp -d)
url={url}
curl --fail --silent --show-error --location --retry 5 --output "$work/clawlocal.tar.gz" "$url"
echo "{sha}  $work/clawlocal.tar.gz" | sha256sum -c - || {{
    echo "error: $url does not have sha256 {sha}; nothing was installed" >&2
    exit 1
}}
tar -xzf "$work/clawlocal.tar.gz" -C "$work"
bin=$(find "$work" -type f -name clawlocal | head -n 1)
install -m 0755 "$bin" /usr/local/bin/clawlocal
rm -rf "$work"
status=0
/usr/local/bin/clawlocal {init} >"$log/init.json" 2>"$log/init.log" || status=$?
if [ "$status" -ne 0 ]; then
    echo "error: clawlocal init failed (exit $status): see $log/init.json and $log/init.log" >&2
    exit "$status"
fi
/usr/local/bin/clawlocal --scope system --json doctor >"$log/doctor.json" 2>"$log/doctor.log" || status=$?
if [ "$status" -ne 0 ]; then
    echo "error: clawlocal doctor failed (exit $status): see $log/doctor.json" >&2
fi
exit "$status"
"#,
        url = shell_quote(&spec.release.url),
        sha = spec.release.sha256,
        init = init_words.join(" "),
    );
    let mut files = vec![
        json!({ "path": "/var/lib/clawlocal/clawlocal.lock", "permissions": "0644", "owner": "root:root",
                "content": spec.lock_text }),
        json!({ "path": "/usr/local/sbin/clawlocal-fleet-init", "permissions": "0755", "owner": "root:root",
                "content": script }),
    ];
    if let Some(text) = spec.profile_file {
        files.push(json!({ "path": "/etc/clawlocal/profile.json5", "permissions": "0644", "owner": "root:root",
                           "content": text }));
    }
    let doc = json!({
        "write_files": files,
        "runcmd": [["/usr/local/sbin/clawlocal-fleet-init"]],
    });
    let text = format!("#cloud-config\n{}{}", header("cloud-init user-data"), to_yaml(&doc));
    Ok(vec![FleetFile { path: PathBuf::from("user-data"), text }])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_round_up_and_budgets_grow_with_the_model() {
        assert_eq!(mebibytes(1), "1Mi");
        assert_eq!(gibibytes((1 << 30) + 1), "2Gi");
        assert_eq!(startup_periods(0), 30, "at least five minutes");
        assert!(startup_periods(40 << 30) > startup_periods(4 << 30));
        assert_eq!(pod_memory_bytes(1 << 30), (1 << 30) + (1 << 30) / 10 + (256 << 20));
    }

    #[test]
    fn images_split_into_name_and_tag_or_digest() {
        assert!(matches!(
            split_image("ghcr.io/ggml-org/llama.cpp:server-b1"),
            ("ghcr.io/ggml-org/llama.cpp", Tag::Tag("server-b1"))
        ));
        assert!(matches!(split_image("localhost:5000/x@sha256:ab"), ("localhost:5000/x", Tag::Digest("sha256:ab"))));
        assert!(matches!(split_image("localhost:5000/x"), ("localhost:5000/x", Tag::Tag("latest"))));
    }

    #[test]
    fn yaml_strings_stay_strings_for_a_yaml_1_1_reader_and_blocks_keep_their_bytes() {
        let v = json!({
            "args": ["--fit", "on", "yes", "8765"],
            "on": "off",
            "script": "#!/bin/sh\n  indented\n\nlast\n",
            "tight": "a\nb",
            "empty": {},
            "runcmd": [["/usr/local/sbin/x", "y"]],
            "items": [{ "name": "a", "value": 1 }, { "name": "b" }],
        });
        let text = to_yaml(&v);
        assert!(text.contains("- \"on\"\n") && text.contains("\"on\": \"off\""), "{text}");
        assert!(text.contains("- [\"/usr/local/sbin/x\",\"y\"]"), "{text}");
        let back: Value = serde_yaml_ng::from_str(&text).unwrap();
        assert_eq!(back, v, "{text}");
    }

    #[test]
    fn shell_words_are_quoted_when_they_need_it() {
        assert_eq!(shell_quote("qwen2.5-1.5b"), "qwen2.5-1.5b");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote("a b"), "'a b'");
    }
}
