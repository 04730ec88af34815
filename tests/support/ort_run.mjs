// Runs an ONNX model with onnxruntime-node's CPU provider, one thread:
//   node ort_run.mjs MODEL.onnx X.f32 ROWS Y.f32
// X.f32 holds ROWS rows of float32 (little-endian) in the model input's shape; the
// first output is written to Y.f32 the same way.
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';

const require = createRequire(process.env.AIOS_ORT_DIR + '/');
const ort = require('onnxruntime-node');
const [model, xfile, rowsArg, yfile] = process.argv.slice(2);
const rows = Number(rowsArg);
const s = await ort.InferenceSession.create(model, { intraOpNumThreads: 1, interOpNumThreads: 1 });
const buf = readFileSync(xfile);
const x = new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4);
const dims = JSON.parse(process.env.AIOS_ORT_SHAPE); // the input's shape without the batch
const t = new ort.Tensor('float32', x, [rows, ...dims]);
const out = await s.run({ [s.inputNames[0]]: t });
const y = out[s.outputNames[0]].data;
writeFileSync(yfile, Buffer.from(y.buffer, y.byteOffset, y.byteLength));
