// Showing a task's result: chosen by the fields the response has (the gRPC response
// messages in protobuf's JSON mapping), so a new task with familiar fields renders too.

import { drawWaveform } from "./audio.js";
import { colour, drawBoxes, drawMask, drawPoses, drawTextPolygons } from "./draw.js";

// COCO's 17 keypoints: the skeleton's edges, for pose results that do not send their own.
const COCO_EDGES = [[0, 1], [0, 2], [1, 3], [2, 4], [5, 6], [5, 7], [7, 9], [6, 8], [8, 10],
  [5, 11], [6, 12], [11, 12], [11, 13], [13, 15], [12, 14], [14, 16]];

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// A labelled bar per score (classes, answers): a list a screen reader reads as text.
function bars(items, labelOf, title) {
  const list = element("ul", "bars");
  list.setAttribute("aria-label", title);
  for (const item of items) {
    const row = element("li");
    const bar = element("span", "bar");
    const fill = element("span");
    fill.style.width = `${Math.max(0.5, item.score * 100)}%`;
    bar.append(fill);
    row.append(element("span", "name", labelOf(item)), bar,
      element("span", "value", `${(item.score * 100).toFixed(1)}%`));
    list.append(row);
  }
  return list;
}

function legend(view, shares) {
  view.legend.replaceChildren(...shares.map((share) => {
    const entry = element("span", "entry");
    const swatch = element("span", "swatch");
    swatch.style.background = colour(share.index);
    entry.append(swatch, `${share.label} ${(share.pixelFraction * 100).toFixed(1)}%`);
    return entry;
  }));
}

function detectionList(view, detections) {
  if (!detections.length) {
    view.output.append(element("p", "", "nothing found above the threshold"));
    return;
  }
  const list = element("ol", "detections");
  list.setAttribute("aria-label", "detections");
  for (const d of detections) {
    const { x1, y1, x2, y2 } = d.box;
    list.append(element("li", "", `${d.label} ${(d.score * 100).toFixed(1)}% at ` +
      `(${x1.toFixed(0)}, ${y1.toFixed(0)})–(${x2.toFixed(0)}, ${y2.toFixed(0)})`));
  }
  view.output.append(list);
}

function peopleList(view, people) {
  if (!people.length) {
    view.output.append(element("p", "", "no one found above the threshold"));
    return;
  }
  const list = element("ol", "people");
  list.setAttribute("aria-label", "people");
  for (const person of people) {
    const seen = person.keypoints.filter((k) => k.score >= 0.3).length;
    list.append(element("li", "", `person ${(person.score * 100).toFixed(1)}%: ` +
      `${seen} of ${person.keypoints.length} keypoints`));
  }
  view.output.append(list);
}

function seconds(value) {
  return `${value.toFixed(2)} s`;
}

function transcript(view, result) {
  view.output.append(element("p", "transcript-text", result.text || "(no speech heard)"));
  if (view.audio) drawWaveform(view.canvas, view.audio, result.segments);
  if (!result.segments.length) return;
  const list = element("ol", "segments");
  list.setAttribute("aria-label", "timed segments");
  for (const segment of result.segments) {
    const row = element("li");
    const time = element("time", "", `${seconds(segment.startS)} – ${seconds(segment.endS)}`);
    row.append(time, segment.text);
    list.append(row);
  }
  view.output.append(list);
}

// A task that answers a picture (stylize, upscale): shown at its own size, with a link to save it
function imageResult(view, result) {
  const source = `data:image/png;base64,${result.imagePng}`;
  const picture = element("img", "image-result");
  picture.src = source;
  picture.alt = `the answer, ${result.width}x${result.height}`;
  const link = element("a", "", `save the ${result.width}x${result.height} PNG`);
  link.href = source;
  link.download = `${result.style || `x${result.scale}`}.png`;
  view.output.append(picture, link);
}

// A game the agent played (play): the animation, the score, and a link to save it
function gameResult(view, result) {
  const source = `data:image/gif;base64,${result.animationGif}`;
  const animation = element("img", "image-result game");
  animation.src = source;
  animation.alt = `the game, ${result.frames} frames`;
  const ending = result.gameOver ? "the ball was lost" : "stopped at the frame limit";
  const summary = element("p", "game-summary", `score ${result.score ?? 0} in ` +
    `${result.frames ?? 0} frames (${ending}); seed ${result.seed} replays it`);
  const link = element("a", "", "save the GIF");
  link.href = source;
  link.download = `game-${result.seed}.gif`;
  view.output.append(summary);
  if (result.animationGif) view.output.append(animation, link);
}

// A text the handwriting model wrote (write): the SVG drawing, and links to save it
function handwritingResult(view, result) {
  const ending = result.finished ? "" : " (stopped at the step limit before the end)";
  view.output.append(element("p", "handwriting-summary", `“${result.text}” in ` +
    `${result.style}, bias ${result.bias ?? 0}: ${result.steps ?? 0} pen points${ending}; ` +
    `seed ${result.seed} repeats it`));
  if (!result.svg) return;
  const source = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(result.svg)}`;
  const drawing = element("img", "image-result handwriting");
  drawing.src = source;
  drawing.alt = `“${result.text}” written by the model`;
  const svgLink = element("a", "", "save the SVG");
  svgLink.href = source;
  svgLink.download = `writing-${result.seed}.svg`;
  const pngLink = element("a", "", "save the PNG");
  pngLink.href = `data:image/png;base64,${result.png}`;
  pngLink.download = `writing-${result.seed}.png`;
  view.output.append(drawing, svgLink, " ", pngLink);
}

export async function renderResult(result, view) {
  view.legend.replaceChildren();
  view.output.replaceChildren();
  const scale = view.scale ?? 1;
  if (result.classMapPng && view.image) {
    await drawMask(view.canvas, result.classMapPng);
    legend(view, result.shares.filter((share) => share.index !== 0));
  }
  if (result.detections && view.image) drawBoxes(view.canvas, scale, result.detections);
  if (result.people && view.image) {
    const edges = result.skeleton?.length
      ? result.skeleton.map((edge) => [edge.start, edge.end]) : COCO_EDGES;
    drawPoses(view.canvas, scale, result.people, edges);
  }
  const lines = result.lines || result.texts;
  if (lines && view.image) drawTextPolygons(view.canvas, scale, lines);

  if (result.detections) detectionList(view, result.detections);
  if (result.shares) {
    view.output.append(bars(result.shares.map((s) => ({ ...s, score: s.pixelFraction })),
      (s) => s.label, "share of the image per class"));
  }
  if (result.people) peopleList(view, result.people);
  if (result.classes) view.output.append(bars(result.classes, (c) => c.label, "classes"));
  if (result.caption !== undefined) view.output.append(element("p", "caption", result.caption));
  if (result.answers) view.output.append(bars(result.answers, (a) => a.text, "answers"));
  if (result.segments) transcript(view, result);
  if (lines) {
    const list = element("ol", "text-lines");
    for (const line of lines) list.append(element("li", "", line.text));
    view.output.append(list);
  }
  if (result.imagePng) imageResult(view, result);
  if (result.words) view.output.append(bars(result.words, (w) => w.word, "nearest words"));
  if (result.game) gameResult(view, result);
  if (result.strokes) handwritingResult(view, result);
  const known = ["classMapPng", "detections", "people", "lines", "texts", "classes", "caption",
    "answers", "segments", "imagePng", "words", "game", "strokes"];
  if (!known.some((field) => field in result)) {
    view.output.append(element("pre", "json", JSON.stringify(result, null, 2)));
  }
}
