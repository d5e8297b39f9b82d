#!/usr/bin/env bash
# Integration test of the features repository in a real Apache Karaf (run by vfio.karaf's pom in
# the integration-test phase):
#   karaf-it.sh KARAF_HOME FEATURES_XML BUNDLE_REPO LOCAL_M2
# KARAF_HOME: an unpacked apache-karaf-minimal; FEATURES_XML: the filtered features.xml;
# BUNDLE_REPO: this build's bundles in Maven layout, where Karaf looks first; LOCAL_M2: the local
# Maven repository, the cache for what Karaf needs from Maven Central (the bundles of the unused
# conditionals of Karaf's scr feature, which the minimal distribution lacks).
#
# Starts Karaf headless (SSH shell on a free loopback port), adds the repository, installs
# vfio-platform and checks with shell commands that every bundle is active, the backends are
# registered, the embedded edu device is BOUND and its driver computes; then installs the optional
# features vfio-backend-memory and vfio-tck and runs the conformance kit on the memory backend.
# Karaf is always stopped (and killed if it does not stop). The pom runs this under timeout(1):
# its TERM makes the script stop Karaf and fail.
set -euo pipefail

karaf=$1 features=$2 repo=$3 m2=$4
log() { printf '[karaf-it %s] %s\n' "$(date +%T)" "$*"; }
now_ms() { date +%s%3N; }

[ -x "$karaf/bin/karaf" ] || chmod +x "$karaf"/bin/* 2>/dev/null || true
[ -f "$features" ] || { log "no features file $features"; exit 1; }
[ -d "$repo" ] || { log "no bundle repository $repo"; exit 1; }

# A fresh instance every run: no bundle cache or configuration from the previous one. Its data
# folder is short-pathed in the temp dir because Karaf's java.io.tmpdir lives there and the edu
# emulation puts its vfio-user socket in java.io.tmpdir (UNIX socket paths: at most 107 bytes).
rm -rf "$karaf/data" "$karaf/instances"
export KARAF_DATA
KARAF_DATA=$(mktemp -d "${TMPDIR:-/tmp}/vfio-karaf.XXXXXX")

# A free loopback port for the SSH shell (another build may hold 8101).
port=
for _ in $(seq 1 50); do
  p=$((20000 + RANDOM % 40000))
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then port=$p; break; fi
done
[ -n "$port" ] || { log "no free port found"; exit 1; }

sed -i -e "s/^sshPort *=.*/sshPort = $port/" -e "s/^sshHost *=.*/sshHost = 127.0.0.1/" \
  "$karaf/etc/org.apache.karaf.shell.cfg"
# The minimal distribution ships without users; this instance is private to the build.
cat > "$karaf/etc/users.properties" <<'EOF'
karaf = karaf,_g_:admingroup
_g_\:admingroup = group,admin,manager,viewer,systembundles,ssh
EOF
# Karaf's system/ folder and this build's bundles first (so never a stale snapshot from ~/.m2),
# then the local Maven repository, then Maven Central only.
cat > "$karaf/etc/org.ops4j.pax.url.mvn.cfg" <<EOF
org.ops4j.pax.url.mvn.localRepository=$m2
org.ops4j.pax.url.mvn.useFallbackRepositories=false
org.ops4j.pax.url.mvn.defaultRepositories=\${karaf.home.uri}\${karaf.default.repository}@id=system.repository@snapshots, file:$repo@id=vfio.build@snapshots
org.ops4j.pax.url.mvn.repositories=https://repo1.maven.org/maven2@id=central
org.ops4j.pax.url.mvn.timeout=5000
EOF

pid=
memdev="karaf-tck-$$"
cleanup() {
  status=$?
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    log "stopping Karaf (pid $pid)"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then log "Karaf did not stop: killing it"; kill -9 "$pid" 2>/dev/null || true; fi
    wait "$pid" 2>/dev/null || true
  fi
  rm -f "/dev/shm/vfio-memory/$memdev"
  cp "$KARAF_DATA/log/karaf.log" "$karaf/karaf.log" 2>/dev/null || true
  rm -rf "$KARAF_DATA"
  if [ "$status" -ne 0 ] && [ -f "$karaf/karaf.log" ]; then
    log "FAILED; last lines of $karaf/karaf.log:"
    tail -n 60 "$karaf/karaf.log" || true
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'log "timed out"; exit 124' TERM INT

# Karaf 4.4 (4.4.7 and 4.4.8 alike) cannot run on Java 24+: its scripts pass
# -Djava.security.manager=allow, which those JVMs refuse, and without it its shell fails on
# Subject.getSubject ("getSubject is not supported"). Nothing of the platform is tested then.
java_feature=$("${JAVA_HOME:+$JAVA_HOME/bin/}java" -XshowSettings:properties -version 2>&1 \
  | sed -n 's/^ *java\.specification\.version = \([0-9]*\).*/\1/p')
if [ "${java_feature:-0}" -ge 24 ]; then
  log "SKIPPED: Apache Karaf 4.4 cannot run its shell on Java $java_feature; run this test with JDK 17 or 21"
  trap - EXIT
  rm -rf "$KARAF_DATA"
  exit 0
fi

t0=$(now_ms)
# daemon: the script execs java, so $! is Karaf's JVM.
"$karaf/bin/karaf" daemon > "$karaf/karaf.out" 2>&1 &
pid=$!
log "Karaf $karaf started on Java ${java_feature:-?} (pid $pid, ssh 127.0.0.1:$port)"

# One shell command line over SSH, bounded; fails if the command fails. Batch mode (-b, the line on
# stdin): the client's command-argument mode closes the session as soon as its stdin ends, which can
# be before the output arrives. Karaf's batch shell does not print a command's return value, so
# commands that return their table are run as `echo (command)`. Colours and CRs are stripped.
kc() {
  printf '%s\n' "$1" \
    | timeout 60 "$karaf/bin/client" -h 127.0.0.1 -a "$port" -u karaf -p karaf -r "${retries:-3}" -d 1 -b \
    | sed -e 's/\x1b\[[0-9;]*m//g' -e 's/\r$//'
  return "${PIPESTATUS[1]}"
}
fail() { log "FAIL: $*"; exit 1; }
expect() { # expect LABEL PATTERN TEXT
  grep -Eq -- "$2" <<< "$3" || { printf '%s\n' "$3"; fail "$1: no match for /$2/"; }
}

out=$(retries=90 kc "feature:list -i") || fail "the Karaf shell did not come up"
t_up=$(now_ms)
log "Karaf shell up in $((t_up - t0)) ms"

kc "feature:repo-add file:$features" > /dev/null
t1=$(now_ms)
kc "feature:install vfio-platform" || fail "feature:install vfio-platform failed"
t_installed=$(now_ms)
log "feature:install vfio-platform took $((t_installed - t1)) ms"

out=$(kc "bundle:list -s -t 0")
for b in vfio.api vfio.posix vfio.core vfio.user.protocol vfio.user.server vfio.backend.user \
         vfio.backend.ioctl vfio.emulator.edu vfio.driver.edu com.sun.jna com.google.gson \
         org.apache.felix.scr; do
  expect "bundle $b active" "Active .*[│|] *$b *\$" "$out"
done
# Off macOS the Apple backend is idle by design: its components wait for the dext connector, which
# Karaf's bundle list shows as Waiting (started, with unsatisfied components).
case "$(uname -s)" in
  Darwin) expect "bundle vfio.backend.apple active" "Active .*[│|] *vfio.backend.apple *\$" "$out" ;;
  *) expect "bundle vfio.backend.apple waiting (idle off macOS)" "Waiting .*[│|] *vfio.backend.apple *\$" "$out" ;;
esac
log "all platform bundles started"

out=$(kc "echo (vfio:backends)")
expect "backends" "vfio\.backend\.user" "$out"
expect "backends" "vfio\.backend\.ioctl" "$out"

deadline=$(( $(now_ms) + 30000 ))
until out=$(kc "echo (vfio:devices)") && grep -Eq "^edu0 .* BOUND +vfio\.backend\.user" <<< "$out"; do
  [ "$(now_ms)" -lt "$deadline" ] || { printf '%s\n' "$out"; fail "edu0 not BOUND to vfio.backend.user within 30 s"; }
  sleep 0.5
done
t_bound=$(now_ms)
printf '%s\n' "$out"
log "edu0 seen BOUND $((t_bound - t_installed)) ms after the install (polled over SSH)"

out=$(kc "echo (edu:factorial 10)")
expect "edu:factorial 10" "3628800" "$out"
log "edu driver: $(tr -d '\r' <<< "$out" | head -n 1)"

t2=$(now_ms)
kc "feature:install vfio-backend-memory vfio-tck" || fail "feature:install vfio-backend-memory vfio-tck failed"
log "feature:install vfio-backend-memory vfio-tck took $(( $(now_ms) - t2 )) ms"
out=$(kc "echo (vfio:backends)")
expect "memory backend registered" "vfio\.backend\.memory" "$out"
out=$(kc "echo (vfio:conformance vfio.backend.memory memory:$memdev)") || { printf '%s\n' "$out"; fail "vfio:conformance failed"; }
expect "conformance" "checks on vfio\.backend\.memory memory:$memdev: [0-9]+ passed, 0 failed" "$out"
log "conformance kit in Karaf: $(grep -Eo '[0-9]+ checks on .*' <<< "$out" | tr -d '\r')"

# The minimal distribution has no system:shutdown; SIGTERM is Karaf's orderly shutdown.
t3=$(now_ms)
kill -TERM "$pid"
for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "Karaf still running 30 s after SIGTERM"
wait "$pid" 2>/dev/null || true
pid=
log "Karaf stopped in $(( $(now_ms) - t3 )) ms; whole run $(( $(now_ms) - t0 )) ms"
log "PASSED"
