# Records the chromium-* media fixtures of src/test/resources/media with Chromium's own MediaRecorder (headless, fake
# microphone and camera), driven through chromedriver's W3C HTTP API on port 24150. Run by hand from
# src/test/resources/media (not by the build): python3 ../../record-chromium-fixtures.py. Needs Debian's chromium and
# chromium-driver. The committed files were made with Chromium 156.
import json, urllib.request, subprocess, time, base64, sys, tempfile, os
page = os.path.join(tempfile.mkdtemp(), 'rec.html')
open(page, 'w').write('<!doctype html><title>rec</title>')
drv = subprocess.Popen(['chromedriver', '--port=24150'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
time.sleep(1.5)
def call(method, path, body=None):
    req = urllib.request.Request('http://127.0.0.1:24150' + path, method=method,
        data=None if body is None else json.dumps(body).encode(), headers={'Content-Type': 'application/json'})
    return json.load(urllib.request.urlopen(req, timeout=120))
try:
    s = call('POST', '/session', {'capabilities': {'alwaysMatch': {'goog:chromeOptions': {'binary': '/usr/bin/chromium',
        'args': ['--headless=new', '--no-sandbox', '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
                 '--autoplay-policy=no-user-gesture-required']}}}})
    sid = s['value']['sessionId']
    call('POST', f'/session/{sid}/url', {'url': 'file://' + page})
    call('POST', f'/session/{sid}/timeouts', {'script': 60000})
    script = '''
const [kind, mime, ms, done] = arguments;
(async () => {
  const stream = await navigator.mediaDevices.getUserMedia(kind === 'video' ? {audio: true, video: {width: 160, height: 120}} : {audio: true});
  const rec = new MediaRecorder(stream, {mimeType: mime, audioBitsPerSecond: 16000, videoBitsPerSecond: 60000});
  const parts = [];
  rec.ondataavailable = e => parts.push(e.data);
  rec.onstop = async () => {
    const buf = new Uint8Array(await new Blob(parts).arrayBuffer());
    let s = ''; for (const b of buf) s += String.fromCharCode(b);
    done(btoa(s));
  };
  rec.start(1000);
  setTimeout(() => { rec.stop(); stream.getTracks().forEach(t => t.stop()); }, ms);
})().catch(e => done('ERR ' + e));
'''
    for kind, mime, name in [('audio', 'audio/webm;codecs=opus', 'chromium-voice.webm'), ('video', 'video/webm;codecs=vp8,opus', 'chromium-video.webm'), ('audio', 'audio/mp4', 'chromium-voice.m4a'), ('video', 'video/mp4', 'chromium-video.mp4')]:
        r = call('POST', f'/session/{sid}/execute/async', {'script': script, 'args': [kind, mime, 2500]})['value']
        if isinstance(r, str) and not r.startswith('ERR'):
            open(name, 'wb').write(base64.b64decode(r)); print(name, len(base64.b64decode(r)))
        else:
            print(name, r)
    call('DELETE', f'/session/{sid}')
finally:
    drv.kill()
