"""The first two calibrations of toy_campaign.yaml, built in Python (docs/python.md, "A campaign built in
Python"). Run it in a folder holding toy data:

    caf gen toy toy --seed 7 --events 5000
    python3 python_campaign.py
"""
import caf
from caf.framework import CAF, Algorithm, Calibration

# Channel status: one payload per run.
status = Calibration("status", collector="ExampleHitCollector", algorithms="ExampleChannelStatusAlgorithm",
                     input_files=["toy/*.h5"], max_files_per_collector_job=2)
status.algorithms[0].params = {"hot_factor": 1.5, "min_median_hits": 50}
status.strategies = "SimpleRunByRun"

# Gains from two-track events only: the TriggerSkim ends every other event before the collector.
skim = {"module": "TriggerSkim",
        "parameters": {"triggerLines": ["software_trigger_cut&hlt&accept_mu_mu",
                                        "software_trigger_cut&hlt&accept_2_tracks"],
                       "logicMode": "or", "resultOnMissing": 0},
        "conditions": [{"if": False}]}
gain = Calibration("gain", collector="ExampleHitCollector", pre_collector_path=[skim],
                   algorithms=Algorithm("ExampleGainAlgorithm", params={"min_entries": 60},
                                        strategy="SequentialRunByRun"),
                   input_files=["toy/*.h5"], max_files_per_collector_job=2)
gain.depends_on(status)
gain.max_iterations = 2

fw = CAF(output_dir="toy_results", poll_interval=0.2)
fw.add_calibration(status)
fw.add_calibration(gain)

try:
    fw.check()                       # caf config check: inputs, plugins, hooks
except caf.InvalidError as e:        # e.g. toy/*.h5 matching nothing: FILE:LINE:COLUMN: calibration 'status': ...
    raise SystemExit(f"not a valid campaign: {e}")

plan = fw.plan()                     # caf plan --json, as dicts and lists
for cal in plan["calibrations"]:
    print(cal["name"], "wave", cal["wave"], "collector jobs:",
          [c["jobs"]["count"] for c in cal["collections"]])

fw.run(echo=False)                   # caf run; calling it again resumes a stopped or killed run
for cal in fw.status()["calibrations"]:
    print(cal["name"], cal["state"], "iteration", cal["iteration"])

why = fw.lineage("ExampleGains", (1, 2))     # caf db why: the payload of run 1.2 and what made it
print(why["payload"]["revision"], why["payload"]["iov"], "from", why["lineage"]["calibration"],
      "iteration", why["lineage"]["iteration"])
print(caf.Database(fw.output_folder + "/database").read_json("ExampleGains", (1, 2))["gain"][:3])
