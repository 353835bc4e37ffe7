#!/bin/bash
# dynamic queue: 2 workers pop the first line of $1 (flock) until it is empty; lines can be added while it runs
. /work/scratch-explore/env.sh; cd /work/wt-explore
Q=$1
worker() {
  while true; do
    line=$(flock $Q.lock bash -c "head -1 $Q; sed -i 1d $Q")
    [ -z "$line" ] && break
    n=$(echo "$line" | sed -E "s/.*--name ([^ ]+).*/\1/")
    if [[ "$line" == TIMING* ]]; then nice -n 5 python benchmarks/demo_step_timing.py ${line#TIMING } > /work/scratch-explore/logs/timing.log 2>&1
    else nice -n 5 python benchmarks/demo_explore.py $line > /work/scratch-explore/logs/$n.log 2>&1; fi
  done
}
worker & worker & wait
