#!/usr/bin/env bash
# Regenerate schemas/openclaw-subset.schema.json from the real `openclaw config schema` (the CLI pinned in
# scripts/ci/openclaw.sh), trimmed to models and agents.defaults, with its OpenClaw version recorded.
set -euo pipefail
cd "$(dirname "$0")/.."
CLAWLOCAL_TEST_OPENCLAW="${CLAWLOCAL_TEST_OPENCLAW:-$(bash scripts/ci/openclaw.sh | tail -n 1)}"
export CLAWLOCAL_TEST_OPENCLAW
CLAWLOCAL_UPDATE_SCHEMAS=1 cargo test --test integration bundled_openclaw_schema_matches_the_installed_cli -- --exact openclaw::bundled_openclaw_schema_matches_the_installed_cli
