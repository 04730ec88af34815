// ort_bench.mjs - onnxruntime-node's side of bench/onnx/run.sh: InferenceSession.run on an
// ONNX model, per batch, on one thread, timed the way forward.c times aios-serve's forward
// pass (warm-up, then --repeats runs of N back-to-back calls sized to --repeat-ms each,
// the median of the runs' wall time per call).
//
//   AIOS_ORT_DIR=DIR node ort_bench.mjs --model M.onnx --input X.f32 --dims 32
//       [--batches 1,32,256] [--repeats 15] [--repeat-ms 100] [--warmup-ms 200]
//       [--out-dir DIR]
//
// AIOS_ORT_DIR is where tests/support/ort.py installed onnxruntime-node (npm, pinned).
// The session: CPU execution provider, intraOpNumThreads 1, interOpNumThreads 1,
// executionMode sequential, graphOptimizationLevel all (onnxruntime's default, said
// here so that the figure does not move with it). --dims is the input's shape without
// the batch; batch B takes the first B rows of X (float32, little-endian). The input
// tensor is made once per batch; what is timed is `await session.run(feeds)`: the
// binding's per-call work (feeds checked, output tensor allocated, the promise) as a
// node user pays it, beside onnxruntime's kernels.
//
// Output on stdout: a line "model=PATH ort=VERSION", then per batch the line forward.c
// prints: "batch=B iters=N repeats=R median_us=X min_us=X max_us=X". With --out-dir,
// the first output of each batch's last call goes to DIR/ort.bB.f32.
// Exit: 0 ok, 1 bad flags or input file, 2 onnxruntime-node missing, the model refused
// or a run failed (the message says which).
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const USAGE = `usage: AIOS_ORT_DIR=DIR node ort_bench.mjs --model M.onnx --input X.f32 --dims D[,D...]
         [--batches 1,32,256] [--repeats 15] [--repeat-ms 100] [--warmup-ms 200] [--out-dir DIR]
Times onnxruntime-node's InferenceSession.run (CPU provider, one thread) per batch of the
first B rows of X, as aios-bench-onnx times aios-serve's forward pass.
Output: a model line, then per batch "batch=B iters=N repeats=R median_us=X min_us=X
max_us=X" (wall time per call). Exit: 0 ok, 1 bad flags or input, 2 onnxruntime failed.`;

function fail(code, msg) {
  process.stderr.write(`ort_bench.mjs: ${msg}\n`);
  process.exit(code);
}

// The number in v, or exit 1 naming the flag when it is not an integer in [lo, hi]
// (any number when int is false).
function num(flag, v, lo, hi, int = true) {
  const d = Number(v);
  if (v === '' || !Number.isFinite(d) || (int && !Number.isInteger(d)) || d < lo || d > hi)
    fail(1, `${flag} "${v}": want ${int ? 'an integer' : 'a number'} in [${lo}, ${hi}]`);
  return d;
}

let args;
try {
  args = parseArgs({
    options: {
      model: { type: 'string' }, input: { type: 'string' }, dims: { type: 'string' },
      batches: { type: 'string', default: '1,32,256' }, repeats: { type: 'string', default: '15' },
      'repeat-ms': { type: 'string', default: '100' }, 'warmup-ms': { type: 'string', default: '200' },
      'out-dir': { type: 'string' }, help: { type: 'boolean' },
    },
  }).values;
} catch (e) {
  fail(1, `${e.message} (see --help)`);
}
if (args.help) {
  console.log(USAGE);
  process.exit(0);
}
if (!args.model || !args.input || !args.dims) fail(1, '--model, --input and --dims are required (see --help)');
const dims = args.dims.split(',').map((d) => num('--dims', d, 1, 1 << 20));
const batches = args.batches.split(',').map((b) => num('--batches', b, 1, 65536));
const repeats = num('--repeats', args.repeats, 1, 1001);
const repeatMs = num('--repeat-ms', args['repeat-ms'], 0.001, 60000, false);
const warmupMs = num('--warmup-ms', args['warmup-ms'], 0, 60000, false);
const MAX_ITERS = 10000000; // passes in one timed run, as forward.c

if (!process.env.AIOS_ORT_DIR) fail(2, 'AIOS_ORT_DIR is not set (tests/support/ort.py install() gives it)');
let ort;
try {
  ort = createRequire(process.env.AIOS_ORT_DIR + '/')('onnxruntime-node');
} catch (e) {
  fail(2, `cannot load onnxruntime-node from ${process.env.AIOS_ORT_DIR}: ${e.message}`);
}
let x;
try {
  const buf = readFileSync(args.input);
  x = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length - (buf.length % 4)));
} catch (e) {
  fail(1, `--input ${args.input}: ${e.message}`);
}
const width = dims.reduce((a, b) => a * b, 1);
const maxB = Math.max(...batches);
if (x.length % width || x.length / width < maxB)
  fail(1, `--input ${args.input}: ${x.length * 4} bytes are not ${maxB} or more rows of ${width} float32 for batch ${maxB}`);

let session;
try {
  session = await ort.InferenceSession.create(args.model, {
    executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1,
    executionMode: 'sequential', graphOptimizationLevel: 'all',
  });
} catch (e) {
  fail(2, `onnxruntime cannot load the model ${args.model}: ${e.message}`);
}
const ortVersion = createRequire(process.env.AIOS_ORT_DIR + '/')('onnxruntime-node/package.json').version;
console.log(`model=${args.model} ort=${ortVersion}`);

const now = () => process.hrtime.bigint(); // ns, monotonic
for (const b of batches) {
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', x.subarray(0, b * width), [b, ...dims]) };
  let out;
  try {
    let t0 = now(), t = t0, calls = 0;
    do {
      out = await session.run(feeds);
      calls++;
      t = now();
    } while (calls < 3 || Number(t - t0) < warmupMs * 1e6);
    const oneNs = Number(t - t0) / calls;
    const iters = Math.min(MAX_ITERS, Math.max(1, Math.ceil((repeatMs * 1e6) / Math.max(oneNs, 1))));
    const us = [];
    for (let r = 0; r < repeats; r++) {
      t0 = now();
      for (let i = 0; i < iters; i++) out = await session.run(feeds);
      us.push(Number(now() - t0) / 1e3 / iters);
    }
    us.sort((p, q) => p - q);
    const h = Math.floor(repeats / 2);
    const median = repeats % 2 ? us[h] : (us[h - 1] + us[h]) / 2;
    console.log(`batch=${b} iters=${iters} repeats=${repeats} median_us=${median.toFixed(3)} ` +
      `min_us=${us[0].toFixed(3)} max_us=${us[repeats - 1].toFixed(3)}`);
  } catch (e) {
    fail(2, `onnxruntime run of ${args.model} at batch ${b} failed: ${e.message}`);
  }
  if (args['out-dir']) {
    const y = out[session.outputNames[0]].data;
    const path = `${args['out-dir']}/ort.b${b}.f32`;
    try {
      writeFileSync(path, Buffer.from(y.buffer, y.byteOffset, y.byteLength));
    } catch (e) {
      fail(1, `--out-dir: cannot write ${path}: ${e.message}`);
    }
  }
}
