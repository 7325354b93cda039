//! `render --target kubernetes|cloud-init`: the same selection and lock as `init`, rendered for fleets, against
//! the Hub mock. The manifests are checked field by field here and by the REAL `kubernetes-validate` (the
//! Kubernetes OpenAPI schemas of two minor versions); the user-data by the REAL `cloud-init schema`. No cluster
//! runs here: nothing is applied.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::hubmock::{HubMock, sha256_hex};
use crate::support::mirror::Mirror;
use crate::support::{Ctx, Run, finish};

const SPEC: &str = "hf:clawlocal-test/tiny-GGUF/tiny-F16.gguf";

struct Fleet {
    ctx: Ctx,
    hub: HubMock,
    model: Vec<u8>,
}

impl Fleet {
    fn new() -> Fleet {
        let ctx = Ctx::new();
        let hub = HubMock::start();
        let model = crate::support::gguf::TinyModel::default().bytes();
        hub.add_repo("clawlocal-test/tiny-GGUF", &[("tiny-F16.gguf", model.clone())]);
        Fleet { ctx, hub, model }
    }

    fn render(&self, target: &str, profile: &str, out: &Path, release: (&str, &str)) -> Run {
        self.render_with(target, profile, out, release, &[])
    }

    fn render_with(&self, target: &str, profile: &str, out: &Path, release: (&str, &str), extra: &[&str]) -> Run {
        let out = out.to_str().unwrap();
        let args = ["--json", "--scope", "user", "render", "--target", target, "--profile", profile, "--model", SPEC];
        let run = self
            .ctx
            .command()
            .env("HF_ENDPOINT", self.hub.endpoint())
            .env("HF_HUB_CACHE", self.ctx.dir.path().join("hub"))
            .args(args)
            .args(["--out", out, "--release-url", release.0, "--release-sha256", release.1])
            .args(extra)
            .output()
            .unwrap();
        finish(run)
    }
}

/// Every object of every YAML file in `dir` (kustomization.yaml aside), with the file it came from.
fn objects(dir: &Path) -> Vec<(PathBuf, Value)> {
    let mut out = Vec::new();
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    names.sort();
    for path in names.into_iter().filter(|p| p.extension().is_some_and(|e| e == "yaml")) {
        if path.ends_with("kustomization.yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for doc in serde_yaml_ng::Deserializer::from_str(&text) {
            let v: Value = serde::Deserialize::deserialize(doc).unwrap();
            out.push((path.clone(), v));
        }
    }
    out
}

/// Whether `text` holds a key as clawlocal generates them (`clawlocal-` and 48 hex digits).
fn holds_generated_key(text: &str) -> bool {
    text.match_indices("clawlocal-").any(|(i, m)| {
        let rest = &text.as_bytes()[i + m.len()..];
        rest.len() >= 48 && rest[..48].iter().all(u8::is_ascii_hexdigit)
    })
}

/// `render --json` of a fleet target conforms to schemas/render-fleet.schema.json.
fn conforms(doc: &Value) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/render-fleet.schema.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator.iter_errors(doc).map(|e| format!("{}: {e}", e.instance_path())).collect();
    assert!(errors.is_empty(), "{errors:#?}\n{doc:#}");
}

fn kind<'a>(objs: &'a [(PathBuf, Value)], kind: &str) -> &'a Value {
    &objs.iter().find(|(_, o)| o["kind"] == kind).unwrap_or_else(|| panic!("no {kind}")).1
}

fn assert_restricted(c: &Value, what: &str) {
    let s = &c["securityContext"];
    assert_eq!(s["allowPrivilegeEscalation"], false, "{what}: {s}");
    assert_eq!(s["readOnlyRootFilesystem"], true, "{what}: {s}");
    assert_eq!(s["runAsNonRoot"], true, "{what}: {s}");
    assert_eq!(s["capabilities"]["drop"], serde_json::json!(["ALL"]), "{what}: {s}");
    assert_eq!(s["seccompProfile"]["type"], "RuntimeDefault", "{what}: {s}");
}

fn flag<'a>(args: &'a [Value], name: &str) -> Option<&'a str> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(Value::as_str)
}

/// For a CPU, a CUDA and a Vulkan profile: the kustomize directory holds the hardened Deployment (init container
/// pulling with clawlocal itself into the PVC, the server mounting it read-only, `--ctx-size` = the contextWindow
/// OpenClaw gets, the key file from the Secret, probes sized from the file, memory request = limit from the
/// estimate, `nvidia.com/gpu` for CUDA only, `/dev/shm` for the GPUs and `/dev/dri` for Vulkan), a ClusterIP
/// Service, a NetworkPolicy admitting only the gateway's label, a PDB, the check Job, and the gateway's provider
/// entry for the Service's DNS name (which the REAL OpenClaw validates); each manifest passes the REAL kubernetes-validate for Kubernetes 1.36 and
/// 1.37 (strict). Rendering twice writes nothing new; the generated key is in no manifest and in no output.
#[test]
#[cfg_attr(
    any(missing_kubernetes_validate, missing_openclaw),
    ignore = "needs kubernetes-validate and the OpenClaw CLI (README: Real components in the tests)"
)]
fn kubernetes_manifests_are_hardened_sized_and_valid_for_two_kubernetes_versions() {
    let test = "kubernetes_manifests_are_hardened_sized_and_valid_for_two_kubernetes_versions";
    let (Some(validate), Some(openclaw)) =
        (crate::support::parts::kubernetes_validate(test), crate::support::parts::openclaw(test))
    else {
        return;
    };
    let fleet = Fleet::new();
    let release = ("https://releases.example/clawlocal-x86_64-unknown-linux-gnu.tar.gz", &"ab".repeat(32)[..]);
    for (profile, backend) in [("vps-8gb", "cpu"), ("gpu-24gb", "cuda"), ("vulkan-16gb", "vulkan")] {
        let out = fleet.ctx.dir.path().join(format!("k8s-{profile}"));
        let run = fleet.render("kubernetes", profile, &out, (release.0, release.1));
        assert_eq!(run.code, 0, "{profile}: {}", run.stderr);
        let doc = run.json();
        assert_eq!(doc["target"], "kubernetes");
        conforms(&doc);
        assert_eq!(doc["sha256"], sha256_hex(&fleet.model), "{doc:#}");
        let objs = objects(&out);

        let deploy = kind(&objs, "Deployment");
        assert_eq!(deploy["spec"]["strategy"]["type"], "Recreate", "one RWO volume");
        let pod = &deploy["spec"]["template"]["spec"];
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true, "{pod}");
        assert_eq!(pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault");
        assert_eq!(pod["automountServiceAccountToken"], false);
        let init = &pod["initContainers"][0];
        let engine = &pod["containers"][0];
        assert_restricted(init, "init");
        assert_restricted(engine, "engine");
        assert_eq!(init["command"], serde_json::json!(["sh", "/etc/clawlocal/pull.sh"]), "clawlocal's own pull");
        let mounts = |c: &Value| c["volumeMounts"].as_array().unwrap().clone();
        let models = |c: &Value| mounts(c).into_iter().find(|m| m["name"] == "models").unwrap();
        assert_eq!(models(engine)["readOnly"], true, "the server reads the volume only");
        assert_ne!(models(init)["readOnly"], true, "the pull writes it");

        let args = engine["args"].as_array().unwrap();
        assert_eq!(flag(args, "--host"), Some("$(POD_IP)"), "the pod's address: {args:?}");
        assert_eq!(flag(args, "--port"), Some("8765"));
        assert_eq!(flag(args, "--api-key-file"), Some("/run/secrets/clawlocal/api-key"));
        assert!(!args.iter().any(|a| a == "--api-key"), "never the key in argv: {args:?}");
        assert_eq!(flag(args, "--cache-ram"), Some("0"), "no prompt cache growing past the limit: {args:?}");
        assert!(
            !args.iter().any(|a| a == "--mlock" || a.as_str().is_some_and(|a| a.contains("mlock"))),
            "no mlock without IPC_LOCK: {args:?}"
        );
        let model = flag(args, "--model").unwrap();
        assert!(model.starts_with("/models/models--clawlocal-test--tiny-GGUF/snapshots/"), "{model}");
        let ctx_size: u64 = flag(args, "--ctx-size").unwrap().parse().unwrap();

        let image = engine["image"].as_str().unwrap();
        let want_image = match backend {
            "cuda" => "ghcr.io/ggml-org/llama.cpp:server-cuda-b11160",
            "vulkan" => "ghcr.io/ggml-org/llama.cpp:server-vulkan-b11160",
            _ => "ghcr.io/ggml-org/llama.cpp:server-b11160",
        };
        assert_eq!(image, want_image, "{profile}");

        let startup = &engine["startupProbe"];
        assert_eq!(startup["httpGet"]["path"], "/health");
        assert!(startup["failureThreshold"].as_u64().unwrap() >= 30, "{startup}");
        let ready = engine["readinessProbe"]["exec"]["command"][2].as_str().unwrap();
        assert!(ready.contains("/health") && ready.contains("/v1/models"), "{ready}");
        assert!(ready.contains("\"id\":\"tiny-f16\""), "the alias: {ready}");
        assert!(!ready.contains("Bearer $(") || ready.contains("-K -"), "the key reaches curl on stdin: {ready}");
        assert!(engine["livenessProbe"]["tcpSocket"].is_object(), "a cheap liveness");

        let res = &engine["resources"];
        assert_eq!(res["requests"], res["limits"], "request = limit: {res}");
        let mem = res["limits"]["memory"].as_str().unwrap();
        assert!(mem.ends_with("Mi") && mem.trim_end_matches("Mi").parse::<u64>().unwrap() > 256, "{mem}");
        assert_eq!(res["limits"]["nvidia.com/gpu"].is_null(), backend != "cuda", "{profile}: {res}");
        let volumes: Vec<String> =
            pod["volumes"].as_array().unwrap().iter().map(|v| v["name"].as_str().unwrap().to_string()).collect();
        assert_eq!(volumes.contains(&"shm".to_string()), backend != "cpu", "{profile}: {volumes:?}");
        assert_eq!(volumes.contains(&"dri".to_string()), backend == "vulkan", "{profile}: {volumes:?}");
        if backend == "cpu" {
            assert_eq!(res["limits"]["cpu"], "4", "vps-8gb's 4 cores: {res}");
        }

        let pvc = kind(&objs, "PersistentVolumeClaim");
        assert_eq!(pvc["spec"]["resources"]["requests"]["storage"], "2Gi", "the download + margin, whole GiB");
        let svc = kind(&objs, "Service");
        assert_eq!(svc["spec"]["type"], "ClusterIP");
        let policy = kind(&objs, "NetworkPolicy");
        let from = &policy["spec"]["ingress"][0]["from"];
        assert_eq!(from[0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"], "openclaw-gateway", "{policy}");
        assert_eq!(from.as_array().unwrap().len(), 2, "the gateway and the check Job only: {policy}");
        assert_eq!(kind(&objs, "PodDisruptionBudget")["spec"]["maxUnavailable"], 1);
        let job = kind(&objs, "Job");
        assert_restricted(&job["spec"]["template"]["spec"]["containers"][0], "check");
        let check = kind(&objs, "ConfigMap")["data"]["check.sh"].as_str().unwrap();
        assert!(check.contains("\"tool_choice\":\"auto\"") && check.contains("tool_calls"), "{check}");

        let kustomization: Value =
            serde_yaml_ng::from_str(&std::fs::read_to_string(out.join("kustomization.yaml")).unwrap()).unwrap();
        assert_eq!(kustomization["secretGenerator"][0]["files"][0], "api-key=secrets/api-key");

        // The gateway's side: the Service's DNS name, the private-network opt-in, the key as an env SecretRef.
        let gateway = std::fs::read_to_string(out.join("openclaw-gateway.json5")).unwrap();
        let body: String = gateway.lines().filter(|l| !l.starts_with("//")).collect::<Vec<_>>().join("\n");
        let entry: Value = serde_json::from_str(&body).unwrap();
        let p = &entry["models"]["providers"]["clawlocal"];
        assert_eq!(p["baseUrl"], "http://clawlocal.clawlocal.svc.cluster.local:8765/v1", "{p}");
        assert_eq!(p["request"]["allowPrivateNetwork"], true);
        assert_eq!(p["apiKey"]["id"], "CLAWLOCAL_API_KEY");
        assert_eq!(p["models"][0]["contextWindow"].as_u64(), Some(ctx_size), "OpenClaw's window = --ctx-size");
        // The command the file names writes the same entry into an existing config.
        let command = gateway.lines().nth(1).unwrap().trim_start_matches("//").trim();
        let command = command.strip_prefix("clawlocal ").unwrap();
        let by_hand = fleet.ctx.dir.path().join(format!("by-hand-{profile}.json"));
        std::fs::write(&by_hand, "{}\n").unwrap();
        let bin = std::env::var_os("CLAWLOCAL_TEST_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_clawlocal").into());
        // As a user types it: the words through sh, clawlocal being the binary under test.
        let patched = finish(
            std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("\"$CLAWLOCAL_BIN\" --scope user {command} --config \"$0\""))
                .arg(&by_hand)
                .env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                .env("CLAWLOCAL_BIN", &bin)
                .env("HOME", fleet.ctx.home())
                .env("XDG_STATE_HOME", fleet.ctx.dir.path().join(format!("state-by-hand-{profile}")))
                .env("CLAWLOCAL_OPENCLAW", &openclaw)
                .output()
                .unwrap(),
        );
        assert_eq!(patched.code, 0, "{command}: {}", patched.stderr);
        let by_hand: Value = serde_json::from_slice(&std::fs::read(&by_hand).unwrap()).unwrap();
        assert_eq!(by_hand, entry, "`{command}` writes what openclaw-gateway.json5 holds");
        let config = out.join("gateway-check/openclaw.json");
        std::fs::create_dir_all(config.parent().unwrap()).unwrap();
        std::fs::copy(out.join("openclaw-gateway.json5"), &config).unwrap();
        let verdict = crate::support::parts::openclaw_validate(&openclaw, &config);
        assert_eq!(verdict["valid"], true, "the real OpenClaw takes the gateway's entry: {verdict}");
        std::fs::remove_dir_all(config.parent().unwrap()).unwrap();

        // The real validator, two minor versions, strict (unknown fields are errors).
        for version in ["1.36.0", "1.37.0"] {
            let files: Vec<PathBuf> = std::fs::read_dir(&out)
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == "yaml") && !p.ends_with("kustomization.yaml"))
                .collect();
            let v =
                std::process::Command::new(&validate).args(["--strict", "-k", version]).args(&files).output().unwrap();
            let said = String::from_utf8_lossy(&v.stdout).to_string() + &String::from_utf8_lossy(&v.stderr);
            assert!(v.status.success(), "{profile} on Kubernetes {version}: {said}");
            assert!(!said.contains("ERROR") && !said.contains("WARN"), "{profile} on {version}: {said}");
        }

        // The key: generated once, 0600, in no manifest and in no output.
        let key_path = out.join("secrets/api-key");
        let key = std::fs::read_to_string(&key_path).unwrap();
        assert!(holds_generated_key(&key), "a generated key: {} bytes", key.len());
        let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&key_path).unwrap().permissions());
        assert_eq!(mode & 0o777, 0o600);
        for entry in std::fs::read_dir(&out).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                assert!(!std::fs::read_to_string(&path).unwrap().contains(key.trim()), "{}", path.display());
            }
        }
        assert!(!run.stdout.contains(key.trim()) && !run.stderr.contains(key.trim()));

        let again = fleet.render("kubernetes", profile, &out, (release.0, release.1));
        assert_eq!(again.code, 0, "{}", again.stderr);
        let files = again.json()["files"].clone();
        let changed: Vec<&Value> = files.as_array().unwrap().iter().filter(|f| f["status"] != "unchanged").collect();
        assert!(changed.is_empty(), "rendering twice writes nothing new: {changed:?}");
        assert_eq!(std::fs::read_to_string(&key_path).unwrap(), key, "the key is kept");
    }
}

/// The init container's own script, run here as the pod would run it (its environment pointed at temp dirs and the
/// Hub mock): it fetches the clawlocal release archive from a local file server, checks the sha256 the manifest
/// pins, and `clawlocal pull --locked` leaves exactly the blob the lock pins. A tampered blob on the Hub makes it
/// fail with nothing at the final name; so does an archive whose sha256 is not the pinned one.
#[test]
fn the_init_containers_pull_produces_the_locked_blob_and_refuses_a_tampered_one() {
    let fleet = Fleet::new();
    let archive = release_archive();
    let sha = sha256_hex(&archive);
    let mirror = Mirror::start(HashMap::from([("/clawlocal.tar.gz".to_string(), archive)]));
    let url = format!("{}/clawlocal.tar.gz", mirror.url);
    let out = fleet.ctx.dir.path().join("k8s");
    let run = fleet.render("kubernetes", "vps-8gb", &out, (&url, &sha));
    assert_eq!(run.code, 0, "{}", run.stderr);
    let objs = objects(&out);
    let data = &kind(&objs, "ConfigMap")["data"];
    let etc = fleet.ctx.dir.path().join("etc-clawlocal");
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::write(etc.join("pull.sh"), data["pull.sh"].as_str().unwrap()).unwrap();
    std::fs::write(etc.join("clawlocal.lock"), data["clawlocal.lock"].as_str().unwrap()).unwrap();
    let init = &kind(&objs, "Deployment")["spec"]["template"]["spec"]["initContainers"][0];
    let env: HashMap<String, String> = init["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["name"].as_str().unwrap().to_string(), e["value"].as_str().unwrap().to_string()))
        .collect();
    let pull = |name: &str, sha256: &str| {
        let models = fleet.ctx.dir.path().join(format!("models-{name}"));
        let work = fleet.ctx.dir.path().join(format!("work-{name}"));
        let mut cmd = std::process::Command::new("sh");
        cmd.arg(etc.join("pull.sh"))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap())
            .env("CLAWLOCAL_WORK", &work)
            .env("CLAWLOCAL_LOCK", etc.join("clawlocal.lock"))
            .env("CLAWLOCAL_RELEASE_URL", &env["CLAWLOCAL_RELEASE_URL"])
            .env("CLAWLOCAL_RELEASE_SHA256", sha256)
            .env("HF_HUB_CACHE", &models)
            .env("HF_ENDPOINT", fleet.hub.endpoint());
        (finish(cmd.output().unwrap()), models)
    };
    assert_eq!(env["HF_HUB_CACHE"], "/models", "{env:?}");
    let (ok, models) = pull("good", &env["CLAWLOCAL_RELEASE_SHA256"]);
    assert_eq!(ok.code, 0, "{}\n{}", ok.stderr, ok.stdout);
    let pulled = ok.json();
    let blob = PathBuf::from(pulled["path"].as_str().unwrap());
    assert!(blob.starts_with(&models), "{pulled:#}");
    assert_eq!(sha256_hex(&std::fs::read(&blob).unwrap()), sha256_hex(&fleet.model), "the blob the lock pins");
    assert_eq!(
        pulled["sha256"],
        data["clawlocal.lock"]
            .as_str()
            .map(|l| serde_json::from_str::<Value>(l).unwrap()["models"][0]["files"][0]["sha256"].clone())
            .unwrap()
    );

    // An archive that is not the pinned one: refused before anything is pulled.
    let (bad, models) = pull("bad-archive", &"0".repeat(64));
    assert_ne!(bad.code, 0);
    assert!(bad.stderr.contains("does not have sha256"), "{}", bad.stderr);
    assert!(!models.exists(), "nothing pulled");

    // The Hub now serves other bytes under the pinned name: the pull fails; no file reaches its final name.
    let mut tampered = fleet.model.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 0xff;
    fleet.hub.add_repo("clawlocal-test/tiny-GGUF", &[("tiny-F16.gguf", tampered)]);
    let (refused, models) = pull("tampered", &env["CLAWLOCAL_RELEASE_SHA256"]);
    assert_ne!(refused.code, 0, "{}", refused.stdout);
    assert!(
        refused.stdout.contains("sha256") || refused.stderr.contains("sha256"),
        "{}\n{}",
        refused.stdout,
        refused.stderr
    );
    let blobs = models.join("models--clawlocal-test--tiny-GGUF/blobs");
    let finals: Vec<String> = std::fs::read_dir(&blobs)
        .map(|d| {
            d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).filter(|n| !n.contains('.')).collect()
        })
        .unwrap_or_default();
    assert!(finals.is_empty(), "no blob at a final name: {finals:?}");
}

/// A `clawlocal-x86_64-unknown-linux-gnu.tar.gz` shaped like a release: one top folder holding the binary under test.
fn release_archive() -> Vec<u8> {
    let bin = std::env::var_os("CLAWLOCAL_TEST_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_clawlocal").into());
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
    tar.append_path_with_name(&bin, "clawlocal-x86_64-unknown-linux-gnu/clawlocal").unwrap();
    tar.into_inner().unwrap().finish().unwrap()
}

/// The user-data passes the REAL `cloud-init schema`; it installs clawlocal from the pinned archive and runs
/// `init --locked --yes --json`, then `doctor --json` as the gate; it holds no key, and rendering twice writes
/// nothing new.
#[test]
#[cfg_attr(missing_cloud_init, ignore = "needs cloud-init (README: Real components in the tests)")]
fn cloud_init_user_data_passes_cloud_inits_schema_and_pins_the_release() {
    let test = "cloud_init_user_data_passes_cloud_inits_schema_and_pins_the_release";
    let Some(cloud_init) = crate::support::parts::cloud_init(test) else {
        return;
    };
    let fleet = Fleet::new();
    let sha = "cd".repeat(32);
    let url = "https://releases.example/clawlocal-x86_64-unknown-linux-gnu.tar.gz";
    let out = fleet.ctx.dir.path().join("vm");
    let run = fleet.render("cloud-init", "vps-8gb", &out, (url, &sha));
    assert_eq!(run.code, 0, "{}", run.stderr);
    let user_data = out.join("user-data");
    let text = std::fs::read_to_string(&user_data).unwrap();
    assert!(text.starts_with("#cloud-config\n"), "{text}");
    let schema =
        std::process::Command::new(&cloud_init).args(["schema", "--config-file"]).arg(&user_data).output().unwrap();
    let said = String::from_utf8_lossy(&schema.stdout).to_string() + &String::from_utf8_lossy(&schema.stderr);
    assert!(schema.status.success(), "cloud-init schema: {said}");
    assert!(said.contains("Valid cloud-config"), "{said}");

    let doc: Value = serde_yaml_ng::from_str(&text).unwrap();
    let files = doc["write_files"].as_array().unwrap();
    let script = files.iter().find(|f| f["path"] == "/usr/local/sbin/clawlocal-fleet-init").unwrap()["content"]
        .as_str()
        .unwrap();
    assert!(script.contains(&format!("echo \"{sha}  $work/clawlocal.tar.gz\" | sha256sum -c -")), "{script}");
    assert!(
        script.contains(
            "init --locked --yes --profile vps-8gb --port 8765 --model hf:clawlocal-test/tiny-GGUF/tiny-F16.gguf"
        ),
        "{script}"
    );
    assert!(script.contains("--json doctor >\"$log/doctor.json\""), "{script}");
    let lock: Value = serde_json::from_str(
        files.iter().find(|f| f["path"] == "/var/lib/clawlocal/clawlocal.lock").unwrap()["content"].as_str().unwrap(),
    )
    .unwrap();
    assert_eq!(lock["models"][0]["files"][0]["sha256"], sha256_hex(&fleet.model), "{lock:#}");
    assert_eq!(doc["runcmd"][0][0], "/usr/local/sbin/clawlocal-fleet-init");

    let again = fleet.render("cloud-init", "vps-8gb", &out, (url, &sha));
    conforms(&again.json());
    assert_eq!(again.json()["files"][0]["status"], "unchanged", "{}", again.stdout);
    assert!(!holds_generated_key(&text), "no key in the user-data: each VM's init generates its own");
}

/// The user-data's own commands on a VM stand-in: a REAL systemd booted as PID 1 (systemd-nspawn) without
/// clawlocal. Its files are written where cloud-init's `write_files` puts them and its `runcmd` runs: clawlocal
/// is installed from the release archive on a local file server (sha256 checked), `init --locked` pulls the model
/// the lock pins from the Hub mock and starts the hardened unit, and `doctor --json`, the gate, is green; both
/// documents are logged under /var/log/clawlocal/.
#[test]
#[cfg_attr(
    any(missing_llama_server, missing_rootfs),
    ignore = "needs llama-server, a bootable rootfs + systemd-nspawn (README: Real components in the tests)"
)]
fn e2e_cloud_init_commands_install_clawlocal_and_reach_a_green_doctor_under_systemd() {
    let test = "e2e_cloud_init_commands_install_clawlocal_and_reach_a_green_doctor_under_systemd";
    let Some(rootfs) = crate::support::nspawn::rootfs(test) else { return };
    let Some(engine) = crate::support::parts::llama_server(test) else { return };
    let fleet = Fleet::new();
    let archive = release_archive();
    let sha = sha256_hex(&archive);
    let mirror = Mirror::start(HashMap::from([("/clawlocal.tar.gz".to_string(), archive)]));
    let url = format!("{}/clawlocal.tar.gz", mirror.url);
    let port = crate::support::parts::free_port().to_string();
    let out = fleet.ctx.dir.path().join("vm");
    let run = fleet.render_with("cloud-init", "vps-8gb", &out, (&url, &sha), &["--port", &port]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let doc: Value = serde_yaml_ng::from_str(&std::fs::read_to_string(out.join("user-data")).unwrap()).unwrap();

    let c = crate::support::nspawn::Container::boot(&rootfs, &engine);
    assert_eq!(c.sh("rm /usr/local/bin/clawlocal").code, 0);
    for f in doc["write_files"].as_array().unwrap() {
        let path = c.path(f["path"].as_str().unwrap());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, f["content"].as_str().unwrap()).unwrap();
        let mode = u32::from_str_radix(f["permissions"].as_str().unwrap(), 8).unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(mode)).unwrap();
    }
    let endpoint = format!("HF_ENDPOINT={}", fleet.hub.endpoint());
    for cmd in doc["runcmd"].as_array().unwrap() {
        let words: Vec<&str> = cmd.as_array().unwrap().iter().map(|w| w.as_str().unwrap()).collect();
        let ran = c.run(&[&["env", &endpoint], &words[..]].concat());
        let log = c.sh("cat /var/log/clawlocal/init.log /var/log/clawlocal/doctor.json 2>&1").stdout;
        assert_eq!(ran.code, 0, "{words:?}: {}\n{}\n{log}", ran.stdout, ran.stderr);
    }
    let installed = std::fs::read(c.path("/usr/local/bin/clawlocal")).unwrap();
    let built = std::fs::read(env!("CARGO_BIN_EXE_clawlocal")).unwrap();
    assert!(installed == built, "the archive's binary is installed");
    let init: Value =
        serde_json::from_str(&std::fs::read_to_string(c.path("/var/log/clawlocal/init.json")).unwrap()).unwrap();
    assert_eq!(init["ok"], true, "{init:#}");
    let doctor: Value =
        serde_json::from_str(&std::fs::read_to_string(c.path("/var/log/clawlocal/doctor.json")).unwrap()).unwrap();
    assert_eq!(doctor["ok"], true, "{doctor:#}");
    let active = doctor["checks"].as_array().unwrap().iter().find(|c| c["id"] == "service.active").unwrap();
    assert_eq!(active["status"], "pass", "{doctor:#}");
    let lock: Value =
        serde_json::from_str(&std::fs::read_to_string(c.path("/var/lib/clawlocal/clawlocal.lock")).unwrap()).unwrap();
    let pinned = lock["models"][0]["files"][0]["sha256"].as_str().unwrap();
    assert_eq!(pinned, sha256_hex(&fleet.model));
    let blob =
        c.path(&format!("/var/cache/clawlocal/huggingface/hub/models--clawlocal-test--tiny-GGUF/blobs/{pinned}"));
    assert_eq!(sha256_hex(&std::fs::read(&blob).unwrap()), pinned, "the blob the lock pins");
}
