#!/usr/bin/env bash
# Run one suite: tests/run.sh SUITE TEST...  Exit codes of a test: 0 pass,
# 77 skipped, anything else fails.
#
# A skip is a test that did not run, so a green run must not hide one.
# When EDPG_STRICT_SKIPS=1 (make test sets it) or CI=true, a skip fails the
# suite with the reason the test printed, unless tests/skip-allowlist names
# it (see that file).  Otherwise it is printed and does not fail.
#
# Each test's output is kept in $EDPG_TEST_LOGS/SUITE/NAME.log (default
# build/test-logs).  EDPG_SKIP_ALLOWLIST names another allow-list.
# Each suite appends its counts to $EDPG_COUNTS (default build/test-counts);
#   tests/run.sh reset     forgets them (make test starts with it),
#   tests/run.sh summary   prints each suite's counts and the totals as a
#                          last line "N passed, F failed, S skipped", and
#                          fails on any failure, any skip not allowed, or a
#                          suite that started but never reported (crashed).
set -u
counts=${EDPG_COUNTS:-build/test-counts}
allowlist=${EDPG_SKIP_ALLOWLIST:-$(dirname "$0")/skip-allowlist}
strict=0
[ "${EDPG_STRICT_SKIPS:-0}" = 1 ] || [ "${CI:-}" = true ] && strict=1

# Is SUITE/NAME on the allow-list?  Lines: "suite/name  reason", # comments.
allowed() {
	[ -f "$allowlist" ] && grep -v '^[[:space:]]*#' "$allowlist" |
		awk -v t="$1" '$1 == t { found = 1 } END { exit !found }'
}

case ${1:-} in
reset)
	rm -f "$counts"
	exit 0 ;;
summary)
	[ -f "$counts" ] || { echo "no suite has run: nothing recorded in $counts"; exit 1; }
	awk '
	$1 == "start" { started[$2] = 1; order[n++] = $2; next }
	$1 == "counts" { done[$2] = 1; p += $3; f += $4; s += $5; bad += $6
		printf "== %s: %d passed, %d failed, %d skipped\n", $2, $3, $4, $5; next }
	END {
		for (i = 0; i < n; i++)
			if (!done[order[i]]) {
				printf "== %s: started and never reported its counts\n", order[i]
				f++
			}
		printf "%d passed, %d failed, %d skipped\n", p, f, s
		exit (f || bad) ? 1 : 0
	}' "$counts"
	exit ;;
"")
	echo "usage: tests/run.sh SUITE TEST... | reset | summary" >&2
	exit 2 ;;
esac

suite=$1
shift
logdir=${EDPG_TEST_LOGS:-build/test-logs}/$suite
mkdir -p "$logdir" "$(dirname "$counts")"
echo "start $suite" >>"$counts"

run_one() {
	local t=$1 name=$2
	case $suite:$t in
	*.sh) bash "$t" ;;
	fuzz:*) corpus=tests/fuzz/corpus/${name#fuzz_}
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
	      return $rc ;;
	*) "$t" ;;
	esac
}

# The test's output goes to its log (where the skip reason is read from)
# and, through tail, to the terminal as it comes.  tail follows a sleep we
# start and end ourselves: it then prints what is left and exits, and a
# process the test left behind holding the log open cannot stall the run.
keeper='' follower=''
trap '[ -z "$keeper" ] || kill "$keeper" 2>/dev/null' EXIT
pass=0 fail=0 skip=0 badskip=0 failed=()
for t in "$@"; do
	name=${t##*/}
	log=$logdir/$name.log
	: >"$log"
	sleep 86400 & keeper=$!
	tail -n +1 -s 0.1 -f --pid="$keeper" "$log" & follower=$!
	start=$(date +%s%N)
	run_one "$t" "$name" >"$log" 2>&1
	rc=$?
	kill "$keeper" 2>/dev/null
	wait "$follower" 2>/dev/null
	keeper=
	ms=$((($(date +%s%N) - start) / 1000000))
	took=$((ms / 1000)).$((ms % 1000 / 100))
	if [ $rc -eq 0 ]; then
		pass=$((pass + 1)); echo "PASS $suite/$name (${took}s)"
	elif [ $rc -eq 77 ]; then
		skip=$((skip + 1))
		why=$(grep -i 'skip' "$log" | tail -1)
		why=${why:-the test printed no reason}
		if [ $strict -eq 0 ]; then
			echo "SKIP $suite/$name: $why"
		elif allowed "$suite/$name"; then
			echo "SKIP $suite/$name: $why (allowed by tests/skip-allowlist)"
		else
			badskip=$((badskip + 1)); failed+=("$name (skipped)")
			echo "FAIL $suite/$name skipped: $why"
			echo "     a skip fails this run: install what it needs (scripts/deps.sh)," \
			     "or list it in tests/skip-allowlist with the reason it cannot run here"
		fi
	else
		fail=$((fail + 1)); failed+=("$name"); echo "FAIL $suite/$name (exit $rc)"
	fi
done
echo "counts $suite $pass $fail $skip $badskip" >>"$counts"
echo "== $suite: $pass passed, $fail failed, $skip skipped"
if [ $fail -ne 0 ] || [ $badskip -ne 0 ]; then
	echo "failed: ${failed[*]}"
	exit 1
fi
