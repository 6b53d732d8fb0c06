#!/bin/sh
# Regenerates the media fixtures of src/test/resources/media (committed; run by hand, not by the build).
# Needs ffmpeg (Debian: apt-get install ffmpeg) and python3. Each file is small (a few KB): low rates, 2-3 seconds.
# What real producer each one stands for is said in MediaProbeTest.
set -eu
cd "$(dirname "$0")/resources/media"
F="ffmpeg -hide_banner -loglevel error -y -fflags +bitexact -flags:v +bitexact -flags:a +bitexact"
TONE="-f lavfi -i sine=frequency=440:sample_rate=48000:duration=3"
PICT="-f lavfi -i testsrc=size=160x120:rate=10:duration=2"
TONE2="-f lavfi -i sine=frequency=660:sample_rate=48000:duration=2"

# voice
$F $TONE -c:a libopus -b:a 12k voice-opus.webm                          # a file-based encoder: Duration in Info
$F $TONE -c:a libopus -b:a 12k -f webm -live 1 -cluster_time_limit 1000 voice-live.webm
$F $TONE -c:a libopus -b:a 12k voice-opus.ogg
$F $TONE -c:a libvorbis -q:a 0 -ar 22050 voice-vorbis.ogg
$F $TONE -c:a aac -b:a 16k voice.m4a                                     # moov after mdat (ffmpeg's default)
$F $TONE -c:a aac -b:a 16k -movflags frag_keyframe+empty_moov+default_base_moof -frag_duration 500000 -f mp4 voice-fragmented.m4a

# video
$F $PICT $TONE2 -c:v libvpx -b:v 40k -c:a libopus -b:a 12k -shortest video.webm
$F $PICT $TONE2 -c:v libvpx -b:v 40k -c:a libopus -b:a 12k -shortest -f webm -live 1 -cluster_time_limit 1000 video-live.webm
$F $PICT -c:v libx264 -preset ultrafast -b:v 40k -pix_fmt yuv420p video.mp4           # moov at the end
$F $PICT -c:v libx264 -preset ultrafast -b:v 40k -pix_fmt yuv420p -movflags +faststart video-faststart.mp4
$F $PICT $TONE2 -c:v libx264 -preset ultrafast -b:v 40k -pix_fmt yuv420p -c:a aac -b:a 16k -shortest \
   -movflags frag_keyframe+empty_moov+default_base_moof -frag_duration 500000 -f mp4 video-fragmented.mp4
$F -f lavfi -i testsrc=size=160x120:rate=1:duration=1 -frames:v 1 poster.jpg
$F -f lavfi -i testsrc=size=160x120:rate=1:duration=1 -frames:v 1 poster.png

# the live WebM files stand for MediaRecorder output, which has no Duration: if this ffmpeg wrote one anyway,
# overwrite it with a Void element of the same length
python3 - voice-live.webm video-live.webm <<'PY'
import sys
for name in sys.argv[1:]:
    b = bytearray(open(name, 'rb').read())
    i = b.find(b'\x44\x89')            # Duration (ID 0x4489), in Info near the start
    if 0 <= i < 4096:
        size = b[i + 2] & 0x7f          # a 1-byte size (0x84 or 0x88)
        b[i:i + 3 + size] = b'\xec' + bytes([0x80 | (size + 1)]) + bytes(size + 1)
        open(name, 'wb').write(bytes(b))
PY

# hostile files
python3 - <<'PY'
import struct
def w(name, data): open(name, 'wb').write(data)
webm = open('video.webm', 'rb').read()
w('hostile-truncated.webm', webm[:60])                                   # cut inside the Segment's first element
# an EBML header declaring 2^56-2 bytes
w('hostile-huge-size.webm', b'\x1a\x45\xdf\xa3\x01\xff\xff\xff\xff\xff\xff\xfe' + b'\x42\x82\x84webm')
# EBML header, Segment of unknown size, Info, then Tracks holding 2000 TrackEntry elements nested in each other
def vint8(n): return b'\x01' + n.to_bytes(7, 'big')
hdr = b'\x1a\x45\xdf\xa3\x87\x42\x82\x84webm'
info = b'\x15\x49\xa9\x66\x87' + b'\x2a\xd7\xb1\x83\x0f\x42\x40'
N = 2000
chain = b''.join(b'\xae' + vint8(9 * (N - 1 - d)) for d in range(N))
w('hostile-deep.webm', hdr + b'\x18\x53\x80\x67\x01\xff\xff\xff\xff\xff\xff\xff' + info
  + b'\x16\x54\xae\x6b' + vint8(len(chain)) + chain)
# MP4: ftyp, then a box declaring a 64-bit size of 2^63
ftyp = struct.pack('>I', 16) + b'ftypisom' + b'\0\0\2\0'
w('hostile-huge-box.mp4', ftyp + struct.pack('>I', 1) + b'mdat' + struct.pack('>Q', 1 << 63) + b'\0' * 16)
# MP4: ftyp, then moov holding 2000 trak boxes nested in each other
N = 2000
chain = b''.join(struct.pack('>I', 8 * (N - d)) + b'trak' for d in range(N))
w('hostile-deep.mp4', ftyp + struct.pack('>I', 8 + len(chain)) + b'moov' + chain)
# wrong magic: a PNG declared as a clip
w('hostile-png-as-clip.webm', open('poster.png', 'rb').read())
# an Ogg Opus file whose every page CRC is wrong (no page checks out)
ogg = bytearray(open('voice-opus.ogg', 'rb').read())
i = 0
while True:
    i = ogg.find(b'OggS', i)
    if i < 0: break
    ogg[i + 22] ^= 0xff
    i += 4
w('hostile-bad-crc.ogg', bytes(ogg))
PY
ls -l
