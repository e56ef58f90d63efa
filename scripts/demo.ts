/**
 * npm run demo [-- --in FILE] [--voice ID] [--out DIR] [--fast]
 *
 * Starts the bridge in-process with the embedded (offline) engine, places one simulated call with
 * a real speech sample, and writes the original, the masked audio and an HTML report.
 */
import { parseArgs } from 'node:util';
import { DEFAULT_OUT_DIR, DEFAULT_SAMPLE, DEFAULT_VOICE, displayPath, runDemo } from '../tools/demo/run-demo.js';
import { formatProgressLine, type DemoProgress } from '../tools/demo/progress.js';
import { formatDemoReport } from '../tools/demo/text-report.js';
import { LOCAL_VOICES } from '../src/voice/local/index.js';

const HELP = `Usage: npm run demo [-- options]

Plays a real speech sample through the voice-masking bridge (embedded offline engine, no API key)
and writes what the caller said, what the other party heard, and a report comparing them.

Options:
  --in FILE     audio to play: WAV, MP3 or FLAC, any rate (default: ${displayPath(DEFAULT_SAMPLE)})
  --voice ID    voice preset (default: ${DEFAULT_VOICE}); one of:
${LOCAL_VOICES.map((v) => `                  ${v.id.padEnd(16)} ${v.description}`).join('\n')}
  --out DIR     output folder (default: ${DEFAULT_OUT_DIR}/)
  --fast        send the caller's audio faster than real time (the bridge still answers in
                real time, so this does not shorten the call; latencies become unrepresentative)
  -h, --help    this help

Writes DIR/demo-original.wav, DIR/demo-masked.wav and DIR/demo-report.html.`;

function parse() {
  try {
    return parseArgs({
      options: {
        in: { type: 'string' },
        voice: { type: 'string' },
        out: { type: 'string' },
        fast: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      allowPositionals: false,
    }).values;
  } catch (err) {
    process.stderr.write(`demo: ${(err as Error).message}\n\n${HELP}\n`);
    process.exit(2);
  }
}

/** One \r-updated line on a terminal; plain lines (on change, at most every 2 s otherwise) when piped. */
function progressPrinter(stream: NodeJS.WriteStream) {
  const tty = stream.isTTY === true;
  let last = '';
  let lastKey = '';
  let lastAt = 0;
  return {
    update(p: DemoProgress) {
      if (tty) {
        const line = formatProgressLine(p).slice(0, Math.max(20, (stream.columns || 120) - 1));
        if (line !== last) stream.write(`\r\x1b[2K${line}`);
        last = line;
        if (p.stage === 'done') stream.write('\n');
        return;
      }
      const key = `${p.stage}:${p.phrasesSpoken}:${p.phrasesAnswered}`;
      const now = Date.now();
      if (key !== lastKey || (p.stage === 'calling' && now - lastAt >= 2000)) {
        stream.write(`${formatProgressLine(p, { unicode: false })}\n`);
        lastKey = key;
        lastAt = now;
      }
    },
    clear() {
      if (tty && last) stream.write('\n');
      last = '';
    },
  };
}

async function main(): Promise<number> {
  const args = parse();
  if (args.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const ac = new AbortController();
  process.once('SIGINT', () => {
    process.stderr.write('\ndemo: hanging up (Ctrl-C again to quit at once)\n');
    ac.abort();
    process.once('SIGINT', () => process.exit(130));
  });
  const progress = progressPrinter(process.stderr);
  try {
    const result = await runDemo({
      ...(args.in !== undefined ? { sample: args.in } : {}),
      ...(args.voice !== undefined ? { voice: args.voice } : {}),
      ...(args.out !== undefined ? { outDir: args.out } : {}),
      fast: args.fast,
      signal: ac.signal,
      onProgress: (p) => progress.update(p),
    });
    process.stdout.write(`\n${formatDemoReport(result)}\n`);
    if (result.bridgeWarnings.length) {
      process.stderr.write(`\nbridge warnings (${result.bridgeWarnings.length}):\n${result.bridgeWarnings.slice(0, 10).join('\n')}\n`);
    }
    return result.summary.answered > 0 && result.leakedFrames === 0 && result.call.protocolErrors.length === 0 ? 0 : 1;
  } catch (err) {
    progress.clear();
    process.stderr.write(`demo: ${(err as Error).message}\n`);
    return 1;
  }
}

process.exitCode = await main();
