#!/usr/bin/env bash
# Checks the Java API (bindings/java) end to end on the desktop JVM:
#   1. `cargo build --release --features jni` (a no-op when up to date; RESNEXT_JAVA_NO_BUILD=1
#      skips it) and a check that libresnext.so exports the JNI symbols;
#   2. JUnit 4 from Debian (/usr/share/java/junit4.jar; apt-get installs junit4 when missing and
#      run as root; JUNIT_CP overrides the class path);
#   3. javac --release 8 of bindings/java/src/main (warnings are errors) and src/test into
#      target/java/{main,test};
#   4. JUnit (org.junit.runner.JUnitCore) on every *Test class, with -Xcheck:jni, against
#      target/release/libresnext.so, the CLI target/release/resnext (the Rust reference results)
#      and the test data. Its closing line is `OK (N tests)` on success. Any JNI warning the
#      JVM prints (JNI misuse, "JNI local refs: N, exceeds capacity: M") fails the checks.
#   scripts/java_checks.sh [TESTDATA_DIR]   (default: $RESNEXT_TESTDATA, else testdata/)
# Needs a JDK (javac, java) >= 9 to compile with --release 8. Exits non-zero on any failure.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA="$(cd "${1:-${RESNEXT_TESTDATA:-$ROOT/testdata}}" && pwd)"
cd "$ROOT"
step() { echo; echo "== $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

command -v javac >/dev/null && command -v java >/dev/null || fail "a JDK (javac, java) is required"
for f in models/r50_torch.onnx models/tiny_torch.onnx models/random.onnx preprocess/chelsea.png \
         preprocess/chelsea.nv21.bin; do
  [ -f "$DATA/$f" ] || fail "$DATA/$f missing (generate the test data: scripts/test.sh)"
done

LIB="$ROOT/target/release/libresnext.so"
CLI="$ROOT/target/release/resnext"
if [ "${RESNEXT_JAVA_NO_BUILD:-0}" != 1 ]; then
  step "cargo build --release --features jni,ort"
  cargo build --release --features jni,ort
fi
[ -f "$LIB" ] || fail "$LIB missing: run 'cargo build --release --features jni'"
[ -x "$CLI" ] || fail "$CLI missing: run 'cargo build --release --features jni'"
grep -qa Java_org_resnext_Native_classifierNew "$LIB" \
  || fail "$LIB has no JNI symbols: it was built without the jni feature (cargo build --release --features jni)"

if [ -z "${JUNIT_CP:-}" ]; then
  if [ ! -f /usr/share/java/junit4.jar ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      step "installing junit4"
      apt-get install -y -qq junit4 >/dev/null || { apt-get update -qq && apt-get install -y -qq junit4 >/dev/null; }
    else
      fail "/usr/share/java/junit4.jar missing (apt-get install junit4, or set JUNIT_CP)"
    fi
  fi
  JUNIT_CP="/usr/share/java/junit4.jar"
  for jar in /usr/share/java/hamcrest-core.jar /usr/share/java/hamcrest.jar; do
    [ -f "$jar" ] && JUNIT_CP="$JUNIT_CP:$jar"
  done
fi

OUT="$ROOT/target/java"
rm -rf "$OUT/main" "$OUT/test"
mkdir -p "$OUT/main" "$OUT/test"
JAVA_SRC="$ROOT/bindings/java/src"
step "javac --release 8 (main, then tests)"
mapfile -t MAIN_SOURCES < <(find "$JAVA_SRC/main/java" -name '*.java' | sort)
mapfile -t TEST_SOURCES < <(find "$JAVA_SRC/test/java" -name '*.java' | sort)
# The JSpecify nullability annotations the API carries are compile-only stand-ins
# (bindings/java/src/annotations): on the class path of javac, not in target/java/main.
rm -rf "$OUT/annotations" && mkdir -p "$OUT/annotations"
mapfile -t ANNOTATION_SOURCES < <(find "$JAVA_SRC/annotations/java" -name '*.java' | sort)
javac --release 8 -encoding UTF-8 -d "$OUT/annotations" "${ANNOTATION_SOURCES[@]}"
javac --release 8 -encoding UTF-8 -Xlint:all -Xlint:-options -Werror -cp "$OUT/annotations" \
  -d "$OUT/main" "${MAIN_SOURCES[@]}"
javac --release 8 -encoding UTF-8 -Xlint:all,-options,-serial -cp "$OUT/main:$OUT/annotations:$JUNIT_CP" \
  -d "$OUT/test" "${TEST_SOURCES[@]}"
echo "compiled ${#MAIN_SOURCES[@]} main and ${#TEST_SOURCES[@]} test sources into $OUT"

mapfile -t TEST_CLASSES < <(cd "$JAVA_SRC/test/java" && find . -name '*Test.java' | sort \
  | sed -e 's|^\./||' -e 's|\.java$||' -e 's|/|.|g')
step "JUnit: ${TEST_CLASSES[*]}"
LOG="$OUT/junit.log"
set +e
java -Xcheck:jni -Xmx256m \
  -Dresnext.library.path="$LIB" -Dresnext.cli="$CLI" -Dresnext.root="$ROOT" \
  -Dresnext.testdata="$DATA" \
  -cp "$OUT/main:$OUT/test:$JUNIT_CP" \
  org.junit.runner.JUnitCore "${TEST_CLASSES[@]}" 2>&1 | tee "$LOG"
status=${PIPESTATUS[0]}
set -e
[ "$status" = 0 ] || fail "JUnit failed (exit $status; log: $LOG)"
# -Xcheck:jni prints "WARNING in native method: ..." for misuse and "WARNING: JNI local refs:
# N, exceeds capacity: M" when a native method's local references outgrow its frame.
JNI_WARNING='WARNING in native method|WARNING: JNI|JNI local refs'
if grep -qE "$JNI_WARNING" "$LOG"; then
  grep -E "$JNI_WARNING" "$LOG" | sort | uniq -c | sort -rn | head -20 >&2
  fail "-Xcheck:jni printed $(grep -cE "$JNI_WARNING" "$LOG") JNI warnings (see $LOG)"
fi
grep -q '^OK (' "$LOG" || fail "no 'OK (N tests)' line in the JUnit output"
echo
echo "java checks passed"
