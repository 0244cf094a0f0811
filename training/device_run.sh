#!/usr/bin/env bash
# One accelerator call that trains two stunet2 variants side by side from the same checkpoint, so a recipe
# change is measured against the plain continuation on equal terms (same start, data stream, steps, time):
#   A: the recipe as it stands (batch BATCH, device-rendered clips, bf16 autocast);
#   B: A + EDGE extra loss weight on object-edge pixels (train.py --edge-weight).
# Both stop by themselves SECONDS after this script starts (train.py --stop-at: finish the step, save) and
# the checkpoints come back split into pieces of at most 15 MiB, with each run's fp32 weight average (ema.pt)
# and the logs. If a variant fails to start with bf16 and worker processes (a torch or driver difference),
# it runs again without them, resuming whatever it saved.
#
#   training/device_run.sh CODE_DIR CHECKPOINT OUT SECONDS
#   DEVICE=cpu BATCH=2 WORKERS=2 training/device_run.sh training training/checkpoints/latest.pt /tmp/out 60
set -u
code=$(cd "$1" && pwd); ckpt=$(realpath "$2"); out=$(realpath "$3"); secs=$4
device=${DEVICE:-cuda}; batch=${BATCH:-128}; workers=${WORKERS:-6}; edge=${EDGE:-4}; py=${PY:-python3}
export PYTHONUNBUFFERED=1
stop=$(( $(date +%s) + secs ))
runs=/tmp/kg_device_run
rm -rf "$runs" && mkdir -p "$runs" "$out"
{ nvidia-smi || true; $py -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available())'; nproc; } > "$runs/machine.txt" 2>&1
cat "$runs/machine.txt"
dmon=""
if command -v nvidia-smi > /dev/null; then nvidia-smi dmon -s um -d 5 > "$runs/dmon.txt" 2>&1 & dmon=$!; fi

variant() {
  local name=$1; shift
  local dir="$runs/$name"
  mkdir -p "$dir" && cp "$ckpt" "$dir/latest.pt"
  local common=(--ckpt "$dir/latest.pt" --device "$device" --batch "$batch" --device-batches --stop-at "$stop"
                --no-export --log "$dir/log.txt" --progress "$dir/PROGRESS.md" --log-every 50 --threads 2
                --save-every 120 "$@")
  (cd "$code" && $py train.py "${common[@]}" --data-workers "$workers" --bf16) > "$dir/stdout.txt" 2>&1 || {
    echo "$name: first attempt failed (see stdout.txt); again without bf16, batches drawn in-process" | tee -a "$dir/log.txt"
    tail -5 "$dir/stdout.txt"
    (cd "$code" && $py train.py "${common[@]}" --data-workers 0) > "$dir/stdout2.txt" 2>&1
  }
  echo "$name: exit $?"
}
variant A & a=$!
variant B --edge-weight "$edge" & b=$!
# Wait for the two variants by id: a bare `wait` also waits for the dmon logger above, which never ends
# (the first call of this script, 2026-12-04, trained both variants and then hung here until its timeout).
wait "$a" "$b"
[ -n "$dmon" ] && kill "$dmon"
for name in A B; do
  tail -4 "$runs/$name/log.txt"
  split -b 15M -d "$runs/$name/latest.pt" "$out/$name.latest.pt.part"
  cp "$runs/$name/ema.pt" "$out/$name.ema.pt" 2>/dev/null || true
done
tar czf "$out/logs.tar.gz" -C "$runs" --exclude='*.pt' .
ls -l "$out"
