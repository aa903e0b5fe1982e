#!/bin/sh
# Rampart pre-commit hook: refuses a commit whose staged changes add a credential.
# Install: cp deploy/ci/pre-commit-hook.sh .git/hooks/pre-commit && chmod +x .git/hooks/pre-commit
# (or use the `rampart-secrets` hook of .pre-commit-hooks.yaml with the pre-commit framework).
# Findings in the baseline (.rampart-secrets-baseline.json, when present) do not block.
set -u

if command -v rampart >/dev/null 2>&1; then
  RAMPART="rampart"
else
  RAMPART="npx --no-install rampart"
fi

BASELINE=".rampart-secrets-baseline.json"
if [ -f "$BASELINE" ]; then
  $RAMPART scan secrets --staged --baseline "$BASELINE" --fail-on medium
else
  $RAMPART scan secrets --staged --fail-on medium
fi
status=$?

case $status in
  0) exit 0 ;;
  1)
    echo "rampart: commit refused: the staged changes hold what looks like a credential (above)." >&2
    echo "rampart: remove it (and rotate it if it was real); for a false positive, add an allowlist entry" >&2
    echo "rampart: to .rampart-secrets.yaml or accept it into the baseline with --update-baseline." >&2
    exit 1
    ;;
  *)
    echo "rampart: the secrets scan could not run (exit $status); commit refused." >&2
    exit "$status"
    ;;
esac
