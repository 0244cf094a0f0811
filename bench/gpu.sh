#!/usr/bin/env bash
# WebGPU on a real GPU machine that has no network and no Node (the NVIDIA H200 a session may borrow).
#
#   bench/gpu.sh stage DIR   here, after `npm run build`: packs what the run needs into DIR (Node, the
#                            built packages and the node_modules they load at run time, onnxruntime-node's
#                            Linux x64 binaries and Dawn's Node bindings, xz-compressed; Debian's Vulkan
#                            loader as a .deb); about 43 MB
#   bench/gpu.sh run [DIR]   there, from the checkout root (models/, workflows/, training/ come from it;
#                            DIR defaults to .gpubench): unpacks, then measures phase by phase and writes each
#                            figure under $OUT as soon as it has it (gpu-results.jsonl, gpumem.csv, log.txt),
#                            stopping itself before GPU_BENCH_SECONDS (default 220) have passed
#
# It measures: the adapter `auto` and `webgpu` see; per workflow (every shipped one, GPU_BENCH_STEPS steps,
# default 10) the sampler's time per step, the denoiser's time per call, bytes into JS and GPU->CPU, live GPU
# bytes; the same STUNet calls written directly against onnxruntime-node (webgpu and cpu); the training
# code's STUNet in PyTorch on the same GPU (bench/gpu_torch.py); the final clip of each workflow on webgpu
# against cpu (2 steps); peak GPU memory from nvidia-smi, sampled every 200 ms (phase times are in the
# results). Works unchanged on a machine with Node and a software adapter (lavapipe), only slower.
set -uo pipefail

mode=${1:-run}
here=$(cd "$(dirname "$0")" && pwd)

# xz -9 of $1 into $2, unless $2 is already newer than $1.
pack() {
  [ -f "$2" ] && [ "$2" -nt "$1" ] && return
  xz -T2 -9 -c "$1" >"$2.tmp" && mv "$2.tmp" "$2"
}

stage() {
  local dir=$1 repo
  repo=$(cd "$here/.." && pwd)
  # The compressed binaries are kept from an earlier stage while their sources are unchanged (xz -9 of Node
  # takes minutes).
  rm -rf "$dir/app" "$dir/debs" && mkdir -p "$dir/app/bench" "$dir/debs"
  local app=$dir/app nm=$dir/app/node_modules
  # The packages as built, laid out as installed packages (no workspace symlinks: links travel as links).
  mkdir -p "$nm/@kinegraph/core" "$nm/@kinegraph/nodes" "$app/plugins"
  cp -r "$repo/packages/core/package.json" "$repo/packages/core/bin" "$repo/packages/core/dist" "$nm/@kinegraph/core/"
  cp -r "$repo/packages/nodes/package.json" "$repo/packages/nodes/dist" "$nm/@kinegraph/nodes/"
  for p in "$repo"/plugins/*/; do
    local name
    name=$(basename "$p")
    mkdir -p "$app/plugins/$name" && cp -r "$p/package.json" "$p/dist" "$app/plugins/$name/"
  done
  # What the built packages load from node_modules at run time (the rest is bundled into dist/).
  for m in onnxruntime-common ajv fast-deep-equal json-schema-traverse fast-uri require-from-string; do
    mkdir -p "$nm/$m" && cp -r "$repo/node_modules/$m/." "$nm/$m/"
  done
  # Sources, types and tests the run never loads.
  find "$app" \( -name '*.ts' -o -name '*.map' \) -delete
  rm -rf "$nm/ajv/lib" "$nm/onnxruntime-common/lib" "$nm/onnxruntime-common/dist/esm" "$nm/fast-uri/test" "$nm/fast-uri/benchmark"
  local ort=$nm/onnxruntime-node
  mkdir -p "$ort/bin/napi-v6/linux/x64"
  cp -r "$repo/node_modules/onnxruntime-node/package.json" "$repo/node_modules/onnxruntime-node/dist" "$ort/"
  cp "$repo/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/onnxruntime_binding.node" "$ort/bin/napi-v6/linux/x64/"
  pack "$repo/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1" "$dir/libonnxruntime.so.1.xz"
  mkdir -p "$nm/webgpu/dist/linux-x64"
  cp "$repo/node_modules/webgpu/package.json" "$repo/node_modules/webgpu/index.js" "$nm/webgpu/"
  pack "$repo/node_modules/webgpu/dist/linux-x64/dawn.node" "$dir/dawn.node.xz"
  pack "$(command -v node)" "$dir/node.xz"
  cp "$here/gpu.sh" "$here/gpu.mjs" "$here/gpu_torch.py" "$app/bench/"
  printf '{"type":"module","private":true}\n' >"$app/package.json"
  # Debian's Vulkan loader (the GPU machine's image may have none), for x86-64 whatever this machine is.
  local lists=/tmp/kinegraph-apt-amd64
  mkdir -p "$lists/partial"
  local o="-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=$lists"
  # shellcheck disable=SC2086
  (apt-get $o update -qq >/dev/null 2>&1 && cd "$dir/debs" && apt-get $o download libvulkan1 >/dev/null 2>&1) ||
    echo "warning: could not download libvulkan1; the run relies on the machine's own Vulkan loader" >&2
  du -sh "$dir"
}

run() {
  local dir=${1:-.gpubench}
  local started budget deadline out log
  started=$(date +%s)
  budget=${GPU_BENCH_SECONDS:-220}
  deadline=$((started + budget))
  out=${OUT:-/tmp/kinegraph-gpu-out}
  mkdir -p "$out" && out=$(cd "$out" && pwd)
  dir=$(cd "$dir" && pwd)
  log=$out/log.txt
  left() { echo $((deadline - $(date +%s))); }
  say() { echo "[$(($(date +%s) - started))s] $*" | tee -a "$log"; }
  say "gpu.sh run: budget ${budget}s, results in $out"

  # Node, ORT's native library and Dawn, unpacked where the staged packages look for them.
  local bin=/tmp/kinegraph-gpu-bin
  mkdir -p "$bin"
  local app=$dir/app nm=$dir/app/node_modules
  [ -f "$dir/node.xz" ] && xz -d -T0 -c "$dir/node.xz" >"$bin/node" && chmod +x "$bin/node"
  [ -x "$bin/node" ] || ln -sf "$(command -v node)" "$bin/node"
  [ -f "$dir/libonnxruntime.so.1.xz" ] &&
    xz -d -T0 -c "$dir/libonnxruntime.so.1.xz" >"$nm/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1"
  [ -f "$dir/dawn.node.xz" ] && xz -d -T0 -c "$dir/dawn.node.xz" >"$nm/webgpu/dist/linux-x64/dawn.node"
  # The Vulkan loader, where none is installed (unpacked into /, as the device README's recipe does).
  if ! ldconfig -p 2>/dev/null | grep -q libvulkan.so.1; then
    for f in "$dir"/debs/*.deb; do [ -f "$f" ] && dpkg -x "$f" /; done
    ldconfig
  fi
  if [ -z "${VK_DRIVER_FILES:-}" ] && [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ] &&
    ! ls /usr/share/vulkan/icd.d/nvidia* /etc/vulkan/icd.d/nvidia* >/dev/null 2>&1; then
    export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  fi
  say "node $("$bin/node" --version); VK_DRIVER_FILES=${VK_DRIVER_FILES:-}; $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null || echo 'no nvidia-smi')"

  # GPU memory in use, every 200 ms, for the whole run.
  local sampler=''
  if command -v nvidia-smi >/dev/null 2>&1; then
    nvidia-smi --query-gpu=timestamp,memory.used --format=csv,noheader,nounits -lms 200 >"$out/gpumem.csv" 2>/dev/null &
    sampler=$!
  fi

  export KINEGRAPH_ROOT=$PWD KINEGRAPH_MODELS=$PWD/models KINEGRAPH_CACHE=off
  local node="$bin/node" steps=${GPU_BENCH_STEPS:-10} rel_root
  rel_root=$PWD
  say "device probe: $(timeout 60 "$node" "$nm/@kinegraph/core/dist/device-probe.js" 2>>"$log" | tail -1)"
  # Phases, most wanted first; each stops itself at its share of the time left.
  phase() {
    local name=$1 reserve=$2 extra=${3:-}
    local until=$(($(date +%s) + $(left) - reserve))
    if [ $(($(left) - reserve)) -lt 10 ]; then
      say "skipped $name: out of time"
      return
    fi
    say "phase $name (until ${until}, $((until - $(date +%s)))s)"
    # shellcheck disable=SC2086
    (cd "$app" && timeout $((until - $(date +%s) + 5)) "$node" bench/gpu.mjs --out "$out" --device webgpu \
      --steps "$steps" --deadline "$((until * 1000))" --phases "$name" $extra) >>"$log" 2>&1
    say "phase $name: exit $?"
  }
  # Reserves (time kept for the phases after) as shares of the budget: 220 s gives adapter 10 s, bare 30 s,
  # workflows 85 s, torch 30 s, parity 30 s, placement the rest.
  pct() { echo $((budget * $1 / 100)); }
  phase adapter "$(pct 86)"
  phase bare "$(pct 72)"
  phase workflows "$(pct 34)"
  # The first Python that has torch (on Debian the one in /usr/bin, not another on the PATH).
  local py=''
  for candidate in python3 /usr/bin/python3; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import torch' >/dev/null 2>&1; then
      py=$candidate
      break
    fi
  done
  if [ "$(left)" -gt "$(pct 22)" ] && [ -n "$py" ]; then
    say "phase torch ($py)"
    (cd "$rel_root" && timeout $(($(left) - $(pct 20))) "$py" "$app/bench/gpu_torch.py" --out "$out/gpu-results.jsonl" --calls 50) >>"$log" 2>&1
    say "phase torch: exit $?"
  else
    say "skipped torch: $([ -n "$py" ] && echo 'out of time' || echo 'no Python with torch')"
  fi
  phase parity "$(pct 7)" "--steps 2"
  phase placement 5 "--steps 2 --workflows text-to-video,super-resolution,color-grade"
  [ -n "$sampler" ] && kill "$sampler" 2>/dev/null
  say "done"
}

case $mode in
stage) stage "${2:?bench/gpu.sh stage DIR}" ;;
run) run "${2:-}" ;;
*)
  echo "usage: bench/gpu.sh stage DIR | bench/gpu.sh run [DIR]" >&2
  exit 2
  ;;
esac
