// The webcam, live: one frame in flight at a time over a WebSocket, so a camera faster than
// the model never builds a queue (frames taken meanwhile are simply not sent).

import { liveProtocols, liveUrl } from "./api.js";

const MAX_SIDE = 640;

export class LiveCamera {
  // onResult(frameBitmap, message) for each answer; onFps(framesPerSecond).
  constructor(video, { onResult, onFps, onError }) {
    this.video = video;
    this.onResult = onResult;
    this.onFps = onFps;
    this.onError = onError;
    this.answered = [];
    this.running = false;
  }

  async start(kind, options) {
    this.stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640 } });
    this.video.srcObject = this.stream;
    await this.video.play();
    this.socket = new WebSocket(liveUrl(kind, options), liveProtocols());
    this.socket.binaryType = "arraybuffer";
    this.socket.onmessage = (event) => this.answer(JSON.parse(event.data));
    this.socket.onerror = () => this.onError("the live connection to the server failed");
    this.socket.onclose = () => { if (this.running) this.onError("the server closed the live connection"); };
    this.running = true;
    await new Promise((resolve) => this.socket.addEventListener("open", resolve, { once: true }));
    this.sendFrame();
  }

  async sendFrame() {
    if (!this.running || this.socket.readyState !== WebSocket.OPEN) return;
    if (!this.video.videoWidth) {  // no picture yet
      requestAnimationFrame(() => this.sendFrame());
      return;
    }
    const scale = Math.min(1, MAX_SIDE / Math.max(this.video.videoWidth, this.video.videoHeight));
    const canvas = document.createElement("canvas");
    canvas.width = Math.round(this.video.videoWidth * scale);
    canvas.height = Math.round(this.video.videoHeight * scale);
    canvas.getContext("2d").drawImage(this.video, 0, 0, canvas.width, canvas.height);
    this.frame = await createImageBitmap(canvas);
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.85));
    const bytes = await blob.arrayBuffer();
    if (this.running && this.socket.readyState === WebSocket.OPEN) this.socket.send(bytes);
  }

  answer(message) {
    if (!this.running) return;
    const now = performance.now();
    this.answered = this.answered.filter((time) => now - time < 2000).concat(now);
    const span = (now - this.answered[0]) / 1000;
    if (span > 0) this.onFps((this.answered.length - 1) / span);
    this.onResult(this.frame, message);
    requestAnimationFrame(() => this.sendFrame());
  }

  stop() {
    this.running = false;
    this.socket?.close();
    this.stream?.getTracks().forEach((track) => track.stop());
    this.video.srcObject = null;
  }
}
