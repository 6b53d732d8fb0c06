// Recording voice and video messages in the browser (MediaRecorder; WebAudio for the waveform; a canvas for the
// video's poster frame). What is computed from the recording is in media.js (pure, tested under node); this file is
// exercised by the browser tests (BrowserVoiceMessageIT).
import { baseType, MAX_RECORDING_MS, peakOf, pickRecorderType, VIDEO_RECORDER_TYPES, VOICE_RECORDER_TYPES,
  waveformOf, waveformOfPeaks } from './media.js';

const PEAK_INTERVAL_MS = 50;
const POSTER_QUALITY = 0.85;

/**
 * One recording from the microphone (kind 'voice') or camera and microphone ('video'). Create with
 * Recording.start(); stop() resolves with what to send, cancel() throws it away. Either releases the devices.
 */
export class Recording {
  /**
   * @param kind     'voice' or 'video'
   * @param preview  video: a <video> element to show the camera in while recording (its frame becomes the poster)
   * @param onLimit  called when MAX_RECORDING_MS is reached (the caller then stops and sends)
   */
  static async start(kind, { preview = null, onLimit = () => {} } = {}) {
    if (!globalThis.MediaRecorder || !navigator.mediaDevices?.getUserMedia) {
      throw new Error('this browser cannot record (no MediaRecorder or getUserMedia; the page needs https or localhost)');
    }
    const stream = await navigator.mediaDevices.getUserMedia(kind === 'video'
      ? { audio: true, video: { width: { ideal: 640 }, height: { ideal: 480 } } } : { audio: true });
    return new Recording(kind, stream, preview, onLimit);
  }

  constructor(kind, stream, preview, onLimit) {
    this.kind = kind;
    this.stream = stream;
    this.preview = preview;
    this.chunks = [];
    this.peaks = [];
    const type = pickRecorderType(kind === 'video' ? VIDEO_RECORDER_TYPES : VOICE_RECORDER_TYPES,
      (t) => MediaRecorder.isTypeSupported(t));
    this.recorder = new MediaRecorder(stream, {
      ...(type ? { mimeType: type } : {}),
      ...(kind === 'video' ? { videoBitsPerSecond: 1_000_000 } : { audioBitsPerSecond: 48_000 }),
    });
    this.recorder.ondataavailable = (e) => { if (e.data && e.data.size) this.chunks.push(e.data); };
    if (preview) {
      preview.muted = true;
      preview.srcObject = stream;
      preview.play().catch(() => {});
    }
    if (kind === 'voice') this.#meter();
    this.recorder.start(250);
    this.startedAt = performance.now();
    this.limit = setTimeout(onLimit, MAX_RECORDING_MS);
  }

  /** @returns ms recorded so far */
  elapsed() {
    return performance.now() - this.startedAt;
  }

  /** The live level while recording: peaks for the waveform if the recording cannot be decoded afterwards. */
  #meter() {
    try {
      this.audio = new AudioContext();
      const source = this.audio.createMediaStreamSource(this.stream);
      const analyser = this.audio.createAnalyser();
      analyser.fftSize = 1024;
      source.connect(analyser);
      const buffer = new Float32Array(analyser.fftSize);
      this.meterTimer = setInterval(() => {
        analyser.getFloatTimeDomainData(buffer);
        this.peaks.push(peakOf(buffer));
      }, PEAK_INTERVAL_MS);
    } catch (e) {
      console.warn('parley: no level meter', e);
    }
  }

  /**
   * Stops and returns the recording.
   * @returns voice: {blob, contentType, durationMs, waveform}; video: also {width, height, poster: {blob, width,
   *          height, contentType}}
   */
  async stop() {
    const poster = this.kind === 'video' ? await this.#poster() : null;
    const stopped = new Promise((resolve) => { this.recorder.onstop = resolve; });
    if (this.recorder.state !== 'inactive') this.recorder.stop();
    await stopped;
    let durationMs = this.elapsed();
    this.#release();
    const blob = new Blob(this.chunks, { type: this.recorder.mimeType || this.chunks[0]?.type || '' });
    const contentType = baseType(blob.type) || (this.kind === 'video' ? 'video/webm' : 'audio/webm');
    if (!blob.size) throw new Error('nothing was recorded');
    if (this.kind === 'voice') {
      let waveform = null;
      try {
        // the whole recording decoded: an exact summary (and duration) rather than the sampled live level
        const decoded = await new OfflineAudioContext(1, 1, 48000).decodeAudioData(await blob.arrayBuffer());
        const channels = [];
        for (let c = 0; c < decoded.numberOfChannels; c++) channels.push(decoded.getChannelData(c));
        waveform = waveformOf(channels);
        if (decoded.duration > 0) durationMs = decoded.duration * 1000;
      } catch (e) {
        waveform = waveformOfPeaks(this.peaks);
      }
      return { blob, contentType, durationMs: Math.round(durationMs), waveform };
    }
    return { blob, contentType, durationMs: Math.round(durationMs), width: poster?.width || 0,
      height: poster?.height || 0, poster };
  }

  /** Throws the recording away and releases the devices. */
  cancel() {
    try {
      if (this.recorder.state !== 'inactive') this.recorder.stop();
    } catch (e) { /* stopped already */ }
    this.#release();
  }

  /**
   * @returns the camera's current frame as a JPEG {blob, width, height, contentType} (every video message has a
   *          poster: a dark frame when the camera showed none yet)
   */
  async #poster() {
    let video = this.preview;
    if (!video) {
      video = document.createElement('video');
      video.muted = true;
      video.srcObject = this.stream;
      await video.play().catch(() => {});
    }
    const width = video.videoWidth || 320;
    const height = video.videoHeight || 240;
    const canvas = document.createElement('canvas');
    canvas.width = width;
    canvas.height = height;
    const g = canvas.getContext('2d');
    g.fillStyle = '#1f2d3d';
    g.fillRect(0, 0, width, height);
    if (video.videoWidth) g.drawImage(video, 0, 0, width, height);
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', POSTER_QUALITY));
    if (!blob) throw new Error('the poster frame could not be encoded');
    return { blob, width, height, contentType: 'image/jpeg' };
  }

  #release() {
    clearTimeout(this.limit);
    clearInterval(this.meterTimer);
    for (const t of this.stream.getTracks()) t.stop();
    this.audio?.close().catch(() => {});
    if (this.preview) this.preview.srcObject = null;
  }
}
