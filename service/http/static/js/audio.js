// Audio on the page: decoding for the waveform, drawing it, recording, encoding WAV.

// Mono samples of an audio file, or null when the browser cannot decode it (the server
// still gets the file and says what is wrong with it).
export async function decodeAudio(blob) {
  try {
    const context = new OfflineAudioContext(1, 1, 16000);
    const buffer = await context.decodeAudioData(await blob.arrayBuffer());
    return { samples: buffer.getChannelData(0), sampleRate: buffer.sampleRate,
      duration: buffer.duration };
  } catch {
    return null;
  }
}

// The waveform (min/max per column) with the transcript's segments shaded under it.
export function drawWaveform(canvas, audio, segments = []) {
  canvas.width = 960;
  canvas.height = 200;
  const context = canvas.getContext("2d");
  context.fillStyle = "#1d2330";
  context.fillRect(0, 0, canvas.width, canvas.height);
  const duration = audio.duration || audio.samples.length / audio.sampleRate;
  segments.forEach((segment, index) => {
    const x = (segment.startS / duration) * canvas.width;
    const width = ((segment.endS - segment.startS) / duration) * canvas.width;
    context.fillStyle = index % 2 ? "rgba(31, 95, 209, .35)" : "rgba(60, 180, 75, .35)";
    context.fillRect(x, 0, Math.max(1, width), canvas.height);
  });
  const samples = audio.samples;
  const perColumn = Math.max(1, Math.floor(samples.length / canvas.width));
  const middle = canvas.height / 2;
  context.strokeStyle = "#9fc0ff";
  context.beginPath();
  for (let x = 0; x < canvas.width; x++) {
    let low = 0, high = 0;
    const start = x * perColumn;
    for (let i = start; i < start + perColumn && i < samples.length; i++) {
      low = Math.min(low, samples[i]);
      high = Math.max(high, samples[i]);
    }
    context.moveTo(x + 0.5, middle - high * middle);
    context.lineTo(x + 0.5, middle - low * middle + 1);
  }
  context.stroke();
}

// 16-bit PCM mono WAV of float samples in [-1, 1].
export function encodeWav(samples, sampleRate) {
  const buffer = new ArrayBuffer(44 + samples.length * 2);
  const view = new DataView(buffer);
  const text = (offset, value) => [...value].forEach((c, i) =>
    view.setUint8(offset + i, c.charCodeAt(0)));
  text(0, "RIFF"); view.setUint32(4, 36 + samples.length * 2, true); text(8, "WAVE");
  text(12, "fmt "); view.setUint32(16, 16, true); view.setUint16(20, 1, true);
  view.setUint16(22, 1, true); view.setUint32(24, sampleRate, true);
  view.setUint32(28, sampleRate * 2, true); view.setUint16(32, 2, true);
  view.setUint16(34, 16, true); text(36, "data"); view.setUint32(40, samples.length * 2, true);
  samples.forEach((sample, i) => {
    const clipped = Math.max(-1, Math.min(1, sample));
    view.setInt16(44 + i * 2, clipped < 0 ? clipped * 0x8000 : clipped * 0x7fff, true);
  });
  return new Blob([buffer], { type: "audio/wav" });
}

// Records the microphone through an AudioWorklet; onChunk sees the samples as they come.
export class Recorder {
  constructor(onChunk) {
    this.onChunk = onChunk;
    this.chunks = [];
  }

  async start() {
    this.stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    this.context = new AudioContext();
    await this.context.audioWorklet.addModule("/static/js/recorder-worklet.js");
    const source = this.context.createMediaStreamSource(this.stream);
    this.node = new AudioWorkletNode(this.context, "recorder");
    this.node.port.onmessage = (event) => {
      this.chunks.push(event.data);
      this.onChunk(this.samples(), this.context.sampleRate);
    };
    source.connect(this.node);
  }

  samples() {
    const length = this.chunks.reduce((sum, chunk) => sum + chunk.length, 0);
    const all = new Float32Array(length);
    let offset = 0;
    for (const chunk of this.chunks) {
      all.set(chunk, offset);
      offset += chunk.length;
    }
    return all;
  }

  // Stops, and returns {samples, sampleRate}.
  async stop() {
    const sampleRate = this.context.sampleRate;
    this.stream.getTracks().forEach((track) => track.stop());
    this.node.disconnect();
    await this.context.close();
    return { samples: this.samples(), sampleRate };
  }
}
