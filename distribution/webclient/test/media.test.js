// media.js: the waveform summary of a voice message, durations as shown, recorder formats.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { barsOf, baseType, fileNameFor, fitWithin, formatDuration, peakOf, pickRecorderType, VOICE_RECORDER_TYPES,
  waveformOf, waveformOfPeaks, WAVEFORM_MAX } from '../src/media.js';
import { messageTypes, viewOf } from '../src/wire.js';

test('the waveform is the peak of each of at most 100 equal slices, scaled to 0..255', () => {
  // 1,000 samples: slice b (10 samples) peaks at b/100 (negative half the time: the absolute value counts)
  const samples = new Float32Array(1000);
  for (let b = 0; b < 100; b++) samples[b * 10 + 3] = (b % 2 ? -1 : 1) * (b / 99);
  const w = waveformOf([samples]);
  assert.equal(w.length, WAVEFORM_MAX);
  assert.ok(w instanceof Uint8Array);
  assert.equal(w[0], 0);
  assert.equal(w[99], 255);
  assert.equal(w[50], Math.round((50 / 99) * 255));
  for (let b = 1; b < 100; b++) assert.ok(w[b] >= w[b - 1], `rising at ${b}`);
});

test('the waveform takes the loudest channel, clips over full scale, and is never empty', () => {
  const left = Float32Array.from([0.1, 0.1, 0.1, 0.1]);
  const right = Float32Array.from([0.5, 0, 2, 0]);
  assert.deepEqual([...waveformOf([left, right], 2)], [128, 255]);
  assert.deepEqual([...waveformOf([new Float32Array(3)], 100)], [0, 0, 0], 'fewer samples than bins: one each');
  assert.deepEqual([...waveformOf([new Float32Array(0)])], [0], 'silence of no length still has one sample');
  assert.deepEqual([...waveformOf([])], [0]);
  assert.equal(waveformOf([new Float32Array(48000 * 300)]).length, 100, 'five minutes: still 100 bytes');
  assert.equal(waveformOf([new Float32Array(500)], 1000).length, 100, 'never more than the server takes');
});

test('the waveform from live peaks: consecutive peaks grouped, the largest of each group', () => {
  const peaks = Array.from({ length: 250 }, (_, i) => (i === 7 ? 1 : 0.2));
  const w = waveformOfPeaks(peaks);
  assert.equal(w.length, 100);
  assert.equal(w[3], 255, 'peak 7 falls into the fourth group (samples 7-9)');
  assert.equal(w[2], 51);
  assert.equal(w[50], 51);
  assert.equal(peakOf(Float32Array.from([0.1, -0.7, 0.3])).toFixed(2), '0.70');
  assert.equal(peakOf([3]), 1);
});

test('bars are drawn relative to the loudest sample', () => {
  assert.deepEqual(barsOf(Uint8Array.from([0, 50, 100])), [0, 0.5, 1]);
  assert.deepEqual(barsOf(Uint8Array.from([0, 0])), [0, 0]);
  assert.deepEqual(barsOf(undefined), []);
});

test('durations as shown: m:ss, h:mm:ss, rounded to the second', () => {
  assert.equal(formatDuration(0), '0:00');
  assert.equal(formatDuration(499), '0:00');
  assert.equal(formatDuration(2500), '0:03');
  assert.equal(formatDuration(12_000), '0:12');
  assert.equal(formatDuration(83_400), '1:23');
  assert.equal(formatDuration(3_723_000), '1:02:03');
  assert.equal(formatDuration(-5), '0:00');
  assert.equal(formatDuration(undefined), '0:00');
});

test('recorder formats: the first the browser supports; content types sent without parameters', () => {
  assert.equal(pickRecorderType(VOICE_RECORDER_TYPES, (t) => t.startsWith('audio/webm')), 'audio/webm;codecs=opus');
  assert.equal(pickRecorderType(VOICE_RECORDER_TYPES, (t) => t === 'audio/mp4'), 'audio/mp4');
  assert.equal(pickRecorderType(VOICE_RECORDER_TYPES, () => { throw new Error('no'); }), '');
  assert.equal(baseType('audio/webm;codecs=opus'), 'audio/webm');
  assert.equal(baseType('Video/WebM; codecs="vp8, opus"'), 'video/webm');
  assert.equal(fileNameFor('voice', 'audio/webm;codecs=opus'), 'voice.webm');
  assert.equal(fileNameFor('poster', 'image/jpeg'), 'poster.jpg');
  assert.deepEqual(fitWithin(640, 480, 320), [320, 240]);
  assert.deepEqual(fitWithin(100, 50, 320), [100, 50]);
  assert.deepEqual(fitWithin(0, 50, 320), [0, 0]);
});

test('a voice body carries duration and waveform; a video body its poster; both read back for display', () => {
  const waveform = Uint8Array.from([1, 128, 255]);
  const voice = messageTypes.voice.compose({ key: 'k1', size: 2048, contentType: 'audio/webm', sha256: 'ab',
    durationMs: 3210.4, waveform });
  assert.equal(voice.type_url, 'type.googleapis.com/parley.voice.v1.Voice');
  const v = viewOf({ type: 'voice', body: voice });
  assert.equal(v.text, '🎤 Voice message (0:03)');
  assert.equal(v.voice.durationMs, 3210);
  assert.deepEqual([...v.voice.waveform], [1, 128, 255]);

  const video = messageTypes.video.compose({ key: 'k2', size: 9000, contentType: 'video/webm', sha256: 'cd',
    durationMs: 34_000, width: 640, height: 480, posterKey: 'k3', posterSize: 500, posterSha256: 'ef',
    posterContentType: 'image/jpeg', posterWidth: 640, posterHeight: 480 });
  assert.equal(video.type_url, 'type.googleapis.com/parley.video.v1.Video');
  const shown = viewOf({ type: 'video', body: video });
  assert.equal(shown.text, '🎬 Video (0:34)');
  assert.deepEqual([shown.video.width, shown.video.height, shown.video.poster], [640, 480, true]);
  // an own recording still uploading is shown from what was recorded
  const pending = viewOf({ type: 'voice', recording: { durationMs: 61_000, size: 10, contentType: 'audio/webm',
    waveform: [9] } });
  assert.equal(pending.text, '🎤 Voice message (1:01)');
});
