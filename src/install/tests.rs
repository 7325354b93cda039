//! `plan()` as table tests over a surveyed-by-hand world: order, `--no-start`, a swap, `--root`, each blocker,
//! and an identical re-run. No process runs and nothing is written but the temp openclaw.json read by `prepare`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use super::*;
use crate::engine::Engine;
use crate::error::Error;
use crate::host::FakeHost;
use crate::hub::client::{RemoteFile, Resolution};
use crate::layout::{Layout, Scope};
use crate::lockfile::LockFile;
use crate::plan::{Options, Role};
use crate::profile::ServiceKind;

const HELP: &str = "--model --alias --host --port --api-key-file --ctx-size --metrics --no-webui --fit --fit-ctx \
                    --fit-target --load-mode --cache-ram --threads --n-gpu-layers --jinja --parallel --kv-unified \
                    --batch-size --ubatch-size --cache-type-k --cache-type-v --flash-attn --mlock";

struct Case {
    _dir: tempfile::TempDir,
    desired: Desired,
    world: World,
}

fn case(service: ServiceKind, start: bool, root: bool) -> Case {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let host = FakeHost::linux()
        .with_env("HOME", &home.to_string_lossy())
        .with_env("OPENCLAW_CONFIG_PATH", &dir.path().join("openclaw.json").to_string_lossy());
    let image = dir.path().join("img");
    let layout: Layout =
        crate::layout::resolve(&host, Some(Scope::User), root.then_some(image.as_path()), None).unwrap();
    std::fs::create_dir_all(crate::fsutil::parent(&layout.openclaw_config)).unwrap();
    std::fs::write(&layout.openclaw_config, "{ agents: { defaults: { model: { primary: 'a/b' } } } }\n").unwrap();
    let profile = crate::profile::resolve("vps-8gb", &host).unwrap();
    let catalog = crate::catalog::Catalog::bundled();
    let request = crate::select::Request {
        model: Some("qwen2.5-0.5b-instruct".into()),
        quant: None,
        context: None,
        measured: None,
    };
    let selection = crate::select::select(&profile, catalog, &request).selection.expect("it fits");
    let want = crate::hub::pull::wanted(&selection.model, Some(&selection.quant)).unwrap();
    let desired = Desired {
        profile,
        selection,
        options: Options { service, port: 8765, role: Role::Fallback },
        want: want.clone(),
        engine: None,
        install_engine: true,
        backend: None,
        engine_mirror: None,
        locked: false,
        start,
        health_timeout: Duration::from_secs(5),
        hub: crate::hub::HubConfig::from_env(&host, true),
    };
    let files = want.hub.files.iter().map(|f| RemoteFile { name: f.clone(), size: 1000, sha256: "ab".repeat(32) });
    let key = "clawlocal-000000000000000000000000000000000000000000000000\n".to_string();
    let mut world = World {
        layout: layout.clone(),
        uid: 1000,
        previous: Ok(None),
        engine: Ok(Engine::fake(Path::new("/usr/bin/llama-server"), "version: 8000 (2b56210)", HELP)),
        engine_install: None,
        resolution: Ok(Resolution { commit: "c0ffee".repeat(6) + "c0ff", files: files.collect() }),
        lock: Ok(LockFile::load(&layout.lock_file()).unwrap()),
        cached: false,
        blob_ours: false,
        free_disk: Some(1 << 40),
        files: BTreeMap::new(),
        key: Ok(None),
        fresh_key: key,
        openclaw: Err(Error::failure("unset")),
        manager: start.then_some(Ok(())),
        managers_here: vec!["systemd"],
        port_holder: None,
        port_free: Some(8766),
        visible: Ok(()),
        gpu_missing: None,
    };
    let spec = crate::openclaw::local_spec("m", "M (local)", 32768, 8765, Role::Fallback, world.key_text());
    world.openclaw =
        crate::openclaw::file::prepare(&host, &layout.openclaw_config, spec, &crate::openclaw::records_path(&layout));
    Case { _dir: dir, desired, world }
}

fn kinds(plan: &Plan) -> Vec<&'static str> {
    plan.steps.iter().map(Step::kind).collect()
}

#[test]
fn steps_come_in_the_order_they_run_and_no_start_starts_nothing() {
    let table: [(ServiceKind, bool, &[&str]); 3] = [
        (
            ServiceKind::Systemd,
            true,
            &[
                "journal",
                "download",
                "lock",
                "engine",
                "api-key",
                "unit",
                "start",
                "health",
                "openclaw-config",
                "receipt",
            ],
        ),
        (
            ServiceKind::Systemd,
            false,
            &["journal", "download", "lock", "engine", "api-key", "unit", "openclaw-config", "receipt"],
        ),
        (ServiceKind::None, false, &["journal", "download", "lock", "engine", "api-key", "openclaw-config", "receipt"]),
    ];
    for (service, start, want) in table {
        let c = case(service, start, false);
        let plan = plan(&c.desired, &c.world);
        assert!(plan.runnable(), "{:?}", plan.blockers);
        assert_eq!(kinds(&plan), want, "{service:?} start={start}");
    }
}

#[test]
fn a_swap_without_a_manager_to_restart_it_tries_the_new_model_before_the_unit() {
    let c = case(ServiceKind::None, false, false);
    let first = plan(&c.desired, &c.world);
    let mut old = first.receipt.clone().unwrap();
    old.model.sha256 = "cd".repeat(32);
    let mut world = c.world;
    world.previous = Ok(Some(old));
    let plan = plan(&c.desired, &world);
    let at = |k: &str| kinds(&plan).iter().position(|s| *s == k);
    assert!(plan.swap.is_some());
    assert!(at("trial").unwrap() < at("openclaw-config").unwrap() && at("trial").unwrap() > at("download").unwrap());
}

#[test]
fn with_root_files_go_under_the_root_and_their_contents_name_image_paths() {
    let c = case(ServiceKind::Systemd, false, true);
    let root = c.world.layout.root.clone().unwrap();
    let plan = plan(&c.desired, &c.world);
    for step in &plan.steps {
        if let Step::Write { path, contents, kind, .. } = step {
            assert!(path.starts_with(&root), "{kind:?} is written under the root: {}", path.display());
            let text = String::from_utf8_lossy(contents);
            assert!(!text.contains(&*root.to_string_lossy()), "{kind:?} names no build-host path:\n{text}");
        }
    }
    let receipt = plan.receipt.unwrap();
    assert!(!receipt.api_key_file.as_path().starts_with(&root));
    assert_eq!(c.world.layout.on_host(&receipt.api_key_file), c.world.layout.api_key_file());
}

#[test]
fn each_failed_precondition_is_a_blocker_and_nothing_after_it_is_planned_to_run() {
    type Spoil = fn(&mut World);
    let table: [(&str, Spoil, &str); 5] = [
        ("engine", |w| w.engine = Err(Error::usage("no llama-server found")), "no llama-server"),
        ("openclaw.json", |w| w.openclaw = Err(Error::usage("openclaw.json:1:3: bad")), "openclaw.json:1:3"),
        ("manager", |w| w.manager = Some(Err("systemd is not running".into())), "cannot run here"),
        ("gpu", |w| w.gpu_missing = Some("profile p is for a CUDA GPU".into()), "CUDA GPU"),
        ("disk", |w| w.free_disk = Some(10), "not enough disk space"),
    ];
    for (name, spoil, needle) in table {
        let mut c = case(ServiceKind::Systemd, true, false);
        spoil(&mut c.world);
        let plan = plan(&c.desired, &c.world);
        assert!(!plan.runnable(), "{name}");
        assert!(plan.blockers.iter().any(|b| b.error.message.contains(needle)), "{name}: {:?}", plan.blockers);
    }
    let mut c = case(ServiceKind::Systemd, true, false);
    c.world.engine = Ok(Engine::fake(
        Path::new("/usr/bin/llama-server"),
        "version: 8000 (2b56210)",
        &HELP.replace("--metrics ", ""),
    ));
    let plan = plan(&c.desired, &c.world);
    assert!(plan.blockers.iter().any(|b| b.error.message.contains("does not take --metrics")), "{:?}", plan.blockers);
}

#[test]
fn an_identical_rerun_plans_no_journal_and_every_file_unchanged() {
    let c = case(ServiceKind::Systemd, false, false);
    let first = plan(&c.desired, &c.world);
    let mut world = c.world;
    for step in &first.steps {
        if let Step::Write { path, contents, .. } = step {
            world.files.insert(path.clone(), Some(contents.clone()));
        }
    }
    world.key = Ok(Some(world.fresh_key.trim().to_string()));
    world.previous = Ok(first.receipt.clone());
    // After the first run the model is in the cache, marked as clawlocal's download.
    world.cached = true;
    world.blob_ours = true;
    let again = plan(&c.desired, &world);
    assert!(!kinds(&again).contains(&"journal"), "{:?}", kinds(&again));
    for step in &again.steps {
        if let Step::Write { path, contents, guard, .. } = step {
            assert_eq!(world.bytes(path), Some(&contents[..]), "{} unchanged", path.display());
            assert!(guard.holds(world.bytes(path)));
        }
    }
}
