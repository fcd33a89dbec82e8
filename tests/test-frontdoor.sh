#!/usr/bin/env bash
# The front door as a user with sudo: the README's setup command, taken
# from the README and run exactly as written, by a fresh user who has sudo,
# in a copy of the source tree. (CI itself runs it as root without sudo:
# .ci/run.) It must install (a no-op where everything is there), build and
# print the comparison table. Needs root to make the user; exit 77 where
# that or installing sudo cannot be done. Removes what it added.
# Usage: test-frontdoor.sh SOURCE_ROOT
set -u
src=$1
fail() { echo "FAIL: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "not root: cannot make a user with sudo" >&2; exit 77; }
command -v useradd >/dev/null 2>&1 || { echo "no useradd" >&2; exit 77; }
setup=$(awk '$0 == "<!-- setup command -->" {armed = 1; next}
  armed && /^```sh$/ {inside = 1; next}
  inside && /^```$/ {exit}
  inside {print}' "$src/README.md")
[ -n "$setup" ] || fail "no setup command in the README"

user=adlfront$$ added_sudo=0
cleanup() {
  userdel -r "$user" >/dev/null 2>&1
  rm -f "/etc/sudoers.d/$user"
  # Leave the machine as it was: CI checks the root-without-sudo path.
  [ "$added_sudo" = 1 ] && SUDO_FORCE_REMOVE=yes DEBIAN_FRONTEND=noninteractive \
    apt-get purge -y -q sudo >/dev/null 2>&1
}
trap cleanup EXIT
if ! command -v sudo >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q sudo >/dev/null 2>&1 ||
    { echo "cannot install sudo: skipping" >&2; exit 77; }
  added_sudo=1
fi
useradd -m -s /bin/bash "$user" || fail "useradd"
printf '%s ALL=(ALL) NOPASSWD:ALL\n' "$user" >"/etc/sudoers.d/$user"
chmod 440 "/etc/sudoers.d/$user"
home=$(getent passwd "$user" | cut -d: -f6)
mkdir "$home/tree"
if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  (cd "$src" && git ls-files -z | tar --null -T - -cf -) | tar -C "$home/tree" -xf -
else
  tar -C "$src" --exclude='./build*' -cf - . | tar -C "$home/tree" -xf -
fi
printf '%s\n' "$setup" >"$home/setup.sh"
chown -R "$user:" "$home"
echo "+ (as $user, with sudo) $setup"
su - "$user" -c 'cd ~/tree && DEBIAN_FRONTEND=noninteractive bash ~/setup.sh' \
  >"$home/out" 2>&1
rc=$?
tail -6 "$home/out"
[ "$rc" = 0 ] || { cat "$home/out" >&2; fail "the setup command exited $rc"; }
grep -q '^parallel ' "$home/out" || fail "no comparison table"
[ "$(stat -c %U "$home/tree/build")" = "$user" ] || fail "build not owned by the user"
echo "ok: the README's setup command works for a user with sudo"
