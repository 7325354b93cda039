//! Command-line types. The only module that knows clap; everything below takes resolved settings.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "clawlocal",
    version,
    about = "Run a local model for OpenClaw: pick what fits this box, download and verify it, serve it with \
             llama-server under a hardened unit, and point OpenClaw at it",
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Print exactly one JSON document on stdout (progress goes to stderr as JSON lines)
    #[arg(long, global = true)]
    pub json: bool,
    /// Print only errors and the result
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Print more detail
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// Hide progress bars
    #[arg(long, global = true)]
    pub no_progress: bool,
    /// Where things go [default: system when root on Linux, user otherwise]
    #[arg(long, global = true, value_enum)]
    pub scope: Option<Scope>,
    /// Write every file under DIR as if DIR were `/`, and never call a service manager
    #[arg(long, global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// No network: use only what is cached or bundled (HF_HUB_OFFLINE=1 means the same)
    #[arg(long, global = true)]
    pub offline: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scope {
    System,
    User,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ServiceTarget {
    Systemd,
    Launchd,
    Compose,
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RenderTarget {
    Systemd,
    Launchd,
    Compose,
    /// A kustomize directory: `kubectl apply -k DIR`
    Kubernetes,
    /// A cloud-init user-data file for every VM of a fleet
    CloudInit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Role {
    Primary,
    Fallback,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List or show the bundled hardware profiles
    #[command(subcommand)]
    Profiles(ProfilesCommand),
    /// Show the model catalog, with a fit verdict per model for a profile
    Models(ModelsArgs),
    /// Show what `init` would choose and do, and why; changes nothing
    Plan(PlanArgs),
    /// Download and verify a model into the Hugging Face cache
    Pull(PullArgs),
    /// Select, download, install the engine unit, patch OpenClaw, start and check
    Init(InitArgs),
    /// Write the service unit files for a profile's plan into a folder
    Render(RenderArgs),
    /// Run the engine in the foreground with exactly the unit's arguments
    Serve(ServeArgs),
    /// Measure the installed model on this box through the running engine: prefill of a long prompt and
    /// generation speed (llama-server's own timings); recorded in the receipt
    Bench(BenchArgs),
    /// Find, check or install llama-server
    #[command(subcommand)]
    Engine(EngineCommand),
    /// Patch or unpatch OpenClaw's config by hand
    #[command(subcommand)]
    Openclaw(OpenclawCommand),
    /// Check the whole chain, from hardware to a real chat answer
    Doctor(DoctorArgs),
    /// Show what is installed, where, and whether it runs
    Status,
    /// Find the model servers running here (Ollama, LM Studio, vLLM, SGLang, MLX, LiteLLM, tinygrad, any
    /// OpenAI-compatible one): their models, each model's served context and tool support
    Backends(BackendsArgs),
    /// Undo `init` from its receipt
    Uninstall(UninstallArgs),
    /// Write (or check) the JSON schemas in schemas/ [for developers]
    #[command(hide = true)]
    Schemas(SchemasArgs),
}

#[derive(Debug, Args)]
pub struct BackendsArgs {
    /// Also ask the server at this URL (repeatable); its kind is told from the routes it answers
    #[arg(long, value_name = "URL")]
    pub url: Vec<String>,
    /// The API key servers want, from a file only you can read (mode 0600)
    #[arg(long, value_name = "FILE")]
    pub api_key_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ProfilesCommand {
    /// List the bundled profiles
    List,
    /// Show one profile, resolved (a bundled name, `auto`, or a JSON5 file)
    Show {
        /// Profile name, `auto`, or a path to a JSON5 profile file
        name: String,
    },
}

/// Which model, quantization and context to plan for; all optional.
#[derive(Debug, Args, Clone, Default)]
pub struct ModelChoice {
    /// A catalog id (`clawlocal models`) or `hf:ORG/REPO/FILE.gguf[@REVISION]`
    #[arg(long, value_name = "MODEL")]
    pub model: Option<String>,
    /// Quantization, e.g. Q4_K_M, Q5_K_M, Q6_K, Q8_0
    #[arg(long, value_name = "QUANT")]
    pub quant: Option<String>,
    /// Context window in tokens (OpenClaw needs at least 16000)
    #[arg(long, value_name = "TOKENS")]
    pub context: Option<u32>,
    /// Let --context go below OpenClaw's 16000-token minimum. Hidden: only scripts/bench-estimate.sh uses it, to
    /// calibrate the memory estimate at 4096 tokens; OpenClaw refuses a model configured so.
    #[arg(long, hide = true, requires = "context")]
    pub below_openclaw_minimum: bool,
}

#[derive(Debug, Args)]
pub struct ModelsArgs {
    /// Judge the catalog against this profile (a bundled name, `auto`, or a JSON5 file)
    #[arg(long, value_name = "PROFILE")]
    pub profile: Option<String>,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// A bundled profile name, `auto` (detect this host), or a JSON5 profile file
    #[arg(long, value_name = "PROFILE", default_value = "auto")]
    pub profile: String,
    #[command(flatten)]
    pub choice: ModelChoice,
    /// Port for llama-server [default: the profile's]
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub port: Option<u16>,
    /// Service target [default: the profile's]
    #[arg(long, value_enum)]
    pub service: Option<ServiceTarget>,
    /// Add the model as OpenClaw's primary or as a fallback [default: fallback on CPU-only profiles]
    #[arg(long, value_enum)]
    pub role: Option<Role>,
    /// OpenClaw config to patch [default: found as OpenClaw finds it]
    #[arg(long, value_name = "PATH")]
    pub openclaw_config: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// A catalog id or `hf:ORG/REPO/FILE.gguf[@REVISION]`
    pub model: String,
    /// Quantization of a catalog model [default: Q4_K_M when the catalog has it]
    #[arg(long)]
    pub quant: Option<String>,
    /// Use only what clawlocal.lock pins; refuse to resolve anything new (CI)
    #[arg(long)]
    pub locked: bool,
    /// Hash a blob already in the cache again (else its size is checked); a damaged one is fetched again
    #[arg(long)]
    pub verify: bool,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    #[arg(long, value_name = "PROFILE", default_value = "auto")]
    pub profile: String,
    #[command(flatten)]
    pub choice: ModelChoice,
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub port: Option<u16>,
    /// llama-server binary to use (same as CLAWLOCAL_LLAMA_SERVER)
    #[arg(long, value_name = "PATH")]
    pub engine: Option<PathBuf>,
    #[arg(long, value_enum)]
    pub service: Option<ServiceTarget>,
    #[arg(long, value_enum)]
    pub role: Option<Role>,
    #[arg(long, value_name = "PATH")]
    pub openclaw_config: Option<PathBuf>,
    /// Install but do not start the service
    #[arg(long)]
    pub no_start: bool,
    /// With no llama-server anywhere, refuse instead of installing the pinned release (you manage the engine)
    #[arg(long)]
    pub no_engine_install: bool,
    /// Use only what clawlocal.lock pins (the model's commit and files, the engine archive); resolve nothing new (CI)
    #[arg(long)]
    pub locked: bool,
    /// The llama.cpp build init installs when there is none (cpu, cuda, vulkan, metal, rocm) [default: from the
    /// host], or a server you already run (ollama, lmstudio, vllm, sglang, mlx, litellm, tinygrad, openai):
    /// OpenClaw is pointed at it, its model (--model ID) and served context read from it; nothing is installed
    #[arg(long, value_enum)]
    pub backend: Option<InitBackend>,
    /// With a server --backend: where it listens [default: the kind's default address]
    #[arg(long, value_name = "URL", requires = "backend")]
    pub url: Option<String>,
    /// With a server --backend: a file (mode 0600) holding its API key
    #[arg(long, value_name = "PATH", requires = "backend")]
    pub api_key_file: Option<PathBuf>,
    /// With a server --backend: the environment variable holding its API key (written as a SecretRef)
    #[arg(long, value_name = "NAME", requires = "backend", conflicts_with = "api_key_file")]
    pub api_key_env: Option<String>,
    /// Show the plan with every file diff; change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Seconds to wait for the started engine to answer /health
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    pub health_timeout: u64,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Tokens in the prompt to prefill (capped at the context less what is generated)
    #[arg(long, value_name = "N", default_value_t = 16_384)]
    pub prompt_tokens: u64,
    /// Tokens to generate after it
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub generate: u64,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Print the command instead of running it
    #[arg(long)]
    pub print: bool,
}

#[derive(Debug, Subcommand)]
pub enum EngineCommand {
    /// Which llama-server clawlocal would use, its version and where it was found
    Show {
        /// llama-server binary to check (same as CLAWLOCAL_LLAMA_SERVER)
        #[arg(long, value_name = "PATH")]
        engine: Option<PathBuf>,
    },
    /// Download the pinned official llama.cpp release for this platform, verify its sha256, unpack it
    Install {
        /// Another release tag (b<N>) instead of the pinned one: its archive's digest is --sha256, else the one
        /// clawlocal.lock pins, else the one the release host publishes (then pinned in the lock)
        #[arg(long)]
        release: Option<String>,
        /// The sha256 of that release's archive for this platform
        #[arg(long, requires = "release")]
        sha256: Option<String>,
        /// Base URL serving <release>/<asset> [default: the GitHub releases of ggml-org/llama.cpp]
        #[arg(long, value_name = "URL")]
        mirror: Option<String>,
        /// The build to install [default: CUDA when an NVIDIA driver supports it, Vulkan when a Vulkan GPU is
        /// present, Metal on Apple silicon, else CPU]
        #[arg(long, value_enum)]
        backend: Option<BackendArg>,
        /// Install only an archive clawlocal.lock pins (CI); pin it first with a run without --locked
        #[arg(long)]
        locked: bool,
    },
    /// Build llama-server from llama.cpp's source for this host (cmake; ccache when present), verify and install it
    /// where `engine install` would; for hosts no release archive serves
    Build {
        /// The backend to build for [default: as `engine install` chooses]
        #[arg(long, value_enum)]
        backend: Option<BackendArg>,
        /// The release tag (b<N>) whose source to build [default: the pinned release]
        #[arg(long)]
        release: Option<String>,
        /// The source: a .tar.gz URL or file of that release, or a llama.cpp source tree [default: GitHub's
        /// archive of the tag]
        #[arg(long, value_name = "URL|PATH")]
        source: Option<String>,
        /// The source archive's sha256 [default: the one clawlocal.lock pins; else taken on first use and pinned]
        #[arg(long)]
        sha256: Option<String>,
        /// Parallel compile jobs [default: the CPUs available]
        #[arg(long)]
        jobs: Option<usize>,
        /// A binary for any machine of this architecture (GGML_NATIVE=OFF, every CUDA architecture)
        #[arg(long)]
        portable: bool,
        /// Build only from a source archive clawlocal.lock pins (CI)
        #[arg(long)]
        locked: bool,
    },
}

/// `init --backend`: a llama.cpp build for clawlocal's engine, or a server another tool runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InitBackend {
    Cpu,
    Cuda,
    Vulkan,
    Metal,
    Rocm,
    Ollama,
    Lmstudio,
    Vllm,
    Sglang,
    Mlx,
    Litellm,
    Tinygrad,
    Openai,
}

impl InitBackend {
    /// The engine build, when it is one.
    pub fn build(self) -> Option<BackendArg> {
        Some(match self {
            Self::Cpu => BackendArg::Cpu,
            Self::Cuda => BackendArg::Cuda,
            Self::Vulkan => BackendArg::Vulkan,
            Self::Metal => BackendArg::Metal,
            Self::Rocm => BackendArg::Rocm,
            _ => return None,
        })
    }

    /// The server kind, when it is one.
    pub fn server(self) -> Option<crate::backends::Kind> {
        use crate::backends::Kind;
        Some(match self {
            Self::Ollama => Kind::Ollama,
            Self::Lmstudio => Kind::Lmstudio,
            Self::Vllm => Kind::Vllm,
            Self::Sglang => Kind::Sglang,
            Self::Mlx => Kind::Mlx,
            Self::Litellm => Kind::Litellm,
            Self::Tinygrad => Kind::Tinygrad,
            Self::Openai => Kind::Openai,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum BackendArg {
    Cpu,
    Cuda,
    Vulkan,
    Metal,
    Rocm,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    #[arg(long, value_enum)]
    pub target: RenderTarget,
    #[arg(long, value_name = "PROFILE", default_value = "auto")]
    pub profile: String,
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// llama-server binary the unit runs [default: as init finds it, else where `engine install` puts it]
    #[arg(long, value_name = "PATH")]
    pub engine: Option<PathBuf>,
    #[command(flatten)]
    pub choice: ModelChoice,
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub port: Option<u16>,
    /// kubernetes: the namespace the objects go into (and the Service's DNS name names)
    #[arg(long, value_name = "NAME", default_value = "clawlocal")]
    pub namespace: String,
    /// kubernetes: the llama.cpp server image [default: the pinned official one for the profile's backend];
    /// `NAME@sha256:…` pins it by digest
    #[arg(long, value_name = "IMAGE")]
    pub image: Option<String>,
    /// kubernetes, cloud-init: the clawlocal release archive the fleet installs
    /// [default: this version's linux x86_64 archive on the release server]
    #[arg(long, value_name = "URL")]
    pub release_url: Option<String>,
    /// kubernetes, cloud-init: the archive's sha256 [default: read from URL.sha256 now, then pinned in the files]
    #[arg(long, value_name = "HEX")]
    pub release_sha256: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum OpenclawCommand {
    /// Add the clawlocal provider and model to OpenClaw's config, keeping everything else
    Patch(PatchArgs),
    /// Remove exactly what `patch` added and restore the previous primary
    Unpatch {
        /// OpenClaw config to unpatch [default: found as OpenClaw finds it]
        #[arg(long, value_name = "PATH")]
        config: Option<PathBuf>,
        /// Print the unified diff and write nothing
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Args)]
pub struct PatchArgs {
    /// A server another tool runs: its models, context and tool support are read from it, and the provider
    /// entry is the one OpenClaw needs for that kind [default: clawlocal's llama-server, all given by hand]
    #[arg(long, value_enum)]
    pub backend: Option<crate::backends::Kind>,
    /// The server's endpoint, e.g. http://127.0.0.1:8765/v1 [with --backend: the kind's default address]
    #[arg(long, value_name = "URL", required_unless_present = "backend")]
    pub base_url: Option<String>,
    /// The model id OpenClaw sends (llama-server's --alias) [with --backend: the server's only model]
    #[arg(long, value_name = "ID", required_unless_present = "backend")]
    pub model_id: Option<String>,
    /// Display name [default: "<ID> (local)"]
    #[arg(long, value_name = "NAME")]
    pub model_name: Option<String>,
    /// The server's context in tokens (OpenClaw needs at least 16000) [with --backend: what the server serves]
    #[arg(long, value_name = "N", required_unless_present = "backend")]
    pub context_window: Option<u32>,
    /// Output cap per answer [default: 4096, at most a quarter of the context]
    #[arg(long, value_name = "N")]
    pub max_tokens: Option<u32>,
    /// Add the model as OpenClaw's primary or as a fallback [default: fallback]
    #[arg(long, value_enum)]
    pub role: Option<Role>,
    /// A file (mode 0600) holding the server's API key [default: clawlocal's key file when present]
    #[arg(long, value_name = "PATH")]
    pub api_key_file: Option<PathBuf>,
    /// The environment variable holding the server's API key: written as a SecretRef, never the key itself
    #[arg(long, value_name = "NAME", conflicts_with = "api_key_file")]
    pub api_key_env: Option<String>,
    /// Set gateway.mode when the config has none (a new config needs it for `openclaw gateway`)
    #[arg(long, value_name = "MODE", value_parser = ["local", "remote"])]
    pub gateway_mode: Option<String>,
    /// OpenClaw config to patch [default: found as OpenClaw finds it]
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Print the unified diff and write nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Also re-hash the model and ask the OpenClaw CLI afresh (`config validate`, `models list`)
    #[arg(long)]
    pub deep: bool,
    /// Run only this check (and what it depends on)
    #[arg(long, value_name = "ID")]
    pub only: Option<String>,
    /// List the checks and exit
    #[arg(long)]
    pub list_checks: bool,
    /// Repair what is safe to repair
    #[arg(long)]
    pub fix: bool,
    /// With --fix: show what would be repaired
    #[arg(long, requires = "fix")]
    pub dry_run: bool,
    /// How long the chat and tool probes may take, in seconds
    #[arg(long, value_name = "SECS", default_value_t = 120)]
    pub chat_timeout: u64,
}

#[derive(Debug, Args)]
pub struct UninstallArgs {
    /// Also remove the downloaded model
    #[arg(long)]
    pub purge: bool,
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Show what uninstall would remove or restore (openclaw.json as a diff) and change nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct SchemasArgs {
    /// Folder to write into
    #[arg(long, value_name = "DIR", default_value = "schemas")]
    pub dir: PathBuf,
    /// Fail (exit 1) instead of writing when a file differs
    #[arg(long)]
    pub check: bool,
}

#[cfg(test)]
mod tests {
    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
