#!/usr/bin/env bash
# Campaign job_policy: a campaign-wide max_active of 1 runs its collector subjobs one at a time (the
# collector command refuses to start while another one runs), a calibration's own job_policy overrides
# the campaign's, and values out of range (the user's global job limit's too) are caf config check problems at FILE:LINE:COLUMN.
set -euo pipefail
: "${CAF:?}" "${CAF_SOURCE_DIR:?}" "${CAF_BUILD_DIR:?}"
W=$(mktemp -d "${TMPDIR:-/tmp}/caf-e2e-job-policy.XXXXXX")
trap 'rm -rf "$W"' EXIT
source "$CAF_SOURCE_DIR/tests/support/campaign_fixture.sh"
cd "$W"
make_toy
# A collector command that fails loudly when another collector subjob is running at the same time.
cat > caf-one-at-a-time <<SH
#!/usr/bin/env bash
mkdir '$W/running' 2>/dev/null || { echo overlap >> '$W/overlaps'; exit 1; }
'$CAF' "\$@"; rc=\$?
sleep 0.5
rmdir '$W/running'
exit \$rc
SH
chmod +x caf-one-at-a-time
export CAF_COMMAND="$W/caf-one-at-a-time"
cat > policy.yaml <<YAML
output_dir: out
job_policy: {max_active: 1, max_retries: 0}
calibrations:
  - name: gain
    collector: ExampleHitCollector
    algorithms: [ExampleGainAlgorithm]
    input_files: ["toy/*.h5"]
    max_collector_jobs: 4
  - name: gain2
    collector: ExampleHitCollector
    algorithms: [ExampleGainAlgorithm]
    input_files: ["toy/*.h5"]
    max_collector_jobs: 3
    job_policy: {max_retries: 1}
    depends_on: [gain]
YAML
"$CAF" config check policy.yaml > /dev/null || fail "the campaign does not check"
"$CAF" run policy.yaml 2> run.log || { tail -20 run.log; fail "the run failed"; }
[ ! -e overlaps ] || fail "collector subjobs overlapped despite max_active: 1"
[ "$(ls out/gain/iteration_0/collector/subjobs | grep -c '^[0-9]')" = 4 ] || fail "not 4 subjobs"
# The calibration's own job_policy over the campaign's: retries as it says, max_active from the campaign.
$PY - out <<'PYEOF'
import json, sys
for cal, retries in (("gain", 0), ("gain2", 1)):
    job = json.load(open(f"{sys.argv[1]}/{cal}/iteration_0/collector/caf-job.json"))
    assert job["retry"]["max_retries"] == retries, (cal, job["retry"])
PYEOF

cat > bad.yaml <<YAML
output_dir: out
job_policy: {max_active: -1, submit_rate: 0.5}
calibrations:
  - name: gain
    collector: ExampleHitCollector
    algorithms: [ExampleGainAlgorithm]
    input_files: ["toy/*.h5"]
    job_policy:
      max_retries: 500
      memory_factor: 0.5
      flavour: 1
      global_job_limit: many
      global_job_check_interval: 0
YAML
if "$CAF" config check bad.yaml 2> check.err; then fail "bad job policies passed the check"; fi
grep -q '^bad.yaml:2:26: job_policy: max_active must be an integer from 0' check.err || fail "max_active: $(cat check.err)"
grep -q "^bad.yaml:9:20: calibration 'gain': job_policy: max_retries must be an integer from 0 to 100" check.err ||
    fail "max_retries: $(cat check.err)"
grep -q "^bad.yaml:10:22: calibration 'gain': job_policy: memory_factor must be a number from 1 to 100" check.err ||
    fail "memory_factor: $(cat check.err)"
grep -q "^bad.yaml:11:16: calibration 'gain': job_policy: unknown key 'flavour'" check.err || fail "unknown: $(cat check.err)"
grep -q "^bad.yaml:12:25: calibration 'gain': job_policy: global_job_limit must be an integer from 0 (no limit, no query)" \
    check.err || fail "global_job_limit: $(cat check.err)"
grep -q "^bad.yaml:13:34: calibration 'gain': job_policy: global_job_check_interval must be a number of seconds from 1" \
    check.err || fail "global_job_check_interval: $(cat check.err)"
! grep -q '^bad.yaml:2:4' check.err || fail "a valid value was reported"
echo ok
