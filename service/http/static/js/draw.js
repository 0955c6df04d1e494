// Drawing results on the input: boxes and labels, mask overlays, skeletons, text polygons.

const PALETTE = [
  [0, 0, 0], [230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48],
  [145, 30, 180], [70, 240, 240], [240, 50, 230], [210, 245, 60], [250, 190, 212],
  [0, 128, 128], [220, 190, 255], [170, 110, 40], [255, 250, 200], [128, 0, 0],
];

export function colour(index, alpha = 1) {
  const [r, g, b] = PALETTE[index % PALETTE.length];
  return `rgba(${r}, ${g}, ${b}, ${alpha})`;
}

// Size the canvas for an image: tiny images scaled up (crisply), huge ones down.
// Returns the scale from image pixels to canvas pixels.
export function drawImage(canvas, image) {
  const longest = Math.max(image.width, image.height);
  const scale = longest < 320 ? Math.min(16, 320 / longest) : Math.min(1, 1280 / longest);
  canvas.width = Math.round(image.width * scale);
  canvas.height = Math.round(image.height * scale);
  const context = canvas.getContext("2d");
  context.imageSmoothingEnabled = scale < 1;
  context.drawImage(image, 0, 0, canvas.width, canvas.height);
  return scale;
}

function label(context, text, x, y, fill) {
  context.font = `${Math.max(12, Math.round(context.canvas.width / 50))}px system-ui, sans-serif`;
  const width = context.measureText(text).width + 8;
  const height = parseInt(context.font, 10) + 6;
  const top = y - height < 0 ? y : y - height;
  context.fillStyle = fill;
  context.fillRect(x, top, width, height);
  context.fillStyle = "#fff";
  context.textBaseline = "top";
  context.fillText(text, x + 4, top + 3);
}

function lineWidth(canvas) {
  return Math.max(2, Math.round(canvas.width / 250));
}

export function drawBoxes(canvas, scale, detections) {
  const context = canvas.getContext("2d");
  context.lineWidth = lineWidth(canvas);
  for (const detection of detections) {
    const { x1, y1, x2, y2 } = detection.box;
    const stroke = colour(detection.index + 1);
    context.strokeStyle = stroke;
    context.strokeRect(x1 * scale, y1 * scale, (x2 - x1) * scale, (y2 - y1) * scale);
    label(context, `${detection.label} ${(detection.score * 100).toFixed(0)}%`,
      x1 * scale, y1 * scale, stroke);
  }
}

// The class map (an 8-bit PNG of class indices, base64) as a translucent overlay.
export async function drawMask(canvas, classMapPng) {
  const bytes = Uint8Array.from(atob(classMapPng), (c) => c.charCodeAt(0));
  const bitmap = await createImageBitmap(new Blob([bytes], { type: "image/png" }));
  const scratch = document.createElement("canvas");
  scratch.width = bitmap.width;
  scratch.height = bitmap.height;
  const scratchContext = scratch.getContext("2d");
  scratchContext.drawImage(bitmap, 0, 0);
  const pixels = scratchContext.getImageData(0, 0, bitmap.width, bitmap.height);
  const data = pixels.data;
  for (let i = 0; i < data.length; i += 4) {
    const index = data[i];
    const [r, g, b] = PALETTE[index % PALETTE.length];
    data[i] = r; data[i + 1] = g; data[i + 2] = b;
    data[i + 3] = index === 0 ? 0 : 130;
  }
  scratchContext.putImageData(pixels, 0, 0);
  const context = canvas.getContext("2d");
  context.imageSmoothingEnabled = false;
  context.drawImage(scratch, 0, 0, canvas.width, canvas.height);
}

// Pose: each person's keypoints ({position: {x, y}, score}) and the skeleton's edges
// (index pairs); keypoints under 0.3 are left out.
export function drawPoses(canvas, scale, people, edges) {
  const context = canvas.getContext("2d");
  context.lineWidth = lineWidth(canvas);
  people.forEach((pose, person) => {
    const points = (pose.keypoints || []).map((k) => ({ ...(k.position || k), score: k.score }));
    context.strokeStyle = colour(person + 1);
    for (const [a, b] of edges) {
      const p = points[a], q = points[b];
      if (!p || !q || (p.score ?? 1) < 0.3 || (q.score ?? 1) < 0.3) continue;
      context.beginPath();
      context.moveTo(p.x * scale, p.y * scale);
      context.lineTo(q.x * scale, q.y * scale);
      context.stroke();
    }
    context.fillStyle = colour(person + 4);
    for (const point of points) {
      if ((point.score ?? 1) < 0.3) continue;
      context.beginPath();
      context.arc(point.x * scale, point.y * scale, lineWidth(canvas) * 1.5, 0, 2 * Math.PI);
      context.fill();
    }
  });
}

// Text found in the image: each line's polygon ([{x, y}, ...]), numbered as the list of what
// the lines say (the words themselves would hide the lines packed below them).
export function drawTextPolygons(canvas, scale, lines) {
  const context = canvas.getContext("2d");
  context.lineWidth = lineWidth(canvas);
  lines.forEach((line, index) => {
    const points = line.polygon || line.points || [];
    if (!points.length) return;
    const stroke = colour(index + 1);
    context.strokeStyle = stroke;
    context.beginPath();
    points.forEach((p, i) => (i ? context.lineTo(p.x * scale, p.y * scale)
      : context.moveTo(p.x * scale, p.y * scale)));
    context.closePath();
    context.stroke();
    const tag = String(index + 1);
    context.font = `${Math.max(12, Math.round(canvas.width / 50))}px system-ui, sans-serif`;
    const width = context.measureText(tag).width + 8;
    const left = points[0].x * scale - width - context.lineWidth;
    label(context, tag, Math.max(0, left), points[0].y * scale + parseInt(context.font, 10) + 6,
      stroke);
  });
}
