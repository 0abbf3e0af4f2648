#!/usr/bin/env bash
# The 16-core figures of the README's "Sweeps on Dask" section (issue 17).
#   bench/sweeps_16core.sh OUTDIR SWEEPDIR STEP:SECONDS ...
# Steps (each under `timeout -s INT SECONDS`; an interrupted sweep resumes when the
# same step runs again with the same SWEEPDIR):
#   verify-rne    fpsem verify exp --format binary32 --modes rne --workers 16   (all 2^32 inputs)
#   verify-all    the same in all five rounding modes
#   census-200    fpsem sweep examples/census_200.toml --workers 16
#   census-small  fpsem sweep examples/census_small.toml --workers 16
# Each step's command, output, exit status and wall time go to OUTDIR/STEP.txt.
set -u
out=$1 sweeps=$2
shift 2
W=${WORKERS:-16}
fp="python3 -m fpsem"
export PYTHONUNBUFFERED=1
mkdir -p "$out" "$sweeps"
{ echo "cores: $(nproc)"; lscpu | grep -m1 'Model name'
  python3 -c "import numpy, numba, gmpy2, flint, distributed; print('numpy', numpy.__version__, 'numba', numba.__version__, 'gmpy2', gmpy2.version(), 'python-flint', flint.__version__, 'distributed', distributed.__version__)"
} >> "$out/platform.txt" 2>&1
# compile and cache the numba kernels once here, not in 16 workers at once: 16 cold
# workers saving the same numba cache index raced there (ReferenceError: underlying
# object has vanished, numba 0.68.0)
$fp verify exp --modes all --range 0x3f800000:0x3f801000 --serial > /dev/null || exit 3
cat > "$sweeps/warm.toml" <<'TOML'
reference = "ball"
[model]
name = "gpt2"
config = { n_layer = 1, n_embd = 16, n_head = 1, vocab_size = 64, n_positions = 8 }
[inputs]
kind = "random"
count = 1
length = 3
[[domains]]
name = "ieee32"
[[domains]]
name = "float32"
acc = "pairwise"
[[domains]]
name = "bf16"
[[domains]]
name = "fp16"
[run]
plot = false
TOML
$fp sweep "$sweeps/warm.toml" --out "$sweeps/warm" --serial > "$out/warm.txt" 2>&1 || exit 3
for step in "$@"; do
  name=${step%%:*} limit=${step#*:}
  case $name in
    verify-rne) cmd="$fp verify exp --format binary32 --modes rne --workers $W --json $out/verify_exp_rne.json" ;;
    verify-all) cmd="$fp verify exp --format binary32 --modes all --workers $W --json $out/verify_exp_all.json" ;;
    census-200) cmd="$fp sweep examples/census_200.toml --out $sweeps/census-200 --workers $W" ;;
    census-small) cmd="$fp sweep examples/census_small.toml --out $sweeps/census-small --workers $W" ;;
    *) echo "unknown step $name"; exit 2 ;;
  esac
  echo "\$ $cmd   # limit ${limit} s" >> "$out/$name.txt"
  t0=$(date +%s%N)
  timeout -s INT -k 30 "$limit" $cmd >> "$out/$name.txt" 2>&1
  rc=$?
  echo "rc=$rc wall_ms=$(( ($(date +%s%N) - t0) / 1000000 ))" >> "$out/$name.txt"
  if [ -d "$sweeps/$name/chunks" ]; then
    echo "chunks done: $(ls "$sweeps/$name/chunks" | grep -c '^chunk-')" >> "$out/$name.txt"
  fi
  tail -n 3 "$out/$name.txt"
done
