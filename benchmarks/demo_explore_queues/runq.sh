#!/bin/bash
# run a queue file of driver argument lines, 2 at a time, each nice'd at 1 thread; log per line
. /work/scratch-explore/env.sh; cd /work/wt-explore
Q=$1
cat $Q | xargs -P 2 -d '\n' -I{} bash -c 'n=$(echo "{}" | sed -E "s/.*--name ([^ ]+).*/\1/"); nice -n 5 python benchmarks/demo_explore.py {} > /work/scratch-explore/logs/$n.log 2>&1; grep -E "RESULT|SINGLE" /work/scratch-explore/logs/$n.log | tail -1 | cut -c1-400'
