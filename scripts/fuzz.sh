#!/usr/bin/env bash
# Runs every fuzzer of the module (each func FuzzXxx in a *_test.go), one after another, for
# SECONDS each (default 60): scripts/fuzz.sh 600 for a long pass, scripts/fuzz.sh 5 in CI.
# scripts/fuzz.sh --list prints them. FUZZ_PARALLEL sets the workers per fuzzer (default 1, so a
# pass takes one core). Minimizing stops after 200 runs (FUZZ_MINIMIZE, any -fuzzminimizetime):
# with go's default of 60 s, one interesting input of a few KiB (the trace and GGUF seeds) can take
# a whole short pass, and a finding still being minimized when the time is up is not reported. A finding fails the pass and is kept under the package's
# testdata/fuzz/FuzzXxx/, where plain `go test` replays it from then on; the pass goes on with the
# other fuzzers and exits 1 at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

# pkg name lines, sorted: every fuzzer in the git tree (or on disk, outside a checkout).
list_fuzzers() {
  { git ls-files -co --exclude-standard '*_test.go' 2>/dev/null || find . -name '*_test.go' -printf '%P\n'; } |
    sort -u | while read -r f; do
      [ -f "$f" ] || continue
      { grep -oE '^func Fuzz[A-Za-z0-9_]+\(f \*testing\.F\)' "$f" || true; } |
        sed -E 's/^func (Fuzz[A-Za-z0-9_]+).*/\1/' | while read -r name; do echo "./$(dirname "$f") $name"; done
    done | sort
}

if [ "${1:-}" = "--list" ]; then
  list_fuzzers
  exit 0
fi
seconds="${1:-60}"
case "$seconds" in
  '' | *[!0-9]*) echo "usage: scripts/fuzz.sh [SECONDS | --list]" >&2; exit 2 ;;
esac
parallel="${FUZZ_PARALLEL:-1}"
minimize="${FUZZ_MINIMIZE:-200x}"

# fuzz_one pkg name: 0 when it passes; 1 on a finding. Go 1.26's coordinator can fail a target
# with a bare "context deadline exceeded" as -fuzztime ends (go.dev/issue/75804, fixed in 1.27):
# such a failure that wrote no input under testdata/fuzz is run once more, then only warned about.
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
fuzz_one() {
  local pkg="$1" name="$2" try before after
  for try in 1 2; do
    before="$(ls "$pkg/testdata/fuzz/$name" 2>/dev/null | wc -l)"
    if go test -run '^$' -fuzz "^${name}\$" -fuzztime "${seconds}s" -fuzzminimizetime "$minimize" \
      -parallel "$parallel" "$pkg" </dev/null 2>&1 | tee "$out"; then
      return 0
    fi
    after="$(ls "$pkg/testdata/fuzz/$name" 2>/dev/null | wc -l)"
    if [ "$after" != "$before" ] || ! grep -q '^    context deadline exceeded$' "$out"; then
      return 1
    fi
    echo "fuzz: $name: the coordinator's deadline race (no input written); try $try of 2" >&2
  done
  flaked+=("$name ($pkg)")
  return 0
}

failed=()
flaked=()
count=0
while read -r pkg name; do
  count=$((count + 1))
  echo "== $name ($pkg), ${seconds}s"
  fuzz_one "$pkg" "$name" || failed+=("$name ($pkg)")
done < <(list_fuzzers)
if [ "${#flaked[@]}" -gt 0 ]; then
  echo "fuzz: warning: ended by the deadline race twice, no finding: ${flaked[*]}" >&2
fi

if [ "$count" -eq 0 ]; then
  echo "fuzz: no fuzzers found" >&2
  exit 1
fi
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz: ${#failed[@]} of $count fuzzers failed:" >&2
  printf '  %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "fuzz: $count fuzzers, ${seconds}s each, no findings"
