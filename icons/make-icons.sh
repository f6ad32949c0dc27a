#!/usr/bin/env bash
# Draws the app icon and the three tray states with ImageMagick (`apt-get install
# imagemagick`). The PNGs are committed; run this only to change the artwork.
set -euo pipefail
cd "$(dirname "$0")"
dark='#1f2430'

# App icon: a "tell-tale light", a lit lamp in a ring on a dark rounded square.
convert -size 512x512 xc:none -fill "$dark" -draw 'roundrectangle 16,16 496,496 96,96' \
  -fill none -stroke '#3ddc84' -strokewidth 28 -draw 'circle 256,256 256,96' \
  -stroke none -fill '#3ddc84' -draw 'circle 256,256 256,186' PNG32:icon.png
convert icon.png -resize 32x32 PNG32:32x32.png
convert icon.png -resize 128x128 PNG32:128x128.png
convert icon.png -resize 256x256 PNG32:128x128@2x.png

# Tray states: the lamp's colour says it at a glance, the mark inside says it to those
# who cannot tell green from red.
convert -size 64x64 xc:none -fill '#3ddc84' -stroke "$dark" -strokewidth 4 \
  -draw 'circle 32,32 32,4' PNG32:tray-ok.png
convert -size 64x64 xc:none -fill '#4a9eff' -stroke "$dark" -strokewidth 4 \
  -draw 'circle 32,32 32,4' -stroke none -fill white \
  -draw 'circle 18,32 18,27' -draw 'circle 32,32 32,27' -draw 'circle 46,32 46,27' PNG32:tray-activity.png
convert -size 64x64 xc:none -fill '#e5484d' -stroke "$dark" -strokewidth 4 \
  -draw 'circle 32,32 32,4' -stroke white -strokewidth 7 \
  -draw 'line 32,15 32,36' -draw 'line 32,45 32,48' PNG32:tray-failing.png
