// build.mjs — bundle the dashboard into dist/: esbuild turns src/main.js (and the CSS it
// imports) into assets/app.<hash>.js and .css; the page is written twice, index.html (served
// for / and /ui) and ui.html (for /ui/<page>), differing only in <base href>, so that every
// URL the app uses is relative and works under any SIEM_ROOT_PATH; a .gz sits beside each
// file that compresses.
import * as esbuild from 'esbuild';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

const dist = 'dist';
fs.rmSync(dist, { recursive: true, force: true });
fs.mkdirSync(path.join(dist, 'assets'), { recursive: true });

const result = await esbuild.build({
  entryPoints: { app: 'src/main.js' },
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2020'],
  outdir: path.join(dist, 'assets'),
  entryNames: '[name].[hash]',
  assetNames: '[name].[hash]',
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
});

const outputs = Object.keys(result.metafile.outputs).map((p) => path.relative(dist, p));
const js = outputs.find((p) => p.endsWith('.js'));
const css = outputs.find((p) => p.endsWith('.css'));

function hashed(src, dir) {
  const data = fs.readFileSync(src);
  const h = createHash('sha256').update(data).digest('hex').slice(0, 8);
  const ext = path.extname(src);
  const name = `${dir}/${path.basename(src, ext)}.${h}${ext}`;
  fs.writeFileSync(path.join(dist, name), data);
  return name;
}
const icon = hashed('src/favicon.svg', 'assets');

const page = fs.readFileSync('src/index.html', 'utf8')
  .replaceAll('%JS%', js).replaceAll('%CSS%', css).replaceAll('%ICON%', icon);
fs.writeFileSync(path.join(dist, 'index.html'), page.replaceAll('%BASE%', './'));
fs.writeFileSync(path.join(dist, 'ui.html'), page.replaceAll('%BASE%', '../'));

for (const f of ['index.html', 'ui.html', js, css, icon]) {
  const data = fs.readFileSync(path.join(dist, f));
  const gz = zlib.gzipSync(data, { level: 9 });
  if (gz.length < data.length) fs.writeFileSync(path.join(dist, f + '.gz'), gz);
}
let total = 0;
for (const f of fs.readdirSync(path.join(dist, 'assets'))) total += fs.statSync(path.join(dist, 'assets', f)).size;
console.log(`web: ${js}, ${css} (${Math.round(total / 1024)} KiB in assets/ with .gz)`);
