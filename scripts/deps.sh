#!/usr/bin/env bash
# Installs the system packages gradscope needs on Debian/Ubuntu and does nothing elsewhere:
# the Vulkan loader and Mesa's Vulkan drivers (lavapipe runs the compute shaders on the CPU when there is
# no GPU), and the X11/Wayland libraries the window opens with. With --test, also Chromium and
# ChromeDriver, which the browser build's test drives headless.
set -euo pipefail
if ! command -v apt-get >/dev/null 2>&1; then
    exit 0
fi
packages=(mesa-vulkan-drivers libvulkan1 vulkan-tools libxkbcommon-x11-0 libx11-xcb1 libxcursor1 libxrandr2
          libxi6 libwayland-client0 libwayland-cursor0 libegl1 libgl1 fontconfig)
if [ "${1:-}" = "--test" ]; then
    packages+=(chromium chromium-driver)
fi
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
