#!/usr/bin/env bash
# caf finds its own built-in plugins without CAF_PLUGIN_PATH: in its build tree, and after make install
# (also when the installation is moved elsewhere), and the user's CAF_PLUGIN_PATH still comes first.
set -euo pipefail
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
env -u CAF_PLUGIN_PATH "$CAF" modules | grep -q TriggerSkim
env -u CAF_PLUGIN_PATH "$CAF" modules TriggerSkim --json | grep -q triggerLines
cmake --install "$CAF_BUILD_DIR" --prefix "$work/prefix" >/dev/null
mv "$work/prefix" "$work/moved"
env -u CAF_PLUGIN_PATH "$work/moved/bin/caf" modules | grep -q TriggerSkim
# a user plugin folder is searched before the built-in ones
mkdir "$work/mine"
cp "$CAF_BUILD_DIR/plugins/Prescale.so" "$work/mine/Prescale.so"
CAF_PLUGIN_PATH="$work/mine" "$CAF" modules Prescale --json | grep -q "$work/mine/Prescale.so" ||
  CAF_PLUGIN_PATH="$work/mine" "$CAF" modules Prescale | grep -q "$work/mine"
echo "plugins found in the build tree, in a moved installation, and on the user's path first"
