// Voice and video messages without the DOM (docs/protocol.md §6h): the waveform summary a voice message carries, how
// durations are shown, what recorder format to ask for. Pure; tested under node. The recording itself (MediaRecorder,
// WebAudio, the poster frame) is in recorder.js.

/** At most this many waveform samples in a voice message (the server refuses more). */
export const WAVEFORM_MAX = 100;

/** Recording stops on its own after this long (the server's default max.duration.seconds for voice and video). */
export const MAX_RECORDING_MS = 300_000;

/** What the recorders ask for, best first; the first the browser supports is used (Chromium: the first of each). */
export const VOICE_RECORDER_TYPES = ['audio/webm;codecs=opus', 'audio/ogg;codecs=opus', 'audio/webm', 'audio/mp4'];
export const VIDEO_RECORDER_TYPES = ['video/webm;codecs=vp8,opus', 'video/webm;codecs=vp9,opus', 'video/webm',
  'video/mp4'];

/** The content types the server takes (§6h); a recorder producing anything else cannot be sent. */
export const VOICE_CONTENT_TYPES = new Set(['audio/webm', 'audio/ogg', 'audio/mp4']);
export const VIDEO_CONTENT_TYPES = new Set(['video/webm', 'video/mp4']);

/**
 * @param candidates      types in order of preference
 * @param isTypeSupported MediaRecorder.isTypeSupported (or a stand-in)
 * @returns the first supported type, or '' (then the recorder picks its own and its blob's type decides)
 */
export function pickRecorderType(candidates, isTypeSupported) {
  for (const t of candidates) {
    try {
      if (isTypeSupported(t)) return t;
    } catch (e) { /* a browser that throws for a type does not support it */ }
  }
  return '';
}

/** @returns the media type without parameters, lower case: "audio/webm;codecs=opus" → "audio/webm" */
export function baseType(type) {
  return String(type || '').split(';')[0].trim().toLowerCase();
}

/** @returns the file name an upload of this type is given: voice.webm, video.mp4, … */
export function fileNameFor(kind, contentType) {
  const sub = baseType(contentType).split('/')[1] || 'bin';
  return `${kind}.${sub === 'jpeg' ? 'jpg' : sub}`;
}

/**
 * The waveform summary of a recording: its samples cut into at most `bins` slices of equal length, each slice's peak
 * (the largest absolute sample of any channel) scaled to 0..255 (1.0 full scale → 255). Never empty: no samples at all
 * give one 0.
 *
 * @param channels an array of Float32Array (one per channel, equal lengths, samples in -1..1), e.g. AudioBuffer's
 *                 getChannelData(c) for each channel
 * @returns Uint8Array of min(bins, samples) bytes (at least 1)
 */
export function waveformOf(channels, bins = WAVEFORM_MAX) {
  const n = channels.length ? Math.min(...channels.map((c) => c.length)) : 0;
  if (n === 0) return new Uint8Array([0]);
  const count = Math.max(1, Math.min(bins, WAVEFORM_MAX, n));
  const out = new Uint8Array(count);
  for (let b = 0; b < count; b++) {
    const from = Math.floor((b * n) / count);
    const to = Math.floor(((b + 1) * n) / count);
    let peak = 0;
    for (const c of channels) {
      for (let i = from; i < to; i++) {
        const v = Math.abs(c[i]);
        if (v > peak) peak = v;
      }
    }
    out[b] = scale(peak);
  }
  return out;
}

/**
 * The same summary from peaks measured while recording (an AnalyserNode polled every few tens of milliseconds):
 * consecutive peaks grouped into at most `bins` slices, each slice's largest.
 *
 * @param peaks numbers in 0..1 (louder values are clipped)
 */
export function waveformOfPeaks(peaks, bins = WAVEFORM_MAX) {
  return waveformOf([Float32Array.from(peaks)], bins);
}

function scale(peak) {
  if (!(peak > 0)) return 0;
  return Math.min(255, Math.round(peak * 255));
}

/** @returns the largest absolute value of time-domain samples (an AnalyserNode's getFloatTimeDomainData) */
export function peakOf(samples) {
  let peak = 0;
  for (const v of samples) {
    const a = Math.abs(v);
    if (a > peak) peak = a;
  }
  return Math.min(1, peak);
}

/**
 * @returns a duration as people read it, rounded to the nearest second: "0:07", "1:23", "1:02:03". This is what the
 *          page shows for voice and video messages and calls.
 */
export function formatDuration(ms) {
  const total = Math.max(0, Math.round((Number(ms) || 0) / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

/**
 * @returns the bar heights to draw for a waveform, each 0..1 relative to its loudest sample (so that a quiet
 *          recording still shows its shape); an all-silent one gives flat bars of 0
 */
export function barsOf(waveform) {
  const values = Array.from(waveform || []);
  const max = Math.max(0, ...values);
  return values.map((v) => (max > 0 ? v / max : 0));
}

/** @returns [width, height] scaled down to fit side × side (never up), or [0, 0] when unknown */
export function fitWithin(width, height, side) {
  if (!width || !height) return [0, 0];
  const s = Math.min(1, side / Math.max(width, height));
  return [Math.max(1, Math.round(width * s)), Math.max(1, Math.round(height * s))];
}
