//! The I/O around the pure edit: find the file OpenClaw reads, refuse a read-only config, lock, follow a
//! symlink or a `models` include to the file to edit, validate the result (bundled schema, then the installed
//! `openclaw config validate` on a candidate next to the real file), back up, write atomically keeping mode and
//! owner, and keep the record `unpatch` needs in clawlocal's state.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::change::Change;
use crate::error::{Error, Result};
use crate::fsutil::{self, FileLock};
use crate::host::Host;
use crate::hub::download::sha256_hex as sha256;
use crate::openclaw::patch::{self, Changes, PatchSpec, Patched, Section};
use crate::openclaw::{schema, version};

/// What a patch or unpatch did, for people and `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The config OpenClaw reads.
    pub config: PathBuf,
    /// The file written: the config, its symlink target, or the file its `models` section includes.
    pub file: PathBuf,
    /// `created`, `updated`, `unchanged`, `restored` (the original bytes back) or `removed` (a file patch created).
    pub status: Change,
    /// The copy of the file as it was before this write.
    pub backup: Option<PathBuf>,
    /// `clawlocal/<model id>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_ref: Option<String>,
    /// The OpenClaw version the fields were chosen for, and where it came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub openclaw_version: Option<String>,
    /// `openclaw config validate` accepted the result before it was written.
    pub validated_by_openclaw: bool,
    pub warnings: Vec<String>,
    /// `--dry-run`: the unified diff of what would be written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    /// After an exact restore (`restored`, `removed`): the backups clawlocal made of this file, now redundant;
    /// `uninstall` deletes them, `openclaw unpatch` leaves them.
    #[serde(skip)]
    pub redundant_backups: Vec<PathBuf>,
}

impl Outcome {
    fn unchanged(config: &Path, file: &Path, warnings: Vec<String>) -> Outcome {
        Outcome {
            config: config.to_path_buf(),
            file: file.to_path_buf(),
            status: Change::Unchanged,
            backup: None,
            model_ref: None,
            openclaw_version: None,
            validated_by_openclaw: false,
            warnings,
            diff: None,
            redundant_backups: Vec::new(),
        }
    }
}

/// What clawlocal patched, kept in `<state>/openclaw-patches.json` (mode 0600) for `unpatch`.
/// How many patch records `path` holds, or why it cannot be read (for doctor).
pub fn check_records(path: &Path) -> Result<usize> {
    load_records(path).map(|r| r.patches.len())
}

/// The records file's format version (`openclaw-patches.json`'s `version`).
const RECORDS_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Records {
    version: u32,
    patches: Vec<Record>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    config: PathBuf,
    file: PathBuf,
    section: Section,
    /// The file did not exist: unpatch removes it again.
    created_file: bool,
    /// The bytes before the first patch are in `backup` (checked by hash): unpatch restores them exactly when
    /// the file is still what clawlocal wrote (`after_sha256`).
    before_sha256: Option<String>,
    backup: Option<PathBuf>,
    /// Backups later patches made of a file that held only clawlocal's own version (nothing of anyone else's).
    #[serde(default)]
    later_backups: Vec<PathBuf>,
    after_sha256: String,
    changes: Changes,
    /// The model the last patch put in (`clawlocal/<id>`): a patch with another model replaces that edit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    model_ref: Option<String>,
}

pub struct Options<'a> {
    pub records: &'a Path,
    pub dry_run: bool,
}

/// OpenClaw's own switches for an immutable config.
pub fn refuse_read_only(host: &dyn Host, config: &Path) -> Result<()> {
    for var in ["OPENCLAW_NIX_MODE", "OPENCLAW_CONFIG_READONLY"] {
        if host.env_nonempty(var).as_deref() == Some("1") {
            return Err(Error::usage(format!("{var}=1: {} is managed elsewhere and must not be edited", config.display()))
                .with_hint(
                    "add the provider in the configuration that generates it (e.g. your Nix module); `clawlocal openclaw patch --dry-run` shows what to add",
                ));
        }
    }
    Ok(())
}

/// The file behind `path`: a symlink is written through (OpenClaw's own writer would replace the link).
fn real_path(path: &Path, warnings: &mut Vec<String>) -> Result<PathBuf> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            let target = fs::canonicalize(path)
                .map_err(|e| Error::io(format!("{} is a symlink that cannot be followed", path.display()), &e))?;
            warnings.push(format!("{} is a symlink: clawlocal edits its target {}", path.display(), target.display()));
            Ok(target)
        }
        _ => Ok(path.to_path_buf()),
    }
}

/// The text and metadata of `path`, or `None` when it does not exist.
fn read(path: &Path) -> Result<Option<(String, fs::Metadata)>> {
    match fs::read(path) {
        Ok(bytes) => {
            let meta = fs::metadata(path).map_err(|e| Error::io(format!("cannot stat {}", path.display()), &e))?;
            if !meta.is_file() {
                return Err(Error::usage(format!("{} is not a regular file", path.display())));
            }
            let text = String::from_utf8(bytes).map_err(|e| {
                Error::usage(format!("{}: not UTF-8 text (byte {})", path.display(), e.utf8_error().valid_up_to()))
            })?;
            Ok(Some((text, meta)))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(format!("cannot read {}", path.display()), &e)),
    }
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    fsutil::parent(path).join(format!(".{name}.{suffix}"))
}

/// The files a patch killed mid-validation leaves beside the config and the edited file (the candidates OpenClaw is
/// asked about), for uninstall to take away.
pub fn candidate_files(config: &Path, edited: &Path) -> Vec<PathBuf> {
    let mut files = vec![sibling(config, "clawlocal-candidate")];
    if edited != config {
        files.push(sibling(edited, "clawlocal-candidate"));
    }
    files
}

/// One lock per config, next to it: two clawlocal runs never interleave their read-edit-write.
fn lock(config: &Path) -> Result<FileLock> {
    FileLock::acquire(&lock_file(config), || {})
}

/// The lock file beside `config` (`.openclaw.json.clawlocal.lock`); uninstall removes it.
pub fn lock_file(config: &Path) -> PathBuf {
    sibling(config, "clawlocal.lock")
}

/// `openclaw.json.clawlocal-20261121T101500Z.bak`: outside OpenClaw's `openclaw.json.bak.*` rotation, which
/// deletes names it does not own.
fn backup(path: &Path, bytes: &[u8]) -> Result<PathBuf> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let stamp = utc_stamp(SystemTime::now());
    let dir = fsutil::parent(path);
    let mut candidate = dir.join(format!("{name}.clawlocal-{stamp}.bak"));
    let mut n = 1;
    while candidate.exists() {
        candidate = dir.join(format!("{name}.clawlocal-{stamp}-{n}.bak"));
        n += 1;
    }
    fsutil::write_atomic_as(&candidate, bytes, Some(0o600), None)?;
    Ok(candidate)
}

/// `YYYYMMDDTHHMMSSZ` (UTC), from the civil-from-days algorithm (no date crate needed for one stamp).
fn utc_stamp(t: SystemTime) -> String {
    let secs = t.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// A unified diff of a file's text before and after, headed by its path.
pub fn diff(path: &Path, before: &str, after: &str) -> String {
    let name = path.display().to_string();
    similar::TextDiff::from_lines(before, after).unified_diff().context_radius(3).header(&name, &name).to_string()
}

/// Write `text` over `path` (whose old bytes were `before`), refusing when the file changed since it was read —
/// up to the instant the new file takes the name (`fsutil::replace_if_unchanged`): another writer's version is
/// never lost.
fn replace(path: &Path, before: Option<&(String, fs::Metadata)>, text: &str, private: bool) -> Result<()> {
    let (mode, owner) = match before {
        Some((_, meta)) => (meta.mode() & 0o7777, Some((meta.uid(), meta.gid()))),
        None => (0o600, None),
    };
    let mode = if private { mode & !0o077 } else { mode };
    let dir = fsutil::parent(path);
    if !dir.exists() {
        // OpenClaw keeps its state dir private.
        fs::create_dir_all(dir).map_err(|e| Error::io(format!("cannot create {}", dir.display()), &e))?;
        use std::os::unix::fs::PermissionsExt;
        let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
    }
    let expected = before.map(|(t, _)| t.as_bytes());
    if fsutil::replace_if_unchanged(path, text.as_bytes(), Some(mode), owner, expected)? {
        Ok(())
    } else {
        Err(changed_meanwhile(path, "nothing was written"))
    }
}

/// Another writer changed the file between clawlocal's read and its write.
fn changed_meanwhile(path: &Path, what: &str) -> Error {
    Error::failure(format!("{} changed while clawlocal was editing it; {what}", path.display()))
        .with_hint("run the command again")
}

fn is_changed_meanwhile(e: &Error) -> bool {
    e.message.contains(" changed while clawlocal was editing it; ")
}

/// How often a patch or unpatch is made again from the file's new content when another writer got in first.
const EDIT_ATTEMPTS: usize = 5;

/// The records file's own lock: two patches of different configs never lose each other's record.
fn records_lock(records: &Path) -> Result<FileLock> {
    FileLock::acquire(&records_lock_file(records), || {})
}

/// `.openclaw-patches.json.clawlocal.lock` beside the records (named as the configs' locks); uninstall removes it.
pub fn records_lock_file(records: &Path) -> PathBuf {
    sibling(records, "clawlocal.lock")
}

/// The installed OpenClaw CLI (`CLAWLOCAL_OPENCLAW`, else `openclaw` on PATH) and its version line.
pub fn openclaw_cli(host: &dyn Host) -> Option<(String, String)> {
    let program = host.env_nonempty("CLAWLOCAL_OPENCLAW").unwrap_or_else(|| "openclaw".into());
    let out = host.run(&program, &["--version"], Duration::from_secs(30))?;
    (out.status == 0).then(|| (program, out.stdout.trim().to_string()))
}

pub enum Verdict {
    Valid,
    Invalid(Vec<String>),
}

/// `OPENCLAW_CONFIG_PATH=<config> openclaw config validate --json`.
pub fn cli_validate(host: &dyn Host, program: &str, config: &Path) -> Result<Verdict> {
    let path = config.to_string_lossy();
    let out = host
        .run_env(
            program,
            &["config", "validate", "--json"],
            &[("OPENCLAW_CONFIG_PATH", &path)],
            Duration::from_secs(180),
        )
        .ok_or_else(|| Error::failure(format!("`{program} config validate` did not finish")))?;
    let doc = out
        .stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str::<serde_json::Value>(l.trim()).ok().filter(|v| v.get("valid").is_some()))
        .or_else(|| serde_json::from_str::<serde_json::Value>(out.stdout.trim()).ok())
        .ok_or_else(|| {
            Error::failure(format!(
                "`{program} config validate --json` printed no verdict (exit {}): {}",
                out.status,
                out.stderr.lines().last().unwrap_or("")
            ))
        })?;
    if doc["valid"] == true {
        return Ok(Verdict::Valid);
    }
    let mut issues: Vec<String> = doc["issues"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|i| format!("{}: {}", i["path"].as_str().unwrap_or(""), i["message"].as_str().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default();
    if let Some(e) = doc["error"].as_str() {
        issues.push(e.to_string());
    }
    Ok(Verdict::Invalid(issues))
}

/// Files that exist only while OpenClaw validates them; removed on drop.
struct Candidates(Vec<PathBuf>);

impl Drop for Candidates {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = fs::remove_file(p);
        }
    }
}

/// A config whose `models` section is `{ $include: include }`: the root text and the include as written.
struct Include<'a> {
    root_text: &'a str,
    include: &'a str,
}

/// Ask the installed OpenClaw whether the edited config is valid, before anything is written. A config that was
/// already invalid may stay invalid in the same ways, never in new ones.
fn validate_with_cli(
    host: &dyn Host,
    program: &str,
    config: &Path,
    edited: &Path,
    include: Option<Include>,
    new_text: &str,
) -> Result<Option<String>> {
    let mut candidates = Candidates(Vec::new());
    let candidate_root = sibling(config, "clawlocal-candidate");
    match include {
        None => {
            fsutil::write_atomic_as(&candidate_root, new_text.as_bytes(), Some(0o600), None)?;
            candidates.0.push(candidate_root.clone());
        }
        Some(Include { root_text, include }) => {
            let candidate_models = sibling(edited, "clawlocal-candidate");
            fsutil::write_atomic_as(&candidate_models, new_text.as_bytes(), Some(0o600), None)?;
            candidates.0.push(candidate_models.clone());
            let moved = Path::new(include).with_file_name(candidate_models.file_name().expect("a name"));
            let root = patch::with_models_include(root_text, &config.display().to_string(), &moved.to_string_lossy())?;
            fsutil::write_atomic_as(&candidate_root, root.as_bytes(), Some(0o600), None)?;
            candidates.0.push(candidate_root.clone());
        }
    }
    let Verdict::Invalid(after) = cli_validate(host, program, &candidate_root)? else { return Ok(None) };
    let before = if config.exists() { cli_validate(host, program, config)? } else { Verdict::Valid };
    let new: Vec<&String> = match &before {
        Verdict::Valid => after.iter().collect(),
        Verdict::Invalid(old) => after.iter().filter(|i| !old.contains(i)).collect(),
    };
    if new.is_empty() {
        return Ok(Some(format!(
            "OpenClaw already rejects {} ({}); clawlocal's change adds no new problem",
            config.display(),
            after.join("; ")
        )));
    }
    Err(Error::failure(format!(
        "OpenClaw would reject the edited {}: {}",
        edited.display(),
        new.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("; ")
    ))
    .with_hint("nothing was written; `clawlocal openclaw patch --dry-run` shows the change. Please report this"))
}

fn load_records(path: &Path) -> Result<Records> {
    match fs::read_to_string(path) {
        Ok(text) => {
            let records: Records = serde_json::from_str(&text).map_err(|e| {
                Error::usage(format!("{}:{}:{}: {e}", path.display(), e.line(), e.column()))
                    .with_hint("clawlocal keeps what it patched there; fix or delete the file")
            })?;
            if records.version != RECORDS_VERSION {
                return Err(Error::usage(format!(
                    "{}: version {} of the patch records; this clawlocal reads version {RECORDS_VERSION}",
                    path.display(),
                    records.version
                ))
                .with_hint("a newer clawlocal wrote it: use that one, or restore the file from its backup"));
            }
            Ok(records)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Ok(Records { version: RECORDS_VERSION, patches: Vec::new() })
        }
        Err(e) => {
            Err(fsutil::unreadable_state(path, &e, "clawlocal keeps what it patched there; fix or delete the file"))
        }
    }
}

fn save_records(path: &Path, records: &Records) -> Result<()> {
    let text = serde_json::to_string_pretty(records).expect("records serialise") + "\n";
    fsutil::write_atomic_as(path, text.as_bytes(), Some(0o600), None)
}

/// A patch computed and judged against the file as it was read, not yet written: what a plan shows (its diff)
/// and what [`commit`] writes, refusing when the file changed in between.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The config OpenClaw reads.
    pub config: PathBuf,
    config_real: PathBuf,
    /// The file the edit goes to (the config, its symlink target or its `models` include).
    pub file: PathBuf,
    section: Section,
    /// The file's text when it was read; `None`: it does not exist yet.
    pub before: Option<String>,
    /// The file's text after the edit.
    pub after: String,
    pub changed: bool,
    changes: Changes,
    /// The edit replaces what an earlier patch of another model added (its provider entry and refs).
    replaces_earlier: bool,
    pub model_ref: String,
    /// The provider id the entry goes under, and the API it names.
    pub provider: String,
    pub api: &'static str,
    pub openclaw_version: Option<String>,
    /// The installed `openclaw config validate` accepted the edited file.
    pub validated_by_openclaw: bool,
    pub warnings: Vec<String>,
    records: PathBuf,
    /// The edit writes a usable key inline: the file is written readable by its owner only.
    private: bool,
}

impl Prepared {
    /// The edit makes clawlocal's model OpenClaw's primary (asked for, or the config had no primary).
    pub fn sets_primary(&self) -> bool {
        self.changes.primary.is_some()
    }

    /// The unified diff of the edit (empty when nothing changes).
    pub fn diff(&self) -> String {
        if !self.changed {
            return String::new();
        }
        diff(&self.file, self.before.as_deref().unwrap_or(""), &self.after)
    }
}

/// Patch the config OpenClaw reads at `config` (see module docs). `spec.fields` is replaced by what the installed
/// OpenClaw accepts.
pub fn patch_file(host: &dyn Host, config: &Path, spec: PatchSpec, opts: &Options) -> Result<Outcome> {
    let mut attempt = 1;
    loop {
        match patch_once(host, config, spec.clone(), opts) {
            Err(e) if is_changed_meanwhile(&e) && attempt < EDIT_ATTEMPTS => attempt += 1,
            done => return done,
        }
    }
}

fn patch_once(host: &dyn Host, config: &Path, spec: PatchSpec, opts: &Options) -> Result<Outcome> {
    let prepared = prepare(host, config, spec, opts.records)?;
    if opts.dry_run {
        let mut outcome = Outcome::unchanged(config, &prepared.file, prepared.warnings.clone());
        outcome.model_ref = Some(prepared.model_ref.clone());
        outcome.openclaw_version = prepared.openclaw_version.clone();
        outcome.validated_by_openclaw = prepared.validated_by_openclaw;
        if prepared.changed {
            outcome.status = if prepared.before.is_none() { Change::Created } else { Change::Updated };
            outcome.diff = Some(prepared.diff());
        }
        return Ok(outcome);
    }
    commit(&prepared)
}

/// Read, edit and judge (bundled schema, then the installed OpenClaw on a candidate file): everything of a patch
/// but the write. A record of an earlier patch of another model is undone in the same edit, so the provider
/// holds one clawlocal model and no ref to the old one is left dangling.
pub fn prepare(host: &dyn Host, config: &Path, mut spec: PatchSpec, records: &Path) -> Result<Prepared> {
    refuse_read_only(host, config)?;
    let mut warnings = Vec::new();
    let config_real = real_path(config, &mut warnings)?;
    let root = read(&config_real)?;
    let root_text = root.as_ref().map_or("{}\n", |(t, _)| t.as_str()).to_string();
    let origin = config.display().to_string();

    // `models: { $include: "one-file" }`: edit that file, as OpenClaw's writer does.
    let include = patch::models_include(&root_text, &origin)?;
    let (file, section, current) = match &include {
        None => (config_real.clone(), Section::Whole, root.clone()),
        Some(include) => {
            let dir = fsutil::parent(&config_real);
            // `./models.json5` → `<dir>/models.json5` (lexically; symlinks are checked below).
            let path: PathBuf =
                dir.join(include).components().filter(|c| !matches!(c, std::path::Component::CurDir)).collect();
            let confined =
                fs::canonicalize(&path).ok().zip(fs::canonicalize(dir).ok()).is_some_and(|(p, d)| p.starts_with(d));
            if !confined {
                return Err(Error::usage(format!(
                    "{origin}: `models` includes {include}, which is missing or outside {}",
                    dir.display()
                ))
                .with_hint("OpenClaw only reads includes inside its config folder; fix the include and run again"));
            }
            let real = real_path(&path, &mut warnings)?;
            let text = read(&real)?;
            (real, Section::Models, text)
        }
    };
    let before = current.as_ref().map(|(t, _)| t.clone());
    let text = before.clone().unwrap_or_else(|| root_text.clone());
    let file_origin = file.display().to_string();

    let cli = openclaw_cli(host);
    let (detected, source) = match &cli {
        Some((_, line)) => (version::Version::parse(line), "the installed openclaw"),
        None => (
            patch::parse_json5(&root_text, &origin)?
                .pointer("/meta/lastTouchedVersion")
                .and_then(|v| v.as_str())
                .and_then(version::Version::parse),
            "meta.lastTouchedVersion",
        ),
    };
    if detected.is_none() {
        warnings.push(format!(
            "could not tell which OpenClaw reads {origin} (no `openclaw` on PATH, no meta.lastTouchedVersion): wrote the fields OpenClaw {} accepts",
            version::NEWEST_KNOWN
        ));
    }
    // The version decides the optional fields; a server off loopback needs the private-network opt-in whatever it is.
    let private = spec.fields.allow_private_network;
    spec.fields = version::fields_for(detected);
    spec.fields.allow_private_network |= private;
    let model_ref = spec.model_ref();
    let (provider, api) =
        (spec.provider_id().to_string(), spec.server.map_or("openai-completions", |k| k.api().as_str()));

    // An earlier patch of this file put another model in: take that edit out first, then make this one.
    let earlier = load_records(records)?
        .patches
        .into_iter()
        .find(|r| r.file == file && r.model_ref.as_ref().is_some_and(|m| *m != model_ref));
    let base = match &earlier {
        Some(r) => patch::unpatch(&text, &file_origin, &r.changes, r.section)?.text,
        None => text.clone(),
    };
    let patched: Patched = patch::patch(&base, &file_origin, &spec, section)?;
    warnings.extend(patched.warnings.iter().cloned());
    schema::check(&patched.value, section, &file_origin)?;
    let changed = patched.text != text;
    // A usable key written inline into a file others can read: the file becomes its owner's only.
    let inline_key = spec.api_key_env.is_none() && !crate::backends::is_key_marker(&spec.api_key);
    let mode = current.as_ref().map(|(_, m)| m.mode() & 0o777);
    let private = changed && inline_key && mode.is_some_and(|m| m & 0o077 != 0);
    if private {
        warnings.push(format!(
            "{} had mode {:o} and now holds the API key: it is written with mode {:o} (its owner only)",
            file.display(),
            mode.unwrap_or(0),
            mode.unwrap_or(0) & 0o700
        ));
    }
    let mut validated_by_openclaw = false;
    if let Some((program, _)) = cli.as_ref().filter(|_| changed) {
        let include = include.as_deref().map(|include| Include { root_text: &root_text, include });
        warnings.extend(validate_with_cli(host, program, &config_real, &file, include, &patched.text)?);
        validated_by_openclaw = true;
    }
    Ok(Prepared {
        config: config.to_path_buf(),
        config_real,
        file,
        section,
        before,
        after: patched.text,
        changed,
        changes: patched.changes,
        replaces_earlier: earlier.is_some(),
        model_ref,
        provider,
        api,
        openclaw_version: detected.map(|v| format!("{v} ({source})")),
        validated_by_openclaw,
        warnings,
        records: records.to_path_buf(),
        private,
    })
}

/// Write a prepared edit: under the config's lock, only when the file still holds the bytes it was prepared
/// from (else nothing is written); backed up first, atomically, keeping mode and owner; recorded for unpatch.
pub fn commit(p: &Prepared) -> Result<Outcome> {
    let _lock = lock(&p.config_real)?;
    let mut outcome = Outcome::unchanged(&p.config, &p.file, p.warnings.clone());
    outcome.model_ref = Some(p.model_ref.clone());
    outcome.openclaw_version = p.openclaw_version.clone();
    outcome.validated_by_openclaw = p.validated_by_openclaw;
    let current = read(&p.file)?;
    if current.as_ref().map(|(t, _)| t) != p.before.as_ref() {
        return Err(changed_meanwhile(&p.file, "nothing was written"));
    }
    if !p.changed {
        return Ok(outcome);
    }
    let before_text = p.before.as_deref().unwrap_or("");
    let backup = match &current {
        Some((t, _)) => Some(backup(&p.file, t.as_bytes())?),
        None => None,
    };
    outcome.status = if current.is_none() { Change::Created } else { Change::Updated };
    outcome.backup = backup.clone();

    // The record is written ahead of the file: a run killed between the two leaves a record that unpatch can
    // replay (on the untouched file it takes out nothing), never a patched file with no record to undo it.
    let _records_lock = records_lock(&p.records)?;
    let mut records = load_records(&p.records)?;
    let records_before = records.clone();
    let after_sha256 = sha256(p.after.as_bytes());
    match records.patches.iter_mut().find(|r| r.file == p.file) {
        Some(r) => {
            // A later patch: the record keeps what the first one found. When someone else changed the file in
            // between, the first backup is no longer the state to go back to byte for byte.
            if r.after_sha256 != sha256(before_text.as_bytes()) {
                r.before_sha256 = None;
                r.backup = None;
                r.created_file = false;
            } else {
                r.later_backups.extend(backup);
            }
            r.after_sha256 = after_sha256;
            // An edit that replaced an earlier model's was made from the file without it: its changes stand alone.
            r.changes = if p.replaces_earlier {
                p.changes.clone()
            } else {
                std::mem::take(&mut r.changes).then(p.changes.clone())
            };
            r.model_ref = Some(p.model_ref.clone());
        }
        None => records.patches.push(Record {
            config: p.config.clone(),
            file: p.file.clone(),
            section: p.section,
            created_file: current.is_none(),
            before_sha256: current.as_ref().map(|(t, _)| sha256(t.as_bytes())),
            backup,
            later_backups: Vec::new(),
            after_sha256,
            changes: p.changes.clone(),
            model_ref: Some(p.model_ref.clone()),
        }),
    }
    save_records(&p.records, &records)?;
    if let Err(e) = replace(&p.file, current.as_ref(), &p.after, p.private) {
        // Nothing was written: neither is the record.
        save_records(&p.records, &records_before)?;
        return Err(e);
    }
    Ok(outcome)
}

/// An unpatch computed against the file as it was read, not yet done: what uninstall's plan shows and what
/// [`commit_unpatch`] does, refusing when the file changed in between.
#[derive(Debug, Clone)]
pub struct PreparedUnpatch {
    pub config: PathBuf,
    config_real: PathBuf,
    /// The file the record is about (the config, its link target or its include).
    pub file: PathBuf,
    /// The record to undo; `None`: clawlocal has none for this config (nothing to undo).
    record: Option<Record>,
    /// The file's text when read; `None`: it is gone.
    pub before: Option<String>,
    /// The text afterwards; `None` with `Removed`: the file goes (clawlocal created it).
    pub after: Option<String>,
    /// `Removed`, `Restored` (the bytes before the first patch), `Updated` (only clawlocal's parts taken out,
    /// others changed the file since) or `Unchanged`.
    pub status: Change,
    pub warnings: Vec<String>,
    records: PathBuf,
    /// No usable record: clawlocal's parts were found by their names.
    by_markers: bool,
}

impl PreparedUnpatch {
    /// An unpatch that changes nothing (yet): the caller fills in what it found.
    fn nothing(
        config: &Path,
        config_real: PathBuf,
        file: PathBuf,
        records: &Path,
        warnings: Vec<String>,
        by_markers: bool,
    ) -> Self {
        PreparedUnpatch {
            config: config.to_path_buf(),
            config_real,
            file,
            record: None,
            before: None,
            after: None,
            status: Change::Unchanged,
            warnings,
            records: records.to_path_buf(),
            by_markers,
        }
    }

    pub fn diff(&self) -> String {
        match (&self.before, self.status) {
            (Some(before), Change::Removed | Change::Restored | Change::Updated) => {
                diff(&self.file, before, self.after.as_deref().unwrap_or(""))
            }
            _ => String::new(),
        }
    }
}

/// Undo what clawlocal's patches of `config` added: the original bytes when the file is still exactly what
/// clawlocal wrote, else a CST edit that removes only clawlocal's parts.
pub fn unpatch_file(host: &dyn Host, config: &Path, opts: &Options) -> Result<Outcome> {
    let mut attempt = 1;
    loop {
        match unpatch_once(host, config, opts) {
            Err(e) if is_changed_meanwhile(&e) && attempt < EDIT_ATTEMPTS => attempt += 1,
            done => return done,
        }
    }
}

fn unpatch_once(host: &dyn Host, config: &Path, opts: &Options) -> Result<Outcome> {
    let prepared = prepare_unpatch(host, config, opts.records)?;
    if opts.dry_run {
        let mut outcome = Outcome::unchanged(config, &prepared.file, prepared.warnings.clone());
        outcome.status = prepared.status;
        outcome.diff = Some(prepared.diff());
        return Ok(outcome);
    }
    commit_unpatch(&prepared)
}

/// Read the record and the file and compute the undo; nothing is written.
pub fn prepare_unpatch(host: &dyn Host, config: &Path, records: &Path) -> Result<PreparedUnpatch> {
    refuse_read_only(host, config)?;
    let mut warnings = Vec::new();
    let config_real = real_path(config, &mut warnings)?;
    let record = match load_records(records) {
        Ok(r) => r.patches.into_iter().find(|r| r.config == config || r.config == config_real || r.file == config_real),
        // Unreadable records must not leave clawlocal's provider behind for good: its parts go by their names.
        Err(e) if e.exit == crate::error::Exit::Usage => {
            return unpatch_by_markers(config, config_real, records, warnings, &e);
        }
        Err(e) => return Err(e),
    };
    let file = record.as_ref().map_or_else(|| config_real.clone(), |r| r.file.clone());
    let mut p = PreparedUnpatch::nothing(config, config_real, file, records, warnings, false);
    let Some(record) = record else {
        p.warnings.push(format!("clawlocal has no record of patching {}; nothing to undo", config.display()));
        return Ok(p);
    };
    p.record = Some(record.clone());
    let Some((text, _)) = read(&record.file)? else {
        p.warnings.push(format!("{} no longer exists; nothing to undo", record.file.display()));
        return Ok(p);
    };
    let untouched = sha256(text.as_bytes()) == record.after_sha256;
    let original = match (&record.backup, &record.before_sha256) {
        (Some(b), Some(sha)) if untouched => fs::read(b).ok().filter(|bytes| sha256(bytes) == *sha),
        _ => None,
    };
    (p.after, p.status) = if untouched && record.created_file {
        (None, Change::Removed)
    } else if let Some(bytes) = original {
        let restored = String::from_utf8(bytes).map_err(|_| Error::failure("backup is not UTF-8"))?;
        (Some(restored), Change::Restored)
    } else {
        let origin = record.file.display().to_string();
        let out = patch::unpatch(&text, &origin, &record.changes, record.section)?;
        if out.changed { (Some(out.text), Change::Updated) } else { (Some(text.clone()), Change::Unchanged) }
    };
    p.before = Some(text);
    Ok(p)
}

/// The unpatch when the records cannot be read (`why`): clawlocal's parts of the config found by their names.
fn unpatch_by_markers(
    config: &Path,
    config_real: PathBuf,
    records: &Path,
    mut warnings: Vec<String>,
    why: &Error,
) -> Result<PreparedUnpatch> {
    warnings.push(format!(
        "{} (clawlocal's patch records) cannot be read ({}): clawlocal's parts of {} are taken out by their names \
         (provider `clawlocal`, `clawlocal/…` refs); a primary it replaced cannot be put back",
        records.display(),
        why.message,
        config.display()
    ));
    let mut p = PreparedUnpatch::nothing(config, config_real.clone(), config_real.clone(), records, warnings, true);
    let Some((text, _)) = read(&config_real)? else { return Ok(p) };
    let out = patch::unpatch_by_markers(&text, &config.display().to_string())?;
    if out.changed {
        p.record = Some(Record {
            config: config.to_path_buf(),
            file: config_real,
            section: Section::Whole,
            created_file: false,
            before_sha256: None,
            backup: None,
            later_backups: Vec::new(),
            after_sha256: String::new(),
            changes: patch::Changes::default(),
            model_ref: None,
        });
        (p.after, p.status) = (Some(out.text), Change::Updated);
    }
    p.before = Some(text);
    Ok(p)
}

/// Do a prepared unpatch under the config's lock, when the file still holds what it was prepared from: back up,
/// write or remove, and drop the record.
pub fn commit_unpatch(p: &PreparedUnpatch) -> Result<Outcome> {
    let _lock = lock(&p.config_real)?;
    let mut outcome = Outcome::unchanged(&p.config, &p.file, p.warnings.clone());
    let Some(record) = &p.record else { return Ok(outcome) };
    let current = read(&p.file)?;
    if current.as_ref().map(|(t, _)| t) != p.before.as_ref() {
        return Err(changed_meanwhile(&p.file, "nothing was undone"));
    }
    if let Some(text) = &p.before {
        outcome.backup = Some(backup(&p.file, text.as_bytes())?);
        match (&p.after, p.status) {
            (_, Change::Removed) => {
                fs::remove_file(&p.file).map_err(|e| Error::io(format!("cannot remove {}", p.file.display()), &e))?;
                fsutil::sync_dir(fsutil::parent(&p.file))?;
            }
            (Some(after), Change::Restored | Change::Updated) => {
                replace(&p.file, current.as_ref(), after, false).map_err(|e| {
                    if is_changed_meanwhile(&e) { changed_meanwhile(&p.file, "nothing was undone") } else { e }
                })?
            }
            _ => {}
        }
        outcome.status = p.status;
    }
    if matches!(outcome.status, Change::Restored | Change::Removed) {
        outcome.redundant_backups =
            record.backup.iter().chain(&record.later_backups).chain(outcome.backup.iter()).cloned().collect();
    }
    if p.by_markers {
        // The unreadable records stay as they are (uninstall removes them with clawlocal's state).
        return Ok(outcome);
    }
    let _records_lock = records_lock(&p.records)?;
    let mut records = load_records(&p.records)?;
    records.patches.retain(|r| r.file != record.file);
    save_records(&p.records, &records)?;
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_of_another_format_version_are_refused_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("openclaw-patches.json");
        std::fs::write(&path, "{\"version\": 99, \"patches\": []}").unwrap();
        let e = load_records(&path).unwrap_err();
        assert!(e.message.contains("version 99 of the patch records"), "{}", e.message);
        assert_eq!(e.exit, crate::error::Exit::Usage);
        std::fs::write(&path, "{\"version\": 1, \"patches\": []}").unwrap();
        assert!(load_records(&path).is_ok());
    }

    #[test]
    fn backup_stamps_are_utc_calendar_times() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_262_400 + 3_723);
        assert_eq!(utc_stamp(t), "20261121T130203Z", "date -u -d @1795266123");
        assert_eq!(utc_stamp(SystemTime::UNIX_EPOCH), "19700101T000000Z");
    }
}
