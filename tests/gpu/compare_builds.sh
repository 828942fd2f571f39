#!/usr/bin/env bash
# Times builds of the kernels against each other on the local GPU, in
# alternation, round by round, so that every build sees the same machine,
# clocks and power; the way the notes' comparisons are made (a table timed
# on another day, or another machine, moves by a point or more).
#   tests/gpu/compare_builds.sh BASE [NAME=FLAGS ...]
# BASE is a source tree to compare against (for example the main branch,
# checked out with `git worktree add build/base main`), built as "base" by
# its own kernel_check.sh; each NAME=FLAGS builds this tree with those nvcc
# flags, comma-separated (for example `rowwide=-DJAXHADA_MMA_ROW_WIDE=0`),
# as KERNEL_CHECK_NVCC_FLAGS. Without any, this tree
# is built as it is, as "tree". Each build must pass `kernel_check --quick`
# before it is timed. Then ROUNDS rounds (default 3) of `--time 27` and one
# of `--time 29`; the full tables go to OUT (default build/compare), and a
# summary of each cell's range over the rounds prints last, for the d values
# that SIZES (default "4096|16384|32768", a regular expression) selects.
set -uo pipefail
cd "$(dirname "$0")/../.."

if [[ $# -lt 1 || ! -f "$1/tests/gpu/kernel_check.sh" ]]; then
  echo "usage: $0 BASE [NAME=FLAGS ...]  (BASE: a source tree with tests/gpu/kernel_check.sh)" >&2
  exit 2
fi
base="$(cd "$1" && pwd)"
shift
variants=("$@")
[[ ${#variants[@]} -eq 0 ]] && variants=("tree=")
rounds="${ROUNDS:-3}"
sizes="${SIZES:-4096|16384|32768}"
mkdir -p "${OUT:-build/compare}"
out="$(cd "${OUT:-build/compare}" && pwd)"

# All builds at once, each by kernel_check.sh (which warns if one spills)
# into its own folder: each is one translation unit.
build() {  # NAME TREE FLAGS
  KERNEL_CHECK_BUILD_DIR="$out/$1" KERNEL_CHECK_NVCC_FLAGS="$3" \
    bash "$2/tests/gpu/kernel_check.sh" --build-only > "$out/$1.log" 2>&1
}
build base "$base" "" &
names=(base)
for variant in "${variants[@]}"; do
  name="${variant%%=*}" flags="${variant#*=}"
  names+=("$name")
  build "$name" "$PWD" "${flags//,/ }" &
done
wait
for name in "${names[@]}"; do
  [[ -x "$out/$name/kernel_check" ]] || { echo "build $name failed:"; tail -20 "$out/$name.log"; exit 1; }
  grep -h "^warning" "$out/$name.log" | sed "s/^/$name: /"
done
for name in "${names[@]:1}"; do
  "$out/$name/kernel_check" --quick > "$out/${name}_quick.txt" 2>&1 ||
    { echo "build $name fails the check:"; tail -5 "$out/${name}_quick.txt"; exit 1; }
done

for round in $(seq "$rounds"); do
  for name in "${names[@]}"; do
    "$out/$name/kernel_check" --time 27 > "$out/${name}_27_$round.txt" 2>&1
  done
done
for name in "${names[@]}"; do
  "$out/$name/kernel_check" --time 29 > "$out/${name}_29_1.txt" 2>&1
done

python3 - "$out" "$sizes" "${names[@]}" <<'EOF'
import glob, re, sys

out, sizes, names = sys.argv[1], re.compile(f"^({sys.argv[2]})$"), sys.argv[3:]
cells = {}  # (dtype, d, log2 size, build) -> [(out of place, in place), ...]
for name in names:
    for path in glob.glob(f"{out}/{name}_2[79]_*.txt"):
        log2 = path[len(out) + len(name) + 2:][:2]
        for line in open(path):
            f = [x.strip() for x in line.split("|")]
            if len(f) > 6 and f[1] in ("bf16", "f16", "f32") and sizes.match(f[2]):
                cells.setdefault((f[1], int(f[2]), log2, name), []).append((float(f[5]), float(f[6])))


def span(values):
    lo, hi = min(values), max(values)
    return f"{lo:.3f}" if lo == hi else f"{lo:.3f}-{hi:.3f}"


print("ratio to the copy, out of place / in place, over the rounds")
for key in sorted({k[:3] for k in cells}):
    row = [f"{name} {span([v[0] for v in cells[key + (name,)]])} / "
           f"{span([v[1] for v in cells[key + (name,)]])}"
           for name in names if key + (name,) in cells]
    print(f"{key[0]:4} {key[1]:5} 2^{key[2]}: " + " | ".join(row))
EOF
