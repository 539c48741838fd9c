#!/usr/bin/env bash
# No temporary file survives a resume: caf run is SIGKILLed whenever a temporary file shows up (a collector
# subjob's output being written, whose writer is killed as well, as a crashed attempt; the merged collector
# output; a commit's payloads and database.txt; the jobs layer's state), and run again, until it completes.
# Before the last run, files as killed writers leave them are planted where each kind lives, plus one of a
# live writer. After the last run no temporary file is left anywhere under the output folder but the live
# writer's, and the results equal an uninterrupted run's.
set -euo pipefail
W=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    sleep 0.5
    rm -rf "$W"
}
trap cleanup EXIT
source "$CAF_SOURCE_DIR/tests/support/campaign_fixture.sh"
cd "$W"
make_toy
make_wrapper
campaign() {
    cat > "$1" <<YAML
output_dir: $2
poll_interval: 0.1
calibrations:
  - name: seq
    collector: ExampleHitCollector
    algorithms:
      - plugin: TestAlgorithms:test
        parameters: {object: hits, min_entries: $THRESHOLD, blob_mb: 4}
        strategy: SequentialRunByRun
    input_files: ["toy/*.h5"]
  - name: single
    collector: ExampleHitCollector
    algorithms:
      - plugin: TestAlgorithms:test
        parameters: {read_payload: TestConstants, value: 1.0, blob_mb: 4}
        strategy: SingleIOV
    input_files: ["toy/*.h5"]
    max_files_per_collector_job: 4
    depends_on: [seq]
YAML
}
campaign reference.yaml reference
campaign campaign.yaml out
"$CAF" run reference.yaml 2> reference.log || { cat reference.log; fail "reference run failed"; }

temps() { find out -name '*caf-tmp-*' 2>/dev/null || true; }
writer_of() { basename "$1" | sed -n 's/.*caf-tmp-[0-9a-f]*-\([0-9]*\)-.*/\1/p'; }
kind_of() {
    case "$1" in
    */subjobs/*) echo collection ;;
    */database/*) echo commit ;;
    */iteration_*/.collector_output*) echo merge ;;
    *) echo other ;;
    esac
}
declare -A count=()
kinds=()
for n in $(seq 1 16); do
    WRAPPER_DELAY=0.2 "$CAF" run campaign.yaml 2> "run$n.log" &
    pid=$!
    pids+=("$pid")
    hit=
    while [ -z "$hit" ] && kill -0 "$pid" 2>/dev/null; do
        for t in $(temps); do
            w=$(writer_of "$t")
            # a live writer's file only (not one a killed run left, which the sweep is about to remove),
            # and each kind of moment at most twice
            [ -n "$w" ] && kill -0 "$w" 2>/dev/null || continue
            k=$(kind_of "$t")
            [ "${count[$k]:-0}" -lt 2 ] || continue
            kill -9 "$pid" 2>/dev/null || true
            # the collector writing it dies too: a crashed attempt
            [ "$k" != collection ] || kill -9 "$w" 2>/dev/null || true
            count[$k]=$(( ${count[$k]:-0} + 1 ))
            kinds+=("$k")
            hit=$t
            break
        done
    done
    if wait "$pid"; then
        echo "run $n completed${hit:+ (after the moment $hit)}"
        break
    fi
    [ -n "$hit" ] || { cat "run$n.log"; fail "run $n failed"; }
    echo "run $n killed while $hit existed"
done
echo "killed during: ${kinds[*]:-nothing}"
[ "${#kinds[@]}" -gt 0 ] || fail "caf was never killed"
[ -e out/summary.json ] || fail "the run never completed"
# A killed run's writers may outlive it for a moment (a collector the shepherd lets finish, an execution
# child about to get its parent-death signal) and leave a file after the completing run's start-up sweep,
# which rightly kept it while its writer lived. One more run sweeps those, so that the final run counts
# the planted files alone.
"$CAF" run campaign.yaml 2> sweep.log || { cat sweep.log; fail "the sweeping run failed"; }

# Files as killed writers leave them, where each kind lives; and a live writer's.
boot=$(tr -d '-' < /proc/sys/kernel/random/boot_id | cut -c1-8)
sh -c 'exit 0' & dead=$!
wait "$dead"
sleep 1000 & live=$!
pids+=("$live")
live_start=$(sed 's/.*) //' "/proc/$live/stat" | cut -d' ' -f20)
it=out/seq/iteration_0
planted=("$it/.collector_output.sqlite.caf-tmp-$boot-$dead-1-aaaaaa"
         "$it/collector/.caf-job.json.caf-tmp-$boot-$dead-1-bbbbbb"
         "$it/database/.database.txt.caf-tmp-$boot-$dead-1-cccccc"
         "$it/collector/subjobs/0/.collector_output.sqlite.caf-tmp-$boot-$dead-1-dddddd"
         "$it/collector/subjobs/0/.collector_output.sqlite.caf-tmp-$boot-$dead-1-dddddd-journal"
         "$it/collector/subjobs/1/.exit_code.caf-tmp-wrapper"
         "$it/collector/subjobs/2/.collector_output.sqlite.caf-tmp-0badb00t-77-1-eeeeee")
for f in "${planted[@]}"; do head -c 100000 /dev/urandom > "$f"; done
keep="$it/.collector_output.sqlite.caf-tmp-$boot-$live-$live_start-ffffff"
echo live > "$keep"
"$CAF" run campaign.yaml 2> final.log || { cat final.log; fail "the final run failed"; }
grep -q "removed 7 temporary files that killed or crashed writers left in" final.log || {
    cat final.log; fail "the final run did not say it removed the 7 planted files"; }
left=$(temps | grep -v -F "$keep" || true)
[ -z "$left" ] || fail "temporary files left: $left"
[ -e "$keep" ] || fail "the live writer's temporary file was removed"
for cal in seq single; do
    diff -r -x lineage "reference/$cal/iteration_0/database" "out/$cal/iteration_0/database" > /dev/null ||
        fail "$cal's database differs from the uninterrupted run's"
done
diff -r -x lineage reference/database out/database > /dev/null || fail "the final database differs"
echo PASS
