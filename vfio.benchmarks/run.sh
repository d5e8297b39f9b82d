#!/usr/bin/env bash
# Runs every benchmark of vfio.benchmarks and prints the tables of docs/benchmarks.md.
#
#   vfio.benchmarks/run.sh [quick|full]      (default full: about 6 minutes on 2 cores; quick about 3)
#   vfio.benchmarks/run.sh guest             the kernel VFIO path in the rig/ QEMU guest (about 1 min):
#                                            vfio.backend.ioctl's AccessCostGuestTest beside vfio_access.c
#
# Builds this module (offline Maven; the modules it measures must be installed in ~/.m2 and
# vfio.distribution/target/vfio-platform.jar must exist for the startup figures), compiles the C
# floors with gcc, then runs, in this order: the mapped fast path (JMH + C), the vfio-user slow path
# and its floors (C, Java), interrupt latency (C, Java), hot-swap, startup and idle RSS.
# Raw outputs land in vfio.benchmarks/target/bench/; the summary is printed at the end.
# JAVA=/path/to/java overrides the JVM.
set -euo pipefail
MODE=${1:-full}
case "$MODE" in quick|full|guest) ;; *) echo "usage: $0 [quick|full|guest]" >&2; exit 2 ;; esac
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")

if [ "$MODE" = guest ]; then
  # Reports go under this module's target/, never into vfio.backend.ioctl's. Uses that module's
  # compiled test classes as they are (--no-build): build it first if they are missing.
  G=$HERE/target/guest
  rm -rf "$G"; mkdir -p "$G/java" "$G/c"
  gcc -O2 -Wall -o "$G/vfio_access" "$HERE/src/main/c/vfio_access.c"
  echo "load guest-start $(cut -d' ' -f1-3 /proc/loadavg)"
  "$ROOT/rig/run-guest-tests.sh" --no-build --reports "$G/java" --select vfio.backend.ioctl.internal.AccessCostGuestTest >"$G/java.log" 2>&1 \
    || { tail -5 "$G/java.log"; exit 1; }
  "$ROOT/rig/boot.sh" --out "$G/c" --devices edu -- "$G/vfio_access" 20000 >"$G/c.log" 2>&1 \
    || { tail -5 "$G/c.log"; exit 1; }
  echo "load guest-end $(cut -d' ' -f1-3 /proc/loadavg)"
  grep -h 'edu 4-byte' "$G/java/output.log" | sed 's/^/java /'
  cat "$G/c/output.log"
  exit 0
fi
OUT=$HERE/target/bench
JAVA=${JAVA:-java}
mkdir -p "$OUT"
rm -f "$OUT"/*.txt "$OUT"/*.json

echo "== build"
(cd "$ROOT" && mvn -q -o -pl vfio.benchmarks install -DskipTests)
# A private copy of the jars: other builds may reinstall them in ~/.m2 while a benchmark runs.
rm -rf "$HERE/target/lib"
(cd "$HERE" && mvn -q -o dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory=target/lib >/dev/null)
for j in "$HERE"/target/lib/*.jar; do unzip -tqq "$j" >/dev/null || { echo "corrupt $j (being reinstalled?): run again" >&2; exit 1; }; done
CP="$HERE/target/classes:$HERE/target/lib/*"
JOPTS=(--enable-native-access=ALL-UNNAMED "-Djava.util.logging.config.file=$HERE/logging.properties")
# Java 24+: what ./platform passes, so the core's mapped reads use raw loads there too (vfio.core RawLoads)
if "$JAVA" --sun-misc-unsafe-memory-access=allow -version >/dev/null 2>&1; then
  JOPTS+=(--sun-misc-unsafe-memory-access=allow)
fi
for c in mapped_loop unix_pingpong irq_latency native_calls; do
  gcc -O2 -Wall -pthread -o "$OUT/$c" "$HERE/src/main/c/$c.c"
done

note() { echo "$*" | tee -a "$OUT/results.txt"; }
load() { note "load $1 $(cut -d' ' -f1-3 /proc/loadavg)"; }

note "machine $(nproc) cpus, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r)"
note "jvm $("$JAVA" -version 2>&1 | head -1)"
note "gcc $(gcc -dumpfullversion)"
note "mode $MODE, started $(date -u +%FT%TZ)"

if [ "$MODE" = quick ]; then
  JMH=(-wi 2 -i 3 -w 500ms -r 500ms -f 1); SLOW_S=2; IRQ_N=2000; SWAPS=100; STARTS=5; PINS=(pinned)
else
  JMH=(-wi 3 -i 7 -w 1s -r 1s -f 1); SLOW_S=5; IRQ_N=10000; SWAPS=100; STARTS=10; PINS=(pinned unpinned)
fi

echo "== 1. mapped fast path (JMH, then C on the same shared-memory file)"
load mapped-start
"$JAVA" "${JOPTS[@]}" -cp "$CP" org.openjdk.jmh.Main "${JMH[@]}" -rf json -rff "$OUT/jmh.json" \
  'vfio.benchmarks.MappedAccessBench|vfio.benchmarks.HotSwapAccessBench' | tee "$OUT/jmh.txt" | grep -E '^(Benchmark|Mapped|HotSwap|rebinds)' || true
# The core's VarHandle read path, what Java 24+ runs without the flag above
"$JAVA" "${JOPTS[@]}" -cp "$CP" org.openjdk.jmh.Main "${JMH[@]}" -jvmArgsAppend -Dvfio.core.rawLoads=false \
  -p layout=whole -rf json -rff "$OUT/jmh-varhandle.json" 'vfio.benchmarks.MappedAccessBench.apiRead(32|64)$' \
  | grep -E '^MappedAccessBench' | sed 's/^/varhandle loads: /' || true
"$OUT/mapped_loop" /dev/shm/vfio-memory/jmh-mapped 50000000 | tee -a "$OUT/results.txt"
load mapped-end

echo "== 2. native calls (one thread), then the vfio-user slow path and its floors"
load calls-start
head -c 4096 /dev/zero >/dev/shm/vfio-bench-native-calls
"$JAVA" "${JOPTS[@]}" -cp "$CP" org.openjdk.jmh.Main "${JMH[@]}" -rf json -rff "$OUT/jmh-calls.json" \
  'vfio.benchmarks.NativeCallBench' | grep -E '^NativeCallBench' || true
"$OUT/native_calls" /dev/shm/vfio-bench-native-calls 7 | tee -a "$OUT/results.txt"
rm -f /dev/shm/vfio-bench-native-calls
load calls-end
start_server() { # $1 = log file, rest = command; prints the pid once the server listens
  local log=$1; shift
  "$@" >"$log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do grep -q 'listening on' "$log" && { echo $pid; return; }; sleep 0.1; done
  echo "server did not start: $(cat "$log")" >&2; kill $pid; exit 1
}
stop_server() { # $1 = pid (started in a subshell, so not ours to wait for): TERM, then up to 10 s
  kill "$1" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
  echo "server $1 did not stop" >&2
}
for pin in "${PINS[@]}"; do
  if [ "$pin" = pinned ]; then TS=(taskset -c 1); else TS=(); fi
  load "slow-$pin-start"
  "${TS[@]}" "$OUT/unix_pingpong" sync $(echo "$SLOW_S / 7" | bc -l) 7 | sed "s/^/$pin /" | tee -a "$OUT/results.txt"
  "${TS[@]}" "$OUT/unix_pingpong" pipelined 16 "$SLOW_S" | sed "s/^/$pin /" | tee -a "$OUT/results.txt"
  sock=$OUT/floor.sock; rm -f "$sock"
  spid=$(start_server "$OUT/floor-server.log" "${TS[@]}" "$JAVA" "${JOPTS[@]}" -cp "$CP" vfio.benchmarks.SlowPathBench floor-server "$sock")
  "${TS[@]}" "$JAVA" "${JOPTS[@]}" -cp "$CP" vfio.benchmarks.SlowPathBench floor-client "$sock" "$SLOW_S" | sed "s/^/$pin /" | tee -a "$OUT/results.txt"
  stop_server "$spid" # it exits by itself when the client closes; this only makes sure
  sock=$OUT/edu.sock; rm -f "$sock"
  spid=$(start_server "$OUT/edu-server.log" "${TS[@]}" "$JAVA" "${JOPTS[@]}" -cp "$CP" vfio.emulator.edu.Main "$sock")
  "${TS[@]}" "$JAVA" "${JOPTS[@]}" -cp "$CP" vfio.benchmarks.SlowPathBench api "$sock" "$spid" "$SLOW_S" | sed "s/^/$pin /" | tee -a "$OUT/results.txt"
  stop_server "$spid"
  load "slow-$pin-end"
done

echo "== 3. interrupt latency"
load irq-start
"$OUT/irq_latency" "$IRQ_N" | tee -a "$OUT/results.txt"
"$JAVA" "${JOPTS[@]}" -cp "$CP" vfio.benchmarks.IrqLatencyBench "$IRQ_N" | tee -a "$OUT/results.txt"
load irq-end

echo "== 6. hot-swap (in process)"
load swap-start
"$JAVA" "${JOPTS[@]}" -cp "$CP" vfio.benchmarks.HotSwapLatencyBench "$SWAPS" | tee -a "$OUT/results.txt"
load swap-end

echo "== 4. startup and idle RSS"
JAR=$ROOT/vfio.distribution/target/vfio-platform.jar
if [ -f "$JAR" ]; then
  load startup-start
  if command -v hyperfine >/dev/null; then
    # the floor: the same JVM starting and exiting (java -version)
    hyperfine -N -w 1 -r "$STARTS" --export-json "$OUT/startup.json" "$JAVA -jar $JAR vfio:devices" "$JAVA -version" | tee "$OUT/startup.txt"
    python3 -c "import json,statistics as s;rs=json.load(open('$OUT/startup.json'))['results']
for name,x in zip(('startup-devices-ms','startup-jvm-ms'),rs):
  r=x['times'];print('%s median %.0f min %.0f max %.0f n %d'%(name,s.median(r)*1e3,min(r)*1e3,max(r)*1e3,len(r)))" | tee -a "$OUT/results.txt"
  else
    ts=()
    for _ in $(seq "$STARTS"); do
      t0=$(date +%s%N); "$JAVA" -jar "$JAR" vfio:devices </dev/null >/dev/null 2>&1; t1=$(date +%s%N)
      ts+=($(( (t1 - t0) / 1000000 )))
    done
    python3 -c "import statistics as s;r=[${ts[*]// /,}];print('startup-devices-ms median %.0f min %.0f max %.0f n %d'%(s.median(r),min(r),max(r),len(r)))" | tee -a "$OUT/results.txt"
  fi
  # the idle platform: its console waits on a stdin that stays open (held by a sleep we own)
  exec {hold}< <(sleep 120); holder=$!
  "$JAVA" -jar "$JAR" <&"$hold" >"$OUT/idle.log" 2>&1 &
  jpid=$!
  sleep 6
  if [ -r "/proc/$jpid/status" ]; then
    note "idle-rss-kib $(awk '/VmRSS/ {print $2}' "/proc/$jpid/status") (6 s after start)"
  else
    note "idle-rss-kib unknown (the platform exited; see $OUT/idle.log)"
  fi
  kill "$jpid" 2>/dev/null || true; wait "$jpid" 2>/dev/null || true
  kill "$holder" 2>/dev/null || true; exec {hold}<&-
  load startup-end
else
  note "startup skipped: $JAR missing (build vfio.distribution first)"
fi

# the memory backend keeps device state files by design; these are the benchmarks' own
rm -f /dev/shm/vfio-memory/{jmh-mapped,jmh-swap,irq-bench,swap-bench,edu-bench}
note "finished $(date -u +%FT%TZ)"
echo "== summary"
python3 "$HERE/tables.py" "$OUT"
