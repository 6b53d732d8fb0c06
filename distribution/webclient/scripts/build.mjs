// Builds the web client into target/classes (packaged into the jar the distribution unpacks into web/):
// 1. static Protobuf code (ES module over protobufjs/minimal: no eval at run time, so the page's Content-Security-Policy
//    needs no 'unsafe-eval') for protocol v1 and the message types, from the .proto files in the repository;
// 2. one ES module bundle with protobufjs, minified, with a source map; 3. the static files.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const here = dirname(dirname(fileURLToPath(import.meta.url)));
const repo = join(here, '..', '..');
const out = join(here, 'target', 'classes');
const gen = join(here, 'target', 'gen');
mkdirSync(out, { recursive: true });
mkdirSync(gen, { recursive: true });

const protos = [
  'framework-core/src/main/proto/parley/v1/protocol.proto',
  'plugins-messagetype/text/src/main/proto/parley/text/v1/text.proto',
  'plugins-messagetype/emoji/src/main/proto/parley/emoji/v1/emoji.proto',
  'plugins-messagetype/recall/src/main/proto/parley/recall/v1/recall.proto',
  'plugins-messagetype/file/src/main/proto/parley/file/v1/file.proto',
  'plugins-messagetype/sticker/src/main/proto/parley/sticker/v1/sticker.proto',
  'plugins-messagetype/voice/src/main/proto/parley/voice/v1/voice.proto',
  'plugins-messagetype/video/src/main/proto/parley/video/v1/video.proto',
  'bundles/calls/src/main/proto/parley/call/v1/call.proto',
].map((p) => join(repo, p));
execFileSync(process.execPath, [join(here, 'node_modules', 'protobufjs-cli', 'bin', 'pbjs'), '-t', 'static-module',
  '-w', 'es6', '--no-beautify', '--no-comments', '--no-delimited', '--no-service', '-o', join(gen, 'protocol.js'),
  ...protos], { stdio: 'inherit' });

await esbuild.build({
  entryPoints: [join(here, 'src', 'app.js')],
  bundle: true,
  format: 'esm',
  target: ['es2022'],
  minify: true,
  sourcemap: true,
  legalComments: 'linked',
  outfile: join(out, 'app.js'),
  logLevel: 'warning',
});
cpSync(join(here, 'src', 'static'), out, { recursive: true });
console.log(`web client built into ${out}`);
