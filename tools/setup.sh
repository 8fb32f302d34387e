#!/usr/bin/env bash
# Set-up for a fresh machine (Debian + Node 20): system packages only if missing, then npm ci.
# - canvas (under chartjs-node-canvas) builds from source: needs cairo/pango/jpeg/gif/rsvg headers.
# - oneDNN (libdnnl-dev: @agekit/runtime's native training kernels; the same library PyTorch's CPU convolutions use).
# - OpenCV (C++ headers for the exported bundle's example; python3-opencv/onnx/sklearn for cross-checks).
# - onnxruntime-node: skip its CUDA download (CPU binaries ship in the package).
# - node-gyp (a devDependency) builds the native addons.
# - @tensorflow/tfjs-node(-gpu) are optional: their install downloads libtensorflow and fails offline; npm carries on.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
for pkg in build-essential pkg-config libcairo2-dev libpango1.0-dev libjpeg-dev libgif-dev librsvg2-dev \
           libopencv-dev python3-opencv python3-onnx python3-sklearn chromium libdnnl-dev; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}"
  SUDO=; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# npm ci: the lock lists every platform's optional bindings (e.g. @unrs/resolver-binding-*), so npm ci accepts it;
# ONNXRUNTIME_NODE_INSTALL=skip is onnxruntime-node's switch against its CUDA download (the CPU binaries ship in the package).
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci (locked versions)"
  ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund
fi
node tools/scripts/build-native.mjs # native addons: quality's explore engine (C + libjpeg), runtime's training kernels (oneDNN); set -e: a failed build fails setup
echo "setup: done"
