#!/usr/bin/env bash
# Run one suite: tests/run.sh SUITE TEST...  Exit codes of a test: 0 pass,
# 77 skipped (printed, not counted as a failure), anything else fails.
set -u
suite=$1
shift
pass=0 fail=0 skip=0 failed=()
for t in "$@"; do
	name=${t##*/}
	start=$(date +%s%N)
	case $suite in
	e2e) bash "$t" ;;
	fuzz) corpus=tests/fuzz/corpus/${name#fuzz_}
	      work=${BUILD:-build}/fuzz-work
	      regress=tests/fuzz/regress/${name#fuzz_}
	      mkdir -p "$work/$name"
	      # Every regression input (crashes found once, and inputs shaped
	      # like them) runs first, each on its own; then the seeds and
	      # FUZZ_TIME seconds of mutation (make test: 15, make fuzz: 300)
	      # must find nothing.  New inputs go to build/, never the tree.
	      { [ ! -d "$regress" ] || [ -z "$(ls -A "$regress")" ] ||
	        "$t" "$regress"/* >"$work/$name.regress.log" 2>&1 ||
	        { tail -30 "$work/$name.regress.log"; false; }; } &&
	      "$t" -max_total_time="${FUZZ_TIME:-15}" -timeout=5 "$work/$name" "$corpus" \
	      	>"$work/$name.log" 2>&1 ||
	      	{ tail -30 "$work/$name.log"; false; }
	      rc=$?
	      [ $rc -ne 0 ] || grep -h '^Done\|^#[0-9]*.*DONE' "$work/$name.log" | tail -1
	      (exit $rc) ;;
	*) "$t" ;;
	esac
	rc=$?
	ms=$((($(date +%s%N) - start) / 1000000))
	took=$((ms / 1000)).$((ms % 1000 / 100))
	if [ $rc -eq 0 ]; then
		pass=$((pass + 1)); echo "PASS $suite/$name (${took}s)"
	elif [ $rc -eq 77 ]; then
		skip=$((skip + 1)); echo "SKIP $suite/$name"
	else
		fail=$((fail + 1)); failed+=("$name"); echo "FAIL $suite/$name (exit $rc)"
	fi
done
echo "== $suite: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ] || { echo "failed: ${failed[*]}"; exit 1; }
