// Run a TF.js graph or layers model with @tensorflow/tfjs's pure-JavaScript CPU backend.
// usage: node run_model.js MODEL_JSON IO_DIR
// IO_DIR/inputs.json: {"name": {"shape": [...], "dtype": "float32"|"int32"}} with raw
// little-endian data in IO_DIR/<i>.in (i = position in inputs.json); "outputs": [names].
// A layers model takes the inputs in its own order and answers its outputs in order (the names
// in "outputs" only label them). Writes IO_DIR/<i>.out (float32 or int32) and
// IO_DIR/outputs.json with shapes and dtypes.
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');

async function main() {
  const [modelJson, ioDir] = process.argv.slice(2);
  const document = JSON.parse(fs.readFileSync(modelJson, 'utf8'));
  const folder = path.dirname(modelJson);
  const weightSpecs = [];
  const shards = [];
  for (const group of document.weightsManifest) {
    weightSpecs.push(...group.weights);
    for (const shard of group.paths) shards.push(fs.readFileSync(path.join(folder, shard)));
  }
  const weights = Buffer.concat(shards);
  const weightData = weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.length);
  await tf.setBackend('cpu');
  const artifacts = tf.io.fromMemory({
    modelTopology: document.modelTopology, weightSpecs, weightData,
    format: document.format, signature: document.signature,
  });
  const layers = document.format === 'layers-model';
  const model = layers ? await tf.loadLayersModel(artifacts) : await tf.loadGraphModel(artifacts);
  const request = JSON.parse(fs.readFileSync(path.join(ioDir, 'inputs.json'), 'utf8'));
  const feeds = {};
  Object.entries(request.inputs).forEach(([name, spec], i) => {
    const raw = fs.readFileSync(path.join(ioDir, `${i}.in`));
    const array = spec.dtype === 'int32'
      ? new Int32Array(raw.buffer, raw.byteOffset, raw.length / 4)
      : new Float32Array(raw.buffer, raw.byteOffset, raw.length / 4);
    feeds[name] = tf.tensor(Array.from(array), spec.shape, spec.dtype);
  });
  let results = layers ? model.predict(Object.values(feeds)) : model.execute(feeds, request.outputs);
  if (!Array.isArray(results)) results = [results];
  const described = [];
  for (let i = 0; i < results.length; i += 1) {
    const data = await results[i].data();
    fs.writeFileSync(path.join(ioDir, `${i}.out`), Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    described.push({ name: request.outputs[i], shape: results[i].shape, dtype: results[i].dtype });
  }
  fs.writeFileSync(path.join(ioDir, 'outputs.json'), JSON.stringify(described));
}

main().catch((error) => { console.error(error); process.exit(1); });
