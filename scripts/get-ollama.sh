#!/usr/bin/env bash
# Builds the real engine of starlab's tests: ollama (llama.cpp inside) from the Go module proxy, and
# prints the path of the binary. The build is cached outside the clone, keyed by version and CPU
# flags, so later runs take a second. Cold: 2-10 minutes on 2 cores.
#
#   scripts/get-ollama.sh            # prints e.g. /root/.cache/starlab/ollama-v0.6.5-x86-64-v3/ollama
#   export STARLAB_OLLAMA=$(scripts/get-ollama.sh)
set -euo pipefail
version=v0.6.5
# llama.cpp's CPU kernels are chosen at compile time: without AVX2/FMA the engine is 2.5-4x slower
# and concurrent requests do not batch. x86-64-v3 is AVX2 + FMA + F16C.
march=""
if grep -qw avx2 /proc/cpuinfo 2>/dev/null && grep -qw fma /proc/cpuinfo && grep -qw f16c /proc/cpuinfo; then
  march="x86-64-v3"
fi
cache="${STARLAB_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/starlab}"
dir="$cache/ollama-$version${march:+-$march}"
if [ ! -x "$dir/ollama" ]; then
  mkdir -p "$dir"
  flags="-O3${march:+ -march=$march}"
  echo "building ollama $version (CGO flags: $flags) into $dir ..." >&2
  tmp=$(mktemp -d "$dir/build.XXXXXX")
  # The C++ compiler's warnings fill pages: they go to build.log, shown only if the build fails.
  if ! CGO_ENABLED=1 CGO_CFLAGS="$flags" CGO_CXXFLAGS="$flags" GOBIN="$tmp" GOFLAGS=-mod=mod \
    go install -ldflags "-X=github.com/ollama/ollama/version.Version=${version#v} -X=github.com/ollama/ollama/server.mode=release" \
    "github.com/ollama/ollama@$version" > "$dir/build.log" 2>&1; then
    tail -n 40 "$dir/build.log" >&2
    echo "building ollama failed; the whole log is $dir/build.log" >&2
    exit 1
  fi
  mv "$tmp/ollama" "$dir/ollama"
  rmdir "$tmp"
fi
echo "$dir/ollama"
