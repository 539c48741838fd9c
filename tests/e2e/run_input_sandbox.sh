#!/usr/bin/env bash
# input_sandbox (basf2 Job.input_sandbox_files): a calibration's files, and a collection's own, are copied
# into every collector subjob's folder before it starts, so the collector reads them there. The originals
# are changed and then removed while the first subjobs run and before the last ones are submitted: every
# subjob still reads what the files held when the calibration started. Bad entries are caf config check
# problems at FILE:LINE:COLUMN naming the calibration and the file.
set -euo pipefail
: "${CAF:?}" "${CAF_SOURCE_DIR:?}" "${CAF_BUILD_DIR:?}"
W=$(mktemp -d "${TMPDIR:-/tmp}/caf-e2e-sandbox.XXXXXX")
bg=""
cleanup() {
    [ -z "$bg" ] || kill -9 "$bg" 2>/dev/null || true
    rm -rf "$W"
}
trap cleanup EXIT
source "$CAF_SOURCE_DIR/tests/support/campaign_fixture.sh"
cd "$W"
make_toy
make_wrapper
mkdir conf
echo 3 > conf/sandbox.txt
echo 40 > conf/extra.txt
cat > campaign.yaml <<YAML
output_dir: out
poll_interval: 0.2
backend_settings: {slots: 1}
calibrations:
  - name: short
    collector: {plugin: SandboxCollector, parameters: {file: sandbox.txt}}
    input_sandbox: [conf/sandbox.txt]
    input_files: ["toy/toy_e0001_*.h5"]
    max_files_per_collector_job: 2
    algorithms:
      - plugin: TestAlgorithms:test
        parameters: {object: sandbox}
  - name: collected
    input_sandbox: ["$W/conf/sandbox.txt"]
    collections:
      - name: second
        collector: {plugin: SandboxCollector, parameters: {file: extra.txt}}
        input_files: ["toy/toy_e0002_*.h5"]
        max_files_per_collector_job: 4
        input_sandbox: [conf/extra.txt]
    algorithms:
      - plugin: TestAlgorithms:test
        parameters: {object: sandbox}
YAML
"$CAF" config check campaign.yaml > /dev/null || fail "the campaign does not check"
WRAPPER_DELAY=1 "$CAF" run campaign.yaml > run.log 2>&1 &
bg=$!
for _ in $(seq 300); do [ -s starts ] && break; sleep 0.1; done
[ -s starts ] || { cat run.log; fail "no collector subjob started"; }
echo 7 > conf/sandbox.txt
echo 77 > conf/extra.txt
sleep 0.3
rm conf/sandbox.txt conf/extra.txt
rc=0
wait "$bg" || rc=$?
bg=""
[ "$rc" = 0 ] || { tail -30 run.log; fail "the run failed ($rc) once the originals were gone"; }
[ "$(wc -l < starts)" -ge 6 ] || fail "expected 6 collector subjobs, $(wc -l < starts) started"
# Every subjob read the content of the start: the histograms' means, as the algorithms saw them.
log() { cat out/"$1"/iteration_0/algorithms/0_TestAlgorithms_test/execution_0/algorithm.log; }
log short | grep -q "object sandbox: [0-9]* entries, mean 3$" || { log short; fail "short: not mean 3"; }
log collected | grep -q "object sandbox: [0-9]* entries, mean 40$" || { log collected; fail "collected: not mean 40"; }
# The files sit in each subjob's folder; the collection has the calibration's too.
n=0
while IFS= read -r f; do
    [ "$(cat "$f")" = 3 ] || fail "$f holds $(cat "$f")"
    n=$((n + 1))
done < <(find out -path '*/subjobs/*/sandbox.txt')
[ "$n" = 6 ] || fail "sandbox.txt in $n subjob folders, not 6 (4 + 2)"
[ "$(find out -path '*/subjobs/*/extra.txt' | wc -l)" = 2 ] || fail "extra.txt not in the collection's 2 subjobs"
[ "$(find out/short -path '*/subjobs/*/extra.txt' | wc -l)" = 0 ] || fail "extra.txt leaked into short's subjobs"

# ---- bad entries: missing files, names that leave or clash, at their line and column ----
echo 1 > conf/sandbox.txt
mkdir -p conf/folder other
echo 2 > other/sandbox.txt
cat > bad.yaml <<YAML
output_dir: out2
calibrations:
  - name: bad
    collector: {plugin: SandboxCollector}
    input_files: ["toy/*.h5"]
    input_sandbox: [conf/missing.txt, conf/folder, "conf/..", conf/sandbox.txt, other/sandbox.txt,
                    collector_output.sqlite, run.sh]
    algorithms: [TestAlgorithms:test]
YAML
touch collector_output.sqlite run.sh
if "$CAF" config check bad.yaml 2> check.err; then fail "bad input_sandbox entries passed the check"; fi
expect() { grep -qF "$1" check.err || { cat check.err; fail "missing: $1"; }; }
expect "bad.yaml:6:21: calibration 'bad': input_sandbox: 'conf/missing.txt' does not exist"
expect "bad.yaml:6:39: calibration 'bad': input_sandbox: 'conf/folder' is a folder (list its files)"
expect "bad.yaml:6:52: calibration 'bad': input_sandbox: 'conf/..' would leave the subjob's folder"
expect "bad.yaml:6:81: calibration 'bad': input_sandbox: 'other/sandbox.txt' has the base name of an earlier entry"
expect "bad.yaml:7:21: calibration 'bad': input_sandbox: 'collector_output.sqlite' is the name of the collector's output"
expect "bad.yaml:7:46: calibration 'bad': input_sandbox: 'run.sh' is the name of a file caf keeps in the subjob's folder"
[ "$(grep -c "input_sandbox" check.err)" = 6 ] || { cat check.err; fail "expected exactly 6 input_sandbox problems"; }
echo ok
