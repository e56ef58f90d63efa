#!/usr/bin/env python3
"""Optional intelligibility helper for npm run eval:privacy: transcribes 16 kHz mono PCM16 WAV
files with pocketsphinx (pip install pocketsphinx; it ships an English model) and prints one JSON
line per file: {"file": ..., "hyp": ...}. Exits 3 when pocketsphinx is not installed."""
import json
import sys
import wave

try:
    from pocketsphinx import Decoder
except ImportError:
    sys.stderr.write("pocketsphinx is not installed (pip install pocketsphinx)\n")
    sys.exit(3)

decoder = Decoder(samprate=16000, logfn="/dev/null")
for path in sys.argv[1:]:
    with wave.open(path, "rb") as w:
        if w.getframerate() != 16000 or w.getnchannels() != 1 or w.getsampwidth() != 2:
            sys.stderr.write(f"{path}: expected 16 kHz mono 16-bit WAV\n")
            sys.exit(2)
        raw = w.readframes(w.getnframes())
    decoder.start_utt()
    decoder.process_raw(raw, full_utt=True)
    decoder.end_utt()
    hyp = decoder.hyp()
    print(json.dumps({"file": path, "hyp": hyp.hypstr if hyp else ""}), flush=True)
