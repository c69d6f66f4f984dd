#!/usr/bin/env node
// Draws the app and tray icons from simple shapes and writes them as PNG (plus .ico and .icns for the installers).
// Run `node build/make-icons.mjs` after changing a shape; the outputs are committed, so builds need no image tools.
//
//   build/icon.png, build/icon.ico, build/icon.icns, build/icons/NxN.png   installer and desktop-entry icons
//   assets/icon.png                                                        window icon (512 px)
//   assets/tray-{running,stopped,error}.png (+ @2x)                        coloured tray icons (Linux)
//   assets/tray-{running,stopped,error}.ico                                the same for Windows, 16 to 48 px
//   assets/tray-{running,stopped,error}Template.png (+ @2x)                monochrome macOS menu-bar icons
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const SAMPLES = 6; // per axis: 36 samples per pixel give smooth edges even at 16 px

// ---- shapes: inside tests in unit coordinates (0..1, y down) ----
const roundRect = (x0, y0, x1, y1, r) => (x, y) => {
  const dx = Math.max(x0 + r - x, 0, x - (x1 - r));
  const dy = Math.max(y0 + r - y, 0, y - (y1 - r));
  return x >= x0 && x <= x1 && y >= y0 && y <= y1 && dx * dx + dy * dy <= r * r;
};
const circle = (cx, cy, r) => (x, y) => (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
const ring = (cx, cy, r, width) => (x, y) => {
  const d = Math.hypot(x - cx, y - cy);
  return d <= r && d >= r - width;
};
const segment = (ax, ay, bx, by, width) => (x, y) => {
  const vx = bx - ax;
  const vy = by - ay;
  const t = Math.max(0, Math.min(1, ((x - ax) * vx + (y - ay) * vy) / (vx * vx + vy * vy)));
  return Math.hypot(x - (ax + t * vx), y - (ay + t * vy)) <= width / 2;
};
const polyline = (points, width) => {
  const parts = points.slice(1).map((p, i) => segment(points[i][0], points[i][1], p[0], p[1], width));
  return (x, y) => parts.some((inside) => inside(x, y));
};
const union = (...shapes) => (x, y) => shapes.some((inside) => inside(x, y));
const intersect = (...shapes) => (x, y) => shapes.every((inside) => inside(x, y));

// ---- colours ----
const hex = (value, alpha = 1) => {
  const n = Number.parseInt(value.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255, alpha];
};
const BLUE_TOP = hex('#3b82f6');
const BLUE_BOTTOM = hex('#1d4ed8');
const BLUE = hex('#2563eb');
const WHITE = hex('#ffffff');
const GREEN = hex('#22c55e');
const GREY = hex('#9ca3af');
const RED = hex('#ef4444');
const BLACK = hex('#000000');
const gradient = (top, bottom) => (_x, y) => top.map((c, i) => (i === 3 ? 1 : c + (bottom[i] - c) * y));

/** Layers drawn in order; a layer with `erase` punches its shape out of what is below (template knock-outs). */
function render(size, layers) {
  const pixels = new Uint8Array(size * size * 4);
  for (let py = 0; py < size; py += 1) {
    for (let px = 0; px < size; px += 1) {
      let r = 0;
      let g = 0;
      let b = 0;
      let a = 0;
      for (let sy = 0; sy < SAMPLES; sy += 1) {
        for (let sx = 0; sx < SAMPLES; sx += 1) {
          const x = (px + (sx + 0.5) / SAMPLES) / size;
          const y = (py + (sy + 0.5) / SAMPLES) / size;
          let color = [0, 0, 0, 0];
          for (const layer of layers) {
            if (!layer.shape(x, y)) continue;
            if (layer.erase) {
              color = [0, 0, 0, 0];
              continue;
            }
            const top = typeof layer.color === 'function' ? layer.color(x, y) : layer.color;
            const alpha = top[3] + color[3] * (1 - top[3]);
            color = alpha === 0 ? [0, 0, 0, 0] : [
              ...[0, 1, 2].map((i) => (top[i] * top[3] + color[i] * color[3] * (1 - top[3])) / alpha),
              alpha,
            ];
          }
          // Premultiplied sums, so edge pixels keep their colour instead of darkening.
          r += color[0] * color[3];
          g += color[1] * color[3];
          b += color[2] * color[3];
          a += color[3];
        }
      }
      const offset = (py * size + px) * 4;
      const count = SAMPLES * SAMPLES;
      pixels[offset] = a ? Math.round(r / a) : 0;
      pixels[offset + 1] = a ? Math.round(g / a) : 0;
      pixels[offset + 2] = a ? Math.round(b / a) : 0;
      pixels[offset + 3] = Math.round((a / count) * 255);
    }
  }
  return encodePng(size, size, pixels);
}

// ---- PNG, ICO, ICNS writers ----
const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buffer) {
  let c = 0xffffffff;
  for (const byte of buffer) c = CRC_TABLE[(c ^ byte) & 255] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}
function encodePng(width, height, rgba) {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 6, 0, 0, 0], 8); // 8-bit RGBA
  const raw = Buffer.alloc((width * 4 + 1) * height);
  for (let y = 0; y < height; y += 1) {
    raw[y * (width * 4 + 1)] = 0; // filter: none
    raw.set(rgba.subarray(y * width * 4, (y + 1) * width * 4), y * (width * 4 + 1) + 1);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
/** Windows .ico holding PNG images (Vista and later read these). */
function encodeIco(images) {
  const header = Buffer.alloc(6 + images.length * 16);
  header.writeUInt16LE(0, 0);
  header.writeUInt16LE(1, 2);
  header.writeUInt16LE(images.length, 4);
  let offset = header.length;
  images.forEach(({ size, png }, index) => {
    const entry = 6 + index * 16;
    header[entry] = size >= 256 ? 0 : size;
    header[entry + 1] = size >= 256 ? 0 : size;
    header.writeUInt16LE(1, entry + 4); // colour planes
    header.writeUInt16LE(32, entry + 6); // bits per pixel
    header.writeUInt32LE(png.length, entry + 8);
    header.writeUInt32LE(offset, entry + 12);
    offset += png.length;
  });
  return Buffer.concat([header, ...images.map((image) => image.png)]);
}
/** macOS .icns with PNG payloads (OS X 10.7+). */
function encodeIcns(entries) {
  const parts = entries.map(({ type, png }) => {
    const head = Buffer.alloc(8);
    head.write(type, 0, 'ascii');
    head.writeUInt32BE(png.length + 8, 4);
    return Buffer.concat([head, png]);
  });
  const head = Buffer.alloc(8);
  head.write('icns', 0, 'ascii');
  head.writeUInt32BE(8 + parts.reduce((sum, part) => sum + part.length, 0), 4);
  return Buffer.concat([head, ...parts]);
}

// ---- the drawings ----
const envelope = (x0, y0, x1, y1, radius, flapWidth, paper, line) => {
  const body = roundRect(x0, y0, x1, y1, radius);
  const flap = polyline([[x0, y0], [(x0 + x1) / 2, y0 + (y1 - y0) * 0.5], [x1, y0]], flapWidth);
  return [
    { shape: body, color: paper },
    { shape: intersect(body, flap), color: line }, // the fold stays inside the paper
  ];
};
const arrow = (cx, cy, half, width) => polyline([[cx - half, cy], [cx + half, cy]], width);
const arrowHead = (cx, cy, half, width) => polyline([[cx + half * 0.25, cy - half * 0.7], [cx + half, cy], [cx + half * 0.25, cy + half * 0.7]], width);

function appIcon(size) {
  return render(size, [
    { shape: roundRect(0.04, 0.04, 0.96, 0.96, 0.22), color: gradient(BLUE_TOP, BLUE_BOTTOM) },
    ...envelope(0.17, 0.27, 0.79, 0.69, 0.05, 0.055, WHITE, BLUE),
    { shape: circle(0.74, 0.71, 0.2), color: (x, y) => gradient(BLUE_TOP, BLUE_BOTTOM)(x, y) },
    { shape: circle(0.74, 0.71, 0.16), color: GREEN },
    { shape: union(arrow(0.74, 0.71, 0.085, 0.04), arrowHead(0.74, 0.71, 0.085, 0.04)), color: WHITE },
  ]);
}

const badgeColor = { running: GREEN, stopped: GREY, error: RED };

function trayIcon(size, look) {
  const layers = [
    { shape: roundRect(0.02, 0.02, 0.98, 0.98, 0.2), color: BLUE },
    ...envelope(0.13, 0.22, 0.87, 0.72, 0.06, 0.08, WHITE, BLUE),
    { shape: circle(0.76, 0.76, 0.24), color: BLUE },
    { shape: circle(0.76, 0.76, 0.19), color: badgeColor[look] },
  ];
  if (look === 'error') {
    layers.push({ shape: union(segment(0.76, 0.66, 0.76, 0.78, 0.065), circle(0.76, 0.86, 0.037)), color: WHITE });
  }
  if (look === 'stopped') layers.push({ shape: segment(0.68, 0.76, 0.84, 0.76, 0.07), color: WHITE });
  return render(size, layers);
}

/** Black on transparent; macOS tints it for light and dark menu bars. Looks differ by badge shape, not colour. */
function templateIcon(size, look) {
  const layers = [
    { shape: roundRect(0.06, 0.18, 0.94, 0.78, 0.08), color: BLACK },
    { shape: polyline([[0.06, 0.18], [0.5, 0.5], [0.94, 0.18]], 0.09), erase: true },
    { shape: circle(0.78, 0.76, 0.25), erase: true },
  ];
  if (look === 'running') layers.push({ shape: circle(0.78, 0.76, 0.19), color: BLACK });
  if (look === 'stopped') layers.push({ shape: ring(0.78, 0.76, 0.19, 0.075), color: BLACK });
  if (look === 'error') {
    layers.push(
      { shape: circle(0.78, 0.76, 0.2), color: BLACK },
      { shape: union(segment(0.78, 0.65, 0.78, 0.78, 0.07), circle(0.78, 0.87, 0.04)), erase: true },
    );
  }
  return render(size, layers);
}

function write(relative, data) {
  const file = join(root, relative);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, data);
  console.log(`${relative} (${data.length} bytes)`);
}

const TRAY_ICO_SIZES = [16, 20, 24, 32, 48];
const appSizes = [16, 24, 32, 48, 64, 128, 256, 512, 1024];
const appPngs = Object.fromEntries(appSizes.map((size) => [size, appIcon(size)]));
write('build/icon.png', appPngs[512]);
write('assets/icon.png', appPngs[512]);
for (const size of [16, 24, 32, 48, 64, 128, 256, 512]) write(`build/icons/${size}x${size}.png`, appPngs[size]);
write('build/icon.ico', encodeIco([16, 24, 32, 48, 64, 128, 256].map((size) => ({ size, png: appPngs[size] }))));
write('build/icon.icns', encodeIcns([
  { type: 'icp4', png: appPngs[16] },
  { type: 'icp5', png: appPngs[32] },
  { type: 'icp6', png: appPngs[64] },
  { type: 'ic07', png: appPngs[128] },
  { type: 'ic08', png: appPngs[256] },
  { type: 'ic09', png: appPngs[512] },
  { type: 'ic10', png: appPngs[1024] },
]));
for (const look of ['running', 'stopped', 'error']) {
  write(`assets/tray-${look}.png`, trayIcon(22, look));
  write(`assets/tray-${look}@2x.png`, trayIcon(44, look));
  // Windows picks the size for the taskbar's DPI (100% to 200%, and 300% for small icons) from one .ico.
  write(`assets/tray-${look}.ico`, encodeIco(TRAY_ICO_SIZES.map((size) => ({ size, png: trayIcon(size, look) }))));
  write(`assets/tray-${look}Template.png`, templateIcon(18, look));
  write(`assets/tray-${look}Template@2x.png`, templateIcon(36, look));
}
