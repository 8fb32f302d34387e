#!/usr/bin/env bash
# What the benchmarks' references need beyond `npm run setup` (which installs OpenCV for the explore reference):
# PyTorch and torchvision from Debian for tools/bench/train and tools/bench/onnx (../shared/reference/train_torch.py).
# Usage: bash tools/scripts/setup-bench.sh
set -euo pipefail
need=()
for pkg in python3-opencv python3-torch python3-torchvision; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  SUDO=; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
/usr/bin/python3 -c 'import cv2, torch, torchvision; print(f"bench references: OpenCV {cv2.__version__}, PyTorch {torch.__version__}, torchvision {torchvision.__version__}")'
