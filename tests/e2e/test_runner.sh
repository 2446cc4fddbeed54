#!/usr/bin/env bash
# tests/run.sh: a skip fails the run under make test (EDPG_STRICT_SKIPS=1)
# and CI=true, naming the test and its reason, unless the allow-list names
# it; elsewhere it is printed and passes; the summary totals the suites in
# one last line and fails on a failure, a skip not allowed, or a suite that
# never reported.  Fake tests in a private directory; nothing else touched.
. "$(dirname "$0")/lib.sh"

T=$E2E_TMP
RUN=$ROOT/tests/run.sh
printf '#!/bin/sh\necho all good\n' >"$T/good.sh"
printf '#!/bin/sh\necho "SKIP: no frobnicator installed"; exit 77\n' >"$T/skips.sh"
printf '#!/bin/sh\necho broken >&2; exit 3\n' >"$T/bad.sh"
: >"$T/empty-allowlist"
printf '# why\nsuite1/skips.sh  cannot run here, for the test\n' >"$T/allowlist"

# run OUT [VAR=VALUE...] -- ARGS...: run.sh with only the given settings.
run() {
	local out=$1
	shift
	local envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	(cd "$T" && env -u CI -u EDPG_STRICT_SKIPS EDPG_COUNTS="$T/counts" EDPG_TEST_LOGS="$T/logs" \
		EDPG_SKIP_ALLOWLIST="$T/empty-allowlist" "${envs[@]}" bash "$RUN" "$@") >"$T/$out" 2>&1
}

# Outside make test and CI: a skip is printed with its reason, not a failure.
rc=0; run o1 -- suite1 "$T/good.sh" "$T/skips.sh" || rc=$?
[ $rc -eq 0 ] || { cat "$T/o1"; fail "a skip failed a run that is not strict (exit $rc)"; }
grep -q '^SKIP suite1/skips.sh: SKIP: no frobnicator installed$' "$T/o1" ||
	{ cat "$T/o1"; fail "the skip and its reason are not printed"; }
grep -q '^== suite1: 1 passed, 0 failed, 1 skipped$' "$T/o1" || { cat "$T/o1"; fail "suite counts"; }
ok "not strict: a skip is printed with its reason and does not fail"

# Strict (make test) and CI=true: the skip fails the suite, naming it.
for mode in EDPG_STRICT_SKIPS=1 CI=true; do
	run reset -- reset
	rc=0; run o2 "$mode" -- suite1 "$T/good.sh" "$T/skips.sh" || rc=$?
	[ $rc -ne 0 ] || { cat "$T/o2"; fail "$mode: a skip did not fail the suite"; }
	grep -q '^FAIL suite1/skips.sh skipped: SKIP: no frobnicator installed$' "$T/o2" ||
		{ cat "$T/o2"; fail "$mode: the failing skip is not named with its reason"; }
	rc=0; run o3 "$mode" -- summary || rc=$?
	[ $rc -ne 0 ] || { cat "$T/o3"; fail "$mode: the summary passed over a skip"; }
	[ "$(tail -1 "$T/o3")" = "1 passed, 0 failed, 1 skipped" ] ||
		{ cat "$T/o3"; fail "$mode: the summary's last line"; }
	ok "$mode: a skip fails the suite and the summary, named with its reason"
done

# Allow-listed: printed as allowed, the run passes.
run reset -- reset
rc=0; run o4 CI=true EDPG_SKIP_ALLOWLIST="$T/allowlist" -- suite1 "$T/good.sh" "$T/skips.sh" || rc=$?
[ $rc -eq 0 ] && grep -q 'allowed by tests/skip-allowlist' "$T/o4" ||
	{ cat "$T/o4"; fail "an allow-listed skip failed the run"; }
run o5 CI=true EDPG_SKIP_ALLOWLIST="$T/allowlist" -- summary ||
	{ cat "$T/o5"; fail "the summary failed over an allow-listed skip"; }
ok "an allow-listed skip passes"

# Totals over suites; a failure and a suite that never reported fail it.
run reset -- reset
run o6 CI=true -- suite1 "$T/good.sh" || fail "a passing suite failed"
run o6 CI=true -- suite2 "$T/good.sh" "$T/good.sh" || fail "a passing suite failed"
run o7 CI=true -- summary || { cat "$T/o7"; fail "the summary of passing suites failed"; }
[ "$(tail -1 "$T/o7")" = "3 passed, 0 failed, 0 skipped" ] || { cat "$T/o7"; fail "the totals"; }
rc=0; run o8 CI=true -- suite3 "$T/bad.sh" || rc=$?
[ $rc -ne 0 ] && grep -q '^FAIL suite3/bad.sh (exit 3)$' "$T/o8" || { cat "$T/o8"; fail "a failing test"; }
rc=0; run o9 CI=true -- summary || rc=$?
[ $rc -ne 0 ] && [ "$(tail -1 "$T/o9")" = "3 passed, 1 failed, 0 skipped" ] ||
	{ cat "$T/o9"; fail "the summary passed over a failure"; }
run reset -- reset
echo "start suite4" >"$T/counts"
rc=0; run o10 -- summary || rc=$?
[ $rc -ne 0 ] && grep -q 'suite4: started and never reported' "$T/o10" ||
	{ cat "$T/o10"; fail "a suite that never reported passed"; }
ok "the summary totals the suites; a failure or a crashed suite fails it"
